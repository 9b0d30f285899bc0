"""``encode_model`` (Keras model -> :class:`ModelArtifacts`) and ``decode_model`` (the reverse)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .._tf import keras
from ..errors import ModelFormatError
from .artifacts import DEFAULT_SHARD_BYTES, MODEL_JSON, ModelArtifacts
from .graph import ModelGraph, check_artifacts, load_weights
from .layers import LAYER_KEYS, build_layer, unsupported_layer
from .topology import encode_topology
from .weights import encode_weights


def _version() -> str:
    """The package version, from its installed metadata (tfjs/ never imports the package root)."""
    from importlib import metadata  # deferred: ~40 ms, needed only to write a model

    try:
        return metadata.version("mnist-widgets")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _model_class(model: Any, k: ModuleType) -> str:
    if isinstance(model, k.Sequential):
        return "Sequential"
    if type(model).__name__ == "Functional" or type(model) is k.Model:
        return "Functional"
    msg = (
        f"cannot export a {type(model).__name__}: only Sequential and functional keras.Model "
        "graphs have a TF.js layers topology (subclassed models do not)"
    )
    raise ModelFormatError(msg)


def _named_weights(model: Any, k: ModuleType) -> list[tuple[str, np.ndarray]]:
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
        "convertedBy": f"mnist-widgets {_version()}",
        "modelTopology": {
            "keras_version": k.__version__,
            "backend": k.backend.backend(),
            "model_config": model_config,
        },
        "weightsManifest": manifest,
    }
    return ModelArtifacts(model_json, files)


def decode_model(
    artifacts: ModelArtifacts, *, source: str = MODEL_JSON, graph: ModelGraph | None = None
) -> Any:
    """Build a ``keras.Model`` from TF.js layers-model artifacts and load its weights.

    Every layer and weight is checked (:func:`~.graph.check_artifacts`) before any Keras layer is
    built, so a hostile file fails without allocating what it declares. ``graph``: what
    ``check_artifacts`` already returned for these artifacts (then trusted, not checked again).

    Raises
    ------
    ModelFormatError
        Malformed or unsupported topology, missing/extra weights, or shape mismatches.
    """
    if graph is None:
        graph = check_artifacts(artifacts, source=source)
    arrays = load_weights(graph, artifacts, source=source)
    model = _build(graph, keras())
    for layer in model.layers:
        specs = {spec.name.rsplit("/", 1)[1]: spec for spec in graph.layer(layer.name).weights}
        for var in layer.weights:
            spec = specs.get(var.name)
            if spec is None or tuple(var.shape) != spec.shape:  # a bug of ours, not the file's
                expected = spec.shape if spec else "no such weight"
                msg = (
                    f"{source}: Keras built {layer.name}/{var.name} as {var.shape}, not {expected}"
                )
                raise ModelFormatError(msg)
            var.assign(arrays[spec.name])
    return model


def _build(graph: ModelGraph, k: ModuleType) -> Any:
    """The Keras model of ``graph``, unweighted: Sequential if the file said so, else functional."""
    tensors: dict[str, Any] = {}
    if graph.kind == "sequential":
        first, *rest = graph.layers
        stack = [
            k.layers.InputLayer(batch_shape=first.config["batch_input_shape"], name=first.name),
            *(build_layer(layer) for layer in rest),
        ]
        return k.Sequential(stack, name=graph.name)
    for layer in graph.layers:
        if layer.class_name == "InputLayer":
            shape = layer.config["batch_input_shape"]
            tensors[layer.name] = k.Input(batch_shape=shape, name=layer.name)
        else:
            obj = build_layer(layer)
            tensors[layer.name] = obj(tensors[layer.inputs[0]])
    ins = [tensors[name] for name in graph.inputs]
    outs = [tensors[name] for name in graph.outputs]
    return k.Model(
        ins[0] if len(ins) == 1 else ins, outs[0] if len(outs) == 1 else outs, name=graph.name
    )
