"""Check functions written in a notebook: `check("1.3")`.

    from checker import check, hint
    check("1.3")                                  # what 1.3 needs, from this notebook
    check("1.3", multiply_back0, multiply_back1)  # or name the functions yourself
    hint("1.3")                                   # one more hint each time

grades the notebook's definitions with the same hidden suite as `make check
EX=1.3` and shows the same report. Without functions, it takes from the
caller's namespace every function or class that the exercise grades, and
those of the exercises it builds on (unbroadcast, for 1.3), provided the
notebook defined them itself (not imported them from exercises/). With
functions, it takes those, and the notebook's definitions of the ones they
build on. Helpers that a taken definition calls and that the notebook
defined come along too.

It copies the exercises folder, puts each definition's source in place of
the definition of the same name (or adds it to the exercise's file), and
runs the normal checker on the copy, in a child process: the notebook's own
state is never touched and the student's files are never changed. Nothing
taken from the notebook: the files are checked as they are.

A definition may also be given as source text, for a class or function
whose source Python cannot find.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import re
import shutil
import sys
import tempfile
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import KIT_ROOT, manifest


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


def check(
    selector: str | list[str],
    *functions: Any,
    impl: str | Path | None = None,
    show: bool = True,
    namespace: dict[str, Any] | None = None,
) -> Checked:
    """Grade the notebook's definitions as the exercises named by `selector`.

    selector:  an exercise id ("1.3"), a part ("1") or a function name, as for make check.
    functions: functions or classes defined in the notebook, or their source as strings.
               The exercise's other functions and those of the exercises it builds on
               are taken from the notebook too, when it defines them.
    impl:      the exercises folder to start from (default: the kit's exercises/).
    show:      print the report (rich draws it in the notebook).
    namespace: where to look for definitions (default: the caller's globals).
    """
    words = [selector] if isinstance(selector, str) else list(selector)
    try:
        exercises = manifest.select(words)
    except manifest.UnknownExercise as error:
        raise NotebookError(_unknown(error)) from None
    base = Path(impl) if impl is not None else KIT_ROOT / "exercises"
    if not base.is_dir():
        raise NotebookError(f"no folder {str(base)!r} to start from")
    namespace = caller_namespace() if namespace is None else namespace
    definitions = _renamed_for(words, [source_of(function) for function in functions])
    definitions += from_namespace(namespace, exercises, given={name for name, _ in definitions}, passed=functions)

    from . import api, report

    with tempfile.TemporaryDirectory(prefix="backprop-notebook-") as tmp:
        folder = Path(tmp) / "exercises"
        shutil.copytree(base, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name, source in definitions:
            place_definition(folder, name, source, default_module=_home_module(name, exercises))
        result = api.run_check(folder, exercises)
    result.impl = f"notebook ({', '.join(name for name, _ in definitions)})" if definitions else str(base)
    if show:
        report.show(report.make_console(), report.render(result, report.NOTEBOOK))
    return Checked(result)


def hint(exercise: str, reset: bool = False) -> None:
    """Show one more hint for `exercise` ("1.3", or a function name), as `make hint EX=1.3` does."""
    from . import hints, report

    try:
        step = hints.next_hint([exercise] if exercise else [], reset=reset)
    except manifest.UnknownExercise as error:
        raise NotebookError(_unknown(error)) from None
    report.show(report.make_console(), hints.render(step, report.NOTEBOOK))


def _unknown(error: manifest.UnknownExercise) -> str:
    """The selection error in a notebook's words: no `make` there."""
    if error.word is not None:
        ids = ", ".join(exercise.id for exercise in manifest.EXERCISES)
        return f"no exercise, part or function is called {error.word!r}. The exercises are {ids}; a function name such as 'unbroadcast' works too."
    text = re.sub(r"make hint EX=([^\s)]+)", r'hint("\1")', str(error))
    return re.sub(r" \(or hint\(.*?\)\)", "", text)


def caller_namespace() -> dict[str, Any]:
    """The globals of the first frame outside the checker: the notebook's, when called from one."""
    frame = sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).split(".")[0] == __name__.split(".")[0]:
        frame = frame.f_back
    return frame.f_globals if frame is not None else {}


def _defined_in(value: Any, namespace: dict[str, Any]) -> bool:
    """Whether `value` is a function or class that the code owning `namespace` defined itself."""
    if not isinstance(value, (types.FunctionType, type)):
        return False
    return getattr(value, "__module__", None) == namespace.get("__name__", "__main__")


def from_namespace(
    namespace: dict[str, Any], exercises: list[manifest.Exercise], *, given: set[str], passed: tuple[Any, ...] = ()
) -> list[tuple[str, str]]:
    """(name, source) of what the exercises and the exercises they build on grade, and the
    notebook defines; then the notebook's helpers that any taken definition calls."""
    from .api import with_prerequisites

    wanted = [name for exercise in with_prerequisites(exercises) for name in exercise.functions]
    taken: list[tuple[str, str]] = []
    seen = set(given)
    for name in wanted:
        value = namespace.get(name)
        if name not in seen and _defined_in(value, namespace):
            seen.add(name)
            taken.append(source_of(value))
    # Helpers: names the taken (and passed) definitions use that the notebook defined.
    frontier = [value for value in passed if not isinstance(value, str)] + [namespace[name] for name, _ in taken]
    while frontier:
        for name in sorted(_global_names(frontier.pop())):
            value = namespace.get(name)
            if name not in seen and _defined_in(value, namespace):
                seen.add(name)
                taken.append(source_of(value))
                frontier.append(value)
    return taken


def _global_names(value: Any) -> set[str]:
    """The global names a function's code (or a class's methods' code) may read."""
    codes = []
    if isinstance(value, types.FunctionType):
        codes.append(value.__code__)
    elif isinstance(value, type):
        codes += [function.__code__ for function in _methods(value)]
    names: set[str] = set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [constant for constant in code.co_consts if isinstance(constant, types.CodeType)]
    return names


def _methods(cls: type) -> list[types.FunctionType]:
    """The plain functions defined in a class's body (methods, static and class methods, property getters)."""
    found = []
    for value in vars(cls).values():
        for candidate in (value, getattr(value, "__func__", None), getattr(value, "fget", None)):
            if isinstance(candidate, types.FunctionType):
                found.append(candidate)
    return found


def _home_module(name: str, exercises: list[manifest.Exercise]) -> str:
    """The file a definition belongs in when no file defines it yet: that of the exercise grading it."""
    for exercise in manifest.EXERCISES:
        if name in exercise.functions and not exercise.bonus:
            return exercise.module
    return exercises[0].module


def source_of(function: Any) -> tuple[str, str]:
    """(name, dedented source) of a function or class, or of a source string."""
    if isinstance(function, str):
        source = textwrap.dedent(function)
    elif isinstance(function, (types.FunctionType, type)):
        source = _source_text(function)
    else:
        kind = type(function).__name__
        raise NotebookError(
            f"check() takes functions and classes (or their source as a string), not a {kind}: "
            "pass the function itself, without calling it."
        )
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise NotebookError(f"that source has a syntax error on its line {error.lineno}: {error.msg}") from None
    definitions = [
        node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    if len(definitions) != 1:
        raise NotebookError("give one function or class at a time (its source must hold exactly one definition)")
    return definitions[0].name, source


def _source_text(value: Any) -> str:
    """The source of a function or class, found where Python put it: for a class
    defined in a notebook cell (which inspect cannot find before Python 3.13),
    the cell that its methods' code came from."""
    try:
        return textwrap.dedent(inspect.getsource(value))
    except (OSError, TypeError):
        pass
    if isinstance(value, type):
        for method in _methods(value):
            lines = linecache.getlines(method.__code__.co_filename)
            source = _class_in("".join(lines), value.__name__, method.__code__.co_firstlineno)
            if source is not None:
                return source
    name = getattr(value, "__name__", "it")
    word = "class" if isinstance(value, type) else "def"
    raise NotebookError(
        f"Python cannot find the source of {name}. Pass its source as a string instead: "
        f'check("...", """{word} {name}...""")'
    )


def _class_in(text: str, name: str, line: int) -> str | None:
    """The source of the class `name` in `text` whose body holds `line`."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == name and node.lineno <= line <= (node.end_lineno or 0):
            start = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
            return textwrap.dedent("".join(text.splitlines(keepends=True)[start - 1 : node.end_lineno]))
    return None


def _renamed_for(words: list[str], definitions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`check("unbroadcast", my_unbroadcast)`: one function for a function name is that function."""
    graded = {name for exercise in manifest.EXERCISES for name in exercise.functions}
    if len(words) == 1 and len(definitions) == 1 and words[0] in graded and definitions[0][0] != words[0]:
        old_name, source = definitions[0]
        tree = ast.parse(source)
        node = next(
            node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        )
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
