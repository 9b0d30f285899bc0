"""Run a notebook in a real JupyterLab (or Notebook 7) and drive it with headless Chromium.

Reusable by any browser test: ``jupyter_server(root, workdir)`` starts an isolated server on
127.0.0.1, ``chromium_page(...)`` opens headless Chromium (``find_chromium``) via Playwright, and
``open_notebook(page, server, name)`` opens a notebook, waits until its kernel is really ready and
runs all cells. The recipe and its pitfalls are in ``../shared/docs/browser-testing.md``.

Example::

    with jupyter_server(root, tmp / "jupyter") as server, chromium_page() as page:
        open_notebook(page, server, "04_draw.ipynb")
        page.locator(".mnist-widgets-canvas").first.wait_for()
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def find_chromium() -> str | None:
    """Chromium where distributions put it: ``$CHROMIUM``, on PATH (Debian's ``chromium``, Ubuntu's
    snap ``/snap/bin/chromium``, ``chromium-browser``), then Playwright's own build
    (``playwright install chromium``). The same order as scripts/system-deps.sh."""
    candidates = [
        os.environ.get("CHROMIUM", ""),
        *(shutil.which(name) or "" for name in ("chromium", "chromium-browser")),
        "/usr/bin/chromium",
        "/snap/bin/chromium",
    ]
    browsers = Path(
        os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache/ms-playwright"
    )
    candidates += sorted(map(str, browsers.glob("chromium-*/chrome-linux*/chrome")), reverse=True)
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


#: The Chromium the browser tests drive (see :func:`find_chromium`).
CHROMIUM = find_chromium() or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"

_SETTINGS = {
    # no news or update checks (they need the internet and show toasts)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # a notebook opens with its kernel started, no "Select Kernel" dialog
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
}

# True once the current notebook's document, session and kernel are all really usable: "idle"
# shows up before the kernel exists, and a run-all issued then is silently lost.
_KERNEL_READY_JS = """() => {
  const app = window.jupyterapp;
  if (!app) return false;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context || !panel.sessionContext) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return panel.context.isReady && panel.sessionContext.isReady && !!kernel
    && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
}"""

# Every code cell has run (none waits with "*") and the kernel is idle. While run-all works
# through the cells, JupyterLab scrolls to each one it runs: a canvas located earlier moves.
_ALL_RUN_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  return panel.content.widgets.every(
    (cell) => cell.model.type !== 'code' || typeof cell.model.executionCount === 'number');
}"""


@dataclass
class JupyterServer:
    """A running server: ``url`` ends in ``/``; ``log`` holds its output."""

    url: str
    token: str
    root: Path
    app: str
    process: subprocess.Popen
    log: Path

    def notebook_url(self, name: str) -> str:
        if self.app == "notebook":
            return f"{self.url}notebooks/{name}?token={self.token}"
        return f"{self.url}lab/tree/{name}?reset&token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(workdir: Path) -> dict[str, str]:
    """Environment with every Jupyter/IPython directory inside ``workdir`` and our kernel spec.

    The only kernel is ``python3`` running *this* interpreter (the venv's), so the notebook
    imports the package under test, not whatever a user-wide spec points to.
    """
    dirs = {
        "JUPYTER_CONFIG_DIR": workdir / "config",
        "JUPYTER_DATA_DIR": workdir / "data",
        "JUPYTER_RUNTIME_DIR": workdir / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": workdir / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": workdir / "lab-workspaces",
        "IPYTHONDIR": workdir / "ipython",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    kernel = dirs["JUPYTER_DATA_DIR"] / "kernels" / "python3"
    kernel.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (mnist-widgets test)",
        "language": "python",
    }
    (kernel / "kernel.json").write_text(json.dumps(spec))
    for rel, value in _SETTINGS.items():
        path = dirs["JUPYTERLAB_SETTINGS_DIR"] / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}}
    return env


@contextlib.contextmanager
def jupyter_server(
    root: Path, workdir: Path, *, app: str = "lab", timeout: float = 90.0
) -> Iterator[JupyterServer]:
    """Start JupyterLab (``app="lab"``) or Notebook 7 (``"notebook"``) serving ``root``."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = isolated_env(workdir)
    port, token = _free_port(), secrets.token_hex(16)
    expose = "LabApp" if app == "lab" else "JupyterNotebookApp"
    cmd = [
        sys.executable, "-m", "jupyter", app, "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--{expose}.expose_app_in_browser=True",
    ]  # fmt: skip
    log = workdir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    server = JupyterServer(f"http://127.0.0.1:{port}/", token, root, app, proc, log)
    try:
        _wait_until_up(server, timeout)
        yield server
    finally:
        _stop(proc)


def _wait_until_up(server: JupyterServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status = f"{server.url}api/status?token={server.token}"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            msg = f"jupyter {server.app} exited ({server.process.returncode}):\n{server.log_tail()}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(status, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    msg = f"jupyter {server.app} did not answer within {timeout:.0f} s:\n{server.log_tail()}"
    raise TimeoutError(msg)


def _stop(proc: subprocess.Popen) -> None:
    # SIGTERM lets the server shut its kernels down (they run in their own process groups).
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def chromium_page(*, width: int = 1280, height: int = 900, scale: float = 1.0) -> Iterator[Any]:
    """A Playwright page in headless Chromium (the distribution's, or Playwright's build)."""
    from playwright.sync_api import sync_playwright

    if find_chromium() is None:
        raise RuntimeError(
            "no Chromium found (Debian /usr/bin/chromium, Ubuntu's snap, Playwright's build or "
            "$CHROMIUM): run `bash scripts/system-deps.sh browser` (part of `make test`)"
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=scale
            )
            yield context.new_page()
        finally:
            browser.close()


def open_notebook(page: Any, server: JupyterServer, name: str, *, timeout: float = 120.0) -> None:
    """Open ``name`` (relative to the server root), wait for a usable kernel, run all cells.

    Works in JupyterLab 4 and Notebook 7 (both expose ``window.jupyterapp`` when started by
    :func:`jupyter_server`; the notebook is the shell's current widget in both).
    """
    page.goto(server.notebook_url(name))
    page.wait_for_function(_KERNEL_READY_JS, timeout=timeout * 1000, polling=250)
    # Never await the command: its promise may not settle; callers wait on the page instead.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def wait_until_all_run(page: Any, *, timeout: float = 180.0) -> None:
    """Wait until run-all has run every code cell and the kernel is idle again."""
    page.wait_for_function(_ALL_RUN_JS, timeout=timeout * 1000, polling=250)


@contextlib.contextmanager
def artifacts_on_failure(
    page: Any, name: str, server: JupyterServer | None = None
) -> Iterator[None]:
    """On any exception save a screenshot (and the server log) under ``test-artifacts/``."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        if server is not None:
            with contextlib.suppress(Exception):
                (ARTIFACTS / f"{name}-server.log").write_text(server.log_tail(200_000))
        raise


def drag(page: Any, target: Any, points: list[tuple[float, float]], steps: int = 4) -> None:
    """Press, move through ``points`` (fractions of the ``target`` locator's box) and release.

    The box is read just before pressing, once the element is in view, has stopped moving and is
    what the first point would press on: JupyterLab scrolls and lays the notebook out again while
    cells render, and a box read a moment earlier once dragged over a markdown cell instead.
    """
    box = _box_to_press(target, points[0])

    def at(p: tuple[float, float]) -> tuple[float, float]:
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(p), steps=steps)
    page.mouse.up()


_HIT_JS = "(el, [x, y]) => el.contains(document.elementFromPoint(x, y))"


def _box_to_press(target: Any, first: tuple[float, float], timeout: float = 15.0) -> dict:
    """``target``'s box once two reads 0.2 s apart agree and ``first`` lands on it."""
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        if box is not None and box == previous:
            point = [box["x"] + first[0] * box["width"], box["y"] + first[1] * box["height"]]
            if target.evaluate(_HIT_JS, point):
                return box
        if time.monotonic() > deadline:
            raise AssertionError(f"{target} never stood still under the mouse: {box}")
        previous = box
        target.page.wait_for_timeout(200)
