"""``mnist-widgets tutorials DIR``: copy the tutorial notebooks out of the installed package."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ..errors import MnistWidgetsError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tutorials",
        help="copy the five tutorial notebooks into a directory",
        description="Copy the tutorial notebooks (01_train, 02_export, 03_offline_cache, "
        "04_draw, 05_teach) into DIR, created if needed; then open them with "
        "`jupyter lab DIR`. They "
        'need the [notebooks] extra (pip install "mnist-widgets[notebooks]") and, for 01, '
        "02 and 04, the MNIST data (`mnist-widgets data fetch`); the model ships with the "
        "package. Existing notebooks are kept unless --force.",
    )
    parser.add_argument("dest", metavar="DIR", type=Path, help="where to put the notebooks")
    parser.add_argument(
        "--force", action="store_true", help="overwrite notebooks of the same name in DIR"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .._shipped import TUTORIALS, tutorials_dir  # deferred, like every import here: --help

    source = tutorials_dir()
    dest: Path = args.dest.expanduser()
    if dest.exists() and not dest.is_dir():
        raise MnistWidgetsError(f"{dest} is a file; pass a directory (it will be created)")
    clashes = [name for name in TUTORIALS if (dest / name).exists()]
    if clashes and not args.force:
        msg = (
            f"{dest} already has {', '.join(clashes)}; pass --force to overwrite, or choose "
            "another directory (your edits are in those files)"
        )
        raise MnistWidgetsError(msg)
    dest.mkdir(parents=True, exist_ok=True)
    for name in TUTORIALS:
        shutil.copyfile(source / name, dest / name)
    print(f"copied {len(TUTORIALS)} notebooks to {dest}: {', '.join(TUTORIALS)}")
    print(f"next: `mnist-widgets data fetch` (MNIST, once), then `jupyter lab {dest}`")
    return 0
