"""Turn a TF.js layers model's artifacts into something that runs: the inference engines.

* ``"onnxruntime"`` (:mod:`.onnx`): the model as an ONNX graph, run by onnxruntime on one thread;
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
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import ConfigError
from ..tfjs.codec import decode_model
from ._plan import Plan, plan_artifacts

if TYPE_CHECKING:  # pragma: no cover
    from ..tfjs.artifacts import ModelArtifacts

__all__ = [
    "AUTO",
    "BACKENDS",
    "Engine",
    "available_backends",
    "load_engine",
    "plan_engine",
    "resolve_backend",
]

BACKENDS = ("onnxruntime", "numpy", "tensorflow")
AUTO = "auto"


class Engine(Protocol):
    """What every backend returns: ``engine(batch)`` -> float32 model outputs."""

    backend: str

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


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
    artifacts: ModelArtifacts, backend: str = AUTO, *, source: str, jit_compile: bool = True
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
        return keras_engine(decode_model(artifacts, source=source), jit_compile=jit_compile)
    return plan_engine(plan_artifacts(artifacts, source=source), backend)


def plan_engine(plan: Plan, backend: str) -> Engine:
    """An engine running ``plan`` (or a part of one, :func:`._plan.cut`) on ``"numpy"`` or
    ``"onnxruntime"``."""
    if backend == "numpy":
        from .numpy import NumpyEngine  # deferred, like each engine: load only the one in use

        return NumpyEngine(plan)
    if backend != "onnxruntime":
        raise ConfigError(f"a plan runs on 'numpy' or 'onnxruntime', not {backend!r}")
    from .onnx import OnnxEngine  # deferred: onnx and onnxruntime exist not everywhere (Pyodide)

    return OnnxEngine(plan)


def keras_engine(model: Any, *, jit_compile: bool = True) -> Engine:
    """The ``"tensorflow"`` engine for a ``keras.Model`` (imports TensorFlow)."""
    from .keras import KerasEngine  # deferred: only this backend imports TensorFlow

    return KerasEngine(model, jit_compile=jit_compile)
