"""Checking and normalising layer config values, each error naming the layer and the field.

The helpers :mod:`.graph` builds on: every value a layer config may carry (integers, pairs,
choices, activations, initializers, regularizers, constraints) is checked for its type and range
and returned in one typed, normal form, so that nothing downstream (Keras, the engines) ever sees
a value it would choke on.

Examples
--------
>>> where = Where("m.json", "conv", "Conv2D")
>>> pair({"kernel_size": 3}, "kernel_size", where, ...)
(3, 3)
>>> initializer({"class_name": "VarianceScaling", "config": {"mode": "fan_x"}}, "k", where)
Traceback (most recent call last):
...
mnist_widgets.errors.ModelFormatError: m.json: layer 'conv' (Conv2D): field 'k.mode' must be one \
of 'fan_in', 'fan_out', 'fan_avg', got 'fan_x'
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from types import EllipsisType
from typing import Any, TypeGuard, TypeVar

from ..errors import ModelFormatError
from .layers import ACTIVATIONS, CONSTRAINTS, INITIALIZERS, dtype_name

T = TypeVar("T")


class Where:
    """Error context: the file and the layer being checked."""

    def __init__(self, source: str, name: str | None = None, class_name: str | None = None):
        self.source, self.name, self.class_name = source, name, class_name

    def __str__(self) -> str:
        if self.name is None:
            return self.source
        return f"{self.source}: layer {self.name!r} ({self.class_name})"

    def error(self, problem: str) -> ModelFormatError:
        return ModelFormatError(f"{self}: {problem}")

    def bad(self, key: str, value: Any, expected: str) -> ModelFormatError:
        return self.error(f"field {key!r} must be {expected}, got {short(value)}")


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(config: Mapping[str, Any], key: str, where: Where, default: Any = ...) -> int:
    value = config.get(key, default)
    if value is ...:
        raise where.error(f"field {key!r} is required")
    if not is_int(value) or value < 1:
        raise where.bad(key, value, "a positive integer")
    return value


def number(
    config: Mapping[str, Any],
    key: str,
    where: Where,
    default: float | EllipsisType,
    *,
    positive: bool = False,
) -> float:
    value = config.get(key, default)
    if value is None:
        value = default
    if not is_number(value) or (positive and value <= 0):
        raise where.bad(key, value, "a positive number" if positive else "a finite number")
    return float(value)


def flag(config: Mapping[str, Any], key: str, where: Where, default: bool) -> bool:
    value = config.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise where.bad(key, value, "true or false")
    return value


def pair(config: Mapping[str, Any], key: str, where: Where, default: Any) -> tuple[int, int]:
    value = config.get(key, default)
    if value is None:
        value = default
    if is_int(value):
        value = [value, value]
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(is_int(v) and v >= 1 for v in value)
    ):
        raise where.bad(key, value, "a positive integer or a list of 2 positive integers")
    return int(value[0]), int(value[1])


def padding_pairs(
    config: Mapping[str, Any], key: str, where: Where, default: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` from an int, ``[height, width]`` or two pairs (the
    three forms TF.js's ZeroPadding2D accepts); every amount a non-negative integer."""
    given = config.get(key, default)
    value = default if given is None else given
    if is_int(value):
        value = [value, value]
    if isinstance(value, list | tuple) and len(value) == 2 and all(is_int(v) for v in value):
        value = [[value[0], value[0]], [value[1], value[1]]]
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(
            isinstance(p, list | tuple) and len(p) == 2 and all(is_int(v) and v >= 0 for v in p)
            for p in value
        )
    ):
        expected = "a non-negative integer, [height, width] or [[top, bottom], [left, right]]"
        raise where.bad(key, given, expected)
    (top, bottom), (left, right) = value
    return (int(top), int(bottom)), (int(left), int(right))


def choice(
    config: Mapping[str, Any], key: str, where: Where, choices: tuple[T, ...], default: T
) -> T:
    value = config.get(key, default)
    if value is None:
        value = default
    if value not in choices:
        raise where.bad(key, value, "one of " + ", ".join(map(repr, choices)))
    return choices[choices.index(value)]


def activation(config: Mapping[str, Any], where: Where, *, required: bool = False) -> str:
    value = config.get("activation")
    if value is None and not required:
        return "linear"
    if not isinstance(value, str) or value not in ACTIVATIONS:
        msg = f"activation {value!r} is not supported; use one of {', '.join(ACTIVATIONS)}"
        raise where.error(f"field 'activation': {msg}")
    return value


def dtype(config: Mapping[str, Any], where: Where) -> str:
    return dtype_name(config.get("dtype"), f"{where}: field 'dtype'")


def data_format(config: Mapping[str, Any], where: Where) -> str:
    return choice(config, "data_format", where, ("channels_last",), "channels_last")


def class_config(
    value: Any, key: str, what: str, known: Collection[str], where: Where
) -> tuple[str, dict[str, Any]]:
    """``{class_name, config}`` of an initializer, regularizer or constraint of a known class."""
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        raise where.bad(key, value, f"a {what} {{'class_name': ..., 'config': {{...}}}} or null")
    name, config = value["class_name"], value.get("config")
    if name not in known:
        msg = f"{what} {name!r} is not supported; use one of {', '.join(known)}"
        raise where.error(f"field {key!r}: {msg}")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise where.bad(f"{key}.config", config, "an object")
    return name, config


_INIT_NUMBERS = {"value", "minval", "maxval", "mean", "stddev", "gain"}


def initializer(value: Any, key: str, where: Where) -> dict[str, Any] | None:
    if value is None:
        return None
    name, config = class_config(value, key, "initializer", INITIALIZERS, where)
    out: dict[str, Any] = {}
    for k in INITIALIZERS[name][1]:
        v = config.get(k)
        if v is None:
            continue
        if k == "seed" and not is_int(v):
            raise where.bad(f"{key}.seed", v, "an integer or null")
        if k in _INIT_NUMBERS and not is_number(v):
            raise where.bad(f"{key}.{k}", v, "a finite number")
        if k == "scale" and not (is_number(v) and v > 0):
            raise where.bad(f"{key}.scale", v, "a positive number")
        if k == "mode" and v not in ("fan_in", "fan_out", "fan_avg"):
            raise where.bad(f"{key}.mode", v, "one of 'fan_in', 'fan_out', 'fan_avg'")
        if k == "distribution" and v not in ("normal", "uniform", "truncated_normal"):
            raise where.bad(
                f"{key}.distribution", v, "one of 'normal', 'uniform', 'truncated_normal'"
            )
        out[k] = v
    return {"class_name": name, "config": out}


def regularizer(value: Any, key: str, where: Where) -> dict[str, Any] | None:
    if value is None:
        return None
    # TF.js registers only L1L2; Keras's L1 and L2 are read as the L1L2 they are.
    _, config = class_config(value, key, "regularizer", ("L1L2", "L1", "L2"), where)
    factors = {}
    for k in ("l1", "l2"):
        v = config.get(k, 0.0)
        if v is None:
            v = 0.0
        if not is_number(v) or v < 0:
            raise where.bad(f"{key}.{k}", v, "a finite number >= 0")
        factors[k] = float(v)
    return {"class_name": "L1L2", "config": factors}


def constraint(value: Any, key: str, where: Where) -> dict[str, Any] | None:
    if value is None:
        return None
    name, config = class_config(value, key, "constraint", CONSTRAINTS, where)
    out = {}
    for k in CONSTRAINTS[name]:
        v = config.get(k)
        if v is None:
            continue
        if k == "axis":
            axes = v if isinstance(v, list) else [v]
            if not axes or not all(is_int(a) for a in axes):
                raise where.bad(f"{key}.axis", v, "an integer or a list of integers")
        elif not is_number(v):
            raise where.bad(f"{key}.{k}", v, "a finite number")
        out[k] = v
    return {"class_name": name, "config": out}


def dense_like(config: Mapping[str, Any], where: Where) -> dict[str, Any]:
    out: dict[str, Any] = {
        "activation": activation(config, where),
        "use_bias": flag(config, "use_bias", where, True),
    }
    for key in ("kernel_initializer", "bias_initializer"):
        out[key] = initializer(config.get(key), key, where)
    for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
        out[key] = regularizer(config.get(key), key, where)
    for key in ("kernel_constraint", "bias_constraint"):
        out[key] = constraint(config.get(key), key, where)
    return out
