"""exercises/ and solutions/ agree: one source of truth.

- the two folders hold the same exercise files;
- the given modules (manifest.GIVEN_MODULES) live once, in exercises/, and
  the solutions package uses them from there;
- in every exercise module, everything but the bodies of the exercise
  functions is identical: top-level code, classes, given functions and
  methods, and the exercise functions' signatures, decorators and docstrings;
- every stub body is exactly the two lines
      # TODO(<id>): write <name>.
      raise NotImplementedError("exercise <id> <name>")
  with <id> an exercise of the manifest and <name> the function's qualified name;
- no line of a solution body appears in its stub file (beyond trivial lines
  and lines the file's given code holds anyway);
- every name the manifest grades exists in its module, in both folders, and is stubbed.

An exercise function is one whose body in exercises/ is the two-line stub,
so new part files are picked up without changes here.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest

from checker import KIT_ROOT, manifest
from tests.solution_text import RAISE, TODO, answer_lines, body_start, functions, stub_bodies

# Checks the stubs as the kit ships them: skipped in a student's clone (see conftest.py).
pytestmark = pytest.mark.pristine


EXERCISES = KIT_ROOT / "exercises"
SOLUTIONS = KIT_ROOT / "solutions"

FILES = sorted(path.name for path in EXERCISES.glob("*.py"))
EXERCISE_MODULES = [name[:-3] for name in FILES if name[:-3] not in manifest.GIVEN_MODULES and name != "__init__.py"]


def test_same_files_in_both_folders():
    # The given modules live once, in exercises/ (solutions/__init__.py finds them there).
    given = {f"{module}.py" for module in manifest.GIVEN_MODULES}
    assert sorted(set(FILES) - given) == sorted(path.name for path in SOLUTIONS.glob("*.py"))


@pytest.mark.parametrize("module", manifest.GIVEN_MODULES)
def test_given_modules_live_once_and_the_solutions_use_them(module):
    import importlib

    assert not (SOLUTIONS / f"{module}.py").exists(), (
        f"solutions/{module}.py repeats given code: it lives in exercises/"
    )
    loaded = importlib.import_module(f"solutions.{module}")
    assert Path(loaded.__file__).resolve() == (EXERCISES / f"{module}.py").resolve()


def _skeleton(tree: ast.Module, exercise_functions: set[str]) -> str:
    """The module with the exercise functions' bodies cut down to their docstrings."""
    tree = copy.deepcopy(tree)
    for name, function in functions(tree).items():
        if name in exercise_functions:
            function.body = function.body[: body_start(function)] + [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


# --- the tests --------------------------------------------------------------------


@pytest.mark.parametrize("module", EXERCISE_MODULES)
def test_stub_bodies_are_the_two_lines(module):
    known_ids = {exercise.id for exercise in manifest.EXERCISES}
    stubs = stub_bodies(module)
    assert stubs, f"exercises/{module}.py has no stub"
    for name, body in stubs.items():
        assert len(body) == 2, f"{module}.{name}: a stub body is two lines, not {body}"
        todo, raising = TODO.match(body[0]), RAISE.match(body[1])
        assert todo and raising, f"{module}.{name}: the stub body must be the TODO comment and the raise, not {body}"
        assert todo["id"] == raising["id"] and todo["name"] == raising["name"] == name, f"{module}.{name}: {body}"
        assert todo["id"] in known_ids, f"{module}.{name}: exercise {todo['id']} is not in the manifest"


@pytest.mark.parametrize("module", EXERCISE_MODULES)
def test_everything_but_exercise_bodies_is_identical(module):
    stubs = set(stub_bodies(module))
    stub_tree = ast.parse((EXERCISES / f"{module}.py").read_text())
    solution_tree = ast.parse((SOLUTIONS / f"{module}.py").read_text())
    missing = stubs - set(functions(solution_tree))
    assert not missing, f"solutions/{module}.py lacks {sorted(missing)}"
    if _skeleton(stub_tree, stubs) != _skeleton(solution_tree, stubs):
        pytest.fail(
            f"exercises/{module}.py and solutions/{module}.py differ outside the exercise bodies: {_first_difference(stub_tree, solution_tree, stubs)}"
        )


def _first_difference(stub_tree: ast.Module, solution_tree: ast.Module, stubs: set[str]) -> str:
    """Name the first top-level statement or function that differs, for the message."""
    stub_functions, solution_functions = functions(stub_tree), functions(solution_tree)
    for name in sorted(set(stub_functions) | set(solution_functions)):
        if name not in stub_functions or name not in solution_functions:
            return f"{name} is in only one of them"
        one, other = stub_functions[name], solution_functions[name]
        if name in stubs:
            one, other = copy.deepcopy(one), copy.deepcopy(other)
            one.body = one.body[: body_start(one)]
            other.body = other.body[: body_start(other)]
        if ast.dump(one) != ast.dump(other):
            return f"{name} (signature, decorators or docstring)" if name in stubs else f"{name} (given code)"
    return "top-level code (imports, constants, class attributes or order)"


@pytest.mark.parametrize("module", EXERCISE_MODULES)
def test_no_solution_text_in_stubs(module):
    stub_lines = {line.strip() for line in (EXERCISES / f"{module}.py").read_text().splitlines()}
    leaked = sorted(answer_lines(module) & stub_lines)
    assert not leaked, f"exercises/{module}.py contains solution lines: {leaked}"


@pytest.mark.parametrize("exercise", manifest.EXERCISES, ids=[exercise.id for exercise in manifest.EXERCISES])
def test_every_graded_name_exists_and_is_stubbed(exercise):
    path = EXERCISES / f"{exercise.module}.py"
    if not path.exists():
        pytest.skip(f"{exercise.module}.py is not written yet")
    for folder in (EXERCISES, SOLUTIONS):
        tree = ast.parse((folder / f"{exercise.module}.py").read_text())
        top_level = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        missing = [name for name in exercise.functions if name not in top_level]
        assert not missing, f"{exercise.id}: {folder.name}/{exercise.module}.py does not define {missing}"
    stubs = stub_bodies(exercise.module)
    for name in exercise.functions:
        assert any(stub == name or stub.startswith(name + ".") for stub in stubs), (
            f"{exercise.id}: {name} has no stub in exercises/{exercise.module}.py (the student would get it for free)"
        )
