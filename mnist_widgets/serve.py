"""Serve a directory of model files over HTTP on 127.0.0.1, in the background.

The article serves its TF.js model with a static file server; this is that server, usable from a
notebook or a test. It is built on tornado (already in the Jupyter stack), whose static file handler
answers conditional requests (``ETag`` / ``If-None-Match``, ``Last-Modified`` /
``If-Modified-Since``) with 304, so clients can revalidate a cached model without downloading it
again. CORS headers let a browser page on another origin load the model too, so nothing whose name
starts with a dot (``.env``, ``.git/config``) is ever served: those answer 404.

Example
-------
>>> import urllib.request
>>> from mnist_widgets import shipped_model_dir
>>> seen = []
>>> with serve_directory(shipped_model_dir(), on_request=seen.append) as server:
...     response = urllib.request.urlopen(server.url + "model.json")
>>> response.status, response.headers["Access-Control-Allow-Origin"]
(200, '*')
>>> [(r.method, r.path, r.status) for r in seen]
[('GET', '/model.json', 200)]
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tornado.concurrent import Future
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerConnectionDelegate
from tornado.netutil import bind_sockets
from tornado.web import Application, HTTPError, RequestHandler, StaticFileHandler

from .errors import ConfigError

__all__ = ["ModelServer", "RequestRecord", "make_app", "serve_directory"]

_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since, Range",
    "Access-Control-Expose-Headers": "ETag, Last-Modified, Content-Length",
}
ETAG_CACHE_SIZE = 1024  # (path, size, mtime) -> content hash entries kept per application


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered: what ``on_request`` receives."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    time: float = 0.0

    @classmethod
    def of(cls, handler: RequestHandler) -> RequestRecord:
        """The request ``handler`` answers, with the status it has set."""
        request = handler.request
        return cls(
            method=request.method or "",
            path=request.path,
            status=handler.get_status(),
            headers=dict(request.headers.items()),
            time=time.time(),
        )


RequestCallback = Callable[[RequestRecord], None]


class _EtagCache:
    """Content hashes keyed on (path, size, mtime): a file replaced on disk gets a new ETag.

    tornado caches static ETags per path for the life of the process, so a model replaced on disk
    would keep its old ETag and clients would be told "304 Not Modified" forever. One cache per
    application, least recently used entries dropped past ``maxsize``.
    """

    def __init__(self, maxsize: int | None = None) -> None:
        self._maxsize = ETAG_CACHE_SIZE if maxsize is None else maxsize
        self._etags: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._etags)

    def etag(self, path: str) -> str | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (path, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._etags:
                self._etags.move_to_end(key)
                return self._etags[key]
        # Streamed, not _fs.sha256_hex: a served file can be large and need not fit in memory.
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        etag = f'"{digest.hexdigest()[:32]}"'
        with self._lock:
            self._etags[key] = etag
            while len(self._etags) > self._maxsize:
                self._etags.popitem(last=False)
        return etag


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in PurePosixPath(relative.replace(os.sep, "/")).parts)


class ModelFileHandler(StaticFileHandler):
    """Static files with CORS, an ETag that follows the file's content, and no dot-files."""

    def set_default_headers(self) -> None:
        for key, value in _CORS_HEADERS.items():
            self.set_header(key, value)

    def options(self, *args: str) -> None:  # CORS preflight
        self.set_status(204)
        self.finish()

    # tornado passes a handler's keyword arguments to initialize, which each handler class
    # declares for itself: its signature differs from the base class's by design.
    def initialize(  # type: ignore[override]
        self,
        path: str,
        *,
        etags: _EtagCache,
        on_request: RequestCallback | None = None,
    ) -> None:
        super().initialize(path)
        self._etags = etags
        self._on_request = on_request
        self._reported = False

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        # Both the path asked for and where a symlink leads: a link named "config" to ".env" too.
        if _hidden(os.path.relpath(absolute_path, root)):
            raise HTTPError(404)
        resolved = super().validate_absolute_path(root, absolute_path)
        real_root = os.path.realpath(root)
        if resolved is not None and _hidden(os.path.relpath(os.path.realpath(resolved), real_root)):
            raise HTTPError(404)
        return resolved

    def compute_etag(self) -> str | None:
        assert self.absolute_path is not None
        return self._etags.etag(self.absolute_path)

    # tornado reads a file to its end, whatever Content-Length said: a file replaced while it is
    # being sent (a retrained model) put bytes past the length on the wire, and tornado reset
    # the connection, failing the client's next request on it. Stop where the headers promised.
    def get_content(  # type: ignore[override]
        self, abspath: str, start: int | None = None, end: int | None = None
    ) -> Generator[bytes, None, None]:
        return super().get_content(abspath, start, self.get_content_size() if end is None else end)

    def flush(self, include_footers: bool = False) -> Future[None]:
        # The first flush sends the status line: report the request before any byte leaves, so a
        # client holding the response can rely on its record having been delivered.
        if not self._reported:
            self._reported = True
            if self._on_request is not None:
                self._on_request(RequestRecord.of(self))
        return super().flush(include_footers)


def make_app(
    directory: str | os.PathLike[str], *, on_request: RequestCallback | None = None
) -> Application:
    """A tornado application serving ``directory`` (for :class:`ModelServer` or your own server).

    Raises
    ------
    NotADirectoryError
        ``directory`` is not a directory.
    """
    if "\x00" in os.fspath(directory):  # os calls would raise a bare ValueError
        raise ConfigError(f"cannot serve {str(directory)!r}: a path cannot hold a NUL byte")
    root = Path(directory).resolve()
    if not root.is_dir():
        msg = f"cannot serve {str(directory)!r}: not a directory (pass the folder with model.json)"
        raise NotADirectoryError(msg)
    files = {"path": str(root), "etags": _EtagCache(), "on_request": on_request}
    return Application([(r"/(.*)", ModelFileHandler, files)])


class ModelServer:
    """An HTTP server running ``app`` on its own event loop in a daemon thread.

    Attributes
    ----------
    url : str
        ``http://HOST:PORT/`` (always ends in ``/``).
    host : str
        The interface bound.
    port : int
        The bound port (useful with ``port=0``, which picks a free one).
    """

    def __init__(
        self, app: HTTPServerConnectionDelegate, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        # ``app``: a tornado Application, or any HTTPServerConnectionDelegate wrapping one.
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            # tornado's bind_sockets would take 99999 and quietly listen on another port.
            msg = f"port must be an integer from 0 to 65535 (0 = any free port), got {port!r}"
            raise ConfigError(msg)
        self._app = app
        # Bind in the caller's thread so a busy port raises here, not in the background.
        self._sockets = bind_sockets(port, host)
        self.host = host
        self.port: int = self._sockets[0].getsockname()[1]
        self.url = f"http://{host}:{self.port}/"
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"model-server-{self.port}")
        self._thread.daemon = True
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = HTTPServer(self._app)
            self._server.add_sockets(self._sockets)
        except BaseException as exc:  # reported to the constructor's thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
        self._loop.stop()

    def stop(self) -> None:
        """Stop accepting connections, close open ones, and join the thread (idempotent)."""
        if self._thread.is_alive() and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            self._thread.join(timeout=10)

    def __enter__(self) -> ModelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_directory(
    directory: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_request: RequestCallback | None = None,
) -> ModelServer:
    """Serve ``directory`` over HTTP in a background thread until ``stop()`` or the ``with`` ends.

    Parameters
    ----------
    directory : path
        Folder to serve (e.g. one holding ``model.json`` and its weight files). Files and folders
        whose name starts with a dot are never served.
    host : str
        Interface to bind; the default keeps the server private to this machine.
    port : int
        Port to bind, 0 to 65535; 0 picks a free one (read it from ``server.port``).
    on_request : callable, optional
        Called with a :class:`RequestRecord` for every request, from the server's thread, just
        before the response is sent (``seen.append`` keeps a log).

    Returns
    -------
    ModelServer
        Already listening, with ``.url`` (ending in ``/``), ``.port`` and ``.stop()``. It is a
        context manager, so scripts can write ``with serve_directory(...)``; a notebook can start
        it in one cell and stop it in another.

    Raises
    ------
    NotADirectoryError
        ``directory`` is not a directory.
    ConfigError
        ``port`` is not an integer from 0 to 65535.
    OSError
        The port cannot be bound (in use, or not allowed).

    Examples
    --------
    >>> from mnist_widgets import shipped_model_dir
    >>> server = serve_directory(shipped_model_dir())
    >>> server.url.startswith("http://127.0.0.1:") and server.url.endswith("/")
    True
    >>> server.stop()
    """
    return ModelServer(make_app(directory, on_request=on_request), host=host, port=port)
