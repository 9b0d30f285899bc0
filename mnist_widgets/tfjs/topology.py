"""Model topology: Keras 3 model config <-> the Keras-2-style ``modelTopology`` TF.js 4.22 loads.

Pure dict transforms (no TensorFlow). Writing renames Keras 3's InputLayer ``batch_shape`` to
``batch_input_shape``, flattens DTypePolicy objects to strings, and rewrites functional
``inbound_nodes`` from Keras 3's ``{args, kwargs}`` into the ``[[[layer, node, tensor, {}]]]``
nesting. Reading accepts the three shapes found in the wild: converter output
(``model_config`` nested), TF.js ``model.save`` output (``class_name``/``config`` at the top, no
InputLayer), and tfjs-layers <= 1.2's Sequential config given as a bare list of layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelFormatError
from .layers import LAYER_KEYS, dtype_name, to_tfjs_config, unsupported_layer

_SEQUENTIAL = ("Sequential",)
_FUNCTIONAL = ("Functional", "Model")


# -- writing ---------------------------------------------------------------------------------------


def _input_layer(config: dict[str, Any], where: str) -> dict[str, Any]:
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if shape is None:
        raise ModelFormatError(f"{where}: InputLayer {config.get('name')!r} has no shape")
    if config.get("sparse") or config.get("ragged"):
        raise ModelFormatError(f"{where}: sparse/ragged inputs are not supported by TF.js")
    return {
        "class_name": "InputLayer",
        "config": {
            "batch_input_shape": list(shape),
            "dtype": dtype_name(config.get("dtype"), where),
            "sparse": False,
            "name": config["name"],
        },
    }


def _layer_entry(layer: dict[str, Any], where: str) -> dict[str, Any]:
    class_name = layer.get("class_name")
    if class_name == "InputLayer":
        return _input_layer(layer["config"], where)
    if class_name not in LAYER_KEYS:
        raise unsupported_layer(class_name, where)
    where = f"{where}, layer {layer['config'].get('name')!r}"
    return {"class_name": class_name, "config": to_tfjs_config(class_name, layer["config"], where)}


def _history(arg: Any, out: list[list[Any]]) -> None:
    """Collect ``keras_history`` triples from a Keras 3 node's (possibly nested) args."""
    if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
        name, node, tensor = arg["config"]["keras_history"]
        out.append([name, node, tensor, {}])
    elif isinstance(arg, list | tuple):
        for item in arg:
            _history(item, out)


def _keras2_nodes(nodes: list[Any], where: str) -> list[list[list[Any]]]:
    converted = []
    for node in nodes:
        if isinstance(node, list):  # already Keras 2 style
            converted.append(node)
            continue
        kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if v is not None}
        if kwargs:  # Keras 3 records defaults such as mask=None; anything set is not portable
            msg = f"{where}: layer called with keyword arguments {kwargs} (not supported)"
            raise ModelFormatError(msg)
        refs: list[list[Any]] = []
        _history(node.get("args", []), refs)
        converted.append(refs)
    return converted


def _endpoints(value: Any, where: str = "model") -> list[list[Any]]:
    """``input_layers``/``output_layers``: Keras 3 flattens a single endpoint to one triple."""
    if not isinstance(value, list | tuple):
        msg = f"{where} must be a list of [layer, node, tensor] entries, got {value!r:.80}"
        raise ModelFormatError(msg)
    if value and not isinstance(value[0], list | tuple):
        value = [value]
    if not all(isinstance(v, list | tuple) for v in value):
        msg = f"{where} must be a list of [layer, node, tensor] entries, got {value!r:.80}"
        raise ModelFormatError(msg)
    return [list(v) for v in value]


def encode_topology(keras_config: dict[str, Any], class_name: str) -> dict[str, Any]:
    """``model.get_config()`` of a Keras 3 Sequential/Functional model -> ``model_config``.

    Examples
    --------
    >>> layers = [
    ...     {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 4]}},
    ...     {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "silu"}},
    ... ]
    >>> config = encode_topology({"name": "m", "layers": layers}, "Sequential")["config"]
    >>> config["layers"][0]["config"]["batch_input_shape"]  # the key TF.js reads
    [None, 4]
    >>> config["layers"][1]["config"]["activation"]  # Keras 3's silu is TF.js's swish
    'swish'
    """
    where = f"model {keras_config.get('name')!r}"
    if class_name == "Sequential":
        layers = [_layer_entry(layer, where) for layer in keras_config["layers"]]
        if not layers or layers[0]["class_name"] != "InputLayer":
            msg = (
                f"{where}: the Sequential model has no input shape; build it with "
                "keras.Input(shape=...) as its first layer before saving"
            )
            raise ModelFormatError(msg)
        return {
            "class_name": "Sequential",
            "config": {"name": keras_config["name"], "layers": layers},
        }
    layers = []
    for layer in keras_config["layers"]:
        entry = _layer_entry(layer, where)
        entry["name"] = layer["name"]
        entry["inbound_nodes"] = _keras2_nodes(layer.get("inbound_nodes", []), where)
        layers.append(entry)
    return {
        "class_name": "Functional",
        "config": {
            "name": keras_config["name"],
            "layers": layers,
            "input_layers": _endpoints(keras_config["input_layers"]),
            "output_layers": _endpoints(keras_config["output_layers"]),
        },
    }


# -- reading ---------------------------------------------------------------------------------------


@dataclass
class Topology:
    """A model graph in one normal form, whichever writer produced it."""

    kind: str  # "sequential" or "functional"
    name: str
    layers: list[dict[str, Any]]  # {class_name, config, name, inbound_nodes}
    input_layers: list[list[Any]] = field(default_factory=list)
    output_layers: list[list[Any]] = field(default_factory=list)


def parse_topology(model_topology: dict[str, Any], *, source: str) -> Topology:
    """Normalise any accepted ``modelTopology`` into a :class:`Topology`.

    Examples
    --------
    >>> dense = {"class_name": "Dense", "config": {"name": "d", "units": 2}}
    >>> topology = parse_topology({"class_name": "Sequential", "config": [dense]}, source="m")
    >>> topology.kind, topology.name, [layer["name"] for layer in topology.layers]
    ('sequential', 'sequential', ['d'])

    Raises
    ------
    ModelFormatError
        Unknown model class, missing keys, or layers without ``class_name``/``config``.
    """
    model_config = model_topology.get("model_config", model_topology)
    if not isinstance(model_config, dict) or "class_name" not in model_config:
        msg = (
            f"{source}: modelTopology has neither 'model_config' nor 'class_name'; expected a "
            "Keras/TF.js layers-model topology"
        )
        raise ModelFormatError(msg)
    class_name, config = model_config["class_name"], model_config.get("config")
    if not isinstance(config, dict | list | None):
        msg = f"{source}: the model's 'config' must be an object, got {config!r:.80}"
        raise ModelFormatError(msg)
    if class_name in _SEQUENTIAL:
        # tfjs-layers <= 1.2 wrote the Sequential config as a bare list of layers
        raw_layers = config if isinstance(config, list) else (config or {}).get("layers")
        name = "sequential" if isinstance(config, list) else (config or {}).get("name")
        layers = _check_layers(raw_layers, source)
        return Topology("sequential", name or "sequential", layers)
    if class_name in _FUNCTIONAL:
        if not isinstance(config, dict):
            raise ModelFormatError(f"{source}: {class_name} config must be an object")
        for key in ("layers", "input_layers", "output_layers"):
            if key not in config:
                raise ModelFormatError(f"{source}: {class_name} config is missing key {key!r}")
        layers = _check_layers(config["layers"], source)
        return Topology(
            "functional",
            config.get("name") or "model",
            layers,
            _endpoints(config["input_layers"], f"{source}: field 'input_layers'"),
            _endpoints(config["output_layers"], f"{source}: field 'output_layers'"),
        )
    msg = (
        f"{source}: model class {class_name!r} is not supported; expected Sequential or Functional"
    )
    raise ModelFormatError(msg)


def _check_layers(raw: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise ModelFormatError(f"{source}: the model has no layers list")
    layers = []
    for i, layer in enumerate(raw):
        if (
            not isinstance(layer, dict)
            or not isinstance(layer.get("class_name"), str)
            or "config" not in layer
        ):
            msg = f"{source}: layer {i} must be an object with 'class_name' and 'config'"
            raise ModelFormatError(msg)
        config = layer["config"]
        if not isinstance(config, dict) or not isinstance(
            config.get("name", layer.get("name")), str
        ):
            raise ModelFormatError(f"{source}: layer {i} ({layer['class_name']}) has no name")
        config = {**config, "name": config.get("name", layer.get("name"))}
        nodes = layer.get("inbound_nodes", [])
        if not isinstance(nodes, list) or any(not isinstance(n, list) for n in nodes):
            msg = (
                f"{source}: layer {config['name']!r} has inbound_nodes in an unsupported form; "
                "expected the Keras 2 nesting [[[layer, node_index, tensor_index, {}], ...]]"
            )
            raise ModelFormatError(msg)
        layers.append(
            {
                "class_name": layer["class_name"],
                "config": config,
                "name": config["name"],
                "inbound_nodes": nodes,
            }
        )
    return layers
