"""The package's layers run one way: no import circle, and the format package stays the format only.

Every ``import`` statement counts, the ones inside functions included (a deferred import that
exists to dodge a circle is still a circle); only ``if TYPE_CHECKING:`` blocks, which never run,
are left out. See docs/architecture.md for the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnist_widgets"
ROOT = "mnist_widgets"
#: What the format package may import besides itself: helpers that import nothing of ours.
LEAF_HELPERS = {f"{ROOT}.errors", f"{ROOT}._fs", f"{ROOT}._tf", f"{ROOT}._lazy"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST):
    """Every import statement that can run (all depths, TYPE_CHECKING blocks left out)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _imports(module: str) -> set[str]:
    """Our modules that ``module`` imports (a name imported from a package counts as its
    submodule when one exists by that name)."""
    path = MODULES[module]
    found: set[str] = set()
    for node in _statements(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _resolve(module, path, node)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        found.update(t for t in targets if t == ROOT or t.startswith(f"{ROOT}."))
    found.update(_lazy_exports(module, path))
    found.discard(module)
    return found


def _lazy_exports(module: str, path: Path) -> set[str]:
    """A package's ``_EXPORTS = {name: submodule}`` (see _lazy.py): imported on first use, so
    each is an edge like any import. The package root's are left out: nothing may import it."""
    if path.name != "__init__.py" or module == ROOT:
        return set()
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
            return {f"{module}.{v}" for v in ast.literal_eval(node.value).values()}
    return set()


GRAPH = {module: _imports(module) for module in MODULES}


def _cycle() -> list[str] | None:
    """One import circle, as the list of modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for dep in sorted(GRAPH.get(module, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep] if dep in path else [*path, dep]
            if dep not in state:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def test_the_import_graph_sees_the_imports_we_know_of():
    # Guards the checker itself: a parser that saw nothing would pass every test below.
    assert f"{ROOT}.errors" in GRAPH[f"{ROOT}.tfjs.artifacts"]
    assert any(
        dep.startswith(f"{ROOT}.tfjs")
        for dep in GRAPH[f"{ROOT}.predictor"]
        | set().union(*(GRAPH[d] for d in GRAPH[f"{ROOT}.predictor"] if d in GRAPH))
    )


def test_no_import_circle():
    assert _cycle() is None


def test_no_module_imports_the_package_root():
    # The root re-exports everything: a module importing it depends on every other module. The
    # entry points on top of everything (``python -m`` and the CLI, for ``__version__``) may.
    entry_points = {f"{ROOT}.__main__", f"{ROOT}.cli"}
    offenders = sorted(m for m, deps in GRAPH.items() if ROOT in deps and m not in entry_points)
    assert offenders == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(f"{ROOT}.tfjs")))
def test_the_format_package_imports_only_itself_and_leaf_helpers(module):
    outside = {d for d in GRAPH[module] if not d.startswith(f"{ROOT}.tfjs")} - LEAF_HELPERS
    assert outside == set()


@pytest.mark.parametrize("helper", sorted(LEAF_HELPERS))
def test_leaf_helpers_import_nothing_of_ours_but_errors(helper):
    assert GRAPH[helper] <= {f"{ROOT}.errors"}
