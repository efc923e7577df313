"""The package's shape: its layers, its modules' size, and ARCHITECTURE.md, kept true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "allegiance"

# The pipeline, lowest first: a module may import its own layer and those below it.
LAYERS = {
    **dict.fromkeys(
        ("errors", "dims", "words", "cache", "reading", "syntax", "provenance", "spreadsheet"), 0
    ),
    "spec": 1,
    "model": 2,
    "evidence": 3,
    "posterior": 4,
    "forecast": 5,
    "update": 6,
    "ledger": 7,
    "workflow": 8,
    "cli": 9,
    "report": 9,
    "serve": 9,
}
FACES = {"cli", "report", "serve"}
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _component(path: Path) -> str:
    """The top-level part of the package a file belongs to: ``spec``, ``words``, ..."""
    part = path.relative_to(PACKAGE).parts[0]
    return part.removesuffix(".py")


def _imported(path: Path) -> set[str]:
    """Top-level parts of the package a file imports, anywhere in it (functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "allegiance":
                names = [f"allegiance.{a.name}" for a in node.names]
        out |= {n.split(".")[1] for n in names if n.startswith("allegiance.")}
    return out


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {_component(p) for p in _modules()} - {"__init__"} <= set(LAYERS)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    here = _component(path)
    if here == "__init__":  # the package's lazy front door names the core, never a face
        assert not _imported(path) & FACES
        return
    for other in _imported(path):
        assert LAYERS[other] <= LAYERS[here], f"{here} (layer {LAYERS[here]}) imports {other}"
        if here not in FACES:
            assert other not in FACES, f"the core ({here}) imports the face {other}"


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "x.py"
    module.write_text("def f():\n    from allegiance.update import Updater\n")
    assert _imported(module) == {"update"}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name}: {lines} lines; split it along a concept"


def _table_modules() -> set[str]:
    """Module paths named in ARCHITECTURE.md's module table: `spec/load.py` and the like."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    return set(re.findall(r"^\| `([a-z_/]+\.py)`", text, flags=re.MULTILINE))


def test_architecture_names_every_module_and_only_real_ones() -> None:
    named = _table_modules()
    # A subpackage's __init__ only re-exports its modules' names.
    real = {str(p.relative_to(PACKAGE)) for p in _modules() if p.name != "__init__.py"}
    assert named, "ARCHITECTURE.md has no module table"
    assert not named - real, f"named but missing: {sorted(named - real)}"
    assert not real - named, f"not named in ARCHITECTURE.md: {sorted(real - named)}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.AST) -> list[ast.ImportFrom | ast.Import]:
    """Import statements that run: those under ``if TYPE_CHECKING:`` only name types."""
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for child in node.body
        for n in ast.walk(child)
    }
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
            and id(n) not in skipped]  # fmt: skip


def _module_graph() -> dict[str, set[str]]:
    """Each module's runtime imports of other modules, a package's names followed to the
    module that defines them (``from allegiance.spec import ModelSpec`` is spec.types)."""
    files = {_module_name(p): p for p in _modules()}
    packages = {_module_name(p) for p in _modules() if p.name == "__init__.py"}
    exports = {
        (pkg, a.asname or a.name): f"{node.module}.{a.name}"
        if f"{node.module}.{a.name}" in files
        else node.module
        for pkg in packages
        for node in ast.parse(files[pkg].read_text()).body
        if isinstance(node, ast.ImportFrom) and node.module
        for a in node.names
    }

    def defining(module: str, name: str | None = None) -> set[str]:
        if name is not None and f"{module}.{name}" in files:
            return {f"{module}.{name}"}
        if module in packages and name is not None and (module, name) in exports:
            return defining(exports[(module, name)])
        return {module} if module in files and module not in packages else set()

    graph = {}
    for name, path in files.items():
        if name in packages:
            continue
        out: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out |= {m for a in node.names for m in defining(node.module, a.name)}
            elif isinstance(node, ast.Import):
                out |= {m for a in node.names for m in defining(a.name)}
        graph[name] = out - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, set()) & set(graph):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = stack[stack.index(v) :]
            del stack[stack.index(v) :]
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_modules_import_each_other_in_a_loop() -> None:
    """Inside a subpackage, across them and between the faces: no cycle of runtime imports
    (a cycle through ``if TYPE_CHECKING:`` names only types, and is allowed)."""
    graph = _module_graph()
    assert graph["allegiance.spec.load"] >= {"allegiance.spec.types", "allegiance.spec.grid"}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_loop() -> None:
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]


def test_a_package_never_hides_a_module_behind_a_name() -> None:
    """``allegiance.model.terms`` is the module: a package re-exporting a function under its
    module's name would break ``mock.patch`` paths and documentation links."""
    import importlib
    import sys

    for path in _modules():
        importlib.import_module(_module_name(path))
    for path in _modules():
        name = _module_name(path)
        parent, _, leaf = name.rpartition(".")
        if path.name != "__init__.py" and parent:
            assert getattr(sys.modules[parent], leaf) is sys.modules[name], name


MAX_FUNCTION_LINES = 60
# Functions longer than that today. Shrink-only: a function that gets shorter leaves the
# list, and nothing joins it.
LONG_FUNCTIONS = {
    "cli/commands.py:forecast", "update/timeline.py:replay", "workflow/forecasting.py:run_forecast",
    "model/terms.py:terms", "forecast/summary.py:summarise",
    "model/patch.py:patch_terms", "model/structure.py:_structure",
    "ledger/history.py:record_forecast",
    "cli/outcomes.py:backtest",
    "spec/switches.py:check_switches", "posterior/store.py:load_posterior",
    "evidence/files.py:_csv_rows", "cli/scenarios.py:scenario", "model/channels.py:channel_terms",
}  # fmt: skip


def test_no_function_grows_past_sixty_lines() -> None:
    long = {
        f"{path.relative_to(PACKAGE).as_posix()}:{node.name}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    }
    assert not long - LONG_FUNCTIONS, "split these functions: " + ", ".join(
        sorted(long - LONG_FUNCTIONS)
    )
    assert not LONG_FUNCTIONS - long, "shorter now, so off the list: " + ", ".join(
        sorted(LONG_FUNCTIONS - long)
    )


def test_every_name_the_benchmarks_import_exists_and_is_what_they_call() -> None:
    """The benchmarks import inside their functions: a moved or renamed name, or a module
    imported where a function of its name was meant, would only show when one is run."""
    import importlib
    import inspect

    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("allegiance"):
                module = importlib.import_module(str(node.module))
                for alias in node.names:
                    name = alias.asname or alias.name
                    if hasattr(module, alias.name):
                        thing = getattr(module, alias.name)
                    else:
                        thing = importlib.import_module(f"{node.module}.{alias.name}")
                    called = re.search(rf"(?<![.\w]){name}\(", text)
                    assert not (inspect.ismodule(thing) and called), (
                        f"{path.name}: {name} is a module"
                    )
