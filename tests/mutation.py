"""Build a submission from the reference solutions with some definitions replaced.

A fixture file (tests/fixtures/bugs/*.py or tests/fixtures/variants/*.py)
starts with a docstring of `key: value` lines, then a free-text note:

    \"\"\"
    exercise: 1.2
    expect: failed
    message: unbroadcast | keepdims
    module: part1_backward

    Sums the size-1 dims without keepdims=True.
    \"\"\"
    import numpy as np

    def unbroadcast(broadcasted, original):
        ...

- exercise: the exercise whose status is asserted.
- expect: the status it must get (passed for a correct variant).
- message: optional; each `|`-separated piece must appear in the exercise's
  message (case-insensitive).
- module: optional; the file whose definitions are replaced (default: the
  exercise's own file).
- also_fails: optional, for a correct variant; bonus exercises that ask more
  of the same function and so may fail in a full check (a recursive
  topological_sort is right for 2.4 and wrong for b.1).

Every top-level function or class of the fixture replaces the definition of
the same name in that module (or is appended when there is none); its
imports are added to the module's top.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

from checker import KIT_ROOT, manifest

SOLUTIONS = KIT_ROOT / "solutions"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Fixture:
    path: Path
    exercise: str
    expect: str
    messages: tuple[str, ...]
    module: str
    source: str
    also_fails: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"


def load_fixture(path: Path) -> Fixture:
    source = path.read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    fields = {}
    for line in docstring.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("exercise", "expect", "message", "module", "also_fails"):
            fields[key.strip()] = value.strip()
    exercise = fields["exercise"]
    messages = tuple(piece.strip() for piece in fields.get("message", "").split("|") if piece.strip())
    module = fields.get("module") or manifest.get(exercise).module
    also_fails = tuple(fields.get("also_fails", "").split())
    assert all(manifest.get(exercise_id).bonus for exercise_id in also_fails), (
        f"{path.name}: also_fails names a main exercise"
    )
    return Fixture(path, exercise, fields["expect"], messages, module, source, also_fails)


def all_fixtures(kind: str) -> list[Fixture]:
    return [load_fixture(path) for path in sorted((FIXTURES / kind).glob("*.py"))]


def splice(module_source: str, replacement_source: str) -> str:
    """The module with the replacement's definitions and imports put in."""
    module_lines = module_source.splitlines(keepends=True)
    replacement = ast.parse(replacement_source)
    replacement_lines = replacement_source.splitlines(keepends=True)
    module_tree = ast.parse(module_source)
    positions = {
        node.name: node
        for node in module_tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    imports: list[str] = []
    appended: list[str] = []
    edits: list[tuple[int, int, str]] = []
    for node in replacement.body:
        start = min([node.lineno] + [decorator.lineno for decorator in getattr(node, "decorator_list", [])])
        text = "".join(replacement_lines[start - 1 : node.end_lineno])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(text)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            old = positions.get(node.name)
            if old is None:
                appended.append("\n\n" + text)
            else:
                old_start = min([old.lineno] + [d.lineno for d in old.decorator_list])
                edits.append((old_start - 1, old.end_lineno, text))
    for start, end, text in sorted(edits, reverse=True):
        module_lines[start:end] = [text]
    body = "".join(module_lines) + "".join(appended)
    # Imports go after `from __future__` lines, which must stay first.
    lines = body.splitlines(keepends=True)
    insert_at = max((i + 1 for i, line in enumerate(lines) if line.startswith("from __future__")), default=0)
    return "".join(lines[:insert_at] + imports + lines[insert_at:])


def build_submission(fixture: Fixture, workdir: Path) -> Path:
    """A copy of the solutions with the fixture spliced into its module."""
    target = workdir / "submission"
    shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    module_path = target / f"{fixture.module}.py"
    module_path.write_text(splice(module_path.read_text(), fixture.source))
    return target
