"""Every docstring sentence is a promise: each suite says, above its cases, which cases keep it.

Above the cases of each exercise, its suite module has a comment block

    # Promises of multiply_back0 and multiply_back1's docstrings, and the cases that check them:
    # - summed back with unbroadcast: "multiply_back0, y broadcast along rows",
    #   "multiply_back1, both broadcast"

one line (`# - `) per clause, continued on lines that start `#   `. These
tests make sure every graded function or class of the manifest has such a
block, and that every name quoted in double quotes in a block is a real case
of the exercise the block is about, so that a renamed case cannot leave a
promise pointing at nothing. Clauses checked by a mechanism common to all
cases say so in words, without double quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from checker import KIT_ROOT, manifest
from checker.cases import cases_for
from checker.suites import suite_module

HEADER = re.compile(r"# Promises of (?P<names>.+?)'s docstrings?, and the cases that check them:")
CONTINUED = ("# - ", "#   ")


@dataclass
class Block:
    line: int  # where the header is, 1-based
    names: list[str]  # the functions or classes whose docstrings it covers
    lines: list[str]  # the header and the clause lines


def suite_path(part: str) -> Path:
    return KIT_ROOT / "checker" / "suites" / f"{suite_module(part)}.py"


def promise_blocks(text: str) -> list[Block]:
    """The "# Promises of" blocks of a suite module's text, in order."""
    blocks: list[Block] = []
    block: Block | None = None
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if line.startswith("# Promises of"):
            header, following = line, lines[number:]
            while not HEADER.fullmatch(header) and following and following[0].startswith("#   "):
                header += " " + following.pop(0)[4:]  # a long header goes on over lines
            match = HEADER.fullmatch(header)
            assert match, f"line {number}: a header reads '# Promises of NAME(S)'s docstring(s), and the cases ...:'"
            block = Block(number, re.split(r", | and ", match["names"]), [line])
            blocks.append(block)
        elif block is not None and line.startswith(CONTINUED):
            block.lines.append(line)
        else:
            block = None
    return blocks


def quoted(line: str) -> list[str]:
    """The names a line quotes in double quotes. A name is never split across lines."""
    assert line.count('"') % 2 == 0, f"an odd number of double quotes (a name split across lines?): {line}"
    return re.findall(r'"([^"]*)"', line)


def blocks_of(exercise: manifest.Exercise) -> list[Block]:
    blocks = promise_blocks(suite_path(exercise.part).read_text(encoding="utf-8"))
    return [block for block in blocks if set(block.names) & set(exercise.functions)]


@pytest.mark.parametrize("part", sorted({exercise.part for exercise in manifest.EXERCISES}))
def test_each_block_is_about_the_graded_functions_of_one_exercise_of_its_part(part):
    graded = {
        name: exercise.id for exercise in manifest.EXERCISES if exercise.part == part for name in exercise.functions
    }
    for block in promise_blocks(suite_path(part).read_text(encoding="utf-8")):
        unknown = [name for name in block.names if name not in graded]
        assert not unknown, f"{suite_path(part).name}:{block.line}: not graded by Part {part}: {unknown}"
        owners = {graded[name] for name in block.names}
        assert len(owners) == 1, f"{suite_path(part).name}:{block.line}: names of several exercises: {sorted(owners)}"
        assert len(block.lines) > 1, f"{suite_path(part).name}:{block.line}: a header with no clause"


@pytest.mark.parametrize("exercise", manifest.EXERCISES, ids=[exercise.id for exercise in manifest.EXERCISES])
def test_every_graded_function_has_its_promises_beside_the_cases(exercise):
    covered = {name for block in blocks_of(exercise) for name in block.names}
    missing = [name for name in exercise.functions if name not in covered]
    assert not missing, (
        f"{suite_path(exercise.part).name} has no '# Promises of' block for {missing} ({exercise.label})"
    )


@pytest.mark.parametrize("exercise", manifest.EXERCISES, ids=[exercise.id for exercise in manifest.EXERCISES])
def test_every_quoted_case_is_a_real_case_of_the_exercise(exercise):
    real = {case.name for case in cases_for([exercise.id])}
    for block in blocks_of(exercise):
        cited = [name for line in block.lines for name in quoted(line)]
        unknown = [name for name in cited if name not in real]
        assert not unknown, (
            f"{suite_path(exercise.part).name}:{block.line}: no case of {exercise.id} is named {unknown}"
        )
