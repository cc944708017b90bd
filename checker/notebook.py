"""Check functions written in a notebook: `check("unbroadcast", unbroadcast)`.

    from checker import check
    check("unbroadcast", unbroadcast)

grades the notebook's `unbroadcast` with the same hidden suite as `make
check EX=unbroadcast` and shows the same report. It copies the exercises
folder, puts each given function's source in place of the definition of the
same name (or adds it to the exercise's file), and runs the normal checker
on the copy, in a child process: the notebook's own state is never touched
and the student's files are never changed.

A function may also be given as source text, which is what to do for a class
whose source Python cannot find (classes defined in a notebook, before
Python 3.13).
"""

from __future__ import annotations

import ast
import inspect
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import manifest

KIT_ROOT = Path(__file__).resolve().parent.parent


class NotebookError(ValueError):
    """A problem with what was passed to check(): explained in one sentence."""


@dataclass
class Checked:
    """What check() returns: the result, with a short repr so a notebook does not print it twice."""

    result: Any  # a checker.results.CheckResult

    @property
    def passed(self) -> bool:
        return self.result.all_passed

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        parts = [f"{exercise.exercise.id} {exercise.status}" for exercise in self.result.exercises]
        return f"<checked: {', '.join(parts)}; score {self.result.score:g}>"


def check(selector: str | list[str], *functions: Any, impl: str | Path | None = None, show: bool = True) -> Checked:
    """Grade `functions` (defined in this notebook) as the exercises named by `selector`.

    selector:  an exercise id ("1.2"), a part ("1") or a function name, as for make check.
    functions: functions or classes defined in the notebook, or their source as strings.
               None at all: check the files as they are.
    impl:      the exercises folder to start from (default: the kit's exercises/).
    show:      print the report (rich draws it in the notebook).
    """
    words = [selector] if isinstance(selector, str) else list(selector)
    try:
        exercises = manifest.select(words)
    except manifest.UnknownExercise as error:
        raise NotebookError(str(error)) from None
    base = Path(impl) if impl is not None else KIT_ROOT / "exercises"
    if not base.is_dir():
        raise NotebookError(f"no folder {str(base)!r} to start from")
    definitions = [source_of(function) for function in functions]
    definitions = _renamed_for(words, definitions)

    from . import api, report

    with tempfile.TemporaryDirectory(prefix="backprop-notebook-") as tmp:
        folder = Path(tmp) / "exercises"
        shutil.copytree(base, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name, source in definitions:
            place_definition(folder, name, source, default_module=exercises[0].module)
        result = api.run_check(folder, exercises)
    result.impl = f"notebook ({', '.join(name for name, _ in definitions)})" if definitions else str(base)
    if show:
        report.make_console().print(report.render(result))
    return Checked(result)


def source_of(function: Any) -> tuple[str, str]:
    """(name, dedented source) of a function or class, or of a source string."""
    if isinstance(function, str):
        source = textwrap.dedent(function)
    else:
        try:
            source = textwrap.dedent(inspect.getsource(function))
        except (OSError, TypeError) as error:
            name = getattr(function, "__name__", repr(function))
            raise NotebookError(
                f"Python cannot find the source of {name} ({error}). Pass its source as a string instead: "
                f'check("...", """def {name}(...): ...""")'
            ) from None
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise NotebookError(f"that source has a syntax error on its line {error.lineno}: {error.msg}") from None
    definitions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if len(definitions) != 1:
        raise NotebookError("give one function or class at a time (its source must hold exactly one definition)")
    return definitions[0].name, source


def _renamed_for(words: list[str], definitions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`check("unbroadcast", my_unbroadcast)`: one function for a function name is that function."""
    graded = {name for exercise in manifest.EXERCISES for name in exercise.functions}
    if len(words) == 1 and len(definitions) == 1 and words[0] in graded and definitions[0][0] != words[0]:
        old_name, source = definitions[0]
        tree = ast.parse(source)
        node = next(node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
        line = source.splitlines(keepends=True)[node.lineno - 1]
        lines = source.splitlines(keepends=True)
        lines[node.lineno - 1] = line.replace(f" {old_name}", f" {words[0]}", 1)
        return [(words[0], "".join(lines))]
    return definitions


def place_definition(folder: Path, name: str, source: str, *, default_module: str) -> Path:
    """Replace the top-level definition `name` in the folder's files, or add it to default_module."""
    own_file = folder / f"{default_module}.py"
    # The exercise's own file first: a name may also appear in a later file (a bonus version).
    for path in [own_file] + [path for path in sorted(folder.glob("*.py")) if path != own_file]:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                lines = text.splitlines(keepends=True)
                start = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
                lines[start - 1 : node.end_lineno] = [source if source.endswith("\n") else source + "\n"]
                path.write_text("".join(lines), encoding="utf-8")
                return path
    with open(own_file, "a", encoding="utf-8") as handle:
        handle.write("\n\n" + source + ("" if source.endswith("\n") else "\n"))
    return own_file
