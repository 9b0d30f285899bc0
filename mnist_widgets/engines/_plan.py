"""What the NumPy and ONNX engines share: one engine-neutral, typed step per layer.

:func:`plan` turns a checked :class:`~mnist_widgets.tfjs.graph.ModelGraph` and its decoded weights
into :class:`Step` records holding exactly what a forward pass needs: float32 arrays in their
TF.js layouts, explicit padding amounts, the activation name. One record type per kind of step
(:class:`Conv`, :class:`Dense`, :class:`Pool`, ...), made by one small function per layer class in
:data:`STEPS`: adding a layer class is one entry here, one in each engine's table.

The graph guarantees every value is valid (data format, padding, activations, strides with
dilation, pairs normalised); this module refuses only what the graph allows and an engine
cannot run (a free spatial size, several inputs or outputs), with a
:class:`~mnist_widgets.errors.ModelFormatError` naming the layer: a model either runs exactly as
TF.js runs it or does not load.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypedDict

import numpy as np
import numpy.typing as npt

from ..errors import ModelFormatError
from ..tfjs.artifacts import ModelArtifacts
from ..tfjs.graph import Layer, ModelGraph, check_artifacts, load_weights
from ._runtime import MEMORY_BUDGET_BYTES

Array = npt.NDArray[np.float32]
Pads = tuple[int, int, int, int]  # top, bottom, left, right
Pair = tuple[int, int]


@dataclass(frozen=True, eq=False, kw_only=True)
class Step:
    """One layer, ready to run: its name, the layer it reads, and shapes without the batch axis."""

    name: str
    input: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


@dataclass(frozen=True, eq=False, kw_only=True)
class Conv(Step):
    """Conv2D: ``kernel`` (kh, kw, in, out), then bias and activation."""

    kernel: Array = field(repr=False)
    bias: Array | None = field(repr=False)
    strides: Pair
    dilation: Pair
    pads: Pads
    activation: str

    @property
    def window(self) -> Pair:
        return (self.kernel.shape[0], self.kernel.shape[1])


@dataclass(frozen=True, eq=False, kw_only=True)
class Dense(Step):
    """Dense on the last axis: ``kernel`` (in, units), then bias and activation."""

    kernel: Array = field(repr=False)
    bias: Array | None = field(repr=False)
    activation: str


@dataclass(frozen=True, eq=False, kw_only=True)
class Pool(Step):
    """Max or average pooling; an average counts only real pixels (TF's "same" padding)."""

    op: Literal["max", "avg"]
    window: Pair
    strides: Pair
    pads: Pads


@dataclass(frozen=True, eq=False, kw_only=True)
class Affine(Step):
    """``x * scale + shift``, the arrays shaped to broadcast against the NHWC batch
    (BatchNormalization on any axis, folded; Rescaling)."""

    scale: Array = field(repr=False)
    shift: Array = field(repr=False)


@dataclass(frozen=True, eq=False, kw_only=True)
class Activation(Step):
    activation: str


@dataclass(frozen=True, eq=False, kw_only=True)
class Reshape(Step):
    """Flatten and Reshape: NHWC tensors keep TF.js's element order, a plain C-order reshape."""


@dataclass(frozen=True, eq=False, kw_only=True)
class Identity(Step):
    """Dropout: nothing at inference."""


@dataclass(frozen=True, eq=False, kw_only=True)
class ZeroPad(Step):
    """ZeroPadding2D: zeros around the height and width."""

    pads: Pads


@dataclass(frozen=True)
class Plan:
    """A model's steps in topological order; ``input`` names the input, ``output`` the result."""

    name: str
    input: str
    input_shape: tuple[int, ...]  # without the batch axis
    output: str
    output_shape: tuple[int, ...]
    steps: tuple[Step, ...]
    image_bytes: int = 0  # working memory per image (:func:`image_bytes`); 0: not known


def _fail(source: str, layer: Layer, what: str) -> ModelFormatError:
    return ModelFormatError(
        f"{source}: layer {layer.name!r} ({layer.class_name}): {what}; the NumPy and ONNX "
        "engines cannot run it (backend='tensorflow' may)"
    )


def same_pads(size: int, window: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's "same" padding along one axis: (before, after), the odd pixel after.

    Examples
    --------
    >>> same_pads(28, 3, 1), same_pads(28, 2, 2), same_pads(7, 2, 2)
    ((1, 1), (0, 0), (0, 1))
    """
    out = -(-size // stride)
    effective = (window - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pads(layer: Layer, window: Pair, strides: Pair, dilation: Pair) -> Pads:
    if layer.config["padding"] == "valid":
        return (0, 0, 0, 0)
    h, w = layer.input_shape[1], layer.input_shape[2]
    assert h is not None and w is not None  # plan() refused free sizes
    top, bottom = same_pads(h, window[0], strides[0], dilation[0])
    left, right = same_pads(w, window[1], strides[1], dilation[1])
    return (top, bottom, left, right)


# -- one function per layer class ------------------------------------------------------------------
# Each gets the checked layer, its weights by role ("kernel", "gamma", ...) and the fields every
# step has; the graph has normalised the config (pairs are tuples, activations TF.js names).

Weights = Mapping[str, Array]


class Base(TypedDict):
    """The fields every step has."""

    name: str
    input: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


def _conv(layer: Layer, w: Weights, base: Base) -> Step:
    config = layer.config
    window = (w["kernel"].shape[0], w["kernel"].shape[1])
    strides, dilation = config["strides"], config["dilation_rate"]
    pads = _pads(layer, window, strides, dilation)
    return Conv(
        kernel=w["kernel"],
        bias=w.get("bias"),
        strides=strides,
        dilation=dilation,
        pads=pads,
        activation=config["activation"],
        **base,
    )


def _dense(layer: Layer, w: Weights, base: Base) -> Step:
    activation = layer.config["activation"]
    return Dense(kernel=w["kernel"], bias=w.get("bias"), activation=activation, **base)


def _pool(op: Literal["max", "avg"]) -> Callable[[Layer, Weights, Base], Step]:
    def make(layer: Layer, w: Weights, base: Base) -> Step:
        window, strides = layer.config["pool_size"], layer.config["strides"]
        pads = _pads(layer, window, strides, (1, 1))
        return Pool(op=op, window=window, strides=strides, pads=pads, **base)

    return make


def _batch_norm(layer: Layer, w: Weights, base: Base) -> Step:
    rank = len(layer.input_shape)
    axis = int(layer.config["axis"])  # normalised to 1..rank-1 by the graph
    mean, var = w["moving_mean"], w["moving_variance"]
    # TF.js: (x - mean) * gamma / sqrt(var + eps) + beta, folded to x * scale + shift (in float64
    # so the folding itself adds no float32 rounding).
    inv = 1.0 / np.sqrt(var.astype(np.float64) + layer.config["epsilon"])
    gamma = w["gamma"].astype(np.float64) if "gamma" in w else 1.0
    beta = w["beta"].astype(np.float64) if "beta" in w else 0.0
    scale = gamma * inv
    shift = beta - mean.astype(np.float64) * scale
    broadcast = (-1,) + (1,) * (rank - 1 - axis)  # against the (n, *input_shape) batch
    return Affine(
        scale=np.asarray(scale, np.float32).reshape(broadcast),
        shift=np.asarray(shift, np.float32).reshape(broadcast),
        **base,
    )


def _rescaling(layer: Layer, w: Weights, base: Base) -> Step:
    scale = np.array(layer.config["scale"], np.float32)
    return Affine(scale=scale, shift=np.array(layer.config["offset"], np.float32), **base)


def _activation(layer: Layer, w: Weights, base: Base) -> Step:
    return Activation(activation=layer.config["activation"], **base)


def _reshape(layer: Layer, w: Weights, base: Base) -> Step:
    return Reshape(**base)


def _identity(layer: Layer, w: Weights, base: Base) -> Step:
    return Identity(**base)


def _zero_pad(layer: Layer, w: Weights, base: Base) -> Step:
    (top, bottom), (left, right) = layer.config["padding"]
    return ZeroPad(pads=(top, bottom, left, right), **base)


#: Layer class -> its step. The graph's classes minus InputLayer (tests check the two agree).
STEPS: Mapping[str, Callable[[Layer, Weights, Base], Step]] = {
    "Conv2D": _conv,
    "Dense": _dense,
    "MaxPooling2D": _pool("max"),
    "AveragePooling2D": _pool("avg"),
    "BatchNormalization": _batch_norm,
    "Rescaling": _rescaling,
    "Activation": _activation,
    "Flatten": _reshape,
    "Reshape": _reshape,
    "Dropout": _identity,
    "ZeroPadding2D": _zero_pad,
}


def _step(layer: Layer, arrays: Mapping[str, Array], source: str) -> Step:
    shape = layer.output_shape[1:]
    if any(d is None for d in (*layer.input_shape[1:], *shape)):
        raise _fail(source, layer, f"output shape {layer.output_shape} is not fixed")
    base: Base = {
        "name": layer.name,
        "input": layer.inputs[0],
        "input_shape": tuple(d for d in layer.input_shape[1:] if d is not None),
        "output_shape": tuple(d for d in shape if d is not None),
    }
    weights = {spec.name.rsplit("/", 1)[-1]: arrays[spec.name] for spec in layer.weights}
    return STEPS[layer.class_name](layer, weights, base)


def plan(graph: ModelGraph, arrays: Mapping[str, Array], *, source: str) -> Plan:
    """Check that ``graph`` can run here and collect its steps (InputLayer excluded)."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        msg = (
            f"{source}: model {graph.name!r} has {len(graph.inputs)} inputs and "
            f"{len(graph.outputs)} outputs; the engines run one input and one output"
        )
        raise ModelFormatError(msg)
    (first, *layers) = graph.layers  # one input: an InputLayer comes first in topological order
    input_shape = first.output_shape[1:]
    if any(d is None for d in input_shape):
        msg = f"{source}: model {graph.name!r} needs a fixed input shape, got {first.output_shape}"
        raise ModelFormatError(msg)
    steps = tuple(_step(layer, arrays, source) for layer in layers)
    fixed = tuple(d for d in input_shape if d is not None)
    output = graph.outputs[0]
    shape = fixed if output == graph.inputs[0] else graph.layer(output).output_shape[1:]
    out = tuple(d for d in shape if d is not None)
    return Plan(graph.name, graph.inputs[0], fixed, output, out, steps, budgeted(graph, source))


def image_bytes(graph: ModelGraph) -> int:
    """The working memory one image takes in an engine, from the graph's inferred shapes: every
    layer's output, plus the padded input, unfolded windows and second output of a convolution
    and the padded input and row buffer of a pooling (the NumPy engine's buffers; an upper bound
    for onnxruntime's, whose layout transposes they also cover)."""
    values = 0
    for layer in graph.layers:
        shape = tuple(d or 1 for d in layer.output_shape[1:])
        out = math.prod(shape)
        values += out
        if layer.class_name in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
            h, w, c = (d or 1 for d in layer.input_shape[1:])
            kh, kw = layer.config.get("kernel_size") or layer.config["pool_size"]
            dh, dw = layer.config.get("dilation_rate") or (1, 1)
            if layer.config.get("padding") == "same":
                h, w = h + dh * (kh - 1), w + dw * (kw - 1)
            values += h * w * c
            oh, ow = shape[0], shape[1]
            if layer.class_name == "Conv2D":
                values += max(h, oh) * ow * kh * kw * c + out
            else:
                values += oh * w * c
    return values * 4  # float32


def budgeted(graph: ModelGraph, source: str) -> int:
    """:func:`image_bytes`, or a ModelFormatError when one image does not fit the budget."""
    needed = image_bytes(graph)
    if needed > MEMORY_BUDGET_BYTES:
        msg = (
            f"{source}: model {graph.name!r} needs {needed / 2**20:,.0f} MiB of working memory "
            f"per image, more than the engines' budget of {MEMORY_BUDGET_BYTES / 2**20:,.0f} "
            "MiB; the NumPy and ONNX engines cannot run it"
        )
        raise ModelFormatError(msg)
    return needed


def plan_artifacts(artifacts: ModelArtifacts, *, source: str) -> Plan:
    """Parse, check and decode ``artifacts`` into a plan (no TensorFlow, no Keras)."""
    graph = check_artifacts(artifacts, source=source)
    return plan(graph, load_weights(graph, artifacts, source=source), source=source)


def cut(plan: Plan, output: str) -> Plan:
    """The part of ``plan`` that computes layer ``output``: its steps up to that one, which
    becomes the output (e.g. a classifier's features before its last layer).

    Raises
    ------
    ModelFormatError
        ``output`` is no step of the plan.
    """
    names = [step.name for step in plan.steps]
    if output not in names:
        raise ModelFormatError(f"the model {plan.name!r} has no layer {output!r} to stop at")
    end = names.index(output) + 1
    shape = plan.steps[end - 1].output_shape
    steps = plan.steps[:end]
    return Plan(plan.name, plan.input, plan.input_shape, output, shape, steps, plan.image_bytes)
