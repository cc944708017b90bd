"""The import rules of docs/architecture.md, section 2, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from checker import KIT_ROOT

CHECKER = KIT_ROOT / "checker"
FOUNDATION = {"outcomes", "manifest", "seeds", "wire", "safetext", "sandbox", "portable"}
CHILD_SIDE = {"child", "plugin", "probe_items", "observe", "cases", "numeric", "suites"}
PARENT_SIDE = {
    "runner",
    "judge",
    "results",
    "api",
    "report",
    "watch",
    "hints",
    "notebook",
    "graphview",
    "grade",
    "grade_worker",
    "grade_report",
    "submissions",
    "gradescope",
    "release",
    "classroom",
    "kit",
    "cli",
    "__main__",
}


def modules() -> list[Path]:
    return sorted(CHECKER.rglob("*.py"))


def name_of(path: Path) -> str:
    """'runner', or 'suites' for everything in checker/suites/."""
    relative = path.relative_to(CHECKER)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def checker_imports(path: Path, top_level_only: bool = False) -> list[tuple[str, list[str], int]]:
    """(module imported, the names taken from it, line) for every import of a checker module in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_package = path.parent != CHECKER  # suites/ is one level down
    found = []
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level:
            levels_up = node.level - (1 if in_package else 0)
            if in_package and levels_up == 0:
                module = "suites"  # a sibling in suites/
            else:
                module = (node.module or "").split(".")[0]
            names = [alias.name for alias in node.names]
            if module:
                found.append((module, names, node.lineno))
            else:
                found.extend((name, [], node.lineno) for name in names)
    return found


@pytest.mark.parametrize("path", [path for path in modules() if name_of(path) in FOUNDATION], ids=name_of)
def test_the_foundation_imports_nothing_of_the_checker_but_kit_root(path):
    others = [(module, line) for module, names, line in checker_imports(path) if module != "KIT_ROOT"]
    assert not others, f"{path.name} imports {others}"


@pytest.mark.parametrize(
    "path", [path for path in modules() if name_of(path) in CHILD_SIDE], ids=lambda path: str(path.relative_to(CHECKER))
)
def test_the_child_side_never_imports_the_parent_at_import_time(path):
    parent = [(module, line) for module, _, line in checker_imports(path, top_level_only=True) if module in PARENT_SIDE]
    assert not parent, f"{path.relative_to(CHECKER)} imports the parent side at import time: {parent}"


def test_every_module_is_in_one_layer():
    unplaced = {name_of(path) for path in modules()} - FOUNDATION - CHILD_SIDE - PARENT_SIDE - {"__init__"}
    assert not unplaced, f"place these in a layer of docs/architecture.md and of this test: {sorted(unplaced)}"


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(CHECKER)))
def test_no_module_takes_another_modules_private_names(path):
    taken = [
        (module, name, line)
        for module, names, line in checker_imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported_modules = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level
        for alias in node.names
    }
    reached = [
        (node.value.id, node.attr, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in imported_modules
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    ]
    assert not taken + reached, f"{path.relative_to(CHECKER)} uses private names of other modules: {taken + reached}"


@pytest.mark.parametrize(
    "path", [path for path in modules() if name_of(path) != "runner"], ids=lambda path: str(path.relative_to(CHECKER))
)
def test_only_the_runner_starts_processes_that_run_student_code(path):
    """Popen and subprocess.run appear in runner.py only; watch runs the checker's own `check` command."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    starts = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "subprocess"
        and node.func.attr in ("Popen", "run", "call", "check_call", "check_output")
    ]
    if name_of(path) == "watch":
        assert len(starts) == 1, "watch starts one process: the checker's own check command"
        return
    assert not starts, f"{path.name} starts a process at lines {starts}: go through runner's public functions"
