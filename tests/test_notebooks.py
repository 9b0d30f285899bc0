"""The tutorials as a user runs them: run all, restart, run all again, against one model store;
and their committed outputs come from this commit's code."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebook_runner", REPO / "scripts/notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


notebooks = _runner()


def _texts(notebook: Any, stream: str) -> list[str]:
    return [
        "".join(out.get("text", ""))
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == stream
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["03_offline_cache", "04_draw", "05_teach"])
def test_a_tutorial_runs_twice_against_one_store_without_a_warning(name, tmp_path, monkeypatch):
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(REPO / "notebooks" / f"{name}.ipynb", work)
    monkeypatch.setenv("MNIST_WIDGETS_CACHE", str(tmp_path / "store"))  # shared by both runs
    path = work / f"{name}.ipynb"
    env = {"MNIST_WIDGETS_QUICK": "1"}
    first = notebooks.execute(path, workdir=work, env=env)
    second = notebooks.execute(path, workdir=work, env=env)  # a new kernel: a restart
    for run in (first, second):
        assert _texts(run, "stderr") == []  # no warning, no log noise
    out = "".join(_texts(second, "stdout"))
    if name == "05_teach":  # the second run starts from the personal model the first saved
        assert "no personal model yet" in "".join(_texts(first, "stdout"))
        assert "taught with 10 drawings (cache://mnist-mine)" in out
        assert "same answers as before saving: True" in out
    elif name == "04_draw":  # the second run loads from the store, and says so
        assert "model from the network" in "".join(_texts(first, "stdout"))
        # the first run's download bar is labelled by the model's folder, as in 03
        state = json.dumps(first.metadata["widgets"])
        assert '"mnist: ' in state or '"mnist:' in state
        assert "model from the cache" in out and "and again: from the cache" in out
        # saved with the widgets' state, and a PNG of each canvas for renderers without widgets
        assert second.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        canvases = [
            o["data"]
            for cell in second.cells
            for o in cell.get("outputs", [])
            if o.get("data", {}).get("text/plain", "").startswith("DigitCanvas")
        ]
        assert canvases and all("image/png" in data for data in canvases)
        pngs = [
            o
            for c in second.cells
            for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})
        ]
        assert len(pngs) >= 2  # the empty canvas, and the snapshot of the drawn 7
    else:  # 03 starts from an empty store of its own each run, and tells the same story twice
        assert out.count("source='network' stored as cache://mnist") == 1
        assert "network-only offline -> OfflineError" in out


def test_committed_notebook_outputs_come_from_this_commits_code():
    problems = notebooks.stale(notebooks.tutorial_paths())
    assert problems == [], "\n".join([*problems, "run `make notebooks` and commit the notebooks"])


def test_the_fingerprint_changes_with_the_cells_but_not_with_the_outputs():
    notebook = json.loads((REPO / "notebooks" / "04_draw.ipynb").read_text())
    before = notebooks.fingerprint(notebook)
    code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "anything"}]
    assert notebooks.fingerprint(notebook) == before
    code["source"] = [*code["source"], "\n# edited"]
    assert notebooks.fingerprint(notebook) != before
