"""House rules a reviewer would otherwise check by hand: sizes, and imports that only run downward."""

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "src/spikebench"
LONGEST_FUNCTION, LONGEST_CLASS = 60, 120
LAYERS = ("utils", "paths", "data", "neurons", "model", "plugins", "study", "run", "report")
"""Bottom to top: a subpackage imports only from its own layer and the ones below it."""
SOURCES = sorted(PACKAGE.rglob("*.py"))


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "spikebench" and len(parts) > 1 and parts[1] in LAYERS else None


def runtime_imports(tree: ast.Module) -> list[str]:
    """Modules imported when the file runs (not those imported only for type checkers)."""
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    imported = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.append(node.module)
    return imported


@pytest.mark.parametrize("path", SOURCES, ids=[str(path.relative_to(PACKAGE)) for path in SOURCES])
def test_functions_and_classes_stay_readable(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        length = getattr(node, "end_lineno", 0) - getattr(node, "lineno", 0) + 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert length <= LONGEST_FUNCTION, f"function {node.name} is {length} lines"
        elif isinstance(node, ast.ClassDef):
            assert length <= LONGEST_CLASS, f"class {node.name} is {length} lines"


@pytest.mark.parametrize("path", SOURCES, ids=[str(path.relative_to(PACKAGE)) for path in SOURCES])
def test_imports_only_run_downward(path: Path):
    own = layer_of("spikebench." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    if own is None:
        return
    for module in runtime_imports(ast.parse(path.read_text())):
        imported = layer_of(module)
        if imported is not None:
            assert LAYERS.index(imported) <= LAYERS.index(own), f"{own} imports {module}, a layer above it"
