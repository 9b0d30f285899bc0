"""Recognise drawn digits: MNIST-style preprocessing plus one call of an inference engine.

The engine (:mod:`mnist_widgets.engines`) is onnxruntime where it is installed and pure NumPy
elsewhere (Pyodide included); neither imports TensorFlow, so a fresh process goes from
``import mnist_widgets`` to its first prediction without paying TensorFlow's import, the Keras
build and XLA compilation. ``backend="tensorflow"`` (or passing a ``keras.Model``) keeps the
compiled Keras path. ``benchmarks/engine_latency.py`` and ``benchmarks/engine_startup.py`` measure
every backend, each in its own process; the README's results table quotes them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import engines
from .errors import CanvasError, ConfigError, ModelFormatError
from .preprocessing import REASON_EMPTY, SIZE, Prepared, prepare, prepare_strokes
from .tfjs.artifacts import ModelArtifacts

if TYPE_CHECKING:
    from .loader import FetchResult
    from .tfjs.graph import ModelGraph

__all__ = ["Prediction", "Predictor"]

_BATCH = 256  # images per engine call in predict_batch
_INPUT = (SIZE, SIZE, 1)


@dataclass(frozen=True, eq=False)
class Prediction:
    """What the model made of one drawing.

    Attributes
    ----------
    digit : int or None
        The most likely digit, or ``None`` when the drawing is not classified: an empty canvas,
        or not a digit (a dot, a short dash, too little ink: the rule is
        :mod:`mnist_widgets.preprocessing`'s "Not a digit").
    probabilities : numpy.ndarray
        float32 ``(10,)`` summing to 1; all zeros when ``digit`` is None.
    input : numpy.ndarray
        The float32 ``(28, 28)`` image the model saw; for a drawing that is not a digit, the image
        it would have seen (all zeros when there is no ink).
    reason : str or None
        ``None`` when ``digit`` is a digit; else why not, short enough to show in a widget:
        ``"nothing drawn"``, ``"too little ink"``, ``"draw bigger"``, ``"draw a digit, not a
        line"`` (the ``REASON_*`` constants of :mod:`mnist_widgets.preprocessing`).
    """

    digit: int | None
    probabilities: np.ndarray
    input: np.ndarray
    reason: str | None = None

    @property
    def empty(self) -> bool:
        """True when nothing was classified (``digit`` is None; ``reason`` says why)."""
        return self.digit is None

    @property
    def confidence(self) -> float:
        """Probability of the predicted digit (0.0 when ``digit`` is None)."""
        return float(self.probabilities.max())

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        """The ``k`` most likely digits as ``(digit, probability)``, best first (none: ``[]``)."""
        if self.empty:
            return []
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def __repr__(self) -> str:
        if self.empty:
            return f"Prediction(digit=None, {self.reason or 'empty canvas'})"
        return f"Prediction(digit={self.digit}, confidence={self.confidence:.3f})"


_EMPTY_PROBS = np.zeros(10, dtype=np.float32)
_EMPTY_INPUT = np.zeros((SIZE, SIZE), dtype=np.float32)
for _a in (_EMPTY_PROBS, _EMPTY_INPUT):
    _a.flags.writeable = False


class Predictor:
    """Classify drawings with a model taking ``(None, 28, 28, 1)`` float32 images.

    Parameters
    ----------
    model : None, str, os.PathLike, ModelArtifacts or keras.Model
        ``None``: the model shipped with the package (no network, no training). A source: a
        ``model.onnx`` file (``export --format onnx``'s; onnxruntime only), a
        directory or ``model.json`` path, ``file://``, ``cache://NAME`` (the model store) or an
        ``http(s)://`` URL of a ``model.json`` (fetched through the model store, cache-first; use
        :meth:`from_url` for other strategies). Already-read :class:`ModelArtifacts`. Or a
        ``keras.Model``, which runs on ``backend="tensorflow"`` unless another backend is named.
    backend : str
        ``"auto"`` (default: ``"onnxruntime"`` where it is installed, else ``"numpy"``),
        ``"onnxruntime"``, ``"numpy"`` or ``"tensorflow"``. Only ``"tensorflow"`` imports
        TensorFlow.
    jit_compile : bool
        ``backend="tensorflow"`` only: compile the model call with XLA (default).

    Attributes
    ----------
    backend : str
        The engine in use: ``"onnxruntime"``, ``"numpy"`` or ``"tensorflow"``.
    engine
        The engine itself: ``engine(batch)`` maps ``(n, 28, 28, 1)`` float32 to ``(n, 10)``.
    model
        The ``keras.Model`` on the tensorflow backend, else ``None``.
    artifacts : ModelArtifacts or None
        The model's files (TF.js layers format) it was loaded from; ``None`` for a
        ``keras.Model``.
    fetch_result
        For an http(s) model, the loader's :class:`~mnist_widgets.FetchResult` (where the bytes
        came from, the store entry); else ``None``.

    Raises
    ------
    ModelFormatError
        The model does not take 28x28x1 images or give 10 scores, or it has a layer the backend
        cannot run.
    ConfigError
        An unknown backend (a ``ValueError`` too).

    Notes
    -----
    onnxruntime runs on one intra-op thread: one digit is ~20 MFLOP, and waking more threads
    costs more than they save on a busy machine. The NumPy engine reuses its buffers and does
    each convolution as one matmul; on a loaded machine ``OPENBLAS_NUM_THREADS=1`` (set before
    NumPy starts) can help it. On the tensorflow backend ``TF_NUM_INTRAOP_THREADS=1`` helps for
    the same reason. The figures per backend are in the README (``make bench``).

    Examples
    --------
    >>> predictor = Predictor()  # doctest: +SKIP
    >>> predictor.backend  # doctest: +SKIP
    'onnxruntime'
    >>> predictor.predict(canvas).digit  # doctest: +SKIP
    7
    """

    def __init__(self, model: Any = None, *, backend: str = "auto", jit_compile: bool = True):
        self.fetch_result: FetchResult | None = None
        self.model: Any = None  # a keras.Model (Keras ships no types), or None
        self.artifacts: ModelArtifacts | None = None
        if isinstance(model, str | os.PathLike) and os.fspath(model).endswith(".onnx"):
            self.engine = _onnx_file_engine(model, backend)
        elif model is None or isinstance(model, str | os.PathLike | ModelArtifacts):
            resolved = engines.resolve_backend(backend)
            artifacts, source, graph, onnx = self._open(model, resolved)
            self.artifacts = artifacts
            self.engine = engines.load_engine(
                artifacts, resolved, source=source, graph=graph, onnx=onnx, jit_compile=jit_compile
            )
            self.model = getattr(self.engine, "model", None)  # only the tensorflow engine has one
        else:  # a keras.Model
            resolved = "tensorflow" if backend == "auto" else engines.resolve_backend(backend)
            self.model = model
            self.engine = self._keras_engine(model, resolved, jit_compile)
        self._ready()

    def _open(
        self, model: Any, backend: str
    ) -> tuple[ModelArtifacts, str, ModelGraph | None, bytes | None]:
        """The artifacts, a label, and what the source knows already: the checked graph (the
        loader's) and a prebuilt ONNX graph (the store's, or the one shipped with the model)."""
        if isinstance(model, ModelArtifacts):
            return model, "the given ModelArtifacts", None, None
        onnx = None
        if model is None:
            from ._shipped import shipped_model_dir, shipped_onnx  # deferred: the default only

            model = shipped_model_dir()
            onnx = shipped_onnx() if backend == "onnxruntime" else None
        from .sources import open_artifacts  # deferred: only for a location, not ModelArtifacts

        derive = engines.derive_onnx if backend == "onnxruntime" else None
        opened = open_artifacts(model, derive=derive)
        self.fetch_result = opened.fetch_result
        graph = opened.fetch_result.graph if opened.fetch_result is not None else None
        return opened.artifacts, opened.source, graph, opened.derived.get(engines.ONNX_FILE, onnx)

    @classmethod
    def _from_files(
        cls, artifacts: ModelArtifacts, *, backend: str, source: str, onnx: bytes | None
    ) -> Predictor:
        """A model's verified files with the ONNX graph kept beside them (``store.DERIVED``):
        a personal model starts like a store hit, without importing ``onnx``."""
        engine = engines.load_engine(artifacts, backend, source=source, onnx=onnx)
        return cls._with_engine(engine, artifacts)

    @staticmethod
    def _keras_engine(model: Any, backend: str, jit_compile: bool) -> engines.Engine:
        _check_keras_input(model)
        if backend == "tensorflow":
            return engines.keras_engine(model, jit_compile=jit_compile)
        from .tfjs.codec import encode_model  # deferred: only a keras.Model needs the codec

        name = getattr(model, "name", "keras.Model")
        return engines.load_engine(encode_model(model), backend, source=f"keras model {name!r}")

    @classmethod
    def from_url(cls, url: str, *, backend: str = "auto", **fetch_options: Any) -> Predictor:
        """Load through the offline-first model store (:func:`mnist_widgets.fetch_model`'s route).

        ``fetch_options`` go to the loader (``strategy``, ``cache``, ``timeout``, ...); the
        :class:`~mnist_widgets.FetchResult` is kept as ``predictor.fetch_result`` (its ``model``
        is the Keras model on the tensorflow backend, else ``None``: no Keras model is built).
        """
        from .loader import fetch_artifacts  # deferred: HTTP and the store only for a URL

        resolved = engines.resolve_backend(backend)
        derive = engines.derive_onnx if resolved == "onnxruntime" else None
        result = fetch_artifacts(url, derive=derive, **fetch_options)
        onnx = result.derived.get(engines.ONNX_FILE)
        engine = engines.load_engine(
            result.artifacts, resolved, source=url, graph=result.graph, onnx=onnx
        )
        predictor = cls._with_engine(engine, result.artifacts)
        result.model = predictor.model
        predictor.fetch_result = result
        return predictor

    @classmethod
    def _with_engine(cls, engine: engines.Engine, artifacts: ModelArtifacts) -> Predictor:
        predictor = cls.__new__(cls)
        predictor.fetch_result = None
        predictor.artifacts = artifacts
        predictor.engine = engine
        predictor.model = getattr(engine, "model", None)
        predictor._ready()
        return predictor

    def _ready(self) -> None:
        self.backend: str = self.engine.backend
        _check_shapes(self.engine)
        self._run(np.zeros((1, *_INPUT), np.float32))  # compile/allocate now, not on a drawing

    def predict(self, image: np.ndarray, *, preprocessed: bool = False) -> Prediction:
        """Classify one drawing (any canvas :func:`~mnist_widgets.preprocess` accepts).

        The image is prepared like MNIST, strokes much thicker or thinner than MNIST's re-inked
        (:func:`~mnist_widgets.preprocessing.prepare`). A drawing that is not a digit (empty, a
        dot, a short dash, too little ink) gives ``digit=None``, zero probabilities and a
        ``reason``. With ``preprocessed=True`` the image must already be a 28x28 MNIST-style array
        in [0, 1] (checked: a :class:`~mnist_widgets.CanvasError` otherwise) and is classified
        as it is.
        """
        return self._classify([_prepare(image, preprocessed)])[0]

    def predict_strokes(self, strokes: Sequence[Sequence[Sequence[float]]]) -> Prediction:
        """Classify a drawing given as pen paths (lists of ``(x, y)`` points), as the widget does.

        The model input is inked from the points with a pen relative to the drawing's size
        (:func:`~mnist_widgets.preprocessing.prepare_strokes`), so small and large drawings look
        alike to the model. Too small a drawing (a click, a short dash) gives ``digit=None`` with
        ``reason="draw bigger"``.
        """
        return self._classify([prepare_strokes(strokes)])[0]

    def predict_batch(
        self, images: Iterable[np.ndarray], *, preprocessed: bool = False
    ) -> list[Prediction]:
        """Classify many drawings in a few engine calls; those that are not digits get ``None``."""
        return self._classify([_prepare(image, preprocessed) for image in images])

    def _classify(self, prepared: list[Prepared]) -> list[Prediction]:
        if len(prepared) == 1:  # one drawing (predict, the widget): no batching to do
            (one,) = prepared
            if one.reason is not None or one.input is None:
                return [_not_a_digit(one)]
            return [_make(self._run(one.input[None, :, :, None])[0], one.input)]
        kept = [
            (i, p.input) for i, p in enumerate(prepared) if p.reason is None and p.input is not None
        ]
        out = {i: _not_a_digit(p) for i, p in enumerate(prepared) if p.reason or p.input is None}
        for start in range(0, len(kept), _BATCH):
            chunk = kept[start : start + _BATCH]
            batch = np.stack([x for _, x in chunk])[:, :, :, None]
            for (i, x), probs in zip(chunk, self._run(batch), strict=True):
                out[i] = _make(probs, x)
        return [out[i] for i in range(len(prepared))]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        probs = self.engine(batch)
        if probs.ndim != 2 or probs.shape[1] != 10:
            msg = f"the model must output 10 class scores per image, got shape {probs.shape}"
            raise ModelFormatError(msg)
        if np.isfinite(probs).all():  # finite scores give a finite distribution
            return _as_distribution(probs)
        rows = np.flatnonzero(~np.isfinite(probs).all(axis=1))
        msg = (
            f"the model's scores for image {int(rows[0])} of the batch are not finite (NaN or "
            "inf): its weights make the computation overflow float32, so there is no answer; "
            "use a model whose outputs stay finite (a retrained or re-exported one)"
        )
        raise ModelFormatError(msg)

    def __repr__(self) -> str:
        name = getattr(self.engine, "name", None) or getattr(self.model, "name", "?")
        return f"Predictor(model={name!r}, backend={self.backend!r})"


def _onnx_file_engine(path: str | os.PathLike[str], backend: str) -> engines.Engine:
    """A ``model.onnx`` file runs on onnxruntime only."""
    if engines.resolve_backend(backend) != "onnxruntime":
        msg = (
            f"{os.fspath(path)!r} is an ONNX model, which runs on backend='onnxruntime' "
            f"(installed: {', '.join(engines.available_backends())}), not {backend!r}; pass the "
            "TF.js model (model.json) for the other backends"
        )
        raise ConfigError(msg)
    from .engines.ort import OnnxFileEngine  # deferred: onnxruntime only for an .onnx file

    return OnnxFileEngine(path)


def _prepare(image: np.ndarray, preprocessed: bool) -> Prepared:
    if not preprocessed:
        return prepare(image)
    try:
        raw = np.asarray(image)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects NumPy cannot hold
        msg = f"preprocessed=True needs a (28, 28) array in [0, 1], got {type(image).__name__}"
        raise CanvasError(f"{msg} that is no rectangular array ({exc})") from exc
    if raw.dtype.kind not in "biuf":  # strings, objects, dicts; complex (never drop a part)
        msg = (
            f"preprocessed=True needs a (28, 28) array of real numbers in [0, 1], got dtype "
            f"{raw.dtype} ({type(image).__name__})"
        )
        raise CanvasError(msg)
    if raw.shape != (SIZE, SIZE):  # before the copy: a huge array is never converted
        msg = f"preprocessed=True needs a (28, 28) array in [0, 1], got shape {raw.shape}"
        raise CanvasError(msg)
    # A copy: _make marks the input read-only, which must not happen to the caller's own array.
    x = np.array(raw, dtype=np.float32)
    lo, hi = float(x.min()), float(x.max())  # NaN propagates into both
    if not (lo >= 0.0 and hi <= 1.0):
        what = "NaN or inf" if not np.isfinite(x).all() else f"values in [{lo:g}, {hi:g}]"
        msg = (
            f"preprocessed=True needs a (28, 28) array in [0, 1], got {what}; pass the raw "
            "canvas without preprocessed=True to have it prepared like MNIST"
        )
        raise CanvasError(msg)
    return Prepared(x)


def _not_a_digit(prepared: Prepared) -> Prediction:
    """The Prediction of a drawing that is not classified (replaced for those that are)."""
    x = prepared.input
    if x is None:
        x = _EMPTY_INPUT
    else:
        x = np.array(x, dtype=np.float32)
        x.flags.writeable = False
    return Prediction(None, _EMPTY_PROBS, x, prepared.reason or REASON_EMPTY)


def _make(probs: np.ndarray, x: np.ndarray) -> Prediction:
    probs.flags.writeable = False
    x.flags.writeable = False
    return Prediction(int(np.argmax(probs)), probs, x)


def _as_distribution(scores: np.ndarray) -> np.ndarray:
    """Pass softmax output through; turn logits (negative, or not summing to 1) into softmax.

    ``scores`` are finite (the caller refuses others), and so is the result."""
    with np.errstate(over="ignore"):  # huge finite scores: inf sums take the softmax path
        sums = scores.sum(axis=1, keepdims=True)
    if scores.min() >= 0 and float(np.abs(sums - 1.0).max()) < 1e-3:  # (np.allclose: 10x slower)
        renormalised: np.ndarray = scores / sums  # float32 rounding: every row sums to 1
        return renormalised
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    softmax: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)  # (numpy's stubs: Any)
    return softmax


def _shape_error(shape: tuple[Any, ...]) -> ModelFormatError:
    msg = (
        f"the model takes inputs of shape {shape}, expected (None, 28, 28, 1) "
        "(28x28 grayscale images with a channel axis, like the mnist-node CNN)"
    )
    return ModelFormatError(msg)


def _check_keras_input(model: Any) -> None:
    shape = getattr(model, "input_shape", None)
    if shape is None:
        return  # subclassed models have no declared input; the first call will tell
    if isinstance(shape, list):
        shape = shape[0]
    if tuple(shape[1:]) != _INPUT:
        raise _shape_error(tuple(shape))


def _check_shapes(engine: engines.Engine) -> None:
    shape = getattr(engine, "input_shape", None)  # the Keras engine's model was checked before
    if shape is not None and shape != _INPUT:
        raise _shape_error((None, *shape))
