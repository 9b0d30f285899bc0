"""A TF.js layers model as a typed graph: every layer checked, every shape inferred (no TensorFlow).

:func:`parse_graph` turns any accepted ``modelTopology`` (converter output, TF.js ``model.save``
output without an InputLayer, tfjs-layers <= 1.2's bare list; Sequential or functional) into a
:class:`ModelGraph` of :class:`Layer` records whose configs are normalised and typed, with the
NHWC input and output shape of each layer and the weights it owns (:class:`WeightSpec`), derived
from its config alone. :func:`check_manifest` compares those derived weights with the manifest and
a parameter cap before a single weight is allocated, so a few hundred bytes of ``model.json``
declaring a 40000x40000 Dense fail at once. :func:`load_weights` decodes the weight bytes exactly
as TF.js 4.22 does. :func:`check_artifacts` is all of it: "these files decode into a model".

Engines (NumPy, ONNX, Keras) build from a :class:`ModelGraph`; none re-reads the JSON.

Examples
--------
>>> from mnist_widgets.tfjs.graph import parse_graph
>>> dense = {"class_name": "Dense", "config": {"name": "d", "units": 3,
...          "batch_input_shape": [None, 4]}}
>>> topology = {"class_name": "Sequential", "config": {"name": "m", "layers": [dense]}}
>>> graph = parse_graph({"modelTopology": topology}, source="m.json")
>>> [(layer.name, layer.output_shape) for layer in graph.layers]
[('d_input', (None, 4)), ('d', (None, 3))]
>>> graph.layers[1].weights
(WeightSpec(name='d/kernel', shape=(4, 3)), WeightSpec(name='d/bias', shape=(3,)))
"""

from __future__ import annotations

import copy
import heapq
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..errors import ModelFormatError
from . import _checks as check
from ._checks import Where
from .artifacts import normal_path, weight_nbytes
from .layers import LAYER_KEYS, unsupported_layer
from .topology import Topology, parse_topology
from .weights import STORED_DTYPES, dequantize

if TYPE_CHECKING:  # pragma: no cover
    from .artifacts import ModelArtifacts

#: Default cap on the parameters a model may declare (float32: 4 bytes each, so 200 MB). The MNIST
#: CNN has 0.6 M; the cap exists so that a hostile model.json cannot make us allocate gigabytes.
DEFAULT_MAX_PARAMETERS = 50_000_000
#: A layer name: TF.js's tensor-name rule (tfjs-layers common.ts ``isValidTensorName``, which
#: names the layer's tensors and weights after it) without '/', its scope separator.
_LAYER_NAME = re.compile(r"[A-Za-z0-9][-A-Za-z0-9._]*")
#: Cap on the values one layer may output per sample (2**26 float32 = 256 MB per image).
MAX_ACTIVATION_VALUES = 2**26
#: Cap on the values all layers together output per sample (the same 256 MB per image): an engine
#: holds every activation of an image at once, so a cap per layer alone lets ten layers each just
#: under it take gigabytes. The shipped CNN holds about 0.1 M.
MAX_MODEL_ACTIVATION_VALUES = 2**26

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class WeightSpec:
    """One weight a layer owns: its TF.js name (``"<layer>/<weight>"``) and derived shape."""

    name: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        """Number of values."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class Layer:
    """One layer, checked and normalised.

    ``config`` holds typed values (ints, tuples of ints, TF.js activation names, ``padding``
    ``"valid"``/``"same"``, ``data_format`` ``"channels_last"``); ``input_shape`` and
    ``output_shape`` are NHWC with the batch dimension ``None``; ``weights`` are in Keras variable
    order (kernel, bias; BatchNormalization gamma, beta, moving_mean, moving_variance).
    """

    name: str
    class_name: str
    config: Mapping[str, Any]
    inputs: tuple[str, ...]
    input_shape: Shape
    output_shape: Shape
    weights: tuple[WeightSpec, ...] = ()


@dataclass(frozen=True)
class ModelGraph:
    """A model: layers in topological order (InputLayers included) and its endpoints.

    ``kind`` is ``"sequential"`` or ``"functional"``: how the file described it (a Keras engine
    rebuilds the same kind of model; the others need only ``layers``).
    """

    name: str
    layers: tuple[Layer, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    kind: str = "functional"
    _by_name: Mapping[str, Layer] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {layer.name: layer for layer in self.layers})

    def layer(self, name: str) -> Layer:
        """The layer called ``name``."""
        return self._by_name[name]

    @property
    def weights(self) -> tuple[WeightSpec, ...]:
        """Every weight of every layer, in layer order."""
        return tuple(spec for layer in self.layers for spec in layer.weights)

    @property
    def parameters(self) -> int:
        """Number of weight values the layers declare."""
        return sum(spec.size for spec in self.weights)


# -- shapes ----------------------------------------------------------------------------------------


def _need_rank(shape: Shape, rank: int, producer: str, where: Where, what: str) -> None:
    if len(shape) != rank:
        msg = (
            f"its input from layer {producer!r} has shape {_fmt(shape)} (rank {len(shape)}); "
            f"{where.class_name} needs rank {rank} ({what})"
        )
        raise where.error(msg)


def _known(shape: Shape, axis: int, producer: str, where: Where, what: str) -> int:
    """``shape[axis]``, which the layer's weights or output depend on, so it must be known."""
    size = shape[axis]
    if size is None:
        msg = f"its input from layer {producer!r} has shape {_fmt(shape)}, whose {what} is unknown"
        raise where.error(msg)
    return size


def _fmt(shape: Shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _window(
    size: int | None, window: int, stride: int, dilation: int, padding: str, where: Where
) -> int | None:
    if size is None:  # a free spatial size (a fully convolutional model) stays free
        return None
    if padding == "same":
        return -(-size // stride)
    span = dilation * (window - 1) + 1
    if size < span:
        msg = (
            f"a window of {span} (kernel/pool size with dilation) does not fit an input of size "
            f"{size} with padding 'valid'"
        )
        raise where.error(msg)
    return (size - span) // stride + 1


def _check_padded(
    shape: Shape, out: Shape, spans: tuple[int, int], strides: tuple[int, int], where: Where
) -> None:
    """'same' padding pads the input up to what the window needs: cap that like an output.

    Without this, a pool or kernel size of 10**9 on a 28x28 input is a tiny layer that makes
    any engine allocate a padded input of 10**9 x 10**9 values.
    """
    padded = [
        size + max((o - 1) * stride + span - size, 0)
        for size, o, span, stride in zip(shape[1:3], out[1:3], spans, strides, strict=True)
        if size is not None and o is not None
    ]
    values = math.prod(padded) * (shape[3] or 1)
    if values > MAX_ACTIVATION_VALUES:
        msg = (
            f"with padding 'same' its window {list(spans)} pads the input {_fmt(shape)} to "
            f"{values:,} values per sample, more than the {MAX_ACTIVATION_VALUES:,} this reader "
            "allows"
        )
        raise where.error(msg)


def _input_layer(config: Mapping[str, Any], where: Where, *, first: bool = False) -> Shape:
    """The batch input shape ``(batch, *dims)`` an InputLayer (or a first layer) declares."""
    if "batch_input_shape" in config and config["batch_input_shape"] is not None:
        key, shape = "batch_input_shape", config["batch_input_shape"]
    elif config.get("batch_shape") is not None:  # Keras 3 spelling, if someone hand-wrote it
        key, shape = "batch_shape", config["batch_shape"]
    elif config.get("input_shape") is not None:
        key, shape = "input_shape", config["input_shape"]
        if not isinstance(shape, list):
            raise where.bad(key, shape, "a list of positive integers")
        shape = [config.get("batch_size"), *shape]
    elif first and config.get("input_dim") is not None:  # Dense(input_dim=...) as a first layer
        key, shape = "input_dim", [None, config["input_dim"]]
    else:
        return ()
    if (
        not isinstance(shape, list | tuple)
        or len(shape) < 2
        or not (shape[0] is None or (check.is_int(shape[0]) and shape[0] >= 1))
        or not all(d is None or (check.is_int(d) and d >= 1) for d in shape[1:])
    ):
        msg = "a list [batch or null, dim, ...] whose dimensions are positive integers or null"
        raise where.bad(key, shape, msg)
    return tuple(shape)


def _check_size(shape: Shape, where: Where) -> None:
    values = math.prod(d for d in shape[1:] if d is not None)
    if values > MAX_ACTIVATION_VALUES:
        msg = (
            f"its output shape {_fmt(shape)} holds {values:,} values per sample, more than the "
            f"{MAX_ACTIVATION_VALUES:,} this reader allows"
        )
        raise where.error(msg)


class _Inferred(NamedTuple):
    """What one layer's function in :data:`_INFER` returns."""

    config: dict[str, Any]  # normalised and typed
    shape: Shape  # the output shape
    weights: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (role, shape) in Keras order


#: ``infer(raw config, input shape, producer's name, where)``: one per layer class.
Infer = Callable[[Mapping[str, Any], Shape, str, Where], _Inferred]


def _spatial(shape: Shape, producer: str, where: Where) -> None:
    _need_rank(shape, 4, producer, where, "batch, height, width, channels")


def _conv2d(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    _spatial(shape, producer, where)
    cfg: dict[str, Any] = {
        "filters": check.positive_int(raw, "filters", where),
        "kernel_size": check.pair(raw, "kernel_size", where, ...),
        "strides": check.pair(raw, "strides", where, 1),
        "padding": check.choice(raw, "padding", where, ("valid", "same"), "valid"),
        "data_format": check.data_format(raw, where),
        "dilation_rate": check.pair(raw, "dilation_rate", where, 1),
        **check.dense_like(raw, where),
    }
    if max(cfg["strides"]) > 1 and max(cfg["dilation_rate"]) > 1:
        msg = "strides > 1 together with dilation_rate > 1 is not supported (TF.js refuses it)"
        raise where.error(f"fields 'strides' and 'dilation_rate': {msg}")
    (kh, kw), (sh, sw), (dh, dw) = cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"]
    pad = cfg["padding"]
    out = (
        None,
        _window(shape[1], kh, sh, dh, pad, where),
        _window(shape[2], kw, sw, dw, pad, where),
        cfg["filters"],
    )
    if pad == "same":
        spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        _check_padded(shape, out, spans, (sh, sw), where)
    channels = _known(shape, 3, producer, where, "channel count")
    weights: list[tuple[str, tuple[int, ...]]] = [("kernel", (kh, kw, channels, cfg["filters"]))]
    if cfg["use_bias"]:
        weights.append(("bias", (cfg["filters"],)))
    return _Inferred(cfg, out, tuple(weights))


def _dense(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    if len(shape) < 2:
        raise where.error(f"its input from layer {producer!r} has no feature axis")
    cfg: dict[str, Any] = {
        "units": check.positive_int(raw, "units", where),
        **check.dense_like(raw, where),
    }
    inputs = _known(shape, -1, producer, where, "last axis")
    weights: list[tuple[str, tuple[int, ...]]] = [("kernel", (inputs, cfg["units"]))]
    if cfg["use_bias"]:
        weights.append(("bias", (cfg["units"],)))
    return _Inferred(cfg, (*shape[:-1], cfg["units"]), tuple(weights))


def _pooling2d(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    _spatial(shape, producer, where)
    pool = check.pair(raw, "pool_size", where, 2)
    cfg: dict[str, Any] = {
        "pool_size": pool,
        "strides": check.pair(raw, "strides", where, list(pool)),
        "padding": check.choice(raw, "padding", where, ("valid", "same"), "valid"),
        "data_format": check.data_format(raw, where),
    }
    (ph, pw), (sh, sw), pad = pool, cfg["strides"], cfg["padding"]
    out = (
        None,
        _window(shape[1], ph, sh, 1, pad, where),
        _window(shape[2], pw, sw, 1, pad, where),
        shape[3],
    )
    if pad == "same":
        _check_padded(shape, out, pool, (sh, sw), where)
    return _Inferred(cfg, out)


def _flatten(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    if len(shape) < 2:
        raise where.error(f"its input from layer {producer!r} has no feature axis")
    cfg: dict[str, Any] = {"data_format": check.data_format(raw, where)}
    sizes = [_known(shape, a, producer, where, f"axis {a}") for a in range(1, len(shape))]
    return _Inferred(cfg, (None, math.prod(sizes)))


def _dropout(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    rate = check.number(raw, "rate", where, 0.0)
    if not 0 <= rate < 1:
        raise where.bad("rate", raw.get("rate"), "a number in [0, 1)")
    noise = raw.get("noise_shape")
    if noise is not None and (
        not isinstance(noise, list) or not all(d is None or check.is_int(d) for d in noise)
    ):
        raise where.bad("noise_shape", noise, "a list of integers/null, or null")
    seed = raw.get("seed")
    if seed is not None and not check.is_int(seed):
        raise where.bad("seed", seed, "an integer or null")
    cfg: dict[str, Any] = {
        "rate": rate,
        "noise_shape": None if noise is None else tuple(noise),
        "seed": seed,
    }
    return _Inferred(cfg, shape)


def _batch_norm(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    axis = raw.get("axis", -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if not check.is_int(axis) or not (-len(shape) < axis < len(shape)) or axis % len(shape) == 0:
        expected = f"one feature axis of the rank-{len(shape)} input"
        raise where.bad("axis", raw.get("axis"), expected)
    axis %= len(shape)
    cfg: dict[str, Any] = {
        "axis": axis,
        "momentum": check.number(raw, "momentum", where, 0.99),
        "epsilon": check.number(raw, "epsilon", where, 1e-3, positive=True),
        "center": check.flag(raw, "center", where, True),
        "scale": check.flag(raw, "scale", where, True),
    }
    for key in LAYER_KEYS["BatchNormalization"]:
        if key.endswith("initializer"):
            cfg[key] = check.initializer(raw.get(key), key, where)
        elif key.endswith("regularizer"):
            cfg[key] = check.regularizer(raw.get(key), key, where)
        elif key.endswith("constraint"):
            cfg[key] = check.constraint(raw.get(key), key, where)
    n = (_known(shape, axis, producer, where, f"axis {axis}"),)
    names = [
        *(["gamma"] if cfg["scale"] else []),
        *(["beta"] if cfg["center"] else []),
        "moving_mean",
        "moving_variance",
    ]
    return _Inferred(cfg, shape, tuple((w, n) for w in names))


def _activation(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    return _Inferred({"activation": check.activation(raw, where, required=True)}, shape)


def _rescaling(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    cfg: dict[str, Any] = {
        "scale": check.number(raw, "scale", where, ...),
        "offset": check.number(raw, "offset", where, 0),
    }
    return _Inferred(cfg, shape)


def _zero_padding2d(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    _spatial(shape, producer, where)
    pads = check.padding_pairs(raw, "padding", where, 1)
    cfg: dict[str, Any] = {"padding": pads, "data_format": check.data_format(raw, where)}
    (top, bottom), (left, right) = pads
    h, w = shape[1], shape[2]
    out = (None, None if h is None else h + top + bottom, None if w is None else w + left + right)
    return _Inferred(cfg, (*out, shape[3]))


def _reshape(raw: Mapping[str, Any], shape: Shape, producer: str, where: Where) -> _Inferred:
    target = raw.get("target_shape")
    if (
        not isinstance(target, list | tuple)
        or not target
        or not all(check.is_int(d) and (d >= 1 or d == -1) for d in target)
        or list(target).count(-1) > 1
    ):
        raise where.bad("target_shape", target, "a list of positive integers (at most one -1)")
    if None in shape[1:]:  # checked when the sizes are known (Keras and TF.js do the same)
        free = (None, *(None if d == -1 else d for d in target))
        return _Inferred({"target_shape": tuple(target)}, free)
    total = math.prod(d for d in shape[1:] if d is not None)  # none is None here
    known = math.prod(d for d in target if d != -1)
    out = tuple(total // known if d == -1 else d for d in target)
    if math.prod(out) != total:
        msg = (
            f"field 'target_shape' {list(target)} does not hold the {total:,} values of the input "
            f"{_fmt(shape)} from layer {producer!r}"
        )
        raise where.error(msg)
    return _Inferred({"target_shape": tuple(target)}, (None, *out))


#: Layer class -> how its config is checked and its output shape and weights derived. With
#: InputLayer (read by :func:`_make_input`), exactly the classes of :data:`~.layers.LAYER_KEYS`.
_INFER: Mapping[str, Infer] = {
    "Conv2D": _conv2d,
    "Dense": _dense,
    "MaxPooling2D": _pooling2d,
    "AveragePooling2D": _pooling2d,
    "Flatten": _flatten,
    "Dropout": _dropout,
    "BatchNormalization": _batch_norm,
    "Activation": _activation,
    "Reshape": _reshape,
    "Rescaling": _rescaling,
    "ZeroPadding2D": _zero_padding2d,
}


# -- the graph -------------------------------------------------------------------------------------


def _common(raw: Mapping[str, Any], name: str, where: Where) -> dict[str, Any]:
    return {
        "name": name,
        "trainable": check.flag(raw, "trainable", where, True),
        "dtype": check.dtype(raw, where),
    }


def _make_layer(entry: dict[str, Any], producer: Layer, source: str) -> Layer:
    name, class_name, raw = entry["name"], entry["class_name"], entry["config"]
    where = Where(source, name, class_name)
    cfg, out, weights = _INFER[class_name](raw, producer.output_shape, producer.name, where)
    _check_size(out, where)
    return Layer(
        name=name,
        class_name=class_name,
        config=MappingProxyType({**_common(raw, name, where), **copy.deepcopy(cfg)}),
        inputs=(producer.name,),
        input_shape=producer.output_shape,
        output_shape=out,
        weights=tuple(WeightSpec(f"{name}/{w}", s) for w, s in weights),
    )


def _make_input(name: str, shape: Shape, raw: Mapping[str, Any], where: Where) -> Layer:
    if raw.get("sparse") or raw.get("ragged"):
        raise where.error("field 'sparse': sparse/ragged inputs are not supported")
    where = Where(where.source, name, "InputLayer")
    out = (None, *shape[1:])
    _check_size(out, where)
    config = {
        "name": name,
        "batch_input_shape": tuple(shape),
        "dtype": check.dtype(raw, where),
        "sparse": False,
    }
    return Layer(name, "InputLayer", MappingProxyType(config), (), out, out)


def _check_classes_and_names(topology: Topology, source: str) -> None:
    seen: dict[str, int] = {}
    for i, entry in enumerate(topology.layers):
        name, class_name = entry["name"], entry["class_name"]
        if class_name not in LAYER_KEYS:
            raise unsupported_layer(class_name, f"{source}: layer {name!r}")
        if not isinstance(name, str) or not _LAYER_NAME.fullmatch(name):
            msg = (
                f"{source}: layer {name!r} ({class_name}): field 'name' must start with a letter "
                "or digit and hold only letters, digits, '-', '.' and '_' (TF.js's tensor-name "
                "rule; '/' separates a layer's name from its weights' names, and Keras refuses "
                "it too)"
            )
            raise ModelFormatError(msg)
        if name in seen:
            msg = (
                f"{source}: layer {name!r} ({class_name}): field 'name' is also used by layer "
                f"{seen[name]}; layer names must be unique"
            )
            raise ModelFormatError(msg)
        seen[name] = i


def _sequential(topology: Topology, source: str) -> ModelGraph:
    entries = topology.layers
    first = entries[0]
    where = Where(source, first["name"], first["class_name"])
    if first["class_name"] == "InputLayer":
        shape = _input_layer(first["config"], where)
        if not shape:
            raise where.error("field 'batch_input_shape' is required (the model's input size)")
        layers = [_make_input(first["name"], shape, first["config"], where)]
        entries = entries[1:]
    else:  # TF.js-saved: the first layer carries the shape; TF.js names the input like this
        shape = _input_layer(first["config"], where, first=True)
        if not shape:
            msg = (
                "the model's first layer has no 'batch_input_shape' or 'input_shape', so its "
                "input size is unknown"
            )
            raise where.error(msg)
        name = f"{first['name']}_input"
        if any(e["name"] == name for e in entries):
            raise where.error(f"field 'name': the implied input layer {name!r} clashes")
        layers = [_make_input(name, shape, first["config"], where)]
    for entry in entries:
        if entry["class_name"] == "InputLayer":
            where = Where(source, entry["name"], "InputLayer")
            raise where.error("an InputLayer may only be the first layer of a Sequential model")
        layers.append(_make_layer(entry, layers[-1], source))
    return ModelGraph(
        topology.name, tuple(layers), (layers[0].name,), (layers[-1].name,), "sequential"
    )


def _ref(ref: Any, names: Mapping[str, dict[str, Any]], where: Where, what: str) -> str:
    """Check one ``[layer, node_index, tensor_index, kwargs?]`` reference; return the layer."""
    if (
        not isinstance(ref, list | tuple)
        or len(ref) not in (3, 4)
        or not isinstance(ref[0], str)
        or not check.is_int(ref[1])
        or not check.is_int(ref[2])
        or (len(ref) == 4 and not isinstance(ref[3], dict | None))
    ):
        raise where.bad(what, ref, "[layer name, node index, tensor index, {kwargs}]")
    name, node, tensor = ref[0], ref[1], ref[2]
    if name not in names:
        raise where.error(f"field {what!r}: {check.short(ref)} refers to no layer of this model")
    if node != 0:
        msg = (
            f"field {what!r}: {check.short(ref)} asks for node {node} of layer {name!r}, which "
            "has only node 0 (shared layers are not supported)"
        )
        raise where.error(msg)
    if tensor != 0:
        msg = (
            f"field {what!r}: {check.short(ref)} asks for output tensor {tensor} of layer "
            f"{name!r}, which has only tensor 0"
        )
        raise where.error(msg)
    return name


def _functional(topology: Topology, source: str) -> ModelGraph:
    model = Where(source)
    entries = {e["name"]: e for e in topology.layers}
    producers: dict[str, str | None] = {}
    for name, entry in entries.items():
        where = Where(source, name, entry["class_name"])
        nodes = entry["inbound_nodes"]
        if entry["class_name"] == "InputLayer":
            if nodes:
                raise where.bad("inbound_nodes", nodes, "empty for an InputLayer")
            producers[name] = None
            continue
        if len(nodes) != 1:
            msg = (
                f"field 'inbound_nodes' has {len(nodes)} nodes; each layer must be called exactly "
                "once (shared or unused layers are not supported)"
            )
            raise where.error(msg)
        if len(nodes[0]) != 1:
            n, cls = len(nodes[0]), entry["class_name"]
            msg = f"field 'inbound_nodes' gives {n} inputs; {cls} takes 1"
            raise where.error(msg)
        producers[name] = _ref(nodes[0][0], entries, where, "inbound_nodes")
    inputs = [_ref(r, entries, model, "input_layers") for r in topology.input_layers]
    outputs = [_ref(r, entries, model, "output_layers") for r in topology.output_layers]
    if not inputs or not outputs:
        raise model.error("a functional model needs 'input_layers' and 'output_layers'")
    for name in inputs:
        if producers[name] is not None:
            raise model.error(f"field 'input_layers': {name!r} is not an InputLayer")
    for name, producer in producers.items():
        if producer is None and name not in inputs:
            msg = f"InputLayer {name!r} is not one of the model's 'input_layers' {inputs}"
            raise model.error(msg)
    # Kahn's algorithm, config order first among the ready layers (the config need not be in
    # topological order); linear in the layer count, so no file can make this quadratic.
    index = {name: i for i, name in enumerate(entries)}
    consumers: dict[str, list[str]] = {name: [] for name in entries}
    for name, producer in producers.items():
        if producer is not None:
            consumers[producer].append(name)
    ready = [i for i, name in enumerate(entries) if producers[name] is None]
    names = list(entries)
    built: dict[str, Layer] = {}
    while ready:
        name = names[heapq.heappop(ready)]
        entry, producer = entries[name], producers[name]
        if producer is None:
            where = Where(source, name, "InputLayer")
            shape = _input_layer(entry["config"], where)
            if not shape:
                raise where.error("field 'batch_input_shape' is required")
            built[name] = _make_input(name, shape, entry["config"], where)
        else:
            built[name] = _make_layer(entry, built[producer], source)
        for consumer in consumers[name]:
            heapq.heappush(ready, index[consumer])
    if len(built) != len(entries):
        stuck = [name for name in entries if name not in built]
        raise model.error(f"the inbound_nodes of layers {stuck[:10]} form a cycle")
    order = list(built.values())
    return ModelGraph(topology.name, tuple(order), tuple(inputs), tuple(outputs), "functional")


def parse_graph(model_json: Mapping[str, Any], *, source: str) -> ModelGraph:
    """Check every layer of ``model_json["modelTopology"]``; infer shapes and weights.

    Parameters
    ----------
    model_json
        A parsed ``model.json`` (only ``modelTopology`` is read).
    source
        Where it came from, for error messages.

    Raises
    ------
    ModelFormatError
        Naming the layer and the field: an unknown class, a bad or missing value, a shape that
        does not fit (a Conv2D after a Flatten), duplicate names, bad references, a cycle.
    """
    topology_json = model_json.get("modelTopology") if isinstance(model_json, Mapping) else None
    if not isinstance(topology_json, dict):
        raise ModelFormatError(f"{source}: 'modelTopology' must be a JSON object")
    topology = parse_topology(topology_json, source=source)
    _check_classes_and_names(topology, source)
    build = _sequential if topology.kind == "sequential" else _functional
    graph = build(topology, source)
    _check_model_size(graph, source)
    return graph


def _check_model_size(graph: ModelGraph, source: str) -> None:
    """Cap the sum of every layer's output per sample (each is known: :func:`_check_size`)."""
    sizes = [math.prod(d or 1 for d in layer.output_shape[1:]) for layer in graph.layers]
    total = sum(sizes)
    if total > MAX_MODEL_ACTIVATION_VALUES:
        biggest = max(zip(sizes, graph.layers, strict=True), key=lambda pair: pair[0])[1]
        msg = (
            f"{source}: the model's {len(sizes)} layers output {total:,} values per sample in all "
            f"(the largest, layer {biggest.name!r}, {_fmt(biggest.output_shape)}), more than the "
            f"{MAX_MODEL_ACTIVATION_VALUES:,} this reader allows: running it would take "
            f"{total * 4 / 2**30:.1f} GiB per image"
        )
        raise ModelFormatError(msg)


# -- weights ---------------------------------------------------------------------------------------

# TF.js (container.ts isKerasSavedModelFormat): parseInt of the first name's last segment.
_INDEX_NAME = re.compile(r"^\s*[+-]?\d")


def _model_entries(model_json: Mapping[str, Any]) -> list[tuple[int, int, dict[str, Any]]]:
    """(group, offset in the group's bytes, entry) of every weight, optimizer state included."""
    out = []
    for g, group in enumerate(model_json["weightsManifest"]):
        offset = 0
        for entry in group["weights"]:
            out.append((g, offset, entry))
            offset += weight_nbytes(entry)
    return out


def _match(
    graph: ModelGraph, model_json: Mapping[str, Any], source: str, max_parameters: int
) -> list[tuple[int, int, dict[str, Any], WeightSpec]]:
    """Pair every (non-optimizer) manifest entry with the layer weight it fills, as TF.js does."""
    total = graph.parameters
    if total > max_parameters:
        biggest = max(graph.weights, key=lambda s: s.size)
        msg = (
            f"{source}: the model declares {total:,} parameters (the largest, {biggest.name!r}, "
            f"has shape {list(biggest.shape)}), more than the {max_parameters:,} allowed; "
            "raise max_parameters if this model is really meant to be that large"
        )
        raise ModelFormatError(msg)
    entries = [e for e in _model_entries(model_json) if e[2].get("group") != "optimizer"]
    # Like TF.js: if the first manifest name ends in an integer, all are "<layer>/<index>".
    by_index = bool(entries) and bool(_INDEX_NAME.match(entries[0][2]["name"].split("/")[-1]))
    targets: dict[str, tuple[Layer, WeightSpec]] = {}
    for layer in graph.layers:
        for i, spec in enumerate(layer.weights):
            targets[f"{layer.name}/{i}" if by_index else spec.name] = (layer, spec)
    names = [e[2]["name"] for e in entries]
    matched, extra, seen = [], [], set()
    for g, offset, entry in entries:
        name = entry["name"]
        key = name
        if key not in targets:  # TF.js's one fallback: drop an RNN cell segment
            parts = name.split("/")
            key = "/".join([*parts[:-2], parts[-1]])
        if key not in targets:
            extra.append(name)
            continue
        if key in seen:
            raise ModelFormatError(f"{source}: weight {name!r} appears twice in weightsManifest")
        seen.add(key)
        layer, spec = targets[key]
        if tuple(entry["shape"]) != spec.shape:
            msg = (
                f"{source}: weight {name!r} has shape {list(entry['shape'])} in the manifest but "
                f"layer {layer.name!r} ({layer.class_name}) expects {list(spec.shape)}"
            )
            raise ModelFormatError(msg)
        if entry["dtype"] != "float32":
            msg = (
                f"{source}: weight {name!r} has dtype {entry['dtype']!r} but layer "
                f"{layer.name!r} ({layer.class_name}) holds float32 values; TF.js 4.22 refuses "
                "it too ('dtype of the new value must match')"
            )
            raise ModelFormatError(msg)
        matched.append((g, offset, entry, spec))
    if extra:
        msg = (
            f"{source}: weightsManifest has weights {extra} that match no layer weight; expected "
            "names '<layer>/<weight>' such as 'dense/kernel' (no model-name prefix)"
        )
        raise ModelFormatError(msg)
    missing = [key for key in targets if key not in seen]
    if missing:
        msg = (
            f"{source}: weights {missing} are missing from weightsManifest (it names "
            f"{names[:6]}{' ...' if len(names) > 6 else ''}); model.json and the weight files "
            "do not describe the same model"
        )
        raise ModelFormatError(msg)
    return matched


def check_manifest(
    graph: ModelGraph,
    model_json: Mapping[str, Any],
    *,
    source: str,
    max_parameters: int = DEFAULT_MAX_PARAMETERS,
) -> None:
    """Check the manifest holds exactly the weights the layers derive, within a parameter cap.

    Needs only ``model.json`` as :func:`~.artifacts.parse_model_json` returns it (call it before
    downloading the weight files). Nothing proportional to a declared size is allocated. A loader
    that means to accept bigger models passes a larger ``max_parameters``.

    Raises
    ------
    ModelFormatError
        Too many parameters; a weight missing, extra, of another shape, or not float32 (TF.js
        refuses int32/bool/complex64 values for float32 layer variables).

    Examples
    --------
    >>> huge = {"class_name": "Dense",
    ...         "config": {"name": "d", "units": 40000, "batch_input_shape": [None, 40000]}}
    >>> model_json = {"modelTopology": {"class_name": "Sequential", "config": [huge]},
    ...               "weightsManifest": []}
    >>> check_manifest(parse_graph(model_json, source="m"), model_json, source="m")
    Traceback (most recent call last):
    ...
    mnist_widgets.errors.ModelFormatError: m: the model declares 1,600,040,000 parameters (the \
largest, 'd/kernel', has shape [40000, 40000]), more than the 50,000,000 allowed; raise \
max_parameters if this model is really meant to be that large
    """
    _match(graph, model_json, source, max_parameters)


def load_weights(
    graph: ModelGraph,
    artifacts: ModelArtifacts,
    *,
    source: str,
    max_parameters: int = DEFAULT_MAX_PARAMETERS,
) -> dict[str, np.ndarray]:
    """Decode the layer weights as float32 arrays keyed by :attr:`WeightSpec.name`.

    Dequantized exactly as TF.js 4.22 does (``q * scale + min`` in double, stored as float32;
    float16 widened); ``"<layer>/<index>"`` manifests are mapped to the spec names; optimizer
    state is skipped. Runs :func:`check_manifest` first.
    """
    model_json = artifacts.model_json
    matched = _match(graph, model_json, source, max_parameters)
    files = artifacts.weight_files
    # One file: read in place. Several: joined once (a tensor may span two shards).
    groups = [
        files[normal_path(group["paths"][0])]
        if len(group["paths"]) == 1
        else b"".join(files[normal_path(p)] for p in group["paths"])
        for group in model_json["weightsManifest"]
    ]
    out = {}
    for g, offset, entry, spec in matched:
        quant = entry.get("quantization")
        stored_dtype = STORED_DTYPES[quant["dtype"]] if quant else STORED_DTYPES["float32"]
        stored = np.frombuffer(groups[g], stored_dtype, count=spec.size, offset=offset)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported just below
            values = dequantize(stored, quant, "float32") if quant else stored.astype(np.float32)
        _check_finite(values, entry, source)
        out[spec.name] = values.reshape(spec.shape)
    return out


def _check_finite(values: np.ndarray, entry: Mapping[str, Any], source: str) -> None:
    """Refuse NaN and inf in a decoded weight: every prediction would be NaN, i.e. no answer.

    TF.js loads such weights silently; a model holding one answers "0" with NaN probabilities.
    Quantized weights are checked after dequantization, where a finite but huge ``scale`` or
    ``min`` (1e38) overflows float32.
    """
    finite = np.isfinite(values)
    if finite.all():
        return
    bad = values[~finite]
    kinds = " and ".join(
        k for k, n in (("NaN", np.isnan(bad).sum()), ("inf", np.isinf(bad).sum())) if n
    )
    quant = entry.get("quantization")
    how = ""
    if quant and quant["dtype"] == "float16":
        how = " (as float16 halves)"
    elif quant:
        how = (
            f" after {quant['dtype']} dequantization (q * scale + min with scale "
            f"{quant['scale']!r}, min {quant['min']!r}, overflows float32)"
        )
    msg = (
        f"{source}: weight {entry['name']!r} holds {bad.size:,} non-finite values ({kinds})"
        f"{how}; a model with NaN or inf weights gives no meaningful prediction: re-export it "
        "from a trained model whose weights are finite"
    )
    raise ModelFormatError(msg)


def check_artifacts(
    artifacts: ModelArtifacts, *, source: str, max_parameters: int = DEFAULT_MAX_PARAMETERS
) -> ModelGraph:
    """All the checks: these artifacts decode into a model. Returns its graph.

    ``ModelArtifacts`` already guarantees the files are present and hold the manifest's bytes;
    this adds :func:`parse_graph` and :func:`check_manifest`.
    """
    graph = parse_graph(artifacts.model_json, source=source)
    check_manifest(graph, artifacts.model_json, source=source, max_parameters=max_parameters)
    return graph
