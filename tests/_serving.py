"""A model server that keeps a log of every request, for tests that check what a client asked.

``RecordingServer`` wraps any tornado application (``make_app``'s, or the fault server's) with
public tornado hooks only: a request is counted as started when its headers arrive (a connection
delegate) and as answered when tornado logs it (the ``log_function`` setting). A client can read a
whole response before tornado logs it, so ``requests`` first waits until none is in flight.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from tornado.httputil import HTTPMessageDelegate, HTTPServerConnectionDelegate
from tornado.web import Application, RequestHandler

from mnist_widgets.serve import ModelServer, RequestRecord, make_app


class _Counting(HTTPMessageDelegate):
    def __init__(self, inner: HTTPMessageDelegate, server: RecordingServer) -> None:
        self._inner, self._server = inner, server

    def headers_received(self, start_line: Any, headers: Any) -> Any:
        with self._server._cond:
            self._server._in_flight += 1
        return self._inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self._inner.data_received(chunk)

    def finish(self) -> None:
        self._inner.finish()

    def on_connection_close(self) -> None:
        self._inner.on_connection_close()


class _CountingApp(HTTPServerConnectionDelegate):
    def __init__(self, app: Application, server: RecordingServer) -> None:
        self._app, self._server = app, server

    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        return _Counting(self._app.start_request(server_conn, request_conn), self._server)

    def on_close(self, server_conn: object) -> None:
        self._app.on_close(server_conn)


class RecordingServer(ModelServer):
    """A :class:`ModelServer` whose ``requests`` lists every answered request, in order."""

    def __init__(self, app: Application, **kwargs: Any) -> None:
        self._requests: list[RequestRecord] = []
        self._in_flight = 0
        self._cond = threading.Condition()
        app.settings["log_function"] = self._record
        super().__init__(_CountingApp(app, self), **kwargs)

    def _record(self, handler: RequestHandler) -> None:
        record = RequestRecord.of(handler)
        with self._cond:
            self._requests.append(record)
            self._in_flight = max(0, self._in_flight - 1)
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until no request is being answered; return whether that happened in time."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight == 0, timeout)

    @property
    def requests(self) -> list[RequestRecord]:
        self.wait_idle()
        with self._cond:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests (e.g. between phases of a test)."""
        self.wait_idle()
        with self._cond:
            self._requests.clear()

    def stop(self) -> None:
        super().stop()
        with self._cond:  # nothing more will be answered: wake anyone waiting
            self._in_flight = 0
            self._cond.notify_all()


def serve_directory(
    directory: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0
) -> RecordingServer:
    """:func:`mnist_widgets.serve.serve_directory`, with a request log."""
    return RecordingServer(make_app(directory), host=host, port=port)
