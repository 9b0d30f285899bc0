"""Python bytecode for the site's kernel, compiled at build time (stdlib only; used by build.py).

Pyodide imports from sources: the standard library from ``python_stdlib.zip`` and every package
from its wheel, compiled on every import of every visit (it cannot keep ``__pycache__``). On this
machine that was most of the kernel's start-up: ``import IPython`` took 4.4 s in Pyodide under
Node from sources, 1.8 s from bytecode. Bytecode must come from the same Python (3.12): Pyodide's
own interpreter is one, so the build runs it under Node (already needed for ``npm pack``) on the
site's own Pyodide files, and it compiles every zip in ``static/pyodide/``:

- each module the kernel and the drawing tutorial import (``modules``, paths inside the archives)
  becomes bytecode: the ``.pyc`` replaces the ``.py`` (a sourceless module, as ``pyodide
  py-compile`` makes; tracebacks through it show file and line but no source text), in the
  standard library zip as in the wheels. mnist-widgets keeps its sources beside its bytecode
  (unchecked-hash ``__pycache__`` files), so tracebacks through our own code stay readable.
- bytecode is compiled without column ranges (``PYTHONNODEBUGRANGES``: tracebacks lose only
  their ``^^^`` markers), 8 % smaller over the wire.
- every archive is rewritten *stored* (not deflated): nothing to inflate in the browser, and the
  site's brotli/gzip compresses the whole file better than zip's per-file deflate.

Modules that are not imported stay sources: bytecode compresses worse than source (compiling
everything would add 4 MB over the wire, for modules no tutorial runs; the imported ones add
1.3 MB and save seconds).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

SITE_PACKAGES = "/lib/python3.12/site-packages/"
STDLIB = "python_stdlib.zip"
STDLIB_PREFIX = "/lib/python312.zip/"
KEEP_SOURCES = ("mnist_widgets/",)  # our package: readable tracebacks for learners

# Runs inside Pyodide (CPython 3.12): one archive in, one stored archive out.
_COMPILE_PY = r"""
import importlib.util, os, warnings, zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

def compile_zip(src, dst, prefix, only, keep_sources):
    only = set(only) if only is not None else None
    compiled = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        entries = []
        for info in zin.infolist():
            data = zin.read(info)
            name = info.filename
            if name.endswith(".py") and (only is None or name in only):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        code = compile(data, prefix + name, "exec", dont_inherit=True)
                except (SyntaxError, ValueError):
                    code = None
                if code is not None:
                    pyc = _code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False)
                    folder, base = os.path.split(name)
                    if name.startswith(tuple(keep_sources)):
                        target = (folder + "/" if folder else "") + "__pycache__/"
                        target += base[:-3] + ".cpython-312.pyc"
                    else:
                        target = None  # sourceless: the .pyc replaces the .py
                    if target is None:
                        entries.append((zipfile.ZipInfo(name + "c", info.date_time), pyc))
                        compiled += 1
                        continue
                    entries.append((zipfile.ZipInfo(target, info.date_time), pyc))
                    compiled += 1
            info.compress_type = zipfile.ZIP_STORED
            entries.append((info, data))
        names = {i.filename for i, _ in entries}
        for info, data in entries:
            if info.filename.endswith(".dist-info/RECORD"):  # list what the wheel now holds
                lines = []
                for line in data.decode().splitlines():
                    path = line.split(",")[0]
                    if path in names:
                        lines.append(line)
                    elif path + "c" in names:
                        lines.append(path + "c,,")
                extra = sorted(n for n in names if "/__pycache__/" in n)
                data = ("\n".join(lines + [n + ",," for n in extra]) + "\n").encode()
            info.compress_type = zipfile.ZIP_STORED
            zout.writestr(info, data)
    return compiled
"""

_DRIVER_JS = r"""
const { loadPyodide } = require(process.argv[2] + "/pyodide.js");
const fs = require("fs");
(async () => {
  // no column ranges in the bytecode (only tracebacks' ^^^ markers use them): smaller files
  const env = { PYTHONNODEBUGRANGES: "1" };
  const pyodide = await loadPyodide({ indexURL: process.argv[2] + "/", env });
  pyodide.FS.mkdir("/host");
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: "/" }, "/host");
  pyodide.runPython(fs.readFileSync(process.argv[3], "utf8"));
  const compileZip = pyodide.globals.get("compile_zip");
  const jobs = JSON.parse(fs.readFileSync(process.argv[4], "utf8"));
  const done = [];
  for (const job of jobs) {
    const only = job.only === null ? null : pyodide.toPy(job.only);
    const n = compileZip("/host" + job.src, "/host" + job.dst, job.prefix, only,
      pyodide.toPy(job.keep_sources));
    done.push([job.src, n]);
  }
  fs.writeFileSync(process.argv[5], JSON.stringify(done));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def precompile(pyodide: Path, modules: Iterable[str] | None, node: str = "node") -> dict[str, int]:
    """Compile and store every zip in ``pyodide`` (``static/pyodide/``) in place.

    ``modules``: the module files to compile, as paths inside their archive (``json/decoder.py``,
    ``numpy/__init__.py``); None: every module. Returns the number of modules compiled per
    archive. The caller updates the lock's sha256 entries (the wheels' bytes change).
    """
    wanted = None if modules is None else sorted(set(modules))
    archives = [*sorted(pyodide.glob("*.whl")), pyodide / STDLIB]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        jobs = []
        for archive in archives:
            jobs.append({
                "src": str(archive.resolve()),
                "dst": str((tmp / archive.name).resolve()),
                "prefix": STDLIB_PREFIX if archive.name == STDLIB else SITE_PACKAGES,
                "only": wanted,
                "keep_sources": list(KEEP_SOURCES),
            })  # fmt: skip
        (tmp / "compile.py").write_text(_COMPILE_PY)
        (tmp / "driver.js").write_text(_DRIVER_JS)
        (tmp / "jobs.json").write_text(json.dumps(jobs))
        result = tmp / "result.json"
        # the original core (its own python_stdlib.zip) runs the compiler; outputs go to tmp
        subprocess.run(
            [node, str(tmp / "driver.js"), str(pyodide.resolve()), str(tmp / "compile.py"),
             str(tmp / "jobs.json"), str(result)],
            check=True,
        )  # fmt: skip
        done = dict(json.loads(result.read_text()))
        for archive in archives:
            (tmp / archive.name).replace(archive)
    return {Path(src).name: n for src, n in done.items()}
