"""Draw digits with the mouse in a real JupyterLab, in headless Chromium, and read the prediction.

Set ``MNIST_WIDGETS_SCREENSHOT=1`` to also save ``docs/images/widget.png`` for the README.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
from harness import (
    REPO_ROOT,
    artifacts_on_failure,
    chromium_page,
    drag,
    jupyter_server,
    open_notebook,
    wait_until_all_run,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

NOTEBOOK = Path(__file__).with_name("draw_test.ipynb")
ONE = [(0.52, 0.15), (0.51, 0.5), (0.50, 0.85)]
ZERO = [
    (0.5 + 0.22 * math.sin(t), 0.5 - 0.33 * math.cos(t))
    for t in [2 * math.pi * i / 24 for i in range(25)]
]
SEVEN = [(0.28, 0.2), (0.72, 0.2), (0.6, 0.45), (0.48, 0.85)]


TUTORIAL = REPO_ROOT / "notebooks" / "04_draw.ipynb"


@pytest.fixture(params=["lab", "notebook"], ids=["jupyterlab4", "notebook7"])
def lab(request, tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)  # a fresh copy: no state leaks between runs
    # The kernel inherits the environment: the shipped model, and no network at all.
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")
    with jupyter_server(root, tmp_path / "jupyter", app=request.param) as server:
        yield server


def test_drawing_one_then_zero(lab):
    from playwright.sync_api import expect

    with chromium_page() as page, artifacts_on_failure(page, f"browser-draw-{lab.app}", lab):
        open_notebook(page, lab, NOTEBOOK.name)
        wait_until_all_run(page)
        canvas = page.locator(".mnist-widgets-canvas").first
        prediction = page.locator(".mnist-widgets-prediction").first
        expect(canvas).to_be_visible(timeout=90_000)
        expect(prediction).to_have_text("", timeout=10_000)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box is not None and abs(box["width"] - 280) < 2 and abs(box["height"] - 280) < 2

        drag(page, canvas, ONE, steps=15)
        expect(prediction).to_have_text("1", timeout=20_000)

        page.get_by_role("button", name="Clear").click()
        expect(prediction).to_have_text("", timeout=10_000)

        drag(page, canvas, ZERO, steps=3)
        expect(prediction).to_have_text("0", timeout=20_000)

        if lab.app == "lab" and os.environ.get("MNIST_WIDGETS_SCREENSHOT") == "1":
            page.get_by_role("button", name="Clear").click()
            expect(prediction).to_have_text("", timeout=10_000)
            drag(page, canvas, SEVEN, steps=10)
            expect(prediction).to_have_text("7", timeout=20_000)
            page.mouse.move(box["x"] - 40, box["y"] - 40)  # no hover effects in the picture
            out = REPO_ROOT / "docs" / "images" / "widget.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            page.locator(".mnist-widgets-digit-canvas").first.screenshot(path=str(out))


def test_drawing_in_the_04_tutorial(tmp_path):
    """The tutorial notebook itself, as `make lab` opens it: run all, then draw a 1 and a 0."""
    from playwright.sync_api import expect

    root = tmp_path / "root"
    root.mkdir()
    # Without its committed outputs: they hold the very text (and a saved canvas) this test waits
    # for, so with them it would draw before run-all had made the live widget.
    _without_outputs(TUTORIAL, root / TUTORIAL.name)
    with (
        jupyter_server(root, tmp_path / "jupyter", app="lab") as server,
        chromium_page() as page,
        artifacts_on_failure(page, "browser-04-tutorial", server),
    ):
        open_notebook(page, server, TUTORIAL.name)
        # Draw only when run-all is done: it scrolls to each cell it runs (moving the canvas under
        # the mouse), and the drawing's comm messages queue behind the running cells.
        wait_until_all_run(page)
        canvas = page.locator(".mnist-widgets-canvas").first
        prediction = page.locator(".mnist-widgets-prediction").first
        canvas.scroll_into_view_if_needed()
        expect(prediction).to_have_text("", timeout=10_000)

        drag(page, canvas, ONE, steps=15)
        expect(prediction).to_have_text("1", timeout=20_000)
        page.get_by_role("button", name="Clear").first.click()
        expect(prediction).to_have_text("", timeout=10_000)
        drag(page, canvas, ZERO, steps=3)
        expect(prediction).to_have_text("0", timeout=20_000)


def _without_outputs(src: Path, dest: Path) -> None:
    """Copy notebook ``src`` to ``dest`` with no outputs and no saved widget state."""
    notebook = json.loads(src.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook["metadata"].pop("widgets", None)
    dest.write_text(json.dumps(notebook, indent=1))
