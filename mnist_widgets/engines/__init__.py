"""Turn a TF.js layers model's artifacts into something that runs: the inference engines.

* ``"onnxruntime"`` (:mod:`.ort`): the model as an ONNX graph (:mod:`.onnx` builds it, once per
  model version: the store and the shipped model keep it), run by onnxruntime on one thread;
* ``"numpy"`` (:mod:`.numpy`): a pure NumPy forward pass, for anywhere NumPy runs (Pyodide too);
* ``"tensorflow"`` (:mod:`.keras`): the Keras model, compiled with ``tf.function``.

``"auto"`` picks onnxruntime where it imports, else numpy. The first two build from
:mod:`mnist_widgets.tfjs.graph` and never import TensorFlow; a layer or option they cannot run is
a :class:`~mnist_widgets.errors.ModelFormatError` when the engine is made, never a wrong answer.
An engine maps a float32 batch of the model's input shape, e.g. ``(n, 28, 28, 1)``, to float32
outputs, e.g. ``(n, 10)``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from .._env import in_browser
from ..errors import ConfigError
from ..tfjs.artifacts import ModelArtifacts
from ._runtime import IMAGE_BYTES_PROP, model_key

if TYPE_CHECKING:
    from ..tfjs.graph import ModelGraph
    from ._plan import Plan

__all__ = [
    "AUTO",
    "BACKENDS",
    "ONNX_FILE",
    "Engine",
    "available_backends",
    "derive_onnx",
    "graph_deriver",
    "load_engine",
    "plan_engine",
    "prebuilt_onnx",
    "resolve_backend",
]

BACKENDS = ("onnxruntime", "numpy", "tensorflow")
AUTO = "auto"
ONNX_FILE = "model.onnx"  # the prebuilt graph kept beside a model (the store's, the shipped one)


class Engine(Protocol):
    """What every backend returns: ``engine(batch)`` -> float32 model outputs."""

    backend: str

    def __call__(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_backends() -> tuple[str, ...]:
    """The backends whose runtime is installed here (checked without importing it)."""
    return tuple(b for b in BACKENDS if _importable(b))  # each backend is named after its module


def resolve_backend(backend: str) -> str:
    """``"auto"`` -> ``"onnxruntime"`` where it imports, else ``"numpy"``; other names checked.

    Raises
    ------
    ConfigError
        An unknown backend name (a ``ValueError`` too).
    """
    if backend == AUTO:
        if in_browser():  # Pyodide has no onnxruntime, and a failed import
            return "numpy"  # searches every sys.path entry: round trips on JupyterLite's /drive
        try:  # imported for real: an installed but broken onnxruntime falls back too
            import onnxruntime  # noqa: F401
        except ImportError:
            return "numpy"
        return "onnxruntime"
    if backend not in BACKENDS:
        msg = f"unknown backend {backend!r}; expected {AUTO!r} or one of {', '.join(BACKENDS)}"
        raise ConfigError(msg)
    return backend


def load_engine(
    artifacts: ModelArtifacts,
    backend: str = AUTO,
    *,
    source: str,
    graph: ModelGraph | None = None,
    onnx: bytes | None = None,
    jit_compile: bool = True,
) -> Engine:
    """An engine running the model in ``artifacts`` on ``backend``.

    Parameters
    ----------
    artifacts
        The model's files (validated when they were made).
    backend
        ``"auto"`` (onnxruntime if installed, else numpy), ``"onnxruntime"``, ``"numpy"`` or
        ``"tensorflow"``.
    source
        Where the model came from, for error messages.
    graph
        What :func:`~mnist_widgets.tfjs.graph.check_artifacts` returned for ``artifacts`` (the
        loader's ``FetchResult.graph``): trusted, not checked again. Checked here if ``None``
        and needed.
    onnx
        ``"onnxruntime"`` only: a prebuilt ONNX graph of this model (the store's or the shipped
        one). Used if its key matches ``artifacts``; otherwise one is built (importing ``onnx``).
        A graph whose key matches was built from these very files, after they passed
        ``check_artifacts`` and the memory budget: it runs without the TF.js graph being parsed
        again (nor :mod:`mnist_widgets.tfjs.graph` and :mod:`._plan` imported).
    jit_compile
        ``"tensorflow"`` only: compile with XLA (default). That engine's ``.model`` is the Keras
        model.

    Raises
    ------
    ModelFormatError
        The model has a layer or option the backend cannot run.
    ConfigError
        An unknown backend (a ``ValueError`` too).
    ImportError
        ``backend`` names a runtime that is not installed.
    """
    backend = resolve_backend(backend)
    if backend == "tensorflow":
        from ..tfjs.codec import decode_model  # deferred: only this backend builds a Keras model

        model = decode_model(artifacts, source=source, graph=graph)
        return keras_engine(model, jit_compile=jit_compile)
    if backend == "onnxruntime":
        return _onnx_engine(artifacts, graph, onnx, source)
    # deferred: the TF.js graph and the plan only where no prebuilt ONNX graph is run (start-up)
    from ..tfjs.graph import check_artifacts, load_weights
    from ._plan import plan
    from .numpy import NumpyEngine  # deferred, like each engine: load only the one in use

    if graph is None:
        graph = check_artifacts(artifacts, source=source)
    return NumpyEngine(plan(graph, load_weights(graph, artifacts, source=source), source=source))


def plan_engine(steps: Plan, backend: str) -> Engine:
    """An engine running a plan (or a part of one, :func:`._plan.cut`) on ``"numpy"`` or
    ``"onnxruntime"`` (which builds its ONNX graph: imports ``onnx``)."""
    if backend == "numpy":
        from .numpy import NumpyEngine  # deferred, like each engine: load only the one in use

        return NumpyEngine(steps)
    if backend != "onnxruntime":
        raise ConfigError(f"a plan runs on 'numpy' or 'onnxruntime', not {backend!r}")
    from .onnx import build_onnx  # deferred: importing onnx costs ~0.4 s
    from .ort import OnnxEngine, session_for  # deferred: onnxruntime exists not everywhere

    session = session_for(bytes(build_onnx(steps).SerializeToString()), None)
    assert session is not None  # onnx's checker passed it
    return OnnxEngine(
        session, input_shape=steps.input_shape, name=steps.name, image_bytes=steps.image_bytes
    )


def _onnx_engine(
    artifacts: ModelArtifacts, graph: ModelGraph | None, onnx: bytes | None, source: str
) -> Engine:
    from .ort import OnnxEngine, session_for  # deferred: onnxruntime exists not everywhere

    session = session_for(onnx, model_key(artifacts)) if onnx is not None else None
    if session is not None:  # built from these very files: checked when it was built
        meta = session.get_modelmeta()
        needed = meta.custom_metadata_map.get(IMAGE_BYTES_PROP, "")
        shape = tuple(session.get_inputs()[0].shape[1:])
        if needed.isdigit() and all(isinstance(d, int) for d in shape):
            return OnnxEngine(
                session, input_shape=shape, name=meta.graph_name, image_bytes=int(needed)
            )
    # deferred: the TF.js graph and the plan only to build a graph (or for one built before
    # graphs said their working memory): the shipped model and a store hit start without them
    from ..tfjs.graph import check_artifacts
    from ._plan import budgeted

    if graph is None:
        graph = check_artifacts(artifacts, source=source)
    needed_bytes = budgeted(graph, source)  # before a graph is built
    if session is None:
        from .onnx import onnx_bytes  # deferred: importing onnx costs ~0.4 s; only to build

        session = session_for(onnx_bytes(artifacts, source=source, graph=graph), None)
        assert session is not None  # onnx's checker passed it
    shape = graph.layer(graph.inputs[0]).output_shape[1:]
    fixed = tuple(d for d in shape if d is not None)  # fixed: onnx_bytes planned it, or it did
    return OnnxEngine(session, input_shape=fixed, name=graph.name, image_bytes=needed_bytes)


def prebuilt_onnx(
    artifacts: ModelArtifacts, *, source: str, graph: ModelGraph | None = None
) -> bytes:
    """This model's ONNX graph, to keep beside its files (imports ``onnx``; built once)."""
    from .onnx import onnx_bytes  # deferred: importing onnx costs ~0.4 s

    return onnx_bytes(artifacts, source=source, graph=graph)


def derive_onnx(
    artifacts: ModelArtifacts, graph: ModelGraph | None, *, source: str
) -> dict[str, bytes]:
    """The loader's ``derive`` for the onnxruntime engine: ``{ONNX_FILE: this version's graph}``."""
    return {ONNX_FILE: prebuilt_onnx(artifacts, source=source, graph=graph)}


def graph_deriver() -> Callable[..., dict[str, bytes]] | None:
    """:func:`derive_onnx` where the default engine is onnxruntime (it runs the graph), else
    ``None``: what a store entry keeps beside a model, so a later load builds nothing."""
    return derive_onnx if resolve_backend(AUTO) == "onnxruntime" else None


def keras_engine(model: Any, *, jit_compile: bool = True) -> Engine:
    """The ``"tensorflow"`` engine for a ``keras.Model`` (imports TensorFlow)."""
    from .keras import KerasEngine  # deferred: only this backend imports TensorFlow

    return KerasEngine(model, jit_compile=jit_compile)
