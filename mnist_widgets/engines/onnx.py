"""ONNX export and the graph the ``"onnxruntime"`` engine runs: a TF.js layers model as ONNX.

The graph is built with the ``onnx`` package's helper API from the same checked
:class:`~._plan.Plan` the NumPy engine runs (no tf2onnx, which needs TensorFlow), one small
function per step type (:data:`_EMIT`). Layouts: TF.js tensors are NHWC and its kernels
``(kh, kw, in, out)``; ONNX Conv and pooling want NCHW and ``(out, in, kh, kw)``. Kernels are
transposed once here; activations are transposed to NCHW where a convolution or pooling needs
them and back to NHWC only where the order matters (Flatten, Reshape, Dense, softmax, the output),
so a chain of convolutions stays NCHW and Flatten still produces TF.js's row order for the Dense
kernel that follows.

The model's input and output keep TF.js's shapes (``(n, 28, 28, 1)`` -> ``(n, 10)``), so a
``model.onnx`` written by :func:`to_onnx` is a drop-in for the TF.js model in any ONNX runtime.

Importing ``onnx`` costs ~0.4 s (its ``ml_dtypes``), so running a model never needs this module
when a graph was built before: the model store keeps one beside each version and the shipped
model ships one (:mod:`.ort` runs them): ``mnist-widgets export models/mnist --format onnx
--out models/mnist`` (re)writes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from onnx import ModelProto, NodeProto, TensorProto, checker, helper, numpy_helper

from .._fs import replace_file
from ..errors import ModelFormatError
from ..tfjs.artifacts import ModelArtifacts
from ..tfjs.codec import encode_model
from ..tfjs.graph import ModelGraph, check_artifacts, load_weights
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
    plan,
)
from ._runtime import IMAGE_BYTES_PROP, INPUT, KEY_PROP, OUTPUT, model_key

__all__ = ["OPSET", "build_onnx", "onnx_bytes", "save_onnx", "to_onnx"]

OPSET = 18  # Mish and the axis-attribute Softmax; onnxruntime 1.16+ runs it

_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)
_SIMPLE = {
    "relu": "Relu",
    "elu": "Elu",
    "selu": "Selu",
    "sigmoid": "Sigmoid",
    "softplus": "Softplus",
    "softsign": "Softsign",
    "tanh": "Tanh",
    "mish": "Mish",
}


class _Builder:
    """Accumulates nodes and initializers; tracks each tensor's layout ("NHWC" or "NCHW")."""

    def __init__(self) -> None:
        self.nodes: list[NodeProto] = []
        self.inits: list[TensorProto] = []
        self.layout: dict[str, str] = {}
        self.rank: dict[str, int] = {}
        self._names: set[str] = set()
        self._transposed: dict[tuple[str, str], str] = {}

    def name(self, base: str) -> str:
        candidate, i = base, 1
        while candidate in self._names:
            candidate, i = f"{base}_{i}", i + 1
        self._names.add(candidate)
        return candidate

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], base: str, **attrs: Any) -> str:
        out = self.name(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def as_layout(self, tensor: str, layout: str) -> str:
        """``tensor`` in ``layout``; 4-D tensors are transposed (once per tensor and layout)."""
        if self.rank.get(tensor) != 4 or self.layout[tensor] == layout:
            return tensor
        key = (tensor, layout)
        if key not in self._transposed:
            perm = _NHWC_TO_NCHW if layout == "NCHW" else _NCHW_TO_NHWC
            out = self.node("Transpose", [tensor], f"{tensor}_{layout.lower()}", perm=list(perm))
            self.layout[out], self.rank[out] = layout, 4
            self._transposed[key] = out
        return self._transposed[key]

    def mark(self, tensor: str, layout: str, rank: int) -> str:
        self.layout[tensor], self.rank[tensor] = layout, rank
        return tensor

    def activation(self, x: str, name: str, base: str) -> str:
        """Apply a TF.js activation; softmax and log_softmax act on the NHWC last axis."""
        layout, rank = self.layout[x], self.rank[x]
        if name == "linear":
            return x
        if name in _SIMPLE:
            return self.mark(self.node(_SIMPLE[name], [x], base), layout, rank)
        if name == "relu6":
            lo = self.const(f"{base}_lo", np.array(0, np.float32))
            hi = self.const(f"{base}_hi", np.array(6, np.float32))
            return self.mark(self.node("Clip", [x, lo, hi], base), layout, rank)
        if name == "swish":
            sig = self.node("Sigmoid", [x], f"{base}_sigmoid")
            return self.mark(self.node("Mul", [x, sig], base), layout, rank)
        if name in ("softmax", "log_softmax"):
            x = self.as_layout(x, "NHWC")
            op = "Softmax" if name == "softmax" else "LogSoftmax"
            return self.mark(self.node(op, [x], base, axis=-1), "NHWC", rank)
        msg = f"activation {name!r} has no ONNX translation"  # _plan refuses these earlier
        raise ModelFormatError(msg)


def _conv(b: _Builder, step: Conv, x: str) -> str:
    x = b.as_layout(x, "NCHW")
    top, bottom, left, right = step.pads
    kernel = b.const(f"{step.name}_kernel", step.kernel.transpose(3, 2, 0, 1))  # (out, in, kh, kw)
    inputs = [x, kernel]
    if step.bias is not None:
        inputs.append(b.const(f"{step.name}_bias", step.bias))
    y = b.node(
        "Conv",
        inputs,
        step.name,
        kernel_shape=list(step.window),
        strides=list(step.strides),
        dilations=list(step.dilation),
        pads=[top, left, bottom, right],
    )
    return b.activation(b.mark(y, "NCHW", 4), step.activation, f"{step.name}_act")


def _pool(b: _Builder, step: Pool, x: str) -> str:
    x = b.as_layout(x, "NCHW")
    top, bottom, left, right = step.pads
    attrs: dict[str, Any] = {
        "kernel_shape": list(step.window),
        "strides": list(step.strides),
        "pads": [top, left, bottom, right],
    }
    if step.op == "avg":
        attrs["count_include_pad"] = 0  # TF averages over the real pixels only
    op = "MaxPool" if step.op == "max" else "AveragePool"
    return b.mark(b.node(op, [x], step.name, **attrs), "NCHW", 4)


def _dense(b: _Builder, step: Dense, x: str) -> str:
    x = b.as_layout(x, "NHWC")
    rank = b.rank[x]
    y = b.node("MatMul", [x, b.const(f"{step.name}_kernel", step.kernel)], f"{step.name}_matmul")
    if step.bias is not None:
        y = b.node("Add", [y, b.const(f"{step.name}_bias", step.bias)], step.name)
    return b.activation(b.mark(y, "NHWC", rank), step.activation, f"{step.name}_act")


def _affine(b: _Builder, step: Affine, x: str) -> str:
    scale, shift = step.scale, step.shift
    if scale.ndim == 1 and b.rank[x] == 4 and b.layout[x] == "NCHW":
        # per-channel values broadcast over H and W
        scale, shift = scale.reshape(-1, 1, 1), shift.reshape(-1, 1, 1)
    elif scale.ndim > 0:  # along another axis: in TF.js's NHWC order, as _plan shaped it
        x = b.as_layout(x, "NHWC")
    layout, rank = b.layout[x], b.rank[x]
    y = b.node("Mul", [x, b.const(f"{step.name}_scale", scale)], f"{step.name}_mul")
    y = b.node("Add", [y, b.const(f"{step.name}_shift", shift)], step.name)
    return b.mark(y, layout, rank)


def _activation(b: _Builder, step: Activation, x: str) -> str:
    return b.activation(x, step.activation, step.name)


def _reshape(b: _Builder, step: Reshape, x: str) -> str:
    x = b.as_layout(x, "NHWC")  # TF.js's element order
    shape = b.const(f"{step.name}_shape", np.array([-1, *step.output_shape], np.int64))
    return b.mark(b.node("Reshape", [x, shape], step.name), "NHWC", len(step.output_shape) + 1)


def _identity(b: _Builder, step: Identity, x: str) -> str:
    return x


def _zero_pad(b: _Builder, step: ZeroPad, x: str) -> str:
    top, bottom, left, right = step.pads
    # ONNX pads: every axis' begin, then every axis' end, in the tensor's current layout
    if b.layout[x] == "NCHW":
        pads = [0, 0, top, left, 0, 0, bottom, right]
    else:
        pads = [0, top, left, 0, 0, bottom, right, 0]
    y = b.node("Pad", [x, b.const(f"{step.name}_pads", np.array(pads, np.int64))], step.name)
    return b.mark(y, b.layout[x], 4)


#: Step type -> the nodes it becomes (each takes the builder, its step and its input tensor).
_EMIT: dict[type[Step], Callable[[_Builder, Any, str], str]] = {
    Conv: _conv,
    Dense: _dense,
    Pool: _pool,
    Affine: _affine,
    Activation: _activation,
    Reshape: _reshape,
    Identity: _identity,
    ZeroPad: _zero_pad,
}


def build_onnx(plan: Plan, *, key: str = "", producer: str = "mnist-widgets") -> ModelProto:
    """The ONNX ``ModelProto`` of ``plan`` (input ``"input"``, output ``"output"``, batch ``n``).

    ``key`` (:func:`~._runtime.model_key` of the TF.js files) is kept in the model's metadata, so a
    stored or shipped graph can be matched to the files it was built from without the ``onnx``
    package.
    """
    b = _Builder()
    b.mark(INPUT, "NHWC", len(plan.input_shape) + 1)
    b._names.update((INPUT, OUTPUT))  # a layer called "input" or "output" gets another name
    tensors = {plan.input: INPUT}
    for step in plan.steps:
        tensors[step.name] = _EMIT[type(step)](b, step, tensors[step.input])
    result = b.as_layout(tensors[plan.output], "NHWC")
    b.nodes.append(helper.make_node("Identity", [result], [OUTPUT], name=OUTPUT))
    graph = helper.make_graph(
        b.nodes,
        plan.name or "model",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", *plan.input_shape])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n", *plan.output_shape])],
        initializer=b.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer
    )
    model.ir_version = 8  # what onnxruntime >= 1.14 and onnxruntime-web read
    if key:  # what a prebuilt graph runs with, without the TF.js graph (``load_engine``)
        helper.set_model_props(model, {KEY_PROP: key, IMAGE_BYTES_PROP: str(plan.image_bytes)})
    checker.check_model(model)
    return model


def onnx_bytes(artifacts: ModelArtifacts, *, source: str, graph: ModelGraph | None = None) -> bytes:
    """The TF.js model in ``artifacts`` as ``model.onnx`` bytes (opset :data:`OPSET`).

    Input ``"input"`` and output ``"output"`` keep TF.js's NHWC shapes with a free batch axis
    ``n``: feed ``(n, 28, 28, 1)`` float32 in [0, 1] and read ``(n, 10)`` probabilities, in
    onnxruntime (Python, web, C#, mobile) or any other ONNX runtime. No TensorFlow is needed.
    ``graph``: what :func:`~mnist_widgets.tfjs.graph.check_artifacts` returned for these
    artifacts (checked here otherwise). The bytes carry :func:`~._runtime.model_key` of the files.

    Raises
    ------
    ModelFormatError
        A layer or option with no exact ONNX translation.
    """
    if graph is None:
        graph = check_artifacts(artifacts, source=source)
    steps = plan(graph, load_weights(graph, artifacts, source=source), source=source)
    return bytes(build_onnx(steps, key=model_key(artifacts)).SerializeToString())


def to_onnx(artifacts: ModelArtifacts, *, source: str = "model.json") -> bytes:
    """:func:`onnx_bytes` (the export API)."""
    return onnx_bytes(artifacts, source=source)


def save_onnx(model: Any, dest: str | os.PathLike[str]) -> Path:
    """Write ``model`` as ONNX (:func:`to_onnx`); return the file written, atomically.

    Parameters
    ----------
    model
        :class:`~mnist_widgets.tfjs.artifacts.ModelArtifacts`, a TF.js model location (directory,
        ``model.json``, ``http(s)://``, ``cache://NAME``: read without TensorFlow) or a
        ``keras.Model``.
    dest
        A directory (``dest/model.onnx`` is written) or a path ending in ``.onnx``.

    Examples
    --------
    >>> save_onnx("models/mnist", "site/onnx")  # doctest: +SKIP
    PosixPath('site/onnx/model.onnx')
    """
    if isinstance(model, ModelArtifacts):
        artifacts, source = model, "model.json"
    elif isinstance(model, str | os.PathLike):
        from ..sources import read_artifacts  # deferred: the loading layer only for a location

        artifacts, source = read_artifacts(model), os.fspath(model)
    else:
        artifacts, source = encode_model(model), f"keras model {getattr(model, 'name', '?')!r}"
    path = Path(dest)
    if path.suffix != ".onnx":
        path = path / "model.onnx"
    replace_file(path, to_onnx(artifacts, source=source))
    return path
