"""The ``"numpy"`` engine: a TF.js layers model's forward pass in pure NumPy (float32).

Runs wherever NumPy does, Pyodide included (no SciPy, no compiled code of ours). Convolutions are
unfolded windows + BLAS matmuls: ``as_strided`` gives the input's sliding windows as a view, one
copy lays them out as rows, and the kernel, reshaped once at load time, multiplies them (see
``_Conv``). Every intermediate array is allocated once per batch size and reused, so a prediction
allocates almost nothing; bias and activations run in place.

A call is serialised by a lock (the buffers are shared); big batches run in chunks of
:data:`CHUNK` images, which keeps the unfolded buffers small (a few MB for the shipped model), or
fewer for a model whose images would not fit :data:`~._runtime.MEMORY_BUDGET_BYTES` so.

BLAS threads: NumPy's OpenBLAS may split one image's matmuls over several threads, which helps on
an idle machine and hurts a lot on a loaded one (batches most); ``OPENBLAS_NUM_THREADS=1``, set
before NumPy is imported, turns that off (``benchmarks/engine_latency.py`` measures both).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from ._plan import (
    Activation,
    Affine,
    Conv,
    Dense,
    Identity,
    Plan,
    Pool,
    Reshape,
    Step,
    ZeroPad,
)
from ._runtime import check_batch, chunk_images

__all__ = ["NumpyEngine", "activation"]

CHUNK = 16  # images per internal pass for big batches
_KEEP = 3  # batch sizes whose buffers are kept (1, CHUNK and one remainder cover predict_batch)

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _softplus(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    # log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))
    tmp = np.negative(np.abs(x))
    np.exp(tmp, out=tmp)
    np.log1p(tmp, out=tmp)
    np.maximum(x, 0, out=out)
    out += tmp
    return out


def _sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    # 0.5 * (1 + tanh(x / 2)): no overflow for large |x|
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _softmax(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def _log_softmax(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    out -= np.log(np.exp(out).sum(axis=-1, keepdims=True))
    return out


def _elu(x: np.ndarray, out: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    neg = np.expm1(np.minimum(x, 0))
    neg *= alpha
    np.copyto(out, np.where(x > 0, x, neg))
    return out


def _selu(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    _elu(x, out, _SELU_ALPHA)
    out *= _SELU_SCALE
    return out


def _swish(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    s = _sigmoid(x, np.empty_like(x))
    np.multiply(x, s, out=out)
    return out


def _mish(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    sp = _softplus(x, np.empty_like(x))
    np.tanh(sp, out=sp)
    np.multiply(x, sp, out=out)
    return out


def _relu6(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 6, out=out)


_ACTIVATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray] | None] = {
    "linear": None,
    "relu": lambda x, out: np.maximum(x, 0, out=out),
    "relu6": _relu6,
    "elu": _elu,
    "selu": _selu,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "softsign": lambda x, out: np.divide(x, 1 + np.abs(x), out=out),
    "tanh": lambda x, out: np.tanh(x, out=out),
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "swish": _swish,
    "mish": _mish,
}


def activation(name: str, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Apply the TF.js activation ``name`` to ``x`` (into ``out``, which may be ``x``)."""
    fn = _ACTIVATIONS[name]
    if fn is None:
        if out is None or out is x:
            return x
        np.copyto(out, x)
        return out
    return fn(x, x if out is None else out)


# -- one op per step type; each keeps its buffers per batch size ----------------------------------

S = TypeVar("S", bound=Step)
B = TypeVar("B")  # what an op keeps per batch size: its output array, or a tuple of arrays


class _Padded(Protocol):
    """A step with explicit padding (top, bottom, left, right) around an NHWC input."""

    @property
    def pads(self) -> tuple[int, int, int, int]: ...

    @property
    def input_shape(self) -> tuple[int, ...]: ...


Array = npt.NDArray[np.float32]


class _Op(Generic[S, B]):
    def __init__(self, step: S) -> None:
        self.step = step
        self._buffers: OrderedDict[int, B] = OrderedDict()

    def buffers(self, n: int) -> B:
        got = self._buffers.get(n)
        if got is None:
            got = self.allocate(n)
            self._buffers[n] = got
            if len(self._buffers) > _KEEP:
                self._buffers.popitem(last=False)
        return got

    def allocate(self, n: int) -> B:
        raise NotImplementedError

    def output(self, n: int) -> Array:
        return np.empty((n, *self.step.output_shape), np.float32)

    def __call__(self, x: Array) -> Array:
        raise NotImplementedError


class _Simple(_Op[S, Array]):
    """An op whose only buffer is its output."""

    def allocate(self, n: int) -> Array:
        return self.output(n)


def _padded_input(n: int, step: _Padded, fill: float) -> Array | None:
    top, bottom, left, right = step.pads
    if not any(step.pads):
        return None
    h, w, c = step.input_shape
    return np.full((n, h + top + bottom, w + left + right, c), fill, np.float32)


def _pad(x: Array, buf: Array | None, step: _Padded) -> Array:
    if buf is None:
        return x
    top, _, left, _ = step.pads
    h, w = x.shape[1:3]
    buf[:, top : top + h, left : left + w, :] = x  # the border keeps its fill value
    return buf


def _windows(
    x: Array,
    window: tuple[int, int],
    strides: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> Array:
    """(n, out_h, out_w, kh, kw, c) view of ``x``'s sliding windows (no copy)."""
    n, _, _, c = x.shape
    s0, s1, s2, s3 = x.strides
    (sh, sw), (dh, dw) = strides, dilation
    kh, kw = window
    shape = (n, out_hw[0], out_hw[1], kh, kw, c)
    return as_strided(x, shape, (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)


class _Conv(_Op[Conv, tuple[Array, Array | None, Array | None, Array | None]]):
    """Convolution as matmuls over unfolded windows.

    Stride 1 along the height (the common case): only the kernel's *width* is unfolded, into
    ``(n, padded_h, out_w, kw * in)``; each kernel row ``ky`` is then one matmul on a row-shifted
    slice of that buffer, summed. That copies ``kh`` times less than a full im2col (the copy costs
    about as much as the matmul). Otherwise: full im2col, ``(n, out_h, out_w, kh * kw * in)``, one
    matmul.
    """

    def __init__(self, step: Conv) -> None:
        super().__init__(step)
        kh, kw, cin, cout = step.kernel.shape
        self.kh = kh
        self.rows = step.strides[0] == 1 and kh > 1
        if self.rows:  # one (kw * in, out) matrix per kernel row
            self.matrices = [
                np.ascontiguousarray(step.kernel[i].reshape(kw * cin, cout)) for i in range(kh)
            ]
        else:
            self.matrices = [np.ascontiguousarray(step.kernel.reshape(kh * kw * cin, cout))]
        self.bias = step.bias
        self.act = step.activation
        self.pointwise = (kh, kw) == (1, 1) and step.strides == (1, 1) and not any(step.pads)

    def allocate(self, n: int) -> tuple[Array, Array | None, Array | None, Array | None]:
        oh, ow, cout = self.step.output_shape
        h, _, cin = self.step.input_shape
        top, bottom, _, _ = self.step.pads
        kh, kw = self.step.window
        out = np.empty((n, oh * ow, cout), np.float32)
        tmp = np.empty_like(out) if self.rows else None
        cols: Array | None
        if self.pointwise:
            cols = None
        elif self.rows:
            cols = np.empty((n, h + top + bottom, ow, kw, cin), np.float32)
        else:
            cols = np.empty((n, oh, ow, kh, kw, cin), np.float32)
        return out, tmp, cols, _padded_input(n, self.step, 0.0)

    def __call__(self, x: Array) -> Array:
        n = x.shape[0]
        out, tmp, cols, padded = self.buffers(n)
        step = self.step
        oh, ow, _ = step.output_shape
        if cols is None:
            np.matmul(x.reshape(n, oh * ow, x.shape[3]), self.matrices[0], out=out)
        elif tmp is not None:  # self.rows: unfolded one kernel row at a time
            xp = _pad(x, padded, step)
            s0, s1, s2, s3 = xp.strides
            sw, (dh, dw) = step.strides[1], step.dilation
            shape = cols.shape
            np.copyto(cols, as_strided(xp, shape, (s0, s1, s2 * sw, s2 * dw, s3), writeable=False))
            flat = cols.reshape(n, shape[1], ow * shape[3] * shape[4])
            for ky, matrix in enumerate(self.matrices):
                block = flat[:, ky * dh : ky * dh + oh].reshape(n, oh * ow, matrix.shape[0])
                if ky == 0:
                    np.matmul(block, matrix, out=out)
                else:
                    np.matmul(block, matrix, out=tmp)
                    out += tmp
        else:
            windows = _windows(
                _pad(x, padded, step), step.window, step.strides, step.dilation, (oh, ow)
            )
            np.copyto(cols, windows)
            np.matmul(
                cols.reshape(n, oh * ow, self.matrices[0].shape[0]), self.matrices[0], out=out
            )
        if self.bias is not None:
            out += self.bias
        activation(self.act, out, out)
        return out.reshape(n, *step.output_shape)


class _Dense(_Simple[Dense]):
    def __init__(self, step: Dense) -> None:
        super().__init__(step)
        self.kernel = np.ascontiguousarray(step.kernel)
        self.bias = step.bias
        self.act = step.activation

    def __call__(self, x: Array) -> Array:
        out = self.buffers(x.shape[0])
        np.matmul(x, self.kernel, out=out)  # on the last axis, like Keras for any rank
        if self.bias is not None:
            out += self.bias
        return activation(self.act, out, out)


class _Pool(_Op[Pool, tuple[Array, Array | None, Array | None]]):
    """Max or average pooling. Non-overlapping windows with no padding (the common 2x2/2 case)
    reduce pairwise over reshaped views, first along the height, then the width (several times
    faster than a reduction over strided windows); anything else reduces over as_strided windows."""

    def __init__(self, step: Pool) -> None:
        super().__init__(step)
        self.max = step.op == "max"
        self.reduce = np.maximum if self.max else np.add
        h, w, _ = step.input_shape
        oh, ow, _ = step.output_shape
        self.blocks = step.strides == step.window and not any(step.pads)
        self.counts: Array | None = None
        if not self.max and any(step.pads):
            # TF excludes the padding from the average: divide by the real pixels per window
            ones = np.ones((1, h, w, 1), np.float32)
            buf = _padded_input(1, step, 0.0)
            assert buf is not None
            padded = _pad(ones, buf[..., :1], step)
            self.counts = self._windows(padded, (oh, ow)).sum(axis=(3, 4))

    def _windows(self, x: Array, out_hw: tuple[int, int]) -> Array:
        return _windows(x, self.step.window, self.step.strides, (1, 1), out_hw)

    def allocate(self, n: int) -> tuple[Array, Array | None, Array | None]:
        fill = -np.inf if self.max else 0.0
        _, w, c = self.step.input_shape
        oh = self.step.output_shape[0]
        rows = np.empty((n, oh, w, c), np.float32) if self.blocks else None
        return self.output(n), rows, _padded_input(n, self.step, fill)

    def __call__(self, x: Array) -> Array:
        n = x.shape[0]
        out, rows, padded = self.buffers(n)
        kh, kw = self.step.window
        oh, ow, c = self.step.output_shape
        if rows is not None:  # self.blocks
            v = x[:, : oh * kh].reshape(n, oh, kh, x.shape[2], c)
            self._fold(v, 2, kh, rows)
            u = rows[:, :, : ow * kw].reshape(n, oh, ow, kw, c)
            self._fold(u, 3, kw, out)
        elif self.max:
            np.max(self._windows(_pad(x, padded, self.step), (oh, ow)), axis=(3, 4), out=out)
        else:
            np.sum(self._windows(_pad(x, padded, self.step), (oh, ow)), axis=(3, 4), out=out)
        if not self.max:
            if self.counts is None:
                out *= np.float32(1.0 / (kh * kw))
            else:
                out /= self.counts
        return out

    def _fold(self, v: Array, axis: int, k: int, out: Array) -> None:
        """``out`` = max (or sum) of ``v`` over ``axis`` of length ``k``, pairwise."""
        take: list[int | slice] = [slice(None)] * v.ndim
        take[axis] = 0
        if k == 1:
            np.copyto(out, v[tuple(take)])
            return
        first = v[tuple(take)]
        take[axis] = 1
        self.reduce(first, v[tuple(take)], out=out)
        for i in range(2, k):
            take[axis] = i
            self.reduce(out, v[tuple(take)], out=out)


class _Affine(_Simple[Affine]):
    def __call__(self, x: Array) -> Array:
        out = self.buffers(x.shape[0])
        np.multiply(x, self.step.scale, out=out)
        out += self.step.shift
        return out


class _Activation(_Simple[Activation]):
    def __call__(self, x: Array) -> Array:
        return activation(self.step.activation, x, self.buffers(x.shape[0]))


class _Reshape(_Simple[Reshape]):
    def __call__(self, x: Array) -> Array:
        # NHWC tensors flatten in TF.js's own order: a plain C-order reshape
        return x.reshape(x.shape[0], *self.step.output_shape)


class _Identity(_Simple[Identity]):
    def __call__(self, x: Array) -> Array:
        return x


class _ZeroPad(_Simple[ZeroPad]):
    def allocate(self, n: int) -> Array:
        return np.zeros((n, *self.step.output_shape), np.float32)  # the border stays zero

    def __call__(self, x: Array) -> Array:
        return _pad(x, self.buffers(x.shape[0]), self.step)


#: Step type -> the op that runs it.
_OPS: dict[type[Step], type[_Op[Any, Any]]] = {
    Conv: _Conv,
    Dense: _Dense,
    Pool: _Pool,
    Affine: _Affine,
    Activation: _Activation,
    Reshape: _Reshape,
    Identity: _Identity,
    ZeroPad: _ZeroPad,
}


class NumpyEngine:
    """Run a :class:`~._plan.Plan` with NumPy; ``engine(batch)`` -> float32 outputs (a new array).

    Parameters
    ----------
    plan
        From :func:`mnist_widgets.engines._plan.plan` (checked: every step is runnable).
    """

    backend = "numpy"

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.input_shape, self.name = plan.input_shape, plan.name
        self._ops = [(_OPS[type(s)](s), s.input, s.name) for s in plan.steps]
        self._lock = threading.Lock()
        self._chunk = chunk_images(plan.image_bytes, CHUNK)  # a big model: fewer per pass

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = check_batch(self.plan.input_shape, batch)
        n = x.shape[0]
        out = np.empty((n, *self.plan.output_shape), np.float32)
        # An overflow shows as non-finite scores, which the Predictor refuses: no warning noise.
        with self._lock, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for start in range(0, n, self._chunk):
                out[start : start + self._chunk] = self._forward(x[start : start + self._chunk])
        return out

    def _forward(self, x: np.ndarray) -> np.ndarray:
        values = {self.plan.input: x}
        for op, src, name in self._ops:
            values[name] = op(values[src])
        return values[self.plan.output]

    def __repr__(self) -> str:
        return f"NumpyEngine(model={self.plan.name!r}, steps={len(self._ops)})"
