"""The package's layers run one way, as docs/architecture.md draws them.

The rows are read from the doc's "The layers, one way" block itself, so the drawing and the code
cannot drift apart: every module is drawn exactly once, and no module imports one drawn in a row
above its own (an upward import fails even where it closes no circle). Every ``import`` statement
counts, the ones inside functions included (a deferred import that exists to dodge a circle is
still a circle), and so do a package's lazy ``_EXPORTS``; only ``if TYPE_CHECKING:`` blocks, which
never run, are left out. Each deferred (function-level) import says why in a comment.
"""

from __future__ import annotations

import ast
import io
import re
import shutil
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "mnist_widgets"
ARCHITECTURE = REPO / "docs" / "architecture.md"
ROOT = "mnist_widgets"
#: The CLI: the only modules the "apart" row may be imported by (besides each other).
CLI = {f"{ROOT}.cli", f"{ROOT}.__main__", f"{ROOT}._cli"}

Graph = Mapping[str, set[str]]


# -- the import graph ------------------------------------------------------------------------------


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: Path) -> dict[str, Path]:
    return {_module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
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


def _imports(module: str, modules: Mapping[str, Path]) -> set[str]:
    """Our modules that ``module`` imports (a name imported from a package counts as its
    submodule when one exists by that name)."""
    path = modules[module]
    found: set[str] = set()
    for node in _statements(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _resolve(module, path, node)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names
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
            assert node.value is not None
            return {f"{module}.{v}" for v in ast.literal_eval(node.value).values()}
    return set()


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = _modules(package)
    return {module: _imports(module, modules) for module in modules}


MODULES = _modules(PACKAGE)
GRAPH = import_graph(PACKAGE)


def _cycle(graph: Graph) -> list[str] | None:
    """One import circle, as the list of modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep] if dep in path else [*path, dep]
            if dep not in state:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


# -- the drawing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    label: str
    modules: tuple[str, ...]


def _drawing(markdown: str) -> str:
    """The ``text`` block under the heading "The layers, one way"."""
    section = markdown.split("## The layers, one way", 1)[1]
    return section.split("```text\n", 1)[1].split("```", 1)[0]


def _names(text: str) -> list[str]:
    """The module names drawn on one line: ``pkg/{a,b}`` is pkg, pkg.a and pkg.b; after ``pkg/:``
    the rest of the line names pkg's modules; anything in parentheses is a remark."""
    text = re.sub(r"\([^)]*\)", " ", text)
    names: list[str] = []
    prefix = ""
    for match in re.finditer(r"(\w+)/\{([^}]*)\}|(\w+)/:?|(\w+)", text):
        package, members, package_colon, name = match.groups()
        if package:
            names += [package, *(f"{package}.{m.strip()}" for m in members.split(","))]
        elif package_colon:
            names.append(package_colon)
            prefix = f"{package_colon}."
        else:
            names.append(prefix + name)
    return names


def parse_rows(markdown: str) -> list[Row]:
    """The drawn rows, top to bottom. A row starts with its label in the first column; indented
    lines continue it; lines of only connectors (``│``) are left out."""
    rows: list[tuple[str, list[str]]] = []
    for line in _drawing(markdown).splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            label, _, line = line.partition(" ")
            rows.append((label, []))
        elif not rows:
            raise AssertionError(f"a drawn line before the first row label: {line!r}")
        rows[-1][1].extend(_names(line))
    return [
        Row(label, tuple(ROOT if n == "__init__" else f"{ROOT}.{n}" for n in names))
        for label, names in rows
    ]


ROWS = parse_rows(ARCHITECTURE.read_text())


def layering_violations(graph: Graph, rows: list[Row]) -> list[str]:
    """Each import that goes up a row, or into or out of the ``apart`` row the wrong way.

    Within a row a module may use its neighbours (the drawing's arrows); the no-circle test
    keeps that one way too. The row labelled ``apart`` stands beside the flow: its modules may
    use any module of the flow but the CLI, and only the CLI and each other import them.
    """
    apart = {m for row in rows if row.label == "apart" for m in row.modules}
    flow = [row for row in rows if row.label != "apart"]
    ranks = {m: i for i, row in enumerate(flow) for m in row.modules}
    label = {m: row.label for row in rows for m in row.modules}
    found = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if module not in label or dep not in label:
                continue  # reported by test_every_module_is_drawn_once
            if module in apart:
                if _is_cli(dep):
                    found.append(f"{module} (apart) imports the CLI's {dep}")
            elif dep in apart:
                if not _is_cli(module):
                    found.append(f"{module} ({label[module]}) imports {dep}, which stands apart")
            elif ranks[dep] < ranks[module]:
                found.append(f"{module} ({label[module]}) imports {dep} ({label[dep]}), a row up")
    return found


def _is_cli(module: str) -> bool:
    return module in CLI or module.startswith(f"{ROOT}._cli.")


# -- deferred imports ------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"(noqa|type:\s*ignore|pragma:)\b.*")


def _comment_lines(source: str) -> tuple[set[int], set[int]]:
    """Lines with a comment that says something (not only a noqa/type/pragma directive): all of
    them, and those that can speak for the line below (a comment alone, or after a ``try:``)."""
    lines, leading = set(), set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            parts = (p.strip() for p in token.string.split("#"))
            if any(p and not _DIRECTIVE.fullmatch(p) for p in parts):
                lines.add(token.start[0])
                code = token.line[: token.start[1]].strip()
                if not code or code.endswith(":"):
                    leading.add(token.start[0])
    return lines, leading


def unexplained_deferred_imports(source: str, where: str) -> list[str]:
    """Every import inside a function without a comment on its line or just above it (or right
    after an import that has one: a group of deferred imports shares its reason)."""
    commented, leading = _comment_lines(source)
    deferred = {
        node.lineno: node
        for function in ast.walk(ast.parse(source))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    explained_ends: set[int] = set()
    found = []
    for line, node in sorted(deferred.items()):
        if line in commented or line - 1 in leading or line - 1 in explained_ends:
            explained_ends.add(node.end_lineno or line)
        else:
            found.append(f"{where}:{line}: {ast.unparse(node)}")
    return found


# -- the tests -------------------------------------------------------------------------------------


def test_the_import_graph_sees_the_imports_we_know_of():
    # Guards the checker itself: a parser that saw nothing would pass every test below.
    assert f"{ROOT}.errors" in GRAPH[f"{ROOT}.tfjs.artifacts"]
    assert any(
        dep.startswith(f"{ROOT}.tfjs")
        for dep in GRAPH[f"{ROOT}.predictor"]
        | set().union(*(GRAPH[d] for d in GRAPH[f"{ROOT}.predictor"] if d in GRAPH))
    )


def test_the_drawing_is_read_as_drawn():
    # Guards the doc parser: the rows it finds, in order, with modules from each kind of spelling.
    labels = [row.label for row in ROWS]
    assert labels == ["app", "input", "running", "loading", "fetching", "format", "leaf", "apart"]
    by_label = {row.label: set(row.modules) for row in ROWS}
    assert {f"{ROOT}.cli", f"{ROOT}._cli", f"{ROOT}._cli.cache"} <= by_label["app"]
    assert {f"{ROOT}.engines", f"{ROOT}.engines._plan"} <= by_label["running"]
    assert f"{ROOT}.tfjs.graph" in by_label["format"]
    assert f"{ROOT}.errors" in by_label["leaf"]
    assert f"{ROOT}.training" in by_label["apart"]


def test_every_module_is_drawn_once():
    drawn = [m for row in ROWS for m in row.modules]
    twice = sorted({m for m in drawn if drawn.count(m) > 1})
    not_modules = sorted(set(drawn) - set(MODULES))
    # The root is the public API over everything; test_no_module_imports_the_package_root.
    missing = sorted(set(MODULES) - set(drawn) - {ROOT})
    assert (twice, not_modules, missing) == ([], [], [])


def test_no_module_imports_from_a_row_above_its_own():
    assert layering_violations(GRAPH, ROWS) == []


def test_an_upward_import_fails_even_without_a_circle(tmp_path):
    # A copy of the package where a leaf helper imports an app module inside a function: no
    # circle (images imports only errors), but a row up, so the layering check must catch it.
    copy = tmp_path / ROOT
    for source in MODULES.values():  # the Python files are all the checker reads
        target = copy / source.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    shipped = copy / "_shipped.py"
    shipped.write_text(
        shipped.read_text() + "\n\ndef _upward():\n    from .images import load_image  # why\n"
    )
    graph = import_graph(copy)
    assert _cycle(graph) is None
    assert layering_violations(graph, ROWS) == [
        f"{ROOT}._shipped (leaf) imports {ROOT}.images (app), a row up"
    ]


def test_the_apart_row_is_imported_only_by_the_cli_and_itself_and_uses_no_cli():
    graph = {m: set(deps) for m, deps in GRAPH.items()}
    graph[f"{ROOT}.widget"].add(f"{ROOT}.drawn")  # same row as the CLI, but not the CLI
    graph[f"{ROOT}.plots"].add(f"{ROOT}._cli._types")
    assert layering_violations(graph, ROWS) == [
        f"{ROOT}.plots (apart) imports the CLI's {ROOT}._cli._types",
        f"{ROOT}.widget (app) imports {ROOT}.drawn, which stands apart",
    ]


def test_no_import_circle():
    assert _cycle(GRAPH) is None


def test_no_module_imports_the_package_root():
    # The root re-exports everything: a module importing it depends on every other module. The
    # entry points on top of everything (``python -m`` and the CLI, for ``__version__``) may.
    entry_points = {f"{ROOT}.__main__", f"{ROOT}.cli"}
    offenders = sorted(m for m, deps in GRAPH.items() if ROOT in deps and m not in entry_points)
    assert offenders == []


def test_leaf_helpers_import_nothing_of_ours_but_errors():
    (leaf,) = (row for row in ROWS if row.label == "leaf")
    assert {m: GRAPH[m] - {f"{ROOT}.errors"} for m in leaf.modules} == {
        m: set() for m in leaf.modules
    }


def test_every_deferred_import_says_why():
    found = [
        hit
        for module, path in MODULES.items()
        for hit in unexplained_deferred_imports(path.read_text(), str(path.relative_to(REPO)))
    ]
    assert found == []


def test_the_deferred_import_check_needs_a_comment_that_says_something():
    source = (
        "import os\n"
        "def a():\n    import json  # deferred: only a needs it\n"
        "def b():\n    # deferred: only b needs it\n    import json\n"
        "def c():\n    if True:\n        import json  # noqa: F401\n"
        "def d():\n    from json import (\n        dumps,\n    )\n"
        "def e():\n    x = 1  # a comment about x\n    import json\n"
        "def f():\n    try:  # deferred: only f needs it\n        import json\n"
        "    except ImportError:\n        pass\n"
        "def g():\n    import json  # deferred: only g needs these\n    import csv\n"
    )
    assert unexplained_deferred_imports(source, "m.py") == [
        "m.py:9: import json",
        "m.py:11: from json import dumps",
        "m.py:16: import json",
    ]
