"""What the NumPy and ONNX engines share: one checked, engine-neutral description of each layer.

:func:`plan` turns a :class:`~mnist_widgets.tfjs.graph.ModelGraph` and its decoded weights into a
list of :class:`Step` records holding exactly what a forward pass needs (float32 arrays in their
TF.js layouts, padding amounts, the activation name). Everything an engine cannot run is refused
here, at load time, with a :class:`~mnist_widgets.errors.ModelFormatError` naming the layer: a
model either runs exactly as TF.js runs it or does not load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelFormatError
from ..tfjs.graph import load_weights, parse_graph

if TYPE_CHECKING:  # pragma: no cover
    from ..tfjs.artifacts import ModelArtifacts

#: Activations both engines compute, in TF.js spelling (the graph's normalised names).
ACTIVATIONS = (
    "linear",
    "relu",
    "relu6",
    "elu",
    "selu",
    "sigmoid",
    "softplus",
    "softsign",
    "tanh",
    "softmax",
    "log_softmax",
    "swish",
    "mish",
)

#: Layers that change nothing at inference.
IDENTITY = ("Dropout",)

#: Memory one engine call may use for one chunk of its batch (NumPy keeps the buffers of up to
#: three batch sizes, so at most about twice this). A batch is run in chunks that fit it.
MEMORY_BUDGET_BYTES = 256 * 2**20


@dataclass(frozen=True, eq=False)
class Step:
    """One layer, ready to run: ``kind`` says which fields matter.

    kinds: ``conv`` (kernel (kh, kw, in, out), bias, strides, dilation, pads, activation),
    ``dense`` (kernel (in, units), bias, activation), ``maxpool`` / ``avgpool`` (pool, strides,
    pads), ``affine`` (``x * scale + shift``, the arrays shaped to broadcast against the NHWC
    batch: BatchNormalization on any axis, Rescaling), ``activation``, ``flatten``, ``reshape``,
    ``identity`` (Dropout).
    """

    name: str
    kind: str
    input: str
    output_shape: tuple[int, ...]  # without the batch axis
    input_shape: tuple[int, ...]
    activation: str = "linear"
    kernel: np.ndarray | None = field(default=None, repr=False)
    bias: np.ndarray | None = field(default=None, repr=False)
    scale: np.ndarray | None = field(default=None, repr=False)
    shift: np.ndarray | None = field(default=None, repr=False)
    window: tuple[int, int] = (1, 1)
    strides: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, bottom, left, right


@dataclass(frozen=True)
class Plan:
    """A model's steps in topological order; ``input`` names the input, ``output`` the result."""

    name: str
    input: str
    input_shape: tuple[int, ...]  # without the batch axis
    output: str
    output_shape: tuple[int, ...]
    steps: tuple[Step, ...]


def _fail(source: str, layer: Any, what: str) -> ModelFormatError:
    return ModelFormatError(
        f"{source}: layer {layer.name!r} ({layer.class_name}): {what}; the NumPy and ONNX "
        "engines cannot run it (backend='tensorflow' may)"
    )


def _pair(value: Any, default: int) -> tuple[int, int]:
    if value is None:
        return (default, default)
    if isinstance(value, int):
        return (value, value)
    a, b = tuple(value)
    return (int(a), int(b))


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


def _spatial(layer: Any, source: str) -> tuple[int, int, int]:
    shape = tuple(layer.input_shape[1:])
    if len(shape) != 3 or any(d is None for d in shape):
        raise _fail(source, layer, f"needs a fixed (height, width, channels) input, got {shape}")
    return shape  # type: ignore[return-value]


def _pads(layer: Any, hw: tuple[int, int], window, strides, dilation, source) -> tuple:
    padding = layer.config.get("padding", "valid")
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        top, bottom = same_pads(hw[0], window[0], strides[0], dilation[0])
        left, right = same_pads(hw[1], window[1], strides[1], dilation[1])
        return (top, bottom, left, right)
    raise _fail(source, layer, f"padding {padding!r} (only 'valid' and 'same')")


def _activation(layer: Any, source: str) -> str:
    name = layer.config.get("activation") or "linear"
    if name not in ACTIVATIONS:
        raise _fail(source, layer, f"activation {name!r} (supported: {', '.join(ACTIVATIONS)})")
    return name


def _weights(layer: Any, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This layer's weights by role (``kernel``, ``bias``, ``gamma``, ...), float32."""
    return {
        spec.name.rsplit("/", 1)[-1]: np.asarray(arrays[spec.name], np.float32)
        for spec in layer.weights
    }


def _check_data_format(layer: Any, source: str) -> None:
    fmt = layer.config.get("data_format", "channels_last") or "channels_last"
    if fmt != "channels_last":
        raise _fail(source, layer, f"data_format {fmt!r} (only channels_last)")


def _step(layer: Any, arrays: Mapping[str, np.ndarray], source: str) -> Step:
    cls, config = layer.class_name, layer.config
    base = {
        "name": layer.name,
        "input": layer.inputs[0],
        "input_shape": tuple(layer.input_shape[1:]),
        "output_shape": tuple(layer.output_shape[1:]),
    }
    if any(d is None for d in base["output_shape"]):
        raise _fail(source, layer, f"output shape {layer.output_shape} is not fixed")
    w = _weights(layer, arrays)
    if cls == "Conv2D":
        _check_data_format(layer, source)
        h, wd, _ = _spatial(layer, source)
        kernel = w["kernel"]
        strides = _pair(config.get("strides"), 1)
        dilation = _pair(config.get("dilation_rate"), 1)
        if strides != (1, 1) and dilation != (1, 1):
            raise _fail(source, layer, "strides and dilation_rate both above 1")
        window = (kernel.shape[0], kernel.shape[1])
        return Step(
            kind="conv",
            kernel=kernel,
            bias=w.get("bias"),
            strides=strides,
            dilation=dilation,
            window=window,
            pads=_pads(layer, (h, wd), window, strides, dilation, source),
            activation=_activation(layer, source),
            **base,
        )
    if cls == "Dense":
        return Step(
            kind="dense",
            kernel=w["kernel"],
            bias=w.get("bias"),
            activation=_activation(layer, source),
            **base,
        )
    if cls in ("MaxPooling2D", "AveragePooling2D"):
        _check_data_format(layer, source)
        h, wd, _ = _spatial(layer, source)
        window = _pair(config.get("pool_size"), 2)
        strides = _pair(config.get("strides") or window, 1)
        return Step(
            kind="maxpool" if cls == "MaxPooling2D" else "avgpool",
            window=window,
            strides=strides,
            pads=_pads(layer, (h, wd), window, strides, (1, 1), source),
            **base,
        )
    if cls == "BatchNormalization":
        return _batch_norm(layer, w, base, source)
    if cls == "Rescaling":
        scale, offset = config.get("scale", 1.0), config.get("offset", 0.0)
        if not all(isinstance(v, int | float) for v in (scale, offset)):
            raise _fail(source, layer, "scale and offset must be numbers")
        return Step(
            kind="affine",
            scale=np.array(scale, np.float32),
            shift=np.array(offset, np.float32),
            **base,
        )
    if cls == "Activation":
        return Step(kind="activation", activation=_activation(layer, source), **base)
    if cls == "Flatten":
        _check_data_format(layer, source)
        return Step(kind="flatten", **base)
    if cls == "Reshape":
        return Step(kind="reshape", **base)
    if cls in IDENTITY:
        return Step(kind="identity", **base)
    raise _fail(source, layer, "this layer class")


def _batch_norm(layer: Any, w: dict[str, np.ndarray], base: dict, source: str) -> Step:
    config = layer.config
    rank = len(base["input_shape"]) + 1
    axis = int(config.get("axis", -1)) % rank
    mean, var = w["moving_mean"], w["moving_variance"]
    eps = float(config.get("epsilon", 1e-3))
    # TF.js: (x - mean) * gamma / sqrt(var + eps) + beta, folded to x * scale + shift (in float64
    # so the folding itself adds no float32 rounding).
    inv = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    gamma = w["gamma"].astype(np.float64) if "gamma" in w else 1.0
    beta = w["beta"].astype(np.float64) if "beta" in w else 0.0
    scale = gamma * inv
    shift = beta - mean.astype(np.float64) * scale
    # shaped to broadcast against the (n, *input_shape) batch along ``axis``
    broadcast = (-1,) + (1,) * (rank - 1 - axis)
    return Step(
        kind="affine",
        scale=np.asarray(scale, np.float32).reshape(broadcast),
        shift=np.asarray(shift, np.float32).reshape(broadcast),
        **base,
    )


def plan(graph: Any, arrays: Mapping[str, np.ndarray], *, source: str) -> Plan:
    """Check that ``graph`` can run here and collect its steps (InputLayer excluded)."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        msg = (
            f"{source}: model {graph.name!r} has {len(graph.inputs)} inputs and "
            f"{len(graph.outputs)} outputs; the engines run one input and one output"
        )
        raise ModelFormatError(msg)
    steps, input_shape = [], None
    for layer in graph.layers:
        if layer.class_name == "InputLayer":
            input_shape = tuple(layer.output_shape[1:])
            continue
        if len(layer.inputs) != 1:
            raise _fail(source, layer, f"{len(layer.inputs)} inputs")
        steps.append(_step(layer, arrays, source))
    if input_shape is None or any(d is None for d in input_shape):
        msg = f"{source}: model {graph.name!r} needs a fixed input shape, got {input_shape}"
        raise ModelFormatError(msg)
    output = graph.outputs[0]
    shape = input_shape if output == graph.inputs[0] else _shape_of(steps, output)
    result = Plan(graph.name, graph.inputs[0], input_shape, output, shape, tuple(steps))
    needed = image_bytes(result)
    if needed > MEMORY_BUDGET_BYTES:
        msg = (
            f"{source}: model {graph.name!r} needs {needed / 2**20:,.0f} MiB of working memory "
            f"per image, more than the engines' budget of {MEMORY_BUDGET_BYTES / 2**20:,.0f} "
            "MiB; the NumPy and ONNX engines cannot run it"
        )
        raise ModelFormatError(msg)
    return result


def image_bytes(plan: Plan) -> int:
    """The working memory one image takes in an engine: every step's output, plus what a
    convolution or pooling step unfolds or pads (the NumPy engine's buffers, an upper bound for
    onnxruntime's), from the plan's shapes alone."""
    values = math.prod(plan.input_shape)
    for step in plan.steps:
        out = math.prod(step.output_shape)
        values += out
        if step.kind in ("conv", "maxpool", "avgpool"):
            (h, w, c), (top, bottom, left, right) = step.input_shape, step.pads
            kh, kw = step.window
            oh, ow = step.output_shape[:2]
            values += (h + top + bottom) * (w + left + right) * c  # the padded input
            if step.kind == "conv":  # the unfolded windows and a second output (rows of kernel)
                values += max(h + top + bottom, oh) * ow * kh * kw * c + out
            else:
                values += oh * w * c  # the rows of a block pooling
    return values * 4  # float32


def chunk_images(plan: Plan, most: int) -> int:
    """How many images one pass of an engine may take: at most ``most``, within the budget."""
    return max(1, min(most, MEMORY_BUDGET_BYTES // max(1, image_bytes(plan))))


def _shape_of(steps: list[Step], name: str) -> tuple[int, ...]:
    for step in steps:
        if step.name == name:
            return step.output_shape
    raise ModelFormatError(f"the model's output {name!r} is no layer of it")


def check_batch(plan: Plan, batch: np.ndarray) -> np.ndarray:
    """``batch`` as a C-contiguous float32 array of the model's input shape (or ValueError)."""
    x = np.ascontiguousarray(batch, dtype=np.float32)
    if x.shape[1:] != plan.input_shape:
        dims = ", ".join(map(str, plan.input_shape))
        raise ValueError(f"the model takes inputs of shape (n, {dims}), got {x.shape}")
    return x


def plan_artifacts(artifacts: ModelArtifacts, *, source: str) -> Plan:
    """Parse, check and decode ``artifacts`` into a plan (no TensorFlow, no Keras)."""
    graph = parse_graph(artifacts.model_json, source=source)
    return plan(graph, load_weights(graph, artifacts, source=source), source=source)
