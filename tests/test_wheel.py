"""The pip path, from a wheel of this checkout in a fresh venv outside it: the README's first lines.

The fresh venv gets only our wheel. Its dependencies (TensorFlow and the rest) are the test venv's,
seen through a ``.pth`` line rather than installed again: the venv has no pip of its own
(``--without-pip``) and pip runs on it from outside (``pip --python``), so it resolves
``mnist-widgets[notebooks]`` against what is importable there and installs only the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = [
    "01_train.ipynb",
    "02_export.ipynb",
    "03_offline_cache.ipynb",
    "04_draw.ipynb",
    "05_teach.ipynb",
]


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, REPO, cwd=out, env=env)
    (found,) = out.glob("mnist_widgets-*.whl")
    return found


def test_the_wheel_carries_the_model_the_tutorials_and_project_urls(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {f"mnist_widgets/_tutorials/{name}" for name in TUTORIALS} <= names
    assert "mnist_widgets/_models/mnist/model.json" in names
    assert "mnist_widgets/_models/mnist/model.onnx" in names  # Predictor() starts without onnx
    assert "mnist_widgets/replay.npz" in names  # fine-tuning's MNIST replay
    assert "Project-URL: Repository, https://" in metadata
    assert "Provides-Extra: notebooks" in metadata
    body = metadata.split("\n\n", 1)[1]
    assert 'pip install "mnist-widgets[notebooks]"' in body and "docs/images/" not in body


@pytest.mark.slow
def test_pip_install_then_tutorials_then_notebook_04_in_a_fresh_venv(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    home = tmp_path / "user"  # outside the checkout, no PYTHONPATH: only the wheel's package
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q",
        f"mnist-widgets[notebooks] @ {wheel.as_uri()}", cwd=home, env=env,
    )  # fmt: skip
    where = _run(
        python, "-c", "import mnist_widgets; print(mnist_widgets.__file__)", cwd=home, env=env
    )
    assert Path(where.strip()).is_relative_to(site)

    out = _run(venv / "bin" / "mnist-widgets", "tutorials", "tutorials", cwd=home, env=env)
    assert "copied 5 notebooks" in out
    assert sorted(p.name for p in (home / "tutorials").iterdir()) == TUTORIALS
    again = subprocess.run(
        [venv / "bin" / "mnist-widgets", "tutorials", "tutorials"], cwd=home, env=env,
        capture_output=True, text=True,
    )  # fmt: skip
    assert again.returncode == 1 and "--force" in again.stderr

    env["MNIST_WIDGETS_CACHE"] = str(tmp_path / "store")
    run_04 = (
        "import nbclient, nbformat, sys\n"
        "nb = nbformat.read('04_draw.ipynb', as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',\n"
        "    resources={'metadata': {'path': '.'}}).execute()\n"
        "import json; json.dump([o for c in nb.cells for o in c.get('outputs', [])], sys.stdout)\n"
    )
    outputs = json.loads(_run(python, "-c", run_04, cwd=home / "tutorials", env=env))
    text = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    assert "model from the network" in text and "predicted: 7" in text
    assert not [o for o in outputs if o.get("name") == "stderr"]


def _locked(path: Path) -> set[str]:
    import re

    names = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", path.read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", name.lower()) for name in names}


def test_the_locks_pin_every_dependency_the_readme_commands_install():
    # `make lab` installs requirements/lab.txt, `make test` adds requirements/test.txt: a
    # dependency added to pyproject.toml without `make lock` would be missing from them.
    import re

    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        reqs = [Requirement(r) for r in requirements]
        return {re.sub(r"[-_.]+", "-", r.name.lower()) for r in reqs if r.name != "mnist-widgets"}

    lab = names(project["dependencies"] + project["optional-dependencies"]["notebooks"])
    test = lab | names(project["optional-dependencies"]["dev"])
    assert lab - _locked(REPO / "requirements" / "lab.txt") == set()
    assert test - _locked(REPO / "requirements" / "test.txt") == set()
    for lock in ("lab.txt", "test.txt"):  # every pin carries its hashes (pip --require-hashes)
        pins = re.split(r"\n(?=[A-Za-z0-9])", (REPO / "requirements" / lock).read_text())
        assert all("--hash=sha256:" in pin for pin in pins if "==" in pin)


def test_the_jupyterlite_wheel_leaves_the_prebuilt_onnx_out(wheel, tmp_path, monkeypatch):
    """The site's kernel runs the numpy engine: the 2.4 MB model.onnx would only add bytes."""
    import importlib.util
    import shutil

    monkeypatch.syspath_prepend(str(REPO / "lite"))  # build.py imports its sibling pins.py
    spec = importlib.util.spec_from_file_location("lite_build", REPO / "lite" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    copy = Path(shutil.copy(wheel, tmp_path))
    build._drop_from_wheel(copy, ".onnx")
    with zipfile.ZipFile(copy) as zf:
        names = set(zf.namelist())
        record = zf.read(next(n for n in names if n.endswith(".dist-info/RECORD"))).decode()
    assert "mnist_widgets/_models/mnist/model.json" in names
    assert not [n for n in names if n.endswith(".onnx")] and ".onnx," not in record
    assert len(names) == len(zipfile.ZipFile(wheel).namelist()) - 1
