"""argparse ``type=`` callables: a bad number is refused while parsing, in argparse's one line.

argparse turns the ``ArgumentTypeError`` raised here into ``mnist-widgets CMD: error: argument
--timeout: ...`` and exit code 2, before any work starts.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..errors import ConfigError


def _number(text: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        msg = f"expected {what}, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(value):
        msg = f"expected a finite number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def port(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        msg = f"a port is an integer from 0 to 65535 (0 = any free port), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = int(_number(text, int))
    if value < 1:
        msg = f"expected a positive integer, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (seconds, for instance)."""
    value = _number(text, float)
    if value <= 0:
        msg = f"expected a number greater than 0, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def fraction(text: str) -> float:
    """A finite number in [0, 1)."""
    value = _number(text, float)
    if not 0 <= value < 1:
        msg = f"expected a number from 0 up to (not including) 1, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def check_output_dir(path: str | Path, *, flag: str) -> None:
    """Fail before any work when ``path`` cannot become a directory (a file is in the way)."""
    target = Path(path)
    for existing in (target, *target.parents):
        if existing.exists():
            if not existing.is_dir():
                where = "is a file" if existing == target else f"is below the file {existing}"
                msg = f"{flag} {target} {where}; pass a directory (it will be created)"
                raise ConfigError(msg)
            return
