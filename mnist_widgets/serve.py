"""Serve a directory of model files over HTTP on 127.0.0.1, in the background.

The article serves its TF.js model with a static file server; this is that server, usable from a
notebook or a test. It is built on tornado (already in the Jupyter stack), whose static file handler
answers conditional requests (``ETag`` / ``If-None-Match``, ``Last-Modified`` /
``If-Modified-Since``) with 304, so clients can revalidate a cached model without downloading it
again. CORS headers let a browser page on another origin load the model too.

Example
-------
>>> from mnist_widgets.serve import serve_directory
>>> with serve_directory("models/mnist") as server:  # doctest: +SKIP
...     print(server.url + "model.json")
http://127.0.0.1:54321/model.json
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler, StaticFileHandler

__all__ = ["ModelServer", "RequestRecord", "make_app", "serve_directory"]

_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since, Range",
    "Access-Control-Expose-Headers": "ETag, Last-Modified, Content-Length",
}


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered (for tests and for watching what a client does)."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    time: float = 0.0


class _CorsMixin(RequestHandler):
    def set_default_headers(self) -> None:
        for key, value in _CORS_HEADERS.items():
            self.set_header(key, value)

    def options(self, *args: Any) -> None:  # CORS preflight
        self.set_status(204)
        self.finish()


class ModelFileHandler(_CorsMixin, StaticFileHandler):
    """Static files with CORS and an ETag that follows the file's content.

    tornado caches static ETags per path for the life of the process, so a model replaced on disk
    would keep its old ETag and clients would be told "304 Not Modified" forever. We key the
    content hash on (path, size, mtime) instead.
    """

    _etags: ClassVar[dict[tuple[str, int, int], str]] = {}
    _etag_lock: ClassVar[threading.Lock] = threading.Lock()

    def compute_etag(self) -> str | None:
        assert self.absolute_path is not None
        try:
            stat = os.stat(self.absolute_path)
        except OSError:
            return None
        key = (self.absolute_path, stat.st_size, stat.st_mtime_ns)
        with self._etag_lock:
            etag = self._etags.get(key)
        if etag is None:
            digest = hashlib.sha256()
            with open(self.absolute_path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            etag = f'"{digest.hexdigest()[:32]}"'
            with self._etag_lock:
                self._etags[key] = etag
        return etag


def make_app(directory: str | os.PathLike, handlers: list | None = None) -> Application:
    """A tornado application serving ``directory``; ``handlers`` are routed before the files."""
    root = Path(directory).resolve()
    if not root.is_dir():
        msg = f"cannot serve {str(directory)!r}: not a directory (pass the folder with model.json)"
        raise NotADirectoryError(msg)
    routes = [*(handlers or []), (r"/(.*)", ModelFileHandler, {"path": str(root)})]
    return Application(routes)


class ModelServer:
    """An HTTP server running on its own event loop in a daemon thread.

    Attributes
    ----------
    url : str
        ``http://HOST:PORT/`` (always ends in ``/``).
    port : int
        The bound port (useful with ``port=0``, which picks a free one).
    requests : list of RequestRecord
        Every answered request, in order (waits briefly for requests still being answered).
    """

    def __init__(self, app: Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._requests: list[RequestRecord] = []
        self._in_flight = 0
        self._stopped = False
        self._cond = threading.Condition()
        app.settings["log_function"] = self._record
        # A client can read the whole response before tornado logs it; counting requests from the
        # moment they are routed lets ``requests`` wait for the ones still finishing.
        route = app.find_handler

        def find_handler(request: Any, **kwargs: Any) -> Any:
            with self._cond:
                self._in_flight += 1
            return route(request, **kwargs)

        app.find_handler = find_handler  # type: ignore[method-assign]
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

    def _record(self, handler: RequestHandler) -> None:
        request = handler.request
        record = RequestRecord(
            method=request.method or "",
            path=request.path,
            status=handler.get_status(),
            headers=dict(request.headers.items()),
            time=time.time(),
        )
        with self._cond:
            self._requests.append(record)
            self._in_flight = max(0, self._in_flight - 1)
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until no request is being answered; return whether that happened in time."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight == 0 or self._stopped, timeout)

    @property
    def requests(self) -> list[RequestRecord]:
        self.wait_idle()
        with self._cond:
            return list(self._requests)

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
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive() and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            self._thread.join(timeout=10)

    def clear_requests(self) -> None:
        """Forget the recorded requests (e.g. between phases of a test)."""
        self.wait_idle()
        with self._cond:
            self._requests.clear()

    def __enter__(self) -> ModelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_directory(
    directory: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0
) -> ModelServer:
    """Serve ``directory`` over HTTP in a background thread until ``stop()`` or the ``with`` ends.

    Parameters
    ----------
    directory : path
        Folder to serve (e.g. one holding ``model.json`` and its weight files).
    host : str
        Interface to bind; the default keeps the server private to this machine.
    port : int
        Port to bind; 0 picks a free one (read it from ``server.port``).

    Returns
    -------
    ModelServer
        Already listening, with ``.url`` (ending in ``/``), ``.port``, ``.requests`` and
        ``.stop()``. It is a context manager, so scripts can write ``with serve_directory(...)``;
        a notebook can start it in one cell and stop it in another.

    Examples
    --------
    >>> with serve_directory("models/mnist") as server:  # doctest: +SKIP
    ...     result = fetch_model(server.url + "model.json")
    >>> server = serve_directory("models/mnist")  # doctest: +SKIP
    >>> server.stop()  # doctest: +SKIP
    """
    return ModelServer(make_app(directory), host=host, port=port)
