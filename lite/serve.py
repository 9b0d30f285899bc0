"""Serve the built JupyterLite site as a static host would: ``make lite-serve`` (stdlib only).

    python lite/serve.py [--directory build/lite] [--port 8800] [--bind 127.0.0.1]

What it adds to ``python -m http.server``:

- **Precompressed files.** ``lite/build.py`` writes ``FILE.br`` and ``FILE.gz`` next to every
  compressible file; a request whose ``Accept-Encoding`` allows it gets the smaller one with
  ``Content-Encoding: br`` (or ``gzip``) and ``Vary: Accept-Encoding``. Netlify, Cloudflare
  Pages, nginx (``brotli_static``/``gzip_static``) and Caddy (``file_server { precompressed }``)
  do the same; GitHub Pages compresses text types itself (gzip) but not ``.wasm``.
- **Types**: ``.wasm`` is ``application/wasm`` (streaming compilation needs it), ``.mjs`` is
  JavaScript, ``.webmanifest`` is ``application/manifest+json``.
- **Validators**: a content-hash ``ETag`` and ``Cache-Control: no-cache``, so a browser
  revalidates (304, no body) instead of guessing freshness. Offline visits never reach this server:
  the site's service worker answers them from its precache.

The compressed siblings themselves are not served under their own names.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import sys
import threading
from functools import partial
from pathlib import Path
from typing import IO, Any

PORT = 8800
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))  # preferred first
TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".whl": "application/octet-stream",
    ".ipynb": "application/json",
}


def accepted(header: str) -> set[str]:
    """The codings an ``Accept-Encoding`` header allows (``q=0`` excluded)."""
    out = set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            allowed = float(q) > 0
        except ValueError:
            allowed = False
        if name and allowed:
            out.add(name.strip().lower())
    return out


_ETAGS: dict[tuple[str, int, int], str] = {}
_ETAGS_LOCK = threading.Lock()


def etag(path: Path) -> str:
    """A strong ETag from the file's content (cached by path, size and mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _ETAGS_LOCK:
        if key in _ETAGS:
            return _ETAGS[key]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    with _ETAGS_LOCK:
        _ETAGS[key] = f'"{digest}"'
    return _ETAGS[key]


class Handler(http.server.SimpleHTTPRequestHandler):
    """``SimpleHTTPRequestHandler`` plus precompressed files, content-hash ETags and no-cache."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}  # noqa: RUF012

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("LITE_SERVE_LOG"):
            super().log_message(format, *args)

    def send_head(self) -> IO[bytes] | None:  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path = path / "index.html"
        if path.suffix in {".br", ".gz"} and path.with_suffix("").is_file():
            self.send_error(404, "File not found")  # siblings are served only as encodings
            return None
        if not path.is_file():
            return super().send_head()  # directories, redirects, 404s: the base class's way
        tag = etag(path)
        if tag in {t.strip() for t in self.headers.get("If-None-Match", "").split(",")}:
            self.send_response(304)
            self.send_header("ETag", tag)
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            return None
        body, coding = path, None
        allowed = accepted(self.headers.get("Accept-Encoding", ""))
        for name, suffix in ENCODINGS:
            sibling = path.with_name(path.name + suffix)
            if name in allowed and sibling.is_file():
                body, coding = sibling, name
                break
        try:
            handle = body.open("rb")
        except OSError:
            self.send_error(404, "File not found")
            return None
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(body.stat().st_size))
        if coding:
            self.send_header("Content-Encoding", coding)
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("ETag", tag)
        self.send_header("Last-Modified", self.date_time_string(int(path.stat().st_mtime)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return handle


def make_server(
    directory: Path, port: int = PORT, bind: str = "127.0.0.1", handler: type[Handler] = Handler
) -> http.server.ThreadingHTTPServer:
    """A threading server for ``directory`` (not started: call ``serve_forever``)."""
    server = http.server.ThreadingHTTPServer(
        (bind, port), partial(handler, directory=str(directory))
    )
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--directory", type=Path, default=Path("build/lite"))
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args(argv)
    if not (args.directory / "index.html").is_file():
        print(f"{args.directory} holds no built site: run `make lite` first", file=sys.stderr)
        return 1
    try:
        server = make_server(args.directory, args.port, args.bind)
    except OSError as exc:
        print(f"cannot listen on {args.bind}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"Serving {args.directory} on http://{args.bind}:{args.port}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
