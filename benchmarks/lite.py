"""The JupyterLite site in headless Chromium: size, bytes downloaded, seconds to a prediction.

Needs ``make lite`` (``build/lite``) and /usr/bin/chromium. Serves a copy of the site on 127.0.0.1
the way ``make lite-serve`` does (precompressed ``.br``/``.gz`` files with their Content-Encoding;
every other host blocked, as in tests/lite) and opens ``04_draw.ipynb`` with one browser profile:
the first visit downloads what it needs, and the service worker saves the rest of the site in the
background; the later visits, online and then with the server stopped (``--visits`` of each), are
served by the service worker. Per visit: bytes the server sent (over the wire, compressed), seconds
to an idle kernel, seconds from opening the page to the notebook's first prediction; for the first
visit, also the bytes until that prediction and until the site was saved for offline use. Then
the numpy engine's prediction latency inside the browser (``Predictor.predict`` on a 280x280
canvas) and a few mouse drawings, mouse-up to label.

The baseline, in the same run: a copy of the site whose kernel preloads only what JupyterLite's
Pyodide kernel needs itself (IPython, ipykernel, jedi, micropip, piplite, ...: none of the
tutorials' packages), in its own profile, open -> idle kernel, its later visits interleaved with
the site's online ones: what any JupyterLite notebook waits for on this machine before its first
cell can run. Later visits are reported as the median (and range) of ``--visits``; this benchmark
drifts by a second or more between runs on a shared machine, the interleaved baseline does not.

Usage: ``python -m benchmarks.lite [--visits N] [--drawings N] [--repeats N] [--write-modules]``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ._common import markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lite"))
sys.path.insert(0, str(ROOT / "lite"))
from offline import KERNEL_PACKAGES, set_preloaded, site_bytes  # noqa: E402 (lite/ is not a package)

NOTEBOOK = "04_draw.ipynb"
ONE = [(0.52, 0.15), (0.51, 0.5), (0.50, 0.85)]
ZERO = [
    (0.5 + 0.22 * math.sin(t), 0.5 - 0.33 * math.cos(t))
    for t in [2 * math.pi * i / 24 for i in range(25)]
]

_LATENCY = """
import json, time
import numpy as np
from PIL import Image, ImageDraw
image = Image.new("L", (280, 280))
ImageDraw.Draw(image).line([(80, 70), (200, 70), (130, 230)], fill=255, width=18)
canvas_array = np.asarray(image, dtype=np.float32) / 255.0
predictor.predict(canvas_array)
times = []
for _ in range({repeats}):
    start = time.perf_counter()
    predictor.predict(canvas_array)
    times.append(time.perf_counter() - start)
print(json.dumps({{"times": times, "backend": predictor.backend}}))
"""


def _sizes(site: Path) -> dict[str, int]:
    def size(path: Path) -> int:
        if path.is_file():
            return path.stat().st_size
        files = [p for p in path.rglob("*") if p.is_file() and p.suffix not in {".br", ".gz"}]
        return sum(p.stat().st_size for p in files)  # not the compressed siblings

    parts = {
        "pyodide": site / "static" / "pyodide",
        "jupyterlab": site / "build",
        "lab_extensions": site / "extensions",
        "model": site / "models",
    }
    out = {name: size(path) for name, path in parts.items()}
    out["total"] = size(site)
    out["other"] = out["total"] - sum(out[name] for name in parts)
    out["wire"] = site_bytes(site)[1]
    return out


def _visit(browser, server, *, draw: int) -> dict:
    from lite_site import open_lite, output_with, run_all
    from playwright.sync_api import expect

    page = browser.page
    since = len(server.requests)
    start = time.monotonic()
    idle = open_lite(page, server, NOTEBOOK)
    run_all(page)
    expect(output_with(page, "predicted: 7")).to_be_attached(timeout=300_000)
    first_prediction = time.monotonic() - start
    until_prediction = len(server.requests)
    source = (
        "network"
        if page.locator(".jp-OutputArea-output", has_text="model from the network").count()
        else "cache"
    )
    expect(output_with(page, "skipped in the browser")).to_be_attached(timeout=120_000)
    bytes_sent = server.bytes_served(since)
    requests = len(server.requests) - since
    drawings = []
    canvas = page.locator(".mnist-widgets-canvas").first
    prediction = page.locator(".mnist-widgets-prediction").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for i in range(draw):
        points, label = (ONE, "1") if i % 2 == 0 else (ZERO, "0")
        page.get_by_role("button", name="Clear").first.click()
        expect(prediction).to_have_text("", timeout=10_000)
        at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
        page.mouse.move(*at[0])
        page.mouse.down()
        for p in at[1:]:
            page.mouse.move(*p, steps=3)
        up = time.monotonic()
        page.mouse.up()
        expect(prediction).to_have_text(label, timeout=30_000)
        drawings.append(time.monotonic() - up)
    return {
        "since": since,
        "model_source": source,
        "bytes_downloaded": bytes_sent,
        "requests": requests,
        "bytes_until_first_prediction": server.bytes_served(since)
        - server.bytes_served(until_prediction),
        "requests_until_first_prediction": until_prediction - since,
        "seconds_to_idle_kernel": idle,
        "seconds_open_to_first_prediction": first_prediction,
        "mouse_up_to_label_ms": [t * 1000 for t in drawings],
        "outside_requests": browser.outside_requests(),
    }


# The module files the kernel has imported, as paths inside their zip (lite/kernel-modules.txt)
_MODULES = """
import json, sys
roots = ("/lib/python312.zip/", "/lib/python3.12/site-packages/")
files = {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
print(json.dumps(sorted(
    f[len(r):].removesuffix("c") for f in files for r in roots
    if f.startswith(r) and f.endswith((".py", ".pyc"))
)))
"""


def _baseline_site(tmp: Path) -> Path:
    """A copy of the site whose kernel preloads only the packages JupyterLite's kernel needs."""
    from lite_site import copy_site

    return copy_site(tmp / "baseline", edit=lambda site: set_preloaded(site, KERNEL_PACKAGES))


def _idle(browser, server) -> float:
    from lite_site import open_lite

    return open_lite(browser.page, server, NOTEBOOK)


def _spread(values: list[float], unit: str) -> str:
    """The median, and the range when there is more than one value."""
    median = f"{statistics.median(values):.1f} {unit}"
    if len(values) == 1:
        return median
    return f"{median} ({min(values):.1f}-{max(values):.1f})"


def _write_modules(page, path: Path) -> int:
    from lite_site import kernel_run

    modules = json.loads(kernel_run(page, _MODULES).strip().splitlines()[-1])
    header = path.read_text().split("\n\n", 1)[0] if path.exists() else "#"
    path.write_text(header + "\n\n" + "\n".join(modules) + "\n")
    return len(modules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=3, help="later visits of each kind (3)")
    parser.add_argument("--drawings", type=int, default=6, help="mouse drawings per visit")
    parser.add_argument("--repeats", type=int, default=50, help="in-kernel predictions timed")
    parser.add_argument(
        "--write-modules",
        action="store_true",
        help="after the first visit, write what the kernel imported to lite/kernel-modules.txt "
        "(the modules the next build compiles to bytecode)",
    )
    args = parser.parse_args(argv)

    from lite_site import copy_site, kernel_run, lite_browser, static_server

    saved = "() => window.mnistWidgetsSite.offline === 'saved'"
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        site = copy_site(tmp / "site")
        sizes = _sizes(site)
        visits = []
        baseline: dict[str, list[float]] = {"first": [], "later": []}
        with static_server(site) as server, static_server(_baseline_site(tmp)) as base_server:
            # no Playwright route (it disables the HTTP cache): the proxy blocks other hosts
            with lite_browser(tmp / "profile", route=False) as browser:
                result = _visit(browser, server, draw=args.drawings)
                if args.write_modules:
                    n = _write_modules(browser.page, ROOT / "lite" / "kernel-modules.txt")
                    print(f"lite/kernel-modules.txt: {n} modules")
                browser.page.wait_for_function(saved, timeout=300_000)
                result["bytes_until_saved_offline"] = server.bytes_served(result["since"])
                visits.append({**result, "visit": "first"})
            with lite_browser(tmp / "baseline-profile", route=False) as browser:
                baseline["first"].append(_idle(browser, base_server))
                browser.page.wait_for_function(saved, timeout=300_000)
            for _ in range(args.visits):  # the site's online visits and the baseline's, in turn
                with lite_browser(tmp / "profile", route=False) as browser:
                    result = _visit(browser, server, draw=args.drawings)
                    if not visits[1:]:
                        out = kernel_run(browser.page, _LATENCY.format(repeats=args.repeats))
                        latency = json.loads(out.strip().splitlines()[-1])
                    visits.append({**result, "visit": "later, online"})
                with lite_browser(tmp / "baseline-profile", route=False) as browser:
                    baseline["later"].append(_idle(browser, base_server))
            server.stop()
            for _ in range(args.visits):
                with lite_browser(tmp / "profile", route=False) as browser:
                    result = _visit(browser, server, draw=args.drawings)
                    visits.append({**result, "visit": "later, offline"})
    if any(v["outside_requests"] for v in visits):
        print(f"requests to other hosts: {[v['outside_requests'] for v in visits]}")
        return 1
    times_ms = sorted(t * 1000 for t in latency["times"])
    predict = {
        "backend": latency["backend"],
        "median_ms": statistics.median(times_ms),
        "p90_ms": times_ms[int(0.9 * (len(times_ms) - 1))],
        "runs": len(times_ms),
    }
    mouse = [t for v in visits for t in v["mouse_up_to_label_ms"]]
    mb = 1e6
    rows = [
        ["site size on disk", f"{sizes['total'] / mb:.1f} MB", (
            f"Pyodide and the wheels {sizes['pyodide'] / mb:.1f}, JupyterLab "
            f"{sizes['jupyterlab'] / mb:.1f}, extensions {sizes['lab_extensions'] / mb:.1f}, "
            f"model {sizes['model'] / mb:.2f}; {sizes['wire'] / mb:.1f} MB compressed"
        )],
    ]  # fmt: skip
    for n in ("first", "later, online", "later, offline"):
        kind = [v for v in visits if v["visit"] == n]
        v = kind[-1]
        count = f"{len(kind)} visits: median (range)" if len(kind) > 1 else "one visit"
        if n == "first":
            rows.append([
                f"{n} visit: downloaded until the first prediction",
                f"{v['bytes_until_first_prediction'] / mb:.1f} MB",
                f"{v['requests_until_first_prediction']} requests (what the goal counts)",
            ])  # fmt: skip
        downloaded = max(k["bytes_downloaded"] for k in kind)
        sources = ", ".join(sorted({k["model_source"] for k in kind}))
        rows += [
            [f"{n} visit: downloaded", f"{downloaded / mb:.1f} MB",
             f"{max(k['requests'] for k in kind)} requests (the most of {len(kind)}) until the "
             f"notebook had run; model from the {sources}"],
            [f"{n} visit: idle kernel", _spread([k["seconds_to_idle_kernel"] for k in kind], "s"),
             f"open -> idle; {count}"],
            [f"{n} visit: first prediction",
             _spread([k["seconds_open_to_first_prediction"] for k in kind], "s"),
             f"page open -> run all -> the notebook's first prediction; {count}"],
        ]  # fmt: skip
        if "bytes_until_saved_offline" in v:
            saved_mb = f"{v['bytes_until_saved_offline'] / mb:.1f} MB"
            what = (
                "all the server sent until the service worker had saved the whole site (it starts"
                " once the site has been quiet for 6 s: after the notebook has run)"
            )
            rows.append([f"{n} visit: saved for offline", saved_mb, what])
    rows += [
        [f"baseline, {n} visit: idle kernel", _spread(baseline[n], "s"),
         "open -> idle, the kernel preloading only JupyterLite's own packages: what any notebook"
         " here waits for before its first cell" + ("" if n == "first" else
         "; between the online visits above")]
        for n in ("first", "later")
    ]  # fmt: skip
    rows += [
        ["prediction in the browser", f"{predict['median_ms']:.1f} ms",
         f"median of {predict['runs']} (p90 {predict['p90_ms']:.1f} ms), {predict['backend']} "
         "engine, Predictor.predict on a 280x280 canvas"],
        ["mouse-up -> label", f"{statistics.median(mouse):.0f} ms" if mouse else "-",
         f"median of {len(mouse)} mouse drawings (comm round trip + preprocessing + prediction)"],
    ]  # fmt: skip
    table = (
        markdown_table(["what", "figure", "detail"], rows)
        + "\n\nHeadless Chromium, one profile for the site's visits and one for the baseline's,"
        " every other host blocked; the site served on 127.0.0.1 as `make lite-serve` does"
        " (precompressed brotli/gzip files); the offline visits with the server stopped."
    )
    write_results(
        "lite",
        {"sizes": sizes, "visits": visits, "baseline_idle_s": baseline, "predict": predict,
         "args": vars(args)},
        table,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
