"""Serve the JupyterLite site on 127.0.0.1 and drive it in headless Chromium, offline.

- :func:`static_server` serves a directory (a copy of ``build/lite``) and records every request.
- :func:`lite_browser` opens Chromium with a *persistent* profile (browser storage survives
  between visits) where no request may leave 127.0.0.1: every other request is aborted by a
  Playwright route and counted, and Chromium's proxy points at :class:`RefusingProxy`, which
  refuses and counts whatever a worker or service worker might send past the route.
- :func:`open_lite` opens ``lab/index.html?path=NAME`` and waits for a usable Pyodide kernel;
  :func:`kernel_run` runs code in it and returns what it printed.

The JupyterLab recipe (flags, kernel readiness, drawing) is the one in tests/browser/harness.py.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from harness import _KERNEL_READY_JS, CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, artifacts_on_failure, drag

sys.path.insert(0, str(REPO_ROOT / "lite"))
import offline  # lite/offline.py: the precache list the site's service worker checks
from serve import Handler  # lite/serve.py: `make lite-serve`

SITE = REPO_ROOT / "build" / "lite"
# what the tests import from here (artifacts_on_failure and drag: harness.py's, re-exported)
__all__ = [
    "SITE", "artifacts_on_failure", "copy_site", "drag", "kernel_run", "lite_browser",
    "notebook_outputs", "open_lite", "output_with", "run_all", "run_walkthrough_03",
    "static_server",
]  # fmt: skip
# A persistent profile makes Chromium itself call home (updates, sign-in, autofill): off.
QUIET_ARGS = [
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-pings",
    "--no-default-browser-check",
    "--password-store=basic",
    "--disable-features=AutofillServerCommunication,OptimizationHints,OptimizationHintsFetching,"
    "OptimizationGuideModelDownloading,MediaRouter,Translate,SigninInterception,"
    "ChromeSignin,AccountConsistency,PrivacySandboxSettings4,CertificateTransparencyComponentUpdater",
]
CHROMIUM_SERVICES = {
    "update.googleapis.com",
    "clients2.google.com",
    "accounts.google.com",
    "content-autofill.googleapis.com",
}
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass
class Served:
    path: str
    status: int
    size: int


@dataclass
class StaticServer:
    url: str  # ends in "/"
    root: Path
    requests: list[Served] = field(default_factory=list)

    def bytes_served(self, since: int = 0) -> int:
        return sum(r.size for r in self.requests[since:])

    def paths(self, since: int = 0) -> list[str]:
        return [r.path for r in self.requests[since:]]


class _Handler(Handler):
    """lite/serve.py's handler (precompressed files, ETags: what `make lite-serve` sends), plus
    a record of every response and the bytes it put on the wire."""

    def __init__(self, *args: Any, record: list[Served], **kwargs: Any) -> None:
        self._record = record
        super().__init__(*args, **kwargs)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def copyfile(self, source: Any, outputfile: Any) -> None:
        start = source.tell()
        super().copyfile(source, outputfile)
        self._sent = source.tell() - start

    def handle_one_request(self) -> None:
        self._status, self._sent = 0, 0
        super().handle_one_request()
        if getattr(self, "path", None) and self._status:
            self._record.append(Served(urlsplit(self.path).path, self._status, self._sent))


class SiteServer(StaticServer):
    """A :class:`StaticServer` that can be stopped and started again on the same port (the
    origin, and so the browser's storage for the site, stays the same)."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self._httpd: Any = None
        self._port = port
        super().__init__("", root, [])
        self.start()

    def start(self) -> None:
        handler = functools.partial(_Handler, directory=str(self.root), record=self.requests)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        httpd.daemon_threads = True
        self._port = httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self._port}/"
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self._httpd = httpd

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@contextlib.contextmanager
def static_server(root: Path) -> Iterator[SiteServer]:
    """Serve ``root`` on a free port of 127.0.0.1 until the block ends (``stop``/``start`` in
    between take the site off the network and back)."""
    server = SiteServer(root)
    try:
        yield server
    finally:
        server.stop()


class RefusingProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy that forwards nothing: it answers 403 and records what it was asked for."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.targets: list[str] = []
        super().__init__(("127.0.0.1", 0), _RefuseHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RefuseHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(65536).decode("latin-1").strip()
        if line:
            self.server.targets.append(line)  # e.g. "CONNECT cdn.example:443 HTTP/1.1"
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")


@dataclass
class Browser:
    context: Any
    page: Any
    aborted: list[str]  # non-loopback URLs the route aborted
    proxy: RefusingProxy

    def outside_requests(self) -> list[str]:
        """Requests for other hosts from the site (page, workers, service worker): none allowed.

        The route sees what the page and its workers ask for; the proxy sees whatever reached the
        network past it, less the hosts of Chromium's own background services (its updater,
        clock and sign-in, which a persistent profile wakes up and no flag fully silences).
        """
        past_route = [t for t in self.proxy.targets if _host(t) not in CHROMIUM_SERVICES]
        return [*self.aborted, *past_route]


def _host(request_line: str) -> str:
    """The host of a proxy request line: "CONNECT h:443 HTTP/1.1" or "GET http://h/p HTTP/1.1"."""
    parts = request_line.split()
    target = parts[1] if len(parts) > 1 else ""
    if parts and parts[0] == "CONNECT":
        return target.rsplit(":", 1)[0]
    return urlsplit(target).hostname or ""


@contextlib.contextmanager
def lite_browser(
    profile: Path, *, width: int = 1280, height: int = 900, route: bool = True
) -> Iterator[Browser]:
    """Chromium with the persistent profile ``profile``; nothing may leave 127.0.0.1.

    ``route=False`` leaves the blocking to the proxy alone: Playwright's routing turns Chromium's
    HTTP cache off, so a benchmark of what a second visit downloads must do without it.
    """
    from playwright.sync_api import sync_playwright

    proxy = RefusingProxy()
    aborted: list[str] = []

    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("http:", "https:", "ws:", "wss:")) and (
            host not in LOOPBACK
        ):
            aborted.append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, *QUIET_ARGS, f"--proxy-server={proxy.address}"],
            viewport={"width": width, "height": height},
        )
        try:
            if route:
                context.route("**/*", guard)
            page = context.pages[0] if context.pages else context.new_page()
            yield Browser(context, page, aborted, proxy)
        finally:
            context.close()
            proxy.shutdown()
            proxy.server_close()


def open_lite(page: Any, server: StaticServer, name: str, *, timeout: float = 180.0) -> float:
    """Open ``name`` in JupyterLite's lab, wait for a usable kernel; returns the seconds taken."""
    start = time.monotonic()
    page.goto(f"{server.url}lab/index.html?path={name}")
    page.wait_for_function(_KERNEL_READY_JS, timeout=timeout * 1000, polling=250)
    return time.monotonic() - start


def run_all(page: Any) -> None:
    # Never await the command: its promise may not settle; callers wait on the page instead.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


_EXECUTE_JS = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, store_history: false});
  let out = '';
  future.onIOPub = (msg) => {
    const c = msg.content;
    if (msg.header.msg_type === 'stream') out += c.text;
    else if (msg.header.msg_type === 'error') out += c.ename + ': ' + c.evalue + '\\n';
    else if (msg.header.msg_type === 'execute_result') out += c.data['text/plain'] + '\\n';
  };
  await future.done;
  return out;
}"""


def kernel_run(page: Any, code: str, *, timeout: float = 120.0) -> str:
    """Run ``code`` in the open notebook's kernel and return its output (errors as 'Name: msg')."""
    page.set_default_timeout(timeout * 1000)
    return page.evaluate(_EXECUTE_JS, code)


def copy_site(dest: Path, edit: Callable[[Path], object] | None = None) -> Path:
    """A fresh copy of the built site to serve (tests delete parts of it); ``edit(dest)`` changes
    it before its service worker's hashes are written."""
    if not (SITE / "jupyter-lite.json").exists():
        raise FileNotFoundError(f"{SITE} is not built: run `make lite`")
    shutil.copytree(SITE, dest)
    # window.jupyterapp, for the tests to reach the notebook and its kernel (test copies only)
    config = dest / "jupyter-lite.json"
    data = json.loads(config.read_text())
    data["jupyter-config-data"]["exposeAppInBrowser"] = "true"
    config.write_text(json.dumps(data))
    if edit is not None:
        edit(dest)
    offline.finish(dest, REPO_ROOT / ".cache" / "lite" / "compressed")  # the changed files' hashes
    return dest


_OUTPUTS_JS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    out.push({count: cell.executionCount, outputs: cell.outputs.toJSON()});
  }
  return out;
}"""


def notebook_outputs(page: Any) -> list[dict]:
    """Each code cell of the open notebook: its execution count and its outputs (nbformat JSON)."""
    return page.evaluate(_OUTPUTS_JS)


def output_with(page: Any, text: str) -> Any:
    """The first cell output containing ``text`` (not the code that prints it)."""
    return page.locator(".jp-OutputArea-output", has_text=text).first


def run_walkthrough_03(page: Any, server: StaticServer) -> None:
    """Open 03_offline_cache and run it all: every code cell ran, none raised, and it loaded the
    site's model over "the network" (in the browser: whatever answers for the site) and stored it.
    """
    from playwright.sync_api import expect

    open_lite(page, server, "03_offline_cache.ipynb", timeout=300)
    run_all(page)
    expect(output_with(page, "skipped in the browser: publishing")).to_be_attached(timeout=240_000)
    page.wait_for_function(
        "() => { const c = window.jupyterapp.shell.currentWidget.content.model.cells;"
        " const last = c.get(c.length - 2); return last.executionCount !== null; }",
        timeout=120_000,
    )
    cells = notebook_outputs(page)
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, errors
    assert all(c["count"] is not None for c in cells)
    text = "".join(o.get("text", "") for c in cells for o in c["outputs"])
    assert "source='network' stored as cache://mnist" in text
    assert "identical predictions on 50 digits: True" in text
