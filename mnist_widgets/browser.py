"""What the tutorials' web app keeps in this browser (JupyterLite's Pyodide kernel only).

The site saves itself (its service worker's cache) and the model store (``/drive``, IndexedDB)
in the browser's storage for the site. :func:`storage_usage` says how much that is, how much the
browser allows, and whether the browser agreed to keep it (``navigator.storage.persist()``, which
the site's page asks for) rather than evict it when the disk runs low::

    print(await mw.browser.storage_usage())

Outside the browser it raises :class:`NotInBrowserError`: the full install keeps models in the
model store on disk (``mnist-widgets cache list``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._env import in_browser
from .errors import MnistWidgetsError

__all__ = ["NotInBrowserError", "StorageUsage", "in_browser", "storage_usage"]


class NotInBrowserError(MnistWidgetsError, RuntimeError):
    """A browser-only function was called outside the browser (not in Pyodide)."""


@dataclass(frozen=True)
class StorageUsage:
    """The site's storage in this browser (``navigator.storage.estimate()``/``persisted()``)."""

    used_bytes: int
    quota_bytes: int
    persisted: bool

    def __str__(self) -> str:
        kept = (
            "kept: yes (the browser will not evict it to free space)"
            if self.persisted
            else "kept: not guaranteed (the browser may evict it when space runs low)"
        )
        return (
            f"this site stores {self.used_bytes / 1e6:.1f} MB in this browser (the app and the "
            f"model), of {self.quota_bytes / 1e9:.1f} GB allowed; {kept}"
        )


async def storage_usage() -> StorageUsage:
    """The site's browser storage: bytes used, the browser's quota, and whether it is kept."""
    if not in_browser():
        msg = (
            "storage_usage() reads the browser's storage: it works in the JupyterLite site only "
            "(here, the model store is on disk: `mnist-widgets cache list`)"
        )
        raise NotInBrowserError(msg)
    from js import navigator  # deferred: Pyodide's bridge to JavaScript exists only there

    estimate = await navigator.storage.estimate()
    persisted = await navigator.storage.persisted()
    return StorageUsage(int(estimate.usage), int(estimate.quota), bool(persisted))
