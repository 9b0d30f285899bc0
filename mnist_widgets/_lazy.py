"""Lazy re-exports: a package lists ``name -> submodule`` and imports a submodule on first use.

This keeps ``import mnist_widgets`` (and ``mnist_widgets.tfjs``) from importing TensorFlow.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` resolving ``exports[name]`` relative to ``package``."""

    def __getattr__(name: str) -> Any:
        try:
            module_name = exports[name]
        except KeyError:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg) from None
        value = getattr(importlib.import_module(f".{module_name}", package), name)
        setattr(sys.modules[package], name, value)  # cache: later lookups skip __getattr__
        return value

    return __getattr__
