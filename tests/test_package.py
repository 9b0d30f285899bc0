"""The public API: every exported name resolves, and importing the package stays cheap."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import mnist_widgets as mw


def test_every_public_name_resolves():
    missing = [name for name in mw.__all__ if getattr(mw, name, None) is None]
    assert missing == []


def test_no_export_is_shadowed_by_a_submodule_import():
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(mw.__path__)}
    assert submodules.isdisjoint(mw.__all__)  # importing a submodule rebinds its name
    import mnist_widgets.preprocessing
    import mnist_widgets.training  # noqa: F401

    assert callable(mw.train) and mw.train.__module__ == "mnist_widgets.training"
    assert callable(mw.preprocess) and mw.preprocess.__module__ == "mnist_widgets.preprocessing"


def _imports_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_import_and_cli_help_do_not_import_tensorflow():
    assert "tensorflow" not in _imports_after("import mnist_widgets")
    help_modules = _imports_after(
        "import contextlib, io\n"
        "from mnist_widgets.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])"
    )
    assert "tensorflow" not in help_modules
    assert "keras" not in help_modules


def test_notebooks_use_only_the_public_api():
    import re
    from pathlib import Path

    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
    private = re.compile(r"mnist_widgets\._\w+|from mnist_widgets(\.\w+)* import _\w+")
    found = {nb.name: private.findall(nb.read_text()) for nb in notebooks}
    assert notebooks and {name: hits for name, hits in found.items() if hits} == {}


def test_the_tutorials_names_are_exported_and_documented():
    for name in ("shipped_model_dir", "find_mnist", "ConfigError"):
        assert name in mw.__all__ and getattr(mw, name).__doc__
    assert issubclass(mw.ConfigError, mw.MnistWidgetsError)
    assert issubclass(mw.ConfigError, ValueError)  # what callers caught before
    import mnist_widgets.drawn

    assert mnist_widgets.drawn.drawn_digits.__doc__


def _type_checking_imports(path: Path) -> dict[str, str]:
    """``name -> submodule`` of the root's ``if TYPE_CHECKING:`` imports."""
    found: dict[str, str] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.level == 1 and stmt.module
                for alias in stmt.names:
                    found[alias.asname or alias.name] = stmt.module
    return found


def test_the_lazy_exports_and_the_type_checking_imports_are_the_same_table():
    # Type checkers and IDEs read the TYPE_CHECKING block; users get _EXPORTS: one may not drift.
    assert _type_checking_imports(Path(mw.__file__)) == mw._EXPORTS


def test_installed_only_skips_the_working_directory_in_the_browser_alone(tmp_path, monkeypatch):
    """In JupyterLite '' (the notebook's folder) is browser storage: every miss there is a round
    trip, so the download stack imports with '' off sys.path (mnist_widgets._http)."""
    from mnist_widgets._env import installed_only

    (tmp_path / "beside_the_notebook_mw.py").write_text("X = 1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["/nowhere", "", *sys.path[1:]])
    monkeypatch.delitem(sys.modules, "beside_the_notebook_mw", raising=False)
    importlib.invalidate_caches()
    with installed_only():  # on CPython: nothing changes
        assert sys.path[1] == ""
        importlib.import_module("beside_the_notebook_mw")
    del sys.modules["beside_the_notebook_mw"]

    monkeypatch.setattr(sys, "platform", "emscripten")  # what in_browser() tests
    path = list(sys.path)
    with installed_only(), pytest.raises(ModuleNotFoundError):
        assert "" not in sys.path
        importlib.import_module("beside_the_notebook_mw")
    assert sys.path == path  # '' back where it was
    with pytest.raises(RuntimeError), installed_only():
        raise RuntimeError  # an import that fails puts it back too
    assert sys.path == path
