"""05_teach in the JupyterLite site, headless Chromium, offline: teach, save, and find it again.

One browser profile, two visits:

1. run all of 05_teach (its drawings are made through the widget's Python API), then draw a
   flagged 1 with the mouse and click the row's **1**: the drawing is kept; the personal model was
   fine-tuned in the browser, saved to browser storage and reloaded offline;
2. the page opened again on the same profile: the notebook's first cells find the personal model
   in the browser's storage (``cache://mnist-mine`` in JupyterLite's ``/drive``).

Every request for another host is aborted and counted; there must be none. Written against the
site as ``lite/build.py`` builds it when this test was written (before the offline web-app work:
it needs only the site's pages, wheels and browser storage).
"""

from __future__ import annotations

import os

import pytest
from lite_site import (
    SITE,
    artifacts_on_failure,
    drag,
    lite_browser,
    notebook_outputs,
    open_lite,
    output_with,
    run_all,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

if not (SITE / "jupyter-lite.json").exists() and not os.environ.get("CI"):
    pytest.skip(f"{SITE} is not built: run `make lite`", allow_module_level=True)

NOTEBOOK = "05_teach.ipynb"
#: a 1 with a long flag, as fractions of the canvas: up from the lower left, then straight down
FLAGGED_ONE = [(0.32, 0.42), (0.56, 0.16), (0.56, 0.52), (0.56, 0.86)]
LAST_OUTPUT = "reloaded cache://mnist-mine offline; same answers as before saving: True"


def _wait_for_the_last_cell(page) -> None:
    page.wait_for_function(
        "() => { const c = window.jupyterapp.shell.currentWidget.content.model.cells;"
        " for (let i = c.length - 1; i >= 0; i--) { const cell = c.get(i);"
        "   if (cell.type === 'code') return cell.executionCount !== null; } return false; }",
        timeout=300_000,
    )


def test_teach_in_the_browser_then_click_a_correction(server, profile):
    from playwright.sync_api import expect

    with lite_browser(profile) as browser, artifacts_on_failure(browser.page, "lite-teach-1"):
        page = browser.page
        open_lite(page, server, NOTEBOOK)
        run_all(page)
        expect(output_with(page, LAST_OUTPUT)).to_be_attached(timeout=300_000)
        _wait_for_the_last_cell(page)
        cells = notebook_outputs(page)
        errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
        assert not errors, errors
        text = "".join(o.get("text", "") for c in cells for o in c["outputs"])
        assert "no personal model yet: using the base model" in text
        assert "fine-tuned on 10 drawings" in text

        # the buttons, clicked: the first canvas is the one with the correction row
        bar = page.locator(".mnist-widgets-corrections").first
        status = bar.locator("small")
        expect(status).to_contain_text("10 kept")
        canvas = page.locator(".mnist-widgets-canvas").first
        drag(page, canvas, FLAGGED_ONE, steps=8)
        one = bar.get_by_role("button", name="1", exact=True)
        expect(one).to_be_enabled(timeout=30_000)
        one.click()
        expect(status).to_contain_text("11 kept", timeout=30_000)
        bar.get_by_role("button", name="Undo").click()
        expect(status).to_contain_text("10 kept", timeout=30_000)
        assert browser.outside_requests() == []


def test_the_next_visit_finds_the_personal_model_in_browser_storage(server, profile):
    from playwright.sync_api import expect

    with lite_browser(profile) as browser, artifacts_on_failure(browser.page, "lite-teach-2"):
        page = browser.page
        open_lite(page, server, NOTEBOOK)
        run_all(page)
        found = "taught with 10 drawings (cache://mnist-mine)"
        expect(output_with(page, found)).to_be_attached(timeout=300_000)
        assert browser.outside_requests() == []
