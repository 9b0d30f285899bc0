"""The ``mnist-widgets`` command line: ``data | train | export | serve | cache | predict``.

Every failure a user can cause or meet (a bad argument, a missing or corrupt file, a full disk, a
server that misbehaves) ends here as one line on stderr and a non-zero exit code: 2 for arguments
argparse refuses, 1 for the package's errors and the operating system's, 130 for Ctrl-C. A
traceback means a bug in mnist-widgets.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from . import __version__, _cli
from ._tf import quiet_environment
from .errors import MnistWidgetsError

# What to do about an OSError the command could not avoid, by errno.
_OS_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up: free some space or write somewhere else",
    errno.EACCES: "check the permissions, or use another path",
    errno.EPERM: "check the permissions, or use another path",
    errno.EROFS: "the file system is read-only: use another path",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a file is in the way where a directory is needed: use another path",
    errno.EEXIST: "a file is in the way where a directory is needed: use another path",
    errno.EISDIR: "a directory is in the way where a file is needed: use another path",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-widgets",
        description="Train the MNIST digit model, export it for TF.js or ONNX, serve it, keep it "
        "in the offline model store, and predict drawn digits; copy the tutorials out.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(_cli.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{_cli.__name__}.{info.name}").register(subparsers)
    return parser


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError: which file, what the system said, and what to do."""
    where = " -> ".join(str(name) for name in (exc.filename, exc.filename2) if name is not None)
    what = exc.strerror or str(exc) or type(exc).__name__
    line = f"{where}: {what}" if where else what
    advice = _OS_ADVICE.get(exc.errno or 0)
    return f"{line} ({advice})" if advice else line


def main(argv: Sequence[str] | None = None) -> int:
    quiet_environment()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MnistWidgetsError as exc:
        message = str(exc)
    except OSError as exc:
        message = describe_os_error(exc)
    except KeyboardInterrupt:
        print(f"mnist-widgets {args.command}: interrupted", file=sys.stderr)
        return 130
    print(f"mnist-widgets {args.command}: error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
