"""What a server said about one file (``ETag``, ``Last-Modified``): the one shape, shared by the
download code that receives and sends them and the store that records them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Validators:
    """A file's validators, for conditional requests later (``None``: the server sent none).

    Examples
    --------
    >>> Validators('"abc"').conditional_headers()
    {'If-None-Match': '"abc"'}
    >>> Validators().conditional_headers()
    {}
    """

    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)

    def conditional_headers(self) -> dict[str, str]:
        """The request headers that ask "send it only if it changed"."""
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers
