"""How we import: lazy re-exports, and imports that skip the notebook's folder in the browser.

A package lists ``name -> submodule`` and imports a submodule on first use: this keeps
``import mnist_widgets`` (and ``mnist_widgets.tfjs``) from importing TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ._env import in_browser


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


@contextlib.contextmanager
def installed_only() -> Iterator[None]:
    """In the browser, imports inside look in installed packages only, not in ``''`` (the
    working directory); elsewhere nothing changes.

    In JupyterLite ``''`` is the notebook's folder in browser storage (the site puts it last on
    ``sys.path``), and each module looked for there and not found costs a synchronous round
    trip to the page's storage: urllib3 tries 13 optional modules it does without (brotli,
    zstandard, certifi, ...), 13 round trips on every visit. Pyodide runs no threads, so no
    other import sees the shorter path.
    """
    if not in_browser() or "" not in sys.path:
        yield
        return
    at = sys.path.index("")
    del sys.path[at]
    try:
        yield
    finally:
        sys.path.insert(min(at, len(sys.path)), "")
