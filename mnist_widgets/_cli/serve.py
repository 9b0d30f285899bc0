"""``mnist-widgets serve DIR``: serve a model directory over HTTP (the article's static server)."""

from __future__ import annotations

import argparse
import threading

from ..errors import MnistWidgetsError
from ._types import port


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model directory over HTTP (ETag, conditional GET, CORS)",
        description="Serve DIR (e.g. one holding model.json and its weight files) over HTTP until "
        "Ctrl-C. Answers conditional requests with 304 and sends CORS headers, so both "
        "fetch_model and a browser page can load from it.",
    )
    parser.add_argument("directory", metavar="DIR", help="directory to serve")
    parser.add_argument(
        "--port", type=port, default=8000, help="port, 0 to 65535 (default 8000; 0 = any free)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1: this machine only)",
    )
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..serve import serve_directory  # deferred: tornado only when serving

    try:
        server = serve_directory(args.directory, host=args.host, port=args.port)
    except NotADirectoryError as exc:
        raise MnistWidgetsError(str(exc)) from exc
    except OSError as exc:  # includes socket.gaierror for a --host that does not resolve
        msg = (
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
            "pick another port with --port (0 = any free port)"
        )
        raise MnistWidgetsError(msg) from exc
    try:
        model_json = server.url + "model.json"
        print(f"Serving {args.directory} at {server.url} (Ctrl-C to stop)", flush=True)
        print(f"  load it with: fetch_model({model_json!r})", flush=True)
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.stop()
    return 0
