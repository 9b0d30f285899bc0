"""The environment switches, in one leaf module: their names, and how a value is read.

Nothing here imports anything of ours but :mod:`errors`, so ``data``, the CLI and the loader read
the switches without importing the download stack.

``MNIST_WIDGETS_OFFLINE``
    ``1``, ``true``, ``yes`` or ``on``: no socket is opened (any case, surrounding spaces ignored).
    ``0``, ``false``, ``no``, ``off`` or empty (or unset): network access allowed. Anything else
    is a :class:`~mnist_widgets.errors.ConfigError`, never silently "online". The rule, like
    ``HF_HUB_OFFLINE``: strategies that can use the model store serve it; an explicit
    ``strategy="network-only"`` raises :class:`~mnist_widgets.errors.OfflineError`.
``MNIST_WIDGETS_CACHE``
    The model store directory (default: the user cache directory).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from .errors import ConfigError

ENV_OFFLINE = "MNIST_WIDGETS_OFFLINE"
ENV_CACHE = "MNIST_WIDGETS_CACHE"
#: Values of ``MNIST_WIDGETS_OFFLINE`` (compared lower-cased and stripped).
OFFLINE_ON = ("1", "true", "yes", "on")
OFFLINE_OFF = ("", "0", "false", "no", "off")


def in_browser() -> bool:
    """Whether this Python runs in the browser (Pyodide, the JupyterLite kernel)."""
    return sys.platform == "emscripten"


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


def offline() -> bool:
    """Whether ``MNIST_WIDGETS_OFFLINE`` asks for no network access at all.

    Raises
    ------
    ConfigError
        For a value that is neither on nor off (``maybe``, ``2``): a typo never means "online".

    Examples
    --------
    >>> import os
    >>> os.environ["MNIST_WIDGETS_OFFLINE"] = " Yes "
    >>> offline()
    True
    >>> os.environ["MNIST_WIDGETS_OFFLINE"] = "maybe"
    >>> offline()
    Traceback (most recent call last):
    ...
    mnist_widgets.errors.ConfigError: MNIST_WIDGETS_OFFLINE='maybe' is not a recognised value; ...
    >>> del os.environ["MNIST_WIDGETS_OFFLINE"]
    """
    raw = os.environ.get(ENV_OFFLINE, "")
    value = raw.strip().lower()
    if value in OFFLINE_ON:
        return True
    if value in OFFLINE_OFF:
        return False
    msg = (
        f"{ENV_OFFLINE}={raw!r} is not a recognised value; use one of {', '.join(OFFLINE_ON)} "
        f"for offline, or {', '.join(v for v in OFFLINE_OFF if v)} (or unset it) to allow "
        "network access"
    )
    raise ConfigError(msg)


def cache_dir() -> str | None:
    """``$MNIST_WIDGETS_CACHE`` if set and non-empty, else ``None`` (the default store)."""
    return os.environ.get(ENV_CACHE) or None
