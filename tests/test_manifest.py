"""The manifest is the one source of the syllabus: what repeats it elsewhere must agree.

- the registration table of functional.py (given code) registers exactly
  the backward functions the main exercises grade;
- the README's course table has one row per part, with the manifest's file
  and lesson, and names only functions of that part;
- `requires` names earlier exercises, has no cycle, and covers every
  function of another exercise that an exercise's reference answer calls;
- the main exercises' points add up to MAIN_POINTS.
"""

from __future__ import annotations

import ast
import re

import pytest

from checker import KIT_ROOT, manifest


def graded_by() -> dict[str, str]:
    """Each graded function or class, and the main exercise that grades it (a bonus one when no main one does)."""
    owners: dict[str, str] = {}
    for exercise in sorted(manifest.EXERCISES, key=lambda item: item.bonus):
        for name in exercise.functions:
            owners.setdefault(name, exercise.id)
    return owners


def requires_closure(exercise_id: str) -> set[str]:
    found: set[str] = set()
    frontier = [exercise_id]
    while frontier:
        for required in manifest.get(frontier.pop()).requires:
            if required not in found:
                found.add(required)
                frontier.append(required)
    return found


def registration_table() -> list[tuple[str, int, str]]:
    """functional.py's BACKWARD_FUNCTIONS as written: (forward function's source, position, backward function's name)."""
    tree = ast.parse((KIT_ROOT / "exercises" / "functional.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "BACKWARD_FUNCTIONS" for target in node.targets
        ):
            return [(ast.unparse(row.elts[0]), row.elts[1].value, row.elts[2].id) for row in node.value.elts]
    raise AssertionError("exercises/functional.py has no BACKWARD_FUNCTIONS table")


def is_backward_function(module: str, name: str) -> bool:
    """A backward function takes (grad_out, out, ...), as the stub in exercises/ says."""
    tree = ast.parse((KIT_ROOT / "exercises" / f"{module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return [argument.arg for argument in node.args.args[:2]] == ["grad_out", "out"]
    return False


def test_functional_registers_exactly_the_graded_backward_functions():
    registered = [backward for _, _, backward in registration_table()]
    graded = [
        name
        for exercise in manifest.EXERCISES
        if not exercise.bonus
        for name in exercise.functions
        if is_backward_function(exercise.module, name)
    ]
    assert len(registered) == len(set(registered)), (
        f"registered twice: {sorted({n for n in registered if registered.count(n) > 1})}"
    )
    assert sorted(registered) == sorted(graded), (
        f"functional.py registers {sorted(set(registered) - set(graded))} that no main exercise grades, and misses "
        f"{sorted(set(graded) - set(registered))} that the manifest grades"
    )


def readme_course_rows() -> list[list[str]]:
    text = (KIT_ROOT / "README.md").read_text(encoding="utf-8")
    header = "| part | file | you build | lesson |"
    assert header in text, "README.md has no course table"
    rows = []
    for line in text.split(header, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_readme_course_table_follows_the_manifest():
    rows = readme_course_rows()
    assert [row[0] for row in rows] == list(manifest.PART_MODULES), "one row per part, in course order"
    for part, file_cell, builds, lesson in rows:
        assert f"`{manifest.PART_MODULES[part]}.py`" in file_cell, (
            f"part {part}: the file should be {manifest.PART_MODULES[part]}.py"
        )
        assert lesson == f"`{manifest.lesson_of(part)}`", (
            f"part {part}: the lesson should be {manifest.lesson_of(part)}"
        )
        graded_here = {name for exercise in manifest.EXERCISES if exercise.part == part for name in exercise.functions}
        for token in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*(?:0/1)?)`", builds):  # names, not commands
            # "multiply_back0/1" names multiply_back0 and multiply_back1.
            names = [token[:-3] + "0", token[:-3] + "1"] if token.endswith("0/1") else [token]
            for name in names:
                assert name in graded_here, (
                    f"the README's part {part} row names {name}, which no exercise of part {part} grades"
                )


def test_requires_names_earlier_exercises_without_a_cycle():
    order = [exercise.id for exercise in manifest.EXERCISES]
    for exercise in manifest.EXERCISES:
        for required in exercise.requires:
            assert required in order, f"{exercise.id} requires {required}, which is no exercise"
            assert order.index(required) < order.index(exercise.id), (
                f"{exercise.id} requires {required}, which comes after it"
            )
            assert not manifest.get(required).bonus, f"{exercise.id} requires the bonus exercise {required}"
        assert exercise.id not in requires_closure(exercise.id), (
            f"{exercise.id} requires itself through {exercise.requires}"
        )


def names_used_by(exercise: manifest.Exercise) -> set[str]:
    """Every name the reference answer of an exercise refers to, inside its graded functions and classes."""
    tree = ast.parse((KIT_ROOT / "solutions" / f"{exercise.module}.py").read_text(encoding="utf-8"))
    definitions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    used: set[str] = set()
    for name in exercise.functions:
        assert name in definitions, f"{exercise.id} grades {name}, which solutions/{exercise.module}.py does not define"
        for node in ast.walk(definitions[name]):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
    return used


@pytest.mark.parametrize("exercise", manifest.EXERCISES, ids=[exercise.id for exercise in manifest.EXERCISES])
def test_requires_covers_what_the_reference_answer_calls(exercise):
    owners = graded_by()
    allowed = requires_closure(exercise.id) | {exercise.id}
    called = {
        name: owners[name]
        for name in names_used_by(exercise)
        if name in owners and name not in exercise.functions and name not in exercise.stands_in_for
    }
    missing = {name: owner for name, owner in called.items() if owner not in allowed}
    assert not missing, f"{exercise.id} calls {missing} (function: exercise) but does not require them"


def test_stands_in_for_names_functions_of_other_exercises():
    owners = graded_by()
    for exercise in manifest.EXERCISES:
        for name in exercise.stands_in_for:
            assert name in owners and owners[name] != exercise.id, (
                f"{exercise.id} stands in for {name}, graded by no other exercise"
            )


def test_the_main_points_add_up():
    assert sum(exercise.points for exercise in manifest.EXERCISES if not exercise.bonus) == manifest.MAIN_POINTS
