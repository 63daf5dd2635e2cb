"""The stages depend one way: no module of `mer` imports one that imports it back (even through
others), and the data stage needs nothing but itself and `mer.errors`. Read from the source (ast)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import mer

PACKAGE = Path(mer.__file__).parent


def module_name(path: Path) -> str:
    """`mer/data/casme2.py` → `mer.data.casme2`; a package's `__init__.py` → the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def mer_imports(path: Path, modules: set[str]) -> set[str]:
    """The `mer` modules a file imports (a name imported from a package counts as its module when it is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                for alias in node.names
            }
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    """Every module of `mer` → the `mer` modules it imports."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: mer_imports(path, set(paths)) - {name} for name, path in paths.items()}


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    # A package's __init__ imported by its own modules is Python's order of import, not a circle.
    graph = {name: {d for d in deps if not name.startswith(f"{d}.")} for name, deps in graph.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as err:
        pytest_fail = f"an import circle: {' → '.join(err.args[1])}"
        raise AssertionError(pytest_fail) from None
    assert len(graph) > 60


def test_the_data_stage_needs_only_itself_and_the_errors() -> None:
    graph = import_graph()
    reach = {dep for name, deps in graph.items() if name.startswith("mer.data") for dep in deps}
    assert {dep for dep in reach if not dep.startswith("mer.data")} == {"mer.errors"}
