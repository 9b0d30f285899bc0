"""Lazy re-exports: a package lists ``name -> submodule`` and imports a submodule on first use.

This keeps ``import mnist_widgets`` (and ``mnist_widgets.tfjs``) from importing TensorFlow.
"""

from __future__ import annotations

import importlib
import sys
import types
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


class _ExportsWinModule(types.ModuleType):
    """A package whose exported names are not overwritten by same-named submodules.

    After importing ``pkg.train`` the import system runs ``setattr(pkg, "train", <module>)``;
    when ``train`` is also an exported *function* of ``pkg.train``, that would hide it.
    """

    _lazy_exports: Mapping[str, str] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            isinstance(value, types.ModuleType)
            and self._lazy_exports.get(name) == name
            and value.__name__ == f"{self.__name__}.{name}"
        ):
            return  # the submodule stays reachable through sys.modules / `from pkg.name import`
        super().__setattr__(name, value)


def protect_exports(package: str, exports: Mapping[str, str]) -> None:
    """Keep ``package.NAME`` the exported object when a submodule is also called NAME."""
    module = sys.modules[package]
    module.__class__ = _ExportsWinModule
    module._lazy_exports = exports  # type: ignore[attr-defined]
