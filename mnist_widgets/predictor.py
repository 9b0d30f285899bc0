"""Recognise drawn digits: MNIST-style preprocessing plus one compiled, fixed-signature model call.

Keras's ``model.predict`` builds a data pipeline on every call (tens of milliseconds for one
image); a ``tf.function`` with a fixed input signature is traced once and then costs well under a
millisecond.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._tf import tensorflow
from .errors import ModelFormatError
from .preprocessing import SIZE, preprocess_or_none

__all__ = ["Prediction", "Predictor"]

_BATCH = 256  # images per compiled call in predict_batch


@dataclass(frozen=True, eq=False)
class Prediction:
    """What the model made of one drawing.

    Attributes
    ----------
    digit : int or None
        The most likely digit, or ``None`` for an empty canvas (which is never classified).
    probabilities : numpy.ndarray
        float32 ``(10,)`` summing to 1; all zeros for an empty canvas.
    input : numpy.ndarray
        The float32 ``(28, 28)`` image the model saw (all zeros for an empty canvas).
    """

    digit: int | None
    probabilities: np.ndarray
    input: np.ndarray

    @property
    def empty(self) -> bool:
        """True when the canvas held no ink."""
        return self.digit is None

    @property
    def confidence(self) -> float:
        """Probability of the predicted digit (0.0 for an empty canvas)."""
        return float(self.probabilities.max())

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        """The ``k`` most likely digits as ``(digit, probability)``, best first (empty: ``[]``)."""
        if self.empty:
            return []
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def __repr__(self) -> str:
        if self.empty:
            return "Prediction(digit=None, empty canvas)"
        return f"Prediction(digit={self.digit}, confidence={self.confidence:.3f})"


_EMPTY_PROBS = np.zeros(10, dtype=np.float32)
_EMPTY_INPUT = np.zeros((SIZE, SIZE), dtype=np.float32)
for _a in (_EMPTY_PROBS, _EMPTY_INPUT):
    _a.flags.writeable = False


class Predictor:
    """Classify drawings with a Keras model taking ``(None, 28, 28, 1)`` float32 images.

    Parameters
    ----------
    model : keras.Model, str, os.PathLike or None
        A Keras model; a path to a TF.js layers model (directory or ``model.json``); or ``None`` for
        the model shipped with the package (no network, no training).
    jit_compile : bool
        Compile the call with XLA (default). ``benchmarks/predict_latency.py`` measures both: XLA
        was about a third faster for the bare model call on an idle machine and made no difference
        under load.

    Notes
    -----
    One prediction is a small amount of work spread over TensorFlow's intra-op threads; on a busy
    2-core machine waking them costs more than they save. ``TF_NUM_INTRAOP_THREADS=1`` (set before
    TensorFlow starts) brought the end-to-end median from ~1.5 ms to ~1.0 ms in the benchmark.

    Examples
    --------
    >>> predictor = Predictor()  # doctest: +SKIP
    >>> predictor.predict(canvas).digit  # doctest: +SKIP
    7
    """

    def __init__(self, model: Any = None, *, jit_compile: bool = True) -> None:
        if model is None or isinstance(model, (str, os.PathLike)):
            from ._shipped import shipped_model_dir
            from .tfjs import load_layers_model

            model = load_layers_model(shipped_model_dir() if model is None else model)
        _check_input_shape(model)
        self.model = model
        self.fetch_result: Any = None  # set by from_url
        tf = tensorflow()
        signature = [tf.TensorSpec(shape=[None, SIZE, SIZE, 1], dtype=tf.float32)]

        def _call(x: Any) -> Any:
            return model(x, training=False)

        fn = tf.function(_call, input_signature=signature, jit_compile=jit_compile)
        # Calling the concrete function directly skips tf.function's argument matching (~0.1 ms).
        self._fn = fn.get_concrete_function()
        self._constant = tf.constant
        self._run(np.zeros((1, SIZE, SIZE, 1), np.float32))  # compile now, not on the first drawing

    @classmethod
    def from_url(cls, url: str, **fetch_options: Any) -> Predictor:
        """Load through the offline-first model store (:func:`mnist_widgets.fetch_model`).

        ``fetch_options`` go to ``fetch_model`` (``strategy``, ``cache``, ``timeout``, ...); the
        :class:`~mnist_widgets.FetchResult` is kept as ``predictor.fetch_result``.
        """
        from .keras_io import fetch_model

        result = fetch_model(url, **fetch_options)
        predictor = cls(result.model)
        predictor.fetch_result = result
        return predictor

    def predict(self, image: np.ndarray, *, preprocessed: bool = False) -> Prediction:
        """Classify one drawing (any canvas :func:`~mnist_widgets.preprocess` accepts).

        An empty canvas gives ``Prediction(digit=None)`` with zero probabilities. With
        ``preprocessed=True`` the image must already be a 28x28 MNIST-style array in [0, 1].
        """
        x = _prepare(image, preprocessed)
        if x is None:
            return Prediction(None, _EMPTY_PROBS, _EMPTY_INPUT)
        probs = self._run(x[None, :, :, None])[0]
        return _make(probs, x)

    def predict_batch(
        self, images: Iterable[np.ndarray], *, preprocessed: bool = False
    ) -> list[Prediction]:
        """Classify many drawings in a few compiled calls; empty canvases give ``digit=None``."""
        inputs = [_prepare(image, preprocessed) for image in images]
        kept = [i for i, x in enumerate(inputs) if x is not None]
        out: list[Prediction] = [Prediction(None, _EMPTY_PROBS, _EMPTY_INPUT)] * len(inputs)
        for start in range(0, len(kept), _BATCH):
            chunk = kept[start : start + _BATCH]
            batch = np.stack([inputs[i] for i in chunk])[:, :, :, None]
            # XLA compiles once per batch size: pad to a power of two so few sizes ever occur.
            padded = np.zeros((1 << (len(chunk) - 1).bit_length(), SIZE, SIZE, 1), np.float32)
            padded[: len(chunk)] = batch
            for i, probs in zip(chunk, self._run(padded)[: len(chunk)], strict=True):
                out[i] = _make(probs, inputs[i])
        return out

    def _run(self, batch: np.ndarray) -> np.ndarray:
        probs = self._fn(self._constant(batch)).numpy().astype(np.float32, copy=False)
        if probs.ndim != 2 or probs.shape[1] != 10:
            msg = f"the model must output 10 class scores per image, got shape {probs.shape}"
            raise ModelFormatError(msg)
        return _as_distribution(probs)

    def __repr__(self) -> str:
        name = getattr(self.model, "name", type(self.model).__name__)
        return f"Predictor(model={name!r})"


def _prepare(image: np.ndarray, preprocessed: bool) -> np.ndarray | None:
    if not preprocessed:
        return preprocess_or_none(image)
    # A copy: _make marks the input read-only, which must not happen to the caller's own array.
    x = np.array(image, dtype=np.float32)
    if x.shape != (SIZE, SIZE):
        msg = f"preprocessed=True needs a (28, 28) array in [0, 1], got shape {x.shape}"
        raise ValueError(msg)
    return x


def _make(probs: np.ndarray, x: np.ndarray) -> Prediction:
    probs.flags.writeable = False
    x.flags.writeable = False
    return Prediction(int(np.argmax(probs)), probs, x)


def _as_distribution(scores: np.ndarray) -> np.ndarray:
    """Pass softmax output through; turn logits (negative, or not summing to 1) into softmax."""
    sums = scores.sum(axis=1, keepdims=True)
    if scores.min() >= 0 and float(np.abs(sums - 1.0).max()) < 1e-3:  # (np.allclose: 10x slower)
        return scores / sums  # renormalise float32 rounding so every row sums to 1
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _check_input_shape(model: Any) -> None:
    shape = getattr(model, "input_shape", None)
    if shape is None:
        return  # subclassed models have no declared input; the first call will tell
    if isinstance(shape, list):
        shape = shape[0]
    if tuple(shape[1:]) != (SIZE, SIZE, 1):
        msg = (
            f"the model takes inputs of shape {tuple(shape)}, expected (None, 28, 28, 1) "
            "(28x28 grayscale images with a channel axis, like the mnist-node CNN)"
        )
        raise ModelFormatError(msg)
