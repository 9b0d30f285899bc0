"""``lite/precompile.py``: the site's bytecode, compiled by Pyodide's own Python under Node.

On the official Pyodide 0.27.7 core (the npm tarball the build caches) and a small wheel: what is
listed becomes bytecode that this Pyodide imports, sourceless (mnist-widgets keeps its sources),
what is not listed stays source, and every archive is stored. No site is built.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

LITE = Path(__file__).resolve().parents[1] / "lite"
NPM_TARBALL = LITE.parent / ".cache" / "lite" / "npm" / "pyodide-0.27.7.tgz"
CORE = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")
CORE += ("pyodide-lock.json",)
MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"  # CPython 3.12's bytecode magic number

pytestmark = pytest.mark.slow


@pytest.fixture
def pyodide(tmp_path: Path) -> Path:
    if not NPM_TARBALL.exists():
        pytest.skip("no cached npm tarball: run `make lite` once")
    if shutil.which("node") is None:
        pytest.skip("no node")
    out = tmp_path / "pyodide"
    out.mkdir()
    with tarfile.open(NPM_TARBALL) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if name in CORE:
                handle = tar.extractfile(member)
                assert handle is not None
                (out / name).write_bytes(handle.read())
    wheel = out / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo/__init__.py", "from .used import answer\n")
        zf.writestr("demo/used.py", "def answer():\n    return 6 * 7\n")
        zf.writestr("demo/unused.py", "UNUSED = True\n")
        zf.writestr("mnist_widgets/ours.py", "def f():\n    raise ValueError('ours')\n")
        zf.writestr(
            "demo-1.0.dist-info/RECORD",
            "demo/__init__.py,sha256=x,1\ndemo/used.py,sha256=x,1\ndemo/unused.py,sha256=x,1\n"
            "mnist_widgets/ours.py,sha256=x,1\ndemo-1.0.dist-info/RECORD,,\n",
        )
    return out


def test_listed_modules_become_bytecode_that_pyodide_imports(pyodide: Path) -> None:
    sys.path.insert(0, str(LITE))
    try:
        from precompile import precompile
    finally:
        sys.path.remove(str(LITE))
    listed = ["demo/__init__.py", "demo/used.py", "mnist_widgets/ours.py", "json/decoder.py"]
    counts = precompile(pyodide, listed)
    assert counts == {"demo-1.0-py3-none-any.whl": 3, "python_stdlib.zip": 1}

    with zipfile.ZipFile(pyodide / "demo-1.0-py3-none-any.whl") as zf:
        names = set(zf.namelist())
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
        assert zf.read("demo/used.pyc").startswith(MAGIC_312)
        record = zf.read("demo-1.0.dist-info/RECORD").decode()
    # listed: sourceless; not listed: source; our own package: source and bytecode
    assert {"demo/__init__.pyc", "demo/used.pyc", "demo/unused.py"} <= names
    assert not {"demo/__init__.py", "demo/used.py", "demo/unused.pyc"} & names
    assert {"mnist_widgets/ours.py", "mnist_widgets/__pycache__/ours.cpython-312.pyc"} <= names
    assert "demo/used.pyc,," in record and "demo/used.py," not in record
    with zipfile.ZipFile(pyodide / "python_stdlib.zip") as zf:
        stdlib = set(zf.namelist())
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    assert "json/decoder.pyc" in stdlib and "json/decoder.py" not in stdlib
    assert "json/encoder.py" in stdlib

    # the same Pyodide imports them: from the bytecode, with tracebacks into our sources
    script = pyodide / "check.js"
    script.write_text(
        f"const {{ loadPyodide }} = require({str(pyodide / 'pyodide.js')!r});\n"
        "(async () => {\n"
        f"  const py = await loadPyodide({{ indexURL: {str(pyodide) + '/'!r} }});\n"
        "  const data = new Uint8Array(require('fs').readFileSync(process.argv[2]));\n"
        "  py.unpackArchive(data, 'wheel', { extractDir: '/lib/python3.12/site-packages' });\n"
        "  console.log(py.runPython(`\n"
        "import json.decoder, demo, mnist_widgets.ours, traceback\n"
        "try:\n"
        "    mnist_widgets.ours.f()\n"
        "except ValueError:\n"
        "    tb = traceback.format_exc()\n"
        "' '.join([json.decoder.__file__, demo.__file__, str(demo.answer()),\n"
        "          str(\"raise ValueError('ours')\" in tb), mnist_widgets.ours.__cached__])\n"
        "`));\n"
        "})().catch((error) => { console.error(String(error)); process.exit(1); });\n"
    )
    done = subprocess.run(
        ["node", str(script), str(pyodide / "demo-1.0-py3-none-any.whl")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-1500:]
    decoder, demo, answer, source_shown, cached = done.stdout.split()[-5:]
    assert decoder == "/lib/python312.zip/json/decoder.pyc"
    assert demo == "/lib/python3.12/site-packages/demo/__init__.pyc"
    assert answer == "42" and source_shown == "True"
    assert cached.endswith("mnist_widgets/__pycache__/ours.cpython-312.pyc")
