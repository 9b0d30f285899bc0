"""The JupyterLite site (``make lite``) in headless Chromium, offline: issue 13's browser tests.

One browser profile is reused across two visits, as a learner's browser would be:

1. first visit: run all of 04_draw, draw a 1 and a 0; the model came over HTTP and was stored;
2. a store hit, its /drive round trips counted; the kernel's sys.path; tab completion;
3. browser storage cleared: it falls back to HTTP and stores the model again.

(Later visits, with the server stopped and after a browser restart, are tests/lite/test_offline.py.)
Every request for a host other than 127.0.0.1 is aborted and counted; there must be none. The
visits depend on each other, so they run in this order, in one module-scoped site and profile.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from fnmatch import fnmatch

import pytest
from lite_site import (
    SITE,
    artifacts_on_failure,
    drag,
    kernel_run,
    lite_browser,
    offline,  # lite/offline.py
    open_lite,
    output_with,
    run_all,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

if not (SITE / "jupyter-lite.json").exists() and not os.environ.get("CI"):
    pytest.skip(f"{SITE} is not built: run `make lite`", allow_module_level=True)

NOTEBOOK = "04_draw.ipynb"
ONE = [(0.52, 0.15), (0.51, 0.5), (0.50, 0.85)]
ZERO = [
    (0.5 + 0.22 * math.sin(t), 0.5 - 0.33 * math.cos(t))
    for t in [2 * math.pi * i / 24 for i in range(25)]
]
SITE_SIZE_GOAL = 40_000_000  # bytes
# the packages the kernel's worker installs itself unless loadPyodideOptions.packages names them
# as written: initKernel's list, and initPackageManager's micropip and piplite
_KERNEL_INSTALLS = re.compile(r'\.packages\|\|\[\],\w+=(\["[^\]]*\])')
_MANAGER_INSTALLS = re.compile(r'\w\.includes\("([\w-]+)"\)\|\|await this\._pyodide')


def _visit(browser, server, *, expect_source: str, draw_zero: bool = True) -> None:
    """Open the tutorial, run it all, check where the model came from, draw a 1 (and a 0)."""
    from playwright.sync_api import expect

    page = browser.page
    open_lite(page, server, NOTEBOOK)
    run_all(page)
    expect(
        output_with(page, f"model from the {expect_source}, stored as cache://mnist")
    ).to_be_attached(timeout=240_000)
    expect(output_with(page, "and again: from the cache")).to_be_attached(timeout=60_000)
    # The drawing's comm messages queue behind the running cells: wait for the last one.
    expect(output_with(page, "skipped in the browser")).to_be_attached(timeout=120_000)
    # No warning on any visit: a re-run loads from browser storage without a word (issue 18)
    assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    canvas = page.locator(".mnist-widgets-canvas").first
    prediction = page.locator(".mnist-widgets-prediction").first
    for points, label, steps in [(ONE, "1", 15), (ZERO, "0", 3)][: 2 if draw_zero else 1]:
        page.get_by_role("button", name="Clear").first.click()  # each drawing on a blank canvas
        expect(prediction).to_have_text("", timeout=10_000)
        drag(page, canvas, points, steps=steps)
        expect(prediction).to_have_text(label, timeout=30_000)


def test_site_is_self_contained():
    """No other host in the site's configuration; Pyodide's files all match the shipped lock."""
    config = json.loads((SITE / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["disablePyPIFallback"] is True
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.js"
    assert all(url.startswith("./") for url in kernel["pipliteUrls"])
    url = re.compile(r"https?://(?!127\.0\.0\.1[:/]|localhost[:/])")
    for path in [
        SITE / "jupyter-lite.json",
        SITE / "lab" / "jupyter-lite.json",
        SITE / "static" / "pyodide" / "pyodide-lock.json",
        *(SITE / "pypi").glob("*.json"),
        *(SITE / "files").rglob("*.ipynb"),
    ]:
        if path.exists():
            hosts = url.findall(path.read_text())
            assert not hosts, f"{path.relative_to(SITE)} names another host"
    lock = json.loads((SITE / "static" / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["info"]["version"] == "0.27.7"
    for name, entry in lock["packages"].items():
        data = (SITE / "static" / "pyodide" / entry["file_name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
    assert {"numpy", "pillow", "ssl", "sqlite3", "micropip"} <= set(lock["packages"])
    assert not {"scipy", "pandas", "matplotlib"} & set(lock["packages"])  # trimmed
    model = json.loads((SITE / "models" / "mnist" / "model.json").read_text())
    assert {g["weights"][0]["quantization"]["dtype"] for g in model["weightsManifest"]} == {"uint8"}
    # the kernel's and the tutorials' wheels are lock packages, preloaded while Pyodide starts
    wheels = {p.name.split("-")[0] for p in (SITE / "static" / "pyodide").glob("*.whl")}
    preloaded = kernel["loadPyodideOptions"]["packages"]
    assert {"mnist-widgets", "ipycanvas", "piplite", "pyodide_kernel", "numpy"} <= set(preloaded)
    assert {offline.canonical(p) for p in preloaded} <= set(lock["packages"])
    # spelled as the kernel looks them up, or it installs them again with piplite on every start
    worker = (SITE / "extensions" / "@jupyterlite" / "pyodide-kernel-extension").rglob("*.js")
    required: set[str] = set()
    for text in (p.read_text() for p in worker):
        required.update(*(json.loads(names) for names in _KERNEL_INSTALLS.findall(text)))
        required.update(_MANAGER_INSTALLS.findall(text))
    assert {"pyodide_kernel", "ipython", "micropip"} <= required, "the kernel worker has changed"
    assert required <= set(preloaded), sorted(required - set(preloaded))
    assert {"mnist_widgets", "ipycanvas", "ipywidgets", "comm", "urllib3"} <= wheels
    assert not {"httpx", "httpcore", "anyio", "h11"} & wheels  # one HTTP stack: urllib3
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    print(f"site size: {size / 1e6:.1f} MB (goal {SITE_SIZE_GOAL / 1e6:.0f} MB)")


def test_the_site_wheel_bundles_the_replay_features_of_its_own_model(tmp_path):
    """The site's wheel carries the uint8 model, so its replay.npz carries that model's features:
    the first fine-tuning in the browser then computes none (it took ~4 s in Pyodide)."""
    import zipfile

    import numpy as np

    from mnist_widgets.finetuning import bundle_features
    from mnist_widgets.predictor import Predictor

    (wheel,) = (SITE / "static" / "pyodide").glob("mnist_widgets-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path)
    model = tmp_path / "mnist_widgets" / "_models" / "mnist"
    with np.load(tmp_path / "mnist_widgets" / "replay.npz", allow_pickle=False) as npz:
        bundled = str(npz["features_body"])
    assert bundled == str(bundle_features(Predictor(model, backend="numpy"))["features_body"])
    assert bundled != str(bundle_features(Predictor(backend="numpy"))["features_body"])  # float32


# Other hosts named in the site's text files that are never contacted: Pyodide's own CDN default
# (set by pyodide.js/.mjs, used only for packages missing from a local lock, under Node) and the
# PyPI fallback that disablePyPIFallback turns off (in the kernel settings' description); ajv's
# "$id" of its data schema (a name, not a download) in JupyterLab's bundle.
KNOWN_UNUSED = {
    ("build/*.js", "https://raw.githubusercontent.com/ajv-validator/ajv/master/lib/refs/data.json"),
    ("static/pyodide/pyodide.js", "https://cdn.jsdelivr.net/pyodide/v"),
    ("static/pyodide/pyodide.mjs", "https://cdn.jsdelivr.net/pyodide/v"),
    (
        "extensions/@jupyterlite/pyodide-kernel-extension/static/schema/kernel.v0.schema.json",
        "https://pypi.org/pypi/",
    ),
}
CDN = re.compile(
    r"https?://(?:[a-z0-9-]+\.)*(?:jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|"
    r"googleapis\.com|gstatic\.com|pypi\.org|pythonhosted\.org|"
    r"githubusercontent\.com|anaconda\.org)/[^\s\"'`)<>]*"
)


def test_no_cdn_url_in_the_site():
    """Every text file of the site: no CDN or package index URL but the known unused defaults."""
    found = set()
    for path in SITE.rglob("*"):
        if path.is_file() and path.suffix in {".js", ".mjs", ".json", ".html", ".css", ".ipynb"}:
            rel = path.relative_to(SITE).as_posix()
            for url in CDN.findall(path.read_text(errors="replace")):
                found.add((rel, url))
    unexpected = {
        (rel, url)
        for rel, url in found
        if not any(fnmatch(rel, k_rel) and url.startswith(k_url) for k_rel, k_url in KNOWN_UNUSED)
    }
    assert not unexpected, sorted(unexpected)[:10]


def test_first_visit_downloads_stores_and_draws(server, profile):
    with lite_browser(profile) as browser, artifacts_on_failure(browser.page, "lite-first-visit"):
        _visit(browser, server, expect_source="network")
        # the kernel is the browser's own: Pyodide, numpy, no TensorFlow
        out = kernel_run(
            browser.page, "import sys; print(sys.platform, 'tensorflow' in sys.modules)"
        )
        assert out.split() == ["emscripten", "False"]
        assert browser.outside_requests() == []
    assert "/models/mnist/model.json" in server.paths()


# Records every /drive call the kernel makes from here on in js.driveCalls: in the browser each
# file-system call on /drive is a synchronous request the service worker hands to the page's
# storage.
_RECORD_DRIVE_CALLS = """
import js
js.eval('''
self.driveCalls = [];
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  try {
    const d = JSON.parse(body).data;
    self.driveCalls.push(d.method + " " + d.path);
  } catch (e) {}  // not a /drive call
  return send.apply(this, arguments);
};
''')
"""

# A store hit in the kernel, with every /drive call recorded.
_STORE_HIT = (
    """
import js, json
import mnist_widgets as mw
store = mw.ModelStore("model-store")
url = str(js.location.href).split("/extensions/")[0] + "/models/mnist/model.json"
mw.Predictor.from_url(url, cache="mnist", store=store, strategy="network-first")  # imports
"""
    + _RECORD_DRIVE_CALLS
    + """
again = mw.Predictor.from_url(url, cache="mnist", store=store, strategy="network-first")
print(json.dumps({"source": again.fetch_result.source, "calls": list(js.driveCalls)}))
"""
)


def test_a_store_hit_reads_each_file_once_and_writes_only_its_last_use(server, profile):
    """Issue 17: a model loaded from browser storage costs a few /drive round trips, and reading
    never writes a model file back (JupyterLite's /drive wrote back every file opened with
    O_NONBLOCK: each load re-saved the weights)."""
    with lite_browser(profile) as browser, artifacts_on_failure(browser.page, "lite-store-hit"):
        open_lite(browser.page, server, NOTEBOOK)
        out = json.loads(kernel_run(browser.page, _STORE_HIT).strip().splitlines()[-1])
    assert out["source"] == "cache"
    calls = out["calls"]
    writes = [c for c in calls if c.split()[0] in {"put", "mknod", "rename", "rmdir"}]
    assert writes and all("/.last-used.json." in c for c in writes), writes
    reads = [c.split()[1] for c in calls if c.startswith("get ")]
    assert len(reads) == len(set(reads)), reads  # each file read once
    assert len(calls) <= 20, calls  # 18 measured; 58 before


_FOLDER_LAST = (
    """
import importlib, json, os, sys
"""
    + _RECORD_DRIVE_CALLS
    + """
import mnist_widgets.loader  # the download stack: urllib3 tries 13 modules Pyodide lacks
stack_calls = list(js.driveCalls)
with open("beside_the_notebook.py", "w") as f:  # in /drive: the notebook's folder
    f.write("WHERE = __file__")
importlib.invalidate_caches()
import beside_the_notebook
print(json.dumps({"cwd": os.getcwd(), "path": sys.path, "where": beside_the_notebook.WHERE,
                  "stack_calls": stack_calls}))
os.remove("beside_the_notebook.py")
"""
)


def test_the_kernel_searches_the_notebook_folder_last_and_still_imports_from_it(server, profile):
    """The site's kernel puts '' (its cwd, /drive in browser storage) last on sys.path, so
    installed modules import without a round trip to the page's storage (lite/build.py), and
    the download stack's optional imports skip it (13 round trips before); a module saved beside
    the notebook still imports."""
    with lite_browser(profile) as browser, artifacts_on_failure(browser.page, "lite-path"):
        open_lite(browser.page, server, NOTEBOOK)
        out = json.loads(kernel_run(browser.page, _FOLDER_LAST).strip().splitlines()[-1])
    assert out["cwd"] == "/drive"
    assert out["path"][-1] == "" and out["path"].count("") == 1, out["path"]
    assert out["where"] == "/drive/beside_the_notebook.py"
    assert out["stack_calls"] == []


_COMPLETIONS = """
import json
import numpy as np
from IPython.core.completer import provisionalcompleter
ip = get_ipython()
found = {}
with provisionalcompleter():
    for text in ["json.lo", "'abc'.upp", "np.aran", "import colle"]:
        found[text] = sorted({c.text for c in ip.Completer.completions(text, len(text))})
print(json.dumps({"jedi": ip.Completer.use_jedi, "found": found}))
"""


def test_completions_work_in_the_site_kernel(server, profile):
    """Tab completion (IPython with jedi) still works with the stubs lite/build.py drops from
    jedi's wheel (third-party packages the kernel lacks)."""
    with lite_browser(profile) as browser, artifacts_on_failure(browser.page, "lite-complete"):
        open_lite(browser.page, server, NOTEBOOK)
        out = json.loads(kernel_run(browser.page, _COMPLETIONS).strip().splitlines()[-1])
    assert out["jedi"] is True
    found = out["found"]
    assert "loads" in found["json.lo"] and "upper" in found["'abc'.upp"], found
    assert "arange" in found["np.aran"] and "collections" in found["import colle"], found


def test_cleared_storage_falls_back_to_http_and_stores_again(server, profile):
    with lite_browser(profile) as browser, artifacts_on_failure(browser.page, "lite-cleared"):
        page = browser.page
        cdp = browser.context.new_cdp_session(page)
        origin = server.url.rstrip("/")
        cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
        since = len(server.requests)
        _visit(browser, server, expect_source="network", draw_zero=False)
        assert browser.outside_requests() == []
    assert "/models/mnist/model.json" in server.paths(since)
