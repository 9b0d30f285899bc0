"""Shared fixtures. Area-specific fixtures live in the test module that uses them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
JS_DIR = REPO_ROOT / "tests" / "js"


@pytest.fixture(scope="session")
def seed_model_dir() -> Path:
    """The article author's model, saved by tfjs-layers 0.8 (Sequential config as a plain list)."""
    return REPO_ROOT / "tests" / "fixtures" / "seed-model"


@pytest.fixture(scope="session")
def mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The real MNIST data (``make data`` fetches it onto an offline machine)."""
    from mnist_widgets.data import load_mnist

    return load_mnist()


@pytest.fixture(autouse=True)
def _isolated_model_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Path:
    """No test reads or writes the user's real model store, and none goes offline by accident."""
    cache = tmp_path_factory.mktemp("model-store")
    monkeypatch.setenv("MNIST_WIDGETS_CACHE", str(cache))
    monkeypatch.delenv("MNIST_WIDGETS_OFFLINE", raising=False)
    return cache


NodeRunner = Callable[..., str]


@pytest.fixture(scope="session")
def node_tfjs() -> NodeRunner:
    """Run ``node tests/js/SCRIPT args...`` with real @tensorflow/tfjs 4.22.0; return its stdout.

    A failing script's stderr goes into the failure message, so TF.js errors read like Python's.
    """
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        pytest.fail(
            "TF.js tests need Node.js and tests/js/node_modules: "
            "run `make node` (part of `make test`)"
        )

    def run(script: str, *args: str | os.PathLike, timeout: float = 300) -> str:
        proc = subprocess.run(
            [node, str(JS_DIR / script), *map(str, args)],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"node {script} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return proc.stdout

    return run
