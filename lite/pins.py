"""The sha256 of every Pyodide 0.27.7 file the site trusts as-is: the lock and the core.

The package files (numpy, Pillow, ...) are checked against the lock's own sha256 entries, so the
lock must itself be the official one: a numpy wheel altered together with a matching edit to the
lock would otherwise pass. Likewise the core (``pyodide.asm.js`` runs every package, and an added
``fetch()`` to another host would go unseen). Pinning both closes the chain: pinned lock ->
package hashes; pinned core. These are the files of the npm tarball ``pyodide@0.27.7`` (itself
pinned in ``build.py``); ``PYODIDE_DIST`` (a release tarball extracted) must pass the same pins.

Stdlib only, like ``build.py``, which calls :func:`verified` on every lock and core file it reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["PINNED_SHA256", "PinError", "verified"]

PINNED_SHA256: Mapping[str, str] = MappingProxyType(
    {
        "pyodide-lock.json": "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c",
        "pyodide.js": "b4cb23a53aba19c221659b9fb40a2f18281d685691dc06647fb0afd0681baf98",
        "pyodide.mjs": "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f",
        "pyodide.asm.js": "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51",
        "pyodide.asm.wasm": "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f",
        "python_stdlib.zip": "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16",
    }
)


class PinError(Exception):
    """A Pyodide file is not the official one (or is not pinned at all)."""


def verified(name: str, data: bytes, *, origin: str = "the Pyodide distribution") -> bytes:
    """``data`` if it is the official Pyodide 0.27.7 ``name``; else :class:`PinError`.

    >>> verified("pyodide.asm.js", b"fetch('https://elsewhere.example')")
    Traceback (most recent call last):
    ...
    pins.PinError: pyodide.asm.js from the Pyodide distribution has sha256 ...
    """
    expected = PINNED_SHA256.get(name)
    if expected is None:
        raise PinError(f"{name} has no pinned sha256: only {', '.join(PINNED_SHA256)} are trusted")
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        msg = (
            f"{name} from {origin} has sha256 {digest}, not the official Pyodide 0.27.7 file's "
            f"{expected}; refusing to ship it (use the official release, unmodified)"
        )
        raise PinError(msg)
    return data
