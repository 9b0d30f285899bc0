"""``encode_model`` (Keras model -> :class:`ModelArtifacts`) and ``decode_model`` (the reverse)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import __version__
from .._tf import keras
from ..errors import ModelFormatError
from .artifacts import (
    DEFAULT_SHARD_BYTES,
    ModelArtifacts,
    check_weight_files,
    parse_model_json,
)
from .layers import LAYER_KEYS, build_layer, dtype_name, unsupported_layer
from .topology import Topology, encode_topology, parse_topology
from .weights import decode_weights, encode_weights


def _model_class(model: Any, k: Any) -> str:
    if isinstance(model, k.Sequential):
        return "Sequential"
    if type(model).__name__ == "Functional" or type(model) is k.Model:
        return "Functional"
    msg = (
        f"cannot export a {type(model).__name__}: only Sequential and functional keras.Model "
        "graphs have a TF.js layers topology (subclassed models do not)"
    )
    raise ModelFormatError(msg)


def _named_weights(model: Any, k: Any) -> list[tuple[str, np.ndarray]]:
    named, seen = [], set()
    for layer in model.layers:
        cls = type(layer).__name__
        if cls not in LAYER_KEYS or type(layer) is not getattr(k.layers, cls):
            raise unsupported_layer(cls, f"layer {layer.name!r}")
        # TF.js matches manifest names against "<layer>/<weight>" with no model prefix.
        for w in [*layer.trainable_weights, *layer.non_trainable_weights]:
            name = f"{layer.name}/{w.name}"
            if name in seen:
                raise ModelFormatError(f"two weights are named {name!r}; rename the layers")
            seen.add(name)
            named.append((name, np.asarray(w.numpy())))
    return named


def encode_model(
    model: Any, *, quantize: str | None = None, shard_size_bytes: int = DEFAULT_SHARD_BYTES
) -> ModelArtifacts:
    """Encode a Keras 3 model in the TF.js layers format, in memory.

    Parameters
    ----------
    model
        A built ``keras.Sequential`` or functional ``keras.Model`` made of allowlisted layers.
    quantize
        ``None`` (float32), ``"float16"``, ``"uint8"`` or ``"uint16"`` (converter semantics).
    shard_size_bytes
        Cut the weight bytes into ``group1-shardNofM.bin`` files of at most this size.

    Raises
    ------
    ModelFormatError
        A layer, option, activation or dtype TF.js 4.22 cannot represent faithfully.
    """
    k = keras()
    model_config = encode_topology(model.get_config(), _model_class(model, k))
    manifest, files = encode_weights(
        _named_weights(model, k), quantize_dtype=quantize, shard_size_bytes=shard_size_bytes
    )
    model_json = {
        "format": "layers-model",
        "generatedBy": f"keras v{k.__version__}",
        "convertedBy": f"mnist-widgets {__version__}",
        "modelTopology": {
            "keras_version": k.__version__,
            "backend": k.backend.backend(),
            "model_config": model_config,
        },
        "weightsManifest": manifest,
    }
    return ModelArtifacts(model_json, files)


def decode_model(artifacts: ModelArtifacts, *, source: str = "model.json") -> Any:
    """Build a ``keras.Model`` from TF.js layers-model artifacts and load its weights.

    Raises
    ------
    ModelFormatError
        Malformed or unsupported topology, missing/extra weights, or shape mismatches.
    """
    model_json = parse_model_json(artifacts.model_json_bytes(), source=source)
    check_weight_files(model_json, artifacts.weight_files, source=source)
    arrays = decode_weights(model_json["weightsManifest"], artifacts.weight_files, source=source)
    for group in model_json["weightsManifest"]:  # optimizer state (includeOptimizer): not ours
        for entry in group["weights"]:
            if entry.get("group") == "optimizer":
                arrays.pop(entry["name"], None)
    topology = parse_topology(model_json["modelTopology"], source=source)
    build = _build_sequential if topology.kind == "sequential" else _build_functional
    model = build(topology, source, keras())
    _assign_weights(model, arrays, source)
    return model


def _batch_shape(config: dict[str, Any], where: str) -> tuple[Any, ...] | None:
    if "batch_input_shape" in config:
        shape = config["batch_input_shape"]
    elif "input_shape" in config:
        shape = [config.get("batch_size"), *config["input_shape"]]
    elif "batch_shape" in config:  # Keras 3 spelling, if someone hand-wrote it
        shape = config["batch_shape"]
    else:
        return None
    if not isinstance(shape, list) or not all(d is None or isinstance(d, int) for d in shape):
        raise ModelFormatError(f"{where}: input shape must be a list of ints/null, got {shape!r}")
    return tuple(shape)


def _input_layer(config: dict[str, Any], name: str, where: str, k: Any) -> Any:
    shape = _batch_shape(config, where)
    if shape is None:
        msg = (
            f"{where}: the model's first layer has no batch_input_shape or input_shape, so its "
            "input size is unknown"
        )
        raise ModelFormatError(msg)
    return k.layers.InputLayer(
        batch_shape=shape, dtype=dtype_name(config.get("dtype"), where), name=name
    )


def _build_sequential(topology: Topology, source: str, k: Any) -> Any:
    layers = topology.layers
    first = layers[0]
    if first["class_name"] == "InputLayer":
        stack = [_input_layer(first["config"], first["name"], f"{source}: layer 0", k)]
        layers = layers[1:]
    else:  # TF.js-saved: the first layer carries the shape; TF.js names the input like this
        name = f"{first['name']}_input"
        stack = [_input_layer(first["config"], name, f"{source}: layer {first['name']!r}", k)]
    for layer in layers:
        stack.append(
            build_layer(layer["class_name"], layer["config"], f"{source}: layer {layer['name']!r}")
        )
    return k.Sequential(stack, name=topology.name)


def _build_functional(topology: Topology, source: str, k: Any) -> Any:
    tensors: dict[tuple[str, int], list[Any]] = {}
    pending = []
    for layer in topology.layers:
        where = f"{source}: layer {layer['name']!r}"
        if layer["class_name"] == "InputLayer":
            config = layer["config"]
            shape = _batch_shape(config, where)
            if shape is None:
                raise ModelFormatError(f"{where}: InputLayer has no batch_input_shape")
            dtype = dtype_name(config.get("dtype"), where)
            tensors[(layer["name"], 0)] = [
                k.Input(batch_shape=shape, dtype=dtype, name=layer["name"])
            ]
            continue
        obj = build_layer(layer["class_name"], layer["config"], where)
        pending += [(obj, layer["name"], i, node) for i, node in enumerate(layer["inbound_nodes"])]
    names = {layer["name"] for layer in topology.layers}
    while pending:  # call each layer once its inputs exist (config order need not be topological)
        remaining = []
        for obj, name, index, node in pending:
            refs = [_ref(r, names, source) for r in node]
            if all(ref[:2] in tensors for ref in refs):
                inputs = [tensors[ref[:2]][ref[2]] for ref in refs]
                out = obj(inputs[0] if len(inputs) == 1 else inputs)
                tensors[(name, index)] = out if isinstance(out, list) else [out]
            else:
                remaining.append((obj, name, index, node))
        if len(remaining) == len(pending):
            stuck = [p[1] for p in pending]
            msg = f"{source}: inbound_nodes of {stuck} can never be satisfied (a cycle?)"
            raise ModelFormatError(msg)
        pending = remaining

    def endpoint(ref: Any) -> Any:
        name, node, tensor = _ref(ref, names, source)
        try:
            return tensors[(name, node)][tensor]
        except (KeyError, IndexError) as exc:
            raise ModelFormatError(f"{source}: model endpoint {ref!r} does not exist") from exc

    ins = [endpoint(r) for r in topology.input_layers]
    outs = [endpoint(r) for r in topology.output_layers]
    return k.Model(
        ins[0] if len(ins) == 1 else ins, outs[0] if len(outs) == 1 else outs, name=topology.name
    )


def _ref(ref: Any, names: set[str], source: str) -> tuple[str, int, int]:
    if not isinstance(ref, list) or len(ref) < 3 or ref[0] not in names:
        raise ModelFormatError(f"{source}: inbound node {ref!r} refers to no layer of this model")
    return ref[0], int(ref[1]), int(ref[2])


def _assign_weights(model: Any, arrays: dict[str, np.ndarray], source: str) -> None:
    names = list(arrays)
    # Like TF.js: if the first manifest name ends in an integer, all are "<layer>/<index>".
    by_index = bool(names) and names[0].rsplit("/", 1)[-1].isdigit()
    used, missing = set(), []
    for layer in model.layers:
        for i, var in enumerate([*layer.trainable_weights, *layer.non_trainable_weights]):
            key = f"{layer.name}/{i}" if by_index else f"{layer.name}/{var.name}"
            if key not in arrays:
                missing.append(key)
                continue
            value = arrays[key]
            if tuple(value.shape) != tuple(var.shape):
                msg = (
                    f"{source}: weight {key!r} has shape {list(value.shape)} in the manifest but "
                    f"layer {layer.name!r} ({type(layer).__name__}) expects {list(var.shape)}"
                )
                raise ModelFormatError(msg)
            var.assign(value.astype(var.dtype))
            used.add(key)
    if missing:
        msg = (
            f"{source}: weights {missing} are missing from weightsManifest (it names "
            f"{names[:6]}{' ...' if len(names) > 6 else ''}); model.json and the weight files "
            "do not describe the same model"
        )
        raise ModelFormatError(msg)
    extra = [n for n in names if n not in used]
    if extra:
        msg = (
            f"{source}: weightsManifest has weights {extra} that match no layer weight; expected "
            "names '<layer>/<weight>' such as 'dense/kernel' (no model-name prefix)"
        )
        raise ModelFormatError(msg)
