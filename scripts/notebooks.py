"""Execute the tutorials and keep their committed outputs honest.

    python scripts/notebooks.py execute [NOTEBOOK...]   re-run in place, save outputs + widget state
    python scripts/notebooks.py check                   fail if an output predates the code

``execute`` runs each notebook in a fresh kernel (nbclient, ``store_widget_state=True``, so
JupyterLab and nbviewer show the widgets rather than a ``repr``), in order, in a scratch copy of
``notebooks/`` with its own empty model store, and stamps each notebook's metadata with a
*fingerprint*: a SHA-256 of everything its outputs depend on that lives in this repository (the
package's sources, the shipped model, the notebook's own cells). ``check`` recomputes it: a change
to any of those makes the committed outputs stale, and `make test` says so until `make notebooks`
runs again.

Notebook 01 runs in full mode (10 epochs on all 60,000 images: about 3 minutes of training on a
quiet 2-core machine, the five notebooks about 7-8): the committed outputs are what a reader sees
on GitHub, so they show the real model's learning curves and confusion matrix, not a three-epoch
sketch. ``MNIST_WIDGETS_QUICK=1 make notebooks`` commits a quick run instead (its metadata says so).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
TUTORIALS = ("01_train", "02_export", "03_offline_cache", "04_draw", "05_teach")
METADATA_KEY = "mnist_widgets"
#: Environment of `make notebooks`' kernels (see the module docstring for quick mode).
NOTEBOOK_ENV = {"MNIST_WIDGETS_QUICK": os.environ.get("MNIST_WIDGETS_QUICK", "0")}
TIMEOUT = 3600  # seconds per cell: a guard against a hang (full training: ~3 min when quiet)


def _sources_digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _cells_digest(notebook: Mapping[str, Any]) -> str:
    cells = [(c["cell_type"], "".join(c["source"])) for c in notebook["cells"]]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def fingerprint(notebook: Mapping[str, Any]) -> str:
    """SHA-256 of what ``notebook``'s outputs depend on in this repository."""
    package = [*(REPO / "mnist_widgets").rglob("*.py"), *(REPO / "mnist_widgets").rglob("*.npz")]
    model = [p for p in (REPO / "models" / "mnist").iterdir() if p.is_file()]
    parts = [_sources_digest(package), _sources_digest(model), _cells_digest(notebook)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def execute(path: Path, *, workdir: Path, env: Mapping[str, str] | None = None) -> Any:
    """Run ``path`` top to bottom in a fresh kernel whose working directory is ``workdir``, with
    ``env`` added to its environment; return the executed notebook (``path`` is not written)."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    previous = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})  # the kernel inherits this process's environment
    try:
        nbclient.NotebookClient(
            notebook,
            timeout=TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
            store_widget_state=True,
        ).execute()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def stamp(notebook: Any) -> None:
    """Record in ``notebook``'s metadata what its outputs came from."""
    notebook.metadata[METADATA_KEY] = {
        "fingerprint": fingerprint(notebook),
        "environment": NOTEBOOK_ENV,
    }


def stale(paths: Iterable[Path]) -> list[str]:
    """One line per notebook whose committed outputs did not come from this code."""
    problems = []
    for path in paths:
        notebook = json.loads(path.read_text())
        stamp = notebook.get("metadata", {}).get(METADATA_KEY, {}).get("fingerprint")
        if stamp is None:
            problems.append(
                f"{path.name}: its outputs carry no fingerprint (never `make notebooks`)"
            )
        elif stamp != fingerprint(notebook):
            problems.append(
                f"{path.name}: its outputs come from other code, model or cells than this commit's"
            )
    return problems


def tutorial_paths(names: Iterable[str] = TUTORIALS) -> list[Path]:
    return [NOTEBOOKS / f"{Path(name).stem}.ipynb" for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="re-execute notebooks in place, with outputs")
    run.add_argument("notebooks", nargs="*", default=list(TUTORIALS))
    sub.add_parser("check", help="exit 1 if a committed output predates the code")
    args = parser.parse_args(argv)
    import nbformat

    paths = tutorial_paths(args.notebooks if args.command == "execute" else TUTORIALS)
    if args.command == "check":
        problems = stale(paths)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("run `make notebooks` and commit the notebooks", file=sys.stderr)
        return 1 if problems else 0
    with tempfile.TemporaryDirectory(prefix="mnist-widgets-notebooks-") as tmp:
        work = Path(tmp) / "notebooks"
        shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns("work", ".*"))
        env = {**NOTEBOOK_ENV, "MNIST_WIDGETS_CACHE": str(Path(tmp) / "model-store")}
        for path in paths:
            start = time.perf_counter()
            executed = execute(path, workdir=work, env=env)
            stamp(executed)
            nbformat.write(executed, path)
            print(f"{path.name}: executed in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
