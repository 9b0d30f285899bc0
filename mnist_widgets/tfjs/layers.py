"""The allowlist: which layer classes we write and read, and exactly which config keys each carries.

Reading never hands a config to Keras's generic deserializer: each layer is built by calling its
own constructor with the keys listed here, so a model file can neither import a module nor run
code. Writing keeps the same keys and refuses Keras 3 options that TF.js would silently ignore.
Value conversions (initializers, regularizers, constraints, activations) live here too.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import ModelFormatError

if TYPE_CHECKING:
    from .graph import Layer

_DENSE_LIKE = [
    "activation",
    "use_bias",
    "kernel_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
]
_POOL = ["pool_size", "strides", "padding", "data_format"]

#: class name -> config keys (besides name/trainable/dtype) written and read.
LAYER_KEYS: dict[str, list[str]] = {
    "InputLayer": [],
    "Conv2D": [
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
        *_DENSE_LIKE,
    ],
    "Dense": ["units", *_DENSE_LIKE],
    "MaxPooling2D": _POOL,
    "AveragePooling2D": _POOL,
    "Flatten": ["data_format"],
    "Dropout": ["rate", "noise_shape", "seed"],
    "BatchNormalization": [
        "axis",
        "momentum",
        "epsilon",
        "center",
        "scale",
        "beta_initializer",
        "gamma_initializer",
        "moving_mean_initializer",
        "moving_variance_initializer",
        "beta_regularizer",
        "gamma_regularizer",
        "beta_constraint",
        "gamma_constraint",
    ],
    "Activation": ["activation"],
    "Reshape": ["target_shape"],
    "Rescaling": ["scale", "offset"],
    "ZeroPadding2D": ["padding", "data_format"],
}
SUPPORTED_LAYERS = ", ".join(LAYER_KEYS)

#: Keras 3 keys with no TF.js counterpart: the value TF.js behaves as (anything else is refused).
_KERAS3_ONLY: dict[str, dict[str, Any]] = {
    "Conv2D": {"groups": 1},
    "Dense": {"quantization_config": None, "lora_rank": None, "lora_alpha": None},
    "BatchNormalization": {"synchronized": False, "renorm": False, "renorm_clipping": None},
}
_IGNORED = {"renorm_momentum"}  # meaningful only with renorm=True, which is refused

#: TF.js activation name -> Keras 3 name. Not listed: hard_sigmoid and gelu (the two libraries
#: define them differently) and anything TF.js 4.22 rejects (leaky_relu, gelu_new, ...).
ACTIVATIONS = {
    "linear": "linear",
    "relu": "relu",
    "relu6": "relu6",
    "elu": "elu",
    "selu": "selu",
    "sigmoid": "sigmoid",
    "softplus": "softplus",
    "softsign": "softsign",
    "tanh": "tanh",
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "swish": "silu",
    "mish": "mish",
}
_KERAS_TO_TFJS_ACT = {v: k for k, v in ACTIVATIONS.items()} | {"swish": "swish"}

#: initializer class (TF.js spelling) -> Keras 3 class and the config keys both understand.
INITIALIZERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Zeros": ("Zeros", ()),
    "Ones": ("Ones", ()),
    "Constant": ("Constant", ("value",)),
    "RandomUniform": ("RandomUniform", ("minval", "maxval", "seed")),
    "RandomNormal": ("RandomNormal", ("mean", "stddev", "seed")),
    "TruncatedNormal": ("TruncatedNormal", ("mean", "stddev", "seed")),
    "Identity": ("Identity", ("gain",)),
    "Orthogonal": ("Orthogonal", ("gain", "seed")),
    "VarianceScaling": ("VarianceScaling", ("scale", "mode", "distribution", "seed")),
    "GlorotUniform": ("GlorotUniform", ("seed",)),
    "GlorotNormal": ("GlorotNormal", ("seed",)),
    "HeUniform": ("HeUniform", ("seed",)),
    "HeNormal": ("HeNormal", ("seed",)),
    "LeCunUniform": ("LecunUniform", ("seed",)),
    "LeCunNormal": ("LecunNormal", ("seed",)),
}
_KERAS_TO_TFJS_INIT = {k3: tj for tj, (k3, _) in INITIALIZERS.items()} | {
    "IdentityInitializer": "Identity",
    "OrthogonalInitializer": "Orthogonal",
}
#: constraint class -> the config keys both libraries understand.
CONSTRAINTS: dict[str, tuple[str, ...]] = {
    "MaxNorm": ("max_value", "axis"),
    "UnitNorm": ("axis",),
    "NonNeg": (),
    "MinMaxNorm": ("min_value", "max_value", "rate", "axis"),
}


def unsupported_layer(class_name: Any, where: str) -> ModelFormatError:
    msg = (
        f"{where}: layer class {class_name!r} is not supported; supported classes: "
        f"{SUPPORTED_LAYERS}. Rebuild the model from these layers (custom and other built-in "
        "layers are refused so that loading a file can never run code)"
    )
    return ModelFormatError(msg)


# -- writing: Keras 3 config -> TF.js (Keras 2 style) -------------------------------------------


def to_tfjs_config(class_name: str, config: dict[str, Any], where: str) -> dict[str, Any]:
    """Translate one Keras 3 layer config into the TF.js form (without InputLayer's shape).

    The caller (``topology._layer_entry``) has already refused classes outside the allowlist.

    Examples
    --------
    >>> regularizer = {"class_name": "L2", "config": {"l2": 0.01}}
    >>> to_tfjs_config("Dense", {"name": "d", "units": 3, "kernel_regularizer": regularizer}, "m")
    {'name': 'd', 'trainable': True, 'dtype': 'float32', 'units': 3, 'kernel_regularizer': \
{'class_name': 'L1L2', 'config': {'l1': 0.0, 'l2': 0.01}}}
    >>> to_tfjs_config("Conv2D", {"name": "c", "filters": 4, "groups": 2}, "m")
    Traceback (most recent call last):
    ...
    mnist_widgets.errors.ModelFormatError: m: Conv2D(groups=2) is not supported by TF.js 4.22, \
which would silently treat it as groups=1
    """
    fixed = _KERAS3_ONLY.get(class_name, {})
    known = {"name", "trainable", "dtype", *LAYER_KEYS[class_name], *fixed, *_IGNORED}
    for key, value in config.items():
        if key not in known:
            msg = f"{where}: {class_name} option {key}={value!r} has no TF.js equivalent"
            raise ModelFormatError(msg)
        if key in fixed and value != fixed[key]:
            msg = (
                f"{where}: {class_name}({key}={value!r}) is not supported by TF.js 4.22, which "
                f"would silently treat it as {key}={fixed[key]!r}"
            )
            raise ModelFormatError(msg)
    out: dict[str, Any] = {
        "name": config["name"],
        "trainable": bool(config.get("trainable", True)),
        "dtype": dtype_name(config.get("dtype"), where),
    }
    for key in LAYER_KEYS[class_name]:
        if key in config:
            out[key] = _value_to_tfjs(key, config[key], where)
    if class_name == "BatchNormalization":
        out["axis"] = _single_axis(out["axis"], where)
    if class_name == "Rescaling" and not all(
        isinstance(out.get(k, 0), int | float) for k in ("scale", "offset")
    ):
        raise ModelFormatError(f"{where}: TF.js Rescaling needs scalar scale and offset")
    return out


def dtype_name(dtype: Any, where: str) -> str:
    """Keras 3 DTypePolicy dict or plain string -> ``"float32"`` (the only policy supported).

    >>> dtype_name({"class_name": "DTypePolicy", "config": {"name": "float32"}}, "m")
    'float32'
    """
    name = dtype
    if isinstance(dtype, dict):  # a DTypePolicy: {"class_name", "config": {"name": ...}}
        config = dtype.get("config")
        name = config.get("name", dtype) if isinstance(config, dict) else dtype
    if name is None or name == "float32":
        return "float32"
    msg = f"{where}: dtype {name!r} is not supported; TF.js layers models here use float32"
    raise ModelFormatError(msg)


def _single_axis(axis: Any, where: str) -> int:
    if isinstance(axis, list | tuple):
        if len(axis) != 1:
            raise ModelFormatError(f"{where}: BatchNormalization over axes {axis} is not supported")
        axis = axis[0]
    return int(axis)


def _value_to_tfjs(key: str, value: Any, where: str) -> Any:
    if isinstance(value, tuple):
        return [_value_to_tfjs(key, v, where) for v in value]
    if value is None:
        return None
    if key == "activation":
        if value not in _KERAS_TO_TFJS_ACT:
            msg = (
                f"{where}: activation {value!r} has no TF.js 4.22 equivalent; use one of "
                f"{', '.join(sorted(_KERAS_TO_TFJS_ACT))}"
            )
            raise ModelFormatError(msg)
        return _KERAS_TO_TFJS_ACT[value]
    if key.endswith("_initializer"):
        return _initializer_to_tfjs(value, where)
    if key.endswith("_regularizer"):
        return _regularizer_to_tfjs(value, where)
    if key.endswith("_constraint"):
        return _constraint_to_tfjs(value, where)
    return value


def _class_config(value: Any, what: str, where: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        raise ModelFormatError(f"{where}: expected a {what} {{class_name, config}}, got {value!r}")
    config = value.get("config") or {}
    if not isinstance(config, dict):
        raise ModelFormatError(f"{where}: {what} config must be an object, got {config!r}")
    return value["class_name"], config


def _initializer_to_tfjs(value: Any, where: str) -> dict[str, Any]:
    name, config = _class_config(value, "initializer", where)
    tfjs_name = _KERAS_TO_TFJS_INIT.get(name)
    if tfjs_name is None:
        raise ModelFormatError(f"{where}: initializer {name!r} has no TF.js equivalent")
    keys = INITIALIZERS[tfjs_name][1]
    out = {k: config[k] for k in keys if k in config}
    if out.get("distribution") == "untruncated_normal":
        out["distribution"] = "normal"  # closest TF.js choice; affects re-initialisation only
    return {"class_name": tfjs_name, "config": out}


def _regularizer_to_tfjs(value: Any, where: str) -> dict[str, Any]:
    name, config = _class_config(value, "regularizer", where)
    if name not in ("L1", "L2", "L1L2"):
        raise ModelFormatError(f"{where}: regularizer {name!r} has no TF.js equivalent")
    # TF.js 4.22 only registers L1L2 ("Unknown regularizer: L2" otherwise).
    l1, l2 = float(config.get("l1", 0.0)), float(config.get("l2", 0.0))
    return {"class_name": "L1L2", "config": {"l1": l1, "l2": l2}}


def _constraint_to_tfjs(value: Any, where: str) -> dict[str, Any]:
    name, config = _class_config(value, "constraint", where)
    if name not in CONSTRAINTS:
        raise ModelFormatError(f"{where}: constraint {name!r} has no TF.js equivalent")
    return {"class_name": name, "config": {k: config[k] for k in CONSTRAINTS[name] if k in config}}


# -- reading: TF.js config -> Keras 3 layer --------------------------------------------------------


def build_layer(layer: Layer) -> Any:
    """Construct the Keras layer for one checked :class:`~.graph.Layer` (never an InputLayer).

    The config was validated and normalised by :func:`~.graph.parse_graph`; this only converts
    values to their Keras 3 spelling.
    """
    from .._tf import keras  # deferred: importing tfjs must not import TensorFlow

    k = keras()
    kwargs = {
        key: _value_from_tfjs(key, value, k)
        for key, value in layer.config.items()
        if key in ("name", "trainable", "dtype", *LAYER_KEYS[layer.class_name])
    }
    try:
        return getattr(k.layers, layer.class_name)(**kwargs)
    except (TypeError, ValueError) as exc:  # pragma: no cover - parse_graph checked every value
        msg = f"layer {layer.name!r}: cannot build {layer.class_name} from its config ({exc})"
        raise ModelFormatError(msg) from exc


def _value_from_tfjs(key: str, value: Any, k: ModuleType) -> Any:
    if value is None:
        return None
    if key == "activation":
        return ACTIVATIONS[value]
    if key.endswith("_initializer"):
        name, config = value["class_name"], dict(value["config"])
        if config.get("distribution") == "normal":  # Keras 2/TF.js "normal" is truncated
            config["distribution"] = "truncated_normal"
        return getattr(k.initializers, INITIALIZERS[name][0])(**config)
    if key.endswith("_regularizer"):
        return k.regularizers.L1L2(**value["config"])
    if key.endswith("_constraint"):
        config = {c: tuple(v) if isinstance(v, list) else v for c, v in value["config"].items()}
        return getattr(k.constraints, value["class_name"])(**config)
    return value
