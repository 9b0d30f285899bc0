"""The built JupyterLite site as an offline web app (stdlib only; used by ``lite/build.py``).

After ``jupyter lite build`` has written the site, in this order:

1. :func:`preload` - the kernel's and the tutorials' pure-Python wheels join Pyodide's lock, and
   ``loadPyodideOptions.packages`` names them all: Pyodide fetches and installs them in parallel
   while it starts, instead of ~15 one-by-one ``piplite.install`` calls on every run.
2. :func:`make_app` - the page script (``pwa.js``, in every page), the offline fallback page, the
   web app manifest (its ``start_url`` opens the drawing tutorial) and its icons.
3. :func:`finish` - the precache list (every file and its sha256) into ``service-worker.js``, then
   the ``.br``/``.gz`` siblings that ``lite/serve.py`` (``make lite-serve``) sends. Call it again
   after changing any file of a built site (the tests build their "update" site that way).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

LITE = Path(__file__).resolve().parent
KERNEL_SETTINGS = "@jupyterlite/pyodide-kernel-extension:kernel"
KERNEL_PYPI = Path("extensions/@jupyterlite/pyodide-kernel-extension/static/pypi")
# What the Pyodide kernel installs itself when loadPyodideOptions.packages does not name it
# (jupyterlite-pyodide-kernel 0.6.1: initPackageManager and initKernel), spelled as the kernel
# spells them: it looks each up in that list as written (Pyodide's loadPackage, which preloads
# them, takes any spelling), and one it misses it installs again with piplite on every start
# (~0.1-0.15 s, most of it micropip's importlib.invalidate_caches()).
KERNEL_PACKAGES: tuple[str, ...] = ("micropip", "piplite", "ssl", "sqlite3", "ipykernel", "comm")
KERNEL_PACKAGES += ("pyodide_kernel", "jedi", "ipython")
# Lock packages the tutorials import (their dependencies come along through the lock).
TUTORIAL_PACKAGES = ("numpy", "pillow")
NOT_PRECACHED = re.compile(r"(\.map|\.br|\.gz|\.LICENSE\.txt|/\.built-stamp)$|^service-worker\.js$")
COMPRESSIBLE = {".js", ".mjs", ".json", ".html", ".css", ".svg", ".wasm", ".ipynb", ".md", ".txt"}
COMPRESSIBLE |= {".webmanifest", ".ico", ".ttf", ".map", ".py", ".whl", ".zip"}
MIN_COMPRESS = 1024  # bytes: smaller files gain nothing worth a second request format


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- 1. preloaded packages ---------------------------------------------------------------------


def _wheel_name(path: Path) -> tuple[str, str]:
    name, version = path.name.split("-")[:2]
    return canonical(name), version


def _imports(wheel: Path) -> list[str]:
    """Top-level importable names of a wheel (for the lock's ``imports`` field)."""
    with zipfile.ZipFile(wheel) as archive:
        tops = {n.split("/")[0] for n in archive.namelist()}
    names = {t.removesuffix(".py") for t in tops if not t.endswith((".dist-info", ".data"))}
    return sorted(n for n in names if n.isidentifier())


# Not used by the kernel, left out of the wheels it loads: the shipped model's ONNX graph (2.4 MB;
# no onnxruntime in Pyodide, the numpy engine runs there), the tutorial notebooks the
# mnist-widgets wheel carries for `mnist-widgets tutorials` (the site has its own copies), the
# widgets' front-end files (the page loads them from extensions/, the kernel never reads them:
# 0.9 MB) and test suites.
WHEEL_DROP = re.compile(
    r"^mnist_widgets/_models/mnist/model\.onnx$|^mnist_widgets/_tutorials/"
    r"|^[^/]+\.data/data/share/jupyter/|^ipycanvas/(lab|nb)extension/|^[^/]+/(widgets/)?tests/"
)


def repack(wheel: Path, dest: Path, drop: re.Pattern[str] = WHEEL_DROP) -> bytes:
    """``wheel`` rewritten to ``dest`` stored (not deflated), without the members ``drop`` matches.

    Stored members cost nothing to unpack in Pyodide, and the site's brotli/gzip compresses the
    whole wheel better than per-file deflate. RECORD loses the dropped lines; the rest is
    unchanged. Returns the new wheel's bytes.
    """
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as out:
        for info in source.infolist():
            if drop.search(info.filename):
                continue
            data = source.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(ln for ln in lines if not drop.search(ln.split(",")[0])).encode()
            info.compress_type = zipfile.ZIP_STORED
            out.writestr(info, data)
    return dest.read_bytes()


def _ssl_stub(dest: Path) -> Path:
    """An empty distribution named ``ssl``: the Pyodide kernel always asks for ``ssl`` (and
    with it OpenSSL, 2.1 MB), which nothing in the browser needs (TLS is the browser's; urllib3
    runs without the module). ``import ssl`` then fails as on a Python built without it."""
    info = "ssl-0.0.0.dist-info"
    files = {
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: ssl\nVersion: 0.0.0\n"
        "Summary: stands in for Pyodide's ssl package: TLS is the browser's on this site\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: mnist-widgets lite/offline.py\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(dest, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(zipfile.ZipInfo(name, (2020, 2, 2, 0, 0, 0)), text)
    return dest


def preload(out: Path, wheels: Iterable[Path] | None = None) -> list[str]:
    """Make every wheel a lock package that Pyodide loads at start; returns the package names.

    ``wheels`` default: the site's ``pypi/`` (the tutorials' wheels) and the Pyodide kernel's own
    (piplite, pyodide-kernel, ipykernel, widgetsnbextension 4). They move to ``static/pyodide/``
    beside Pyodide's packages (one copy each); the piplite indexes go, so nothing is fetched twice.
    """
    pyodide = out / "static" / "pyodide"
    lock_path = pyodide / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    if wheels is None:
        found = [*sorted((out / "pypi").glob("*.whl")), *sorted((out / KERNEL_PYPI).glob("*.whl"))]
        # widgetsnbextension 3.6.999 is the ipywidgets-7 stub; ipywidgets 8 takes the 4.x one
        wheels = [w for w in found if not w.name.startswith("widgetsnbextension-3.")]
    known = {canonical(k) for k in lock["packages"]}
    if "ssl" not in known:
        wheels = [*wheels, _ssl_stub(pyodide.parent / "ssl-0.0.0-py3-none-any.whl")]
    added = []
    for wheel in wheels:
        name, version = _wheel_name(wheel)
        if name in known:
            continue  # Pyodide's own build of it stays
        data = repack(wheel, pyodide / wheel.name)
        lock["packages"][name] = {
            "depends": [],  # every one is named in `packages`: no resolution needed
            "file_name": wheel.name,
            "imports": _imports(wheel),
            "install_dir": "site",
            "name": name,
            "package_type": "package",
            "sha256": sha256(data),
            "unvendored_tests": False,
            "version": version,
        }
        known.add(name)
        added.append(name)
    lock_path.write_text(json.dumps(lock, indent=1, sort_keys=True))
    (pyodide.parent / "ssl-0.0.0-py3-none-any.whl").unlink(missing_ok=True)  # repacked above
    shutil.rmtree(out / "pypi", ignore_errors=True)
    shutil.rmtree(out / KERNEL_PYPI, ignore_errors=True)

    spelled = {canonical(p): p for p in [*added, *TUTORIAL_PACKAGES, *KERNEL_PACKAGES]}
    packages = sorted(spelled.values())  # one name each, the kernel's spelling where it has one
    missing = [p for p in packages if canonical(p) not in known]
    if missing:
        raise SystemExit(f"preloaded packages missing from the lock: {missing}")
    set_preloaded(out, packages)
    return packages


def set_preloaded(out: Path, packages: Sequence[str]) -> None:
    """Tell the site's kernel to load ``packages`` from the lock at start, and nothing by piplite.

    The kernel settings go in the root ``jupyter-lite.json`` and in any app's that has its own.
    """
    for config_path in [out / "jupyter-lite.json", out / "lab" / "jupyter-lite.json"]:
        config = json.loads(config_path.read_text())
        data = config.setdefault("jupyter-config-data", {})
        if config_path.parent != out and KERNEL_SETTINGS not in data.get("litePluginSettings", {}):
            continue
        settings = data.setdefault("litePluginSettings", {}).setdefault(KERNEL_SETTINGS, {})
        settings["pipliteUrls"] = []
        settings["loadPyodideOptions"] = {
            "packages": list(packages),
            # resolved against the site's base URL by the kernel extension
            "lockFileURL": "./static/pyodide/pyodide-lock.json",
        }
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True))


def relock(out: Path) -> None:
    """Each lock entry's sha256 from its file as shipped (Pyodide checks it on every load)."""
    pyodide = out / "static" / "pyodide"
    lock_path = pyodide / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    for entry in lock["packages"].values():
        entry["sha256"] = sha256((pyodide / entry["file_name"]).read_bytes())
    lock_path.write_text(json.dumps(lock, indent=1, sort_keys=True))


# --- 2. the installable app ----------------------------------------------------------------------


def _link_list(notebooks: Sequence[str]) -> str:
    return "\n".join(
        f'      <li><a href="lab/index.html?path={n}">{n.removesuffix(".ipynb")}</a></li>'
        for n in notebooks
    )


def make_app(out: Path, notebooks: Sequence[str], *, start: str, name: str, python: Path) -> None:
    """pwa.js in every page, offline.html, manifest.webmanifest and icons (drawn with Pillow by
    ``python``, the project's interpreter)."""
    config = json.loads((out / "jupyter-lite.json").read_text())["jupyter-config-data"]
    script = (LITE / "pwa.js").read_text().replace("@APP_VERSION@", config["appVersion"])
    (out / "pwa.js").write_text(script)
    (out / "build" / "service-worker.js").unlink(missing_ok=True)  # a copy JupyterLite never uses
    for page in out.rglob("*.html"):  # JupyterLite's pages (lab/, lab/tree/, doc/, ...)
        text = page.read_text()
        if "pwa.js" in text or "<head>" not in text:
            continue
        depth = len(page.relative_to(out).parts) - 1
        src = "../" * depth + "pwa.js"
        page.write_text(text.replace("<head>", f'<head>\n    <script src="{src}"></script>', 1))
    # The root opens the drawing tutorial. JupyterLite reads the root index.html for its config
    # (fetched, scripts not run), so the page stays and only gains a redirect when visited.
    root = out / "index.html"
    opener = f"<script>window.location.replace('lab/index.html?path={start}');</script>"
    root.write_text(root.read_text().replace('<script src="pwa.js"></script>', (
        f'<script src="pwa.js"></script>\n    {opener}'
    ), 1))  # fmt: skip
    offline = (LITE / "offline.html").read_text()
    (out / "offline.html").write_text(offline.replace("@NOTEBOOKS@", _link_list(notebooks)))
    icons = [(192, "icon-192.png"), (512, "icon-512.png")]
    _draw_icons(out, icons, python)
    manifest = {
        "name": name,
        "short_name": "Draw a digit",
        "description": "Draw a digit; a neural network in your browser reads it. Works offline.",
        "start_url": f"./lab/index.html?path={start}",
        "scope": "./",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1e3a5f",
        "icons": [
            {"src": f"./{file}", "sizes": f"{size}x{size}", "type": "image/png", "purpose": "any"}
            for size, file in icons
        ],
        "shortcuts": [
            {"name": n.removesuffix(".ipynb"), "url": f"./lab/index.html?path={n}"}
            for n in notebooks
        ],
    }
    (out / "manifest.webmanifest").write_text(json.dumps(manifest, indent=2))
    for old in ["icon-120x120.png", "icon-512x512.png"]:
        (out / old).unlink(missing_ok=True)


_ICON = """
import sys
from PIL import Image, ImageDraw
for arg in sys.argv[1:]:
    size, path = arg.split("=", 1)
    n = int(size)
    image = Image.new("RGB", (n, n), (30, 58, 95))
    draw = ImageDraw.Draw(image)
    w = max(2, n // 12)
    draw.line([(0.30 * n, 0.27 * n), (0.70 * n, 0.27 * n), (0.45 * n, 0.78 * n)],
              fill=(255, 255, 255), width=w, joint="curve")
    image.save(path, optimize=True)
"""


def _draw_icons(out: Path, icons: Sequence[tuple[int, str]], python: Path) -> None:
    """A hand-drawn-looking 7, white on the app's blue."""
    args = [f"{size}={out / file}" for size, file in icons]
    subprocess.run([str(python), "-c", _ICON, *args], check=True)


# --- 3. precache list and compression ----------------------------------------------------------


def precache_list(out: Path) -> list[tuple[str, str]]:
    """Every file of the site but source maps, compressed siblings and the worker itself."""
    entries = []
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and not NOT_PRECACHED.search(rel) and not rel.startswith("."):
            entries.append((rel, sha256(path.read_bytes())))
    return entries


def write_service_worker(out: Path) -> str:
    """service-worker.js with this build's precache list; returns its version."""
    entries = precache_list(out)
    listing = json.dumps(entries, separators=(",", ":"))
    version = sha256(listing.encode())[:16]
    worker = (LITE / "service-worker.js").read_text()
    worker = worker.replace("'@VERSION@'", json.dumps(version)).replace("'@PRECACHE@'", listing)
    (out / "service-worker.js").write_text(worker)
    return version


def compress(out: Path, cache: Path | None = None) -> None:
    """``.gz`` (and ``.br`` when the ``brotli`` module is there) beside each compressible file,
    kept only when clearly smaller; ``cache`` reuses earlier results by content hash."""
    try:
        import brotli  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        brotli = None
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.suffix in {".br", ".gz"}:
            continue
        data = path.read_bytes()
        for suffix in (".br", ".gz"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        if path.suffix not in COMPRESSIBLE or len(data) < MIN_COMPRESS:
            continue
        digest = sha256(data)
        for suffix, encode in ((".gz", _gzip), (".br", brotli and _brotli(brotli))):
            if encode is None:
                continue
            cached = cache / f"{digest}{suffix}" if cache else None
            if cached is not None and cached.exists():
                packed = cached.read_bytes()
            else:
                packed = encode(data)
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    cached.write_bytes(packed)
            if len(packed) < len(data) * 0.95:
                path.with_name(path.name + suffix).write_bytes(packed)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _brotli(module: Any) -> Callable[[bytes], bytes]:
    def encode(data: bytes) -> bytes:
        return bytes(module.compress(data, quality=11))

    return encode


def finish(out: Path, cache: Path | None = None) -> str:
    """The service worker's precache list, then the compressed siblings; returns the version."""
    version = write_service_worker(out)
    compress(out, cache)
    return version


def site_bytes(out: Path) -> tuple[int, int]:
    """The site's files: total bytes, and total over the wire (each file's smallest encoding)."""
    raw = smallest = 0
    for path in out.rglob("*"):
        if path.is_file() and path.suffix not in {".br", ".gz"}:
            size = path.stat().st_size
            siblings = [path.with_name(path.name + s) for s in (".br", ".gz")]
            raw += size
            smallest += min([size, *(s.stat().st_size for s in siblings if s.exists())])
    return raw, smallest
