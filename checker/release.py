"""`python -m checker release --out DIR [EXERCISE ...]`: write a student's kit into a folder.

The kit holds what a student needs and nothing more: the checker (it runs
on the student's machine), the stubs and given code of exercises/, the data
set, the lessons, the student's make targets, a pyproject.toml, a README
written for students, and a small test suite that makes sense without the
reference (tests/test_student_kit.py). Never solutions/, the planted bugs
of tests/fixtures, bench/, or the instructor's documents and tests.

Part of the course: `release --out DIR 2` hands out Part 2 only (words as
for `check`). The kit records its exercises in course.json, which the
checker reads (manifest.released): `make check` and `make list` then show
only those, and naming another one is a usage error. Besides the released
part files, exercises/ holds every part file the shipped code imports (the
given functional.py wires Parts 1 to 3 together), so that everything
imports; the README tells students to copy their own earlier part files
over those stubs when a part builds on them. Lessons come for the released
parts and for the parts their exercises build on. The bonus is handed out
with the whole course, or when named.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import KIT_ROOT, __version__, kit, manifest
from .manifest import Exercise
from .outcomes import Status

# The kit's own tests that go into a release: they need neither solutions/ nor fixtures.
RELEASED_TESTS = ("__init__.py", "conftest.py", "test_student_kit.py")

# Optional dependencies of pyproject.toml that only instructors use.
INSTRUCTOR_EXTRAS = ("mutation",)

# The main Makefile's instructor targets come after a line starting with this; a release ends before it.
INSTRUCTOR_MAKEFILE_MARKER = "# ---- Instructors only"

GITIGNORE = """\
.venv/
__pycache__/
*.pyc
*.egg-info/
.pytest_cache/
.checker/
"""


class Refused(Exception):
    """The kit cannot go to that folder (it holds something, and no --force; or it holds this kit)."""


class BuildFailed(Exception):
    """The kit could not be built as it should be; nothing was written at its folder."""


@dataclass(frozen=True)
class Plan:
    """What one release holds, decided before anything is written."""

    words: tuple[str, ...]  # the selection as given: ids, parts, function names; none for the whole course
    exercises: tuple[Exercise, ...]  # what it hands out, in course order
    modules: tuple[str, ...]  # the files of exercises/ it ships, as module names
    lessons: tuple[str, ...]  # docs/course/*.md paths

    @property
    def whole_course(self) -> bool:
        return len(self.exercises) == len(manifest.EXERCISES)

    @property
    def released_modules(self) -> list[str]:
        """The part files whose exercises are handed out, in course order."""
        return list(dict.fromkeys(exercise.module for exercise in self.exercises))

    def stub_only_modules(self) -> tuple[list[str], list[str]]:
        """Part files shipped without any exercise handed out, in course order:
        (those whose exercises the released ones build on, so the student's own
        copy belongs there; those present only because the shipped code imports them)."""
        released = self.released_modules
        built_on = {exercise.module for exercise in manifest.with_prerequisites(list(self.exercises))}
        others = [
            module
            for module in dict.fromkeys(manifest.PART_MODULES.values())
            if module in self.modules and module not in released
        ]
        return [module for module in others if module in built_on], [
            module for module in others if module not in built_on
        ]


def plan(words: list[str] | tuple[str, ...] = ()) -> Plan:
    """The release for `words`; raises manifest.UnknownExercise for a word that names nothing."""
    exercises = manifest.select(list(words))
    built_on = manifest.with_prerequisites(exercises)
    wanted = {"__init__", *manifest.GIVEN_MODULES, *(exercise.module for exercise in built_on)}
    lessons = dict.fromkeys(exercise.lesson for exercise in built_on)
    return Plan(tuple(words), tuple(exercises), tuple(imports_closure(wanted)), tuple(lessons))


def imports_closure(modules: set[str]) -> list[str]:
    """`modules` of exercises/ and every module of it they import, at any depth
    (imports inside functions too: core.py imports functional.py on first use)."""
    found: set[str] = set()
    frontier = list(modules)
    while frontier:
        module = frontier.pop()
        if module in found:
            continue
        found.add(module)
        frontier.extend(_relative_imports(KIT_ROOT / "exercises" / f"{module}.py"))
    order = ["__init__", *manifest.GIVEN_MODULES, *dict.fromkeys(manifest.PART_MODULES.values())]
    return sorted(found, key=lambda module: order.index(module) if module in order else len(order))


def _relative_imports(path: Path) -> set[str]:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                imported.add(node.module.split(".")[0])
            else:
                imported.update(alias.name for alias in node.names)
    return imported


# --- writing it -------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    out: Path
    plan: Plan
    moved_aside: Path | None  # where the folder that was at `out` went (with --force)


def build(out: Path, words: list[str] | tuple[str, ...] = (), *, force: bool = False, classroom: bool = False) -> Built:
    """Write the student's kit for `words` into the folder `out`.

    The kit is written beside `out` first and renamed into place at the end,
    so a failure leaves `out` as it was. An `out` that holds anything is
    refused (Refused) unless `force`; then it is moved aside to a backup
    name, never deleted. `classroom` adds GitHub Classroom's autograding files.
    """
    out = Path(out)
    where = out.resolve()
    copied_from = [KIT_ROOT / folder for folder in (*kit.STUDENT_FOLDERS, "docs", "tests", "solutions")]
    if (
        where == KIT_ROOT
        or where in KIT_ROOT.parents
        or any(where == folder or folder in where.parents for folder in copied_from)
    ):
        raise Refused(
            f"{out} would hold this kit, or lie inside a folder the kit is made from: write the student's kit somewhere else"
        )
    release = plan(words)
    occupied = out.exists() and (not out.is_dir() or any(out.iterdir()))
    if occupied and not force:
        raise Refused(f"{out} exists and is not empty: choose a new folder, or pass --force to move it aside")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        write_kit(staging, release, classroom=classroom)
        moved = kit.move_aside(out) if occupied else None
        if out.is_dir():
            out.rmdir()  # an empty folder, made for the kit
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Built(out, release, moved)


def write_kit(root: Path, release: Plan, *, classroom: bool = False) -> None:
    """Write every file of the kit into the existing, empty folder `root`."""
    copied = [*kit.student_files(release.modules), *release.lessons, *(f"tests/{name}" for name in RELEASED_TESTS)]
    for name in copied:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(KIT_ROOT / name, target)
    _write(root / "Makefile", student_makefile((KIT_ROOT / "Makefile").read_text(encoding="utf-8")))
    _write(root / "pyproject.toml", student_pyproject((KIT_ROOT / "pyproject.toml").read_text(encoding="utf-8")))
    _write(root / ".gitignore", GITIGNORE)
    _write(root / manifest.COURSE_FILE.name, course_json(release))
    if classroom:
        from . import classroom as github_classroom

        github_classroom.write_files(root, github_classroom.graded(list(release.words)))
    _write(root / "README.md", student_readme(release, first_report(root, release), classroom=classroom))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def course_json(release: Plan) -> str:
    """course.json: which exercises the kit hands out (the checker reads `exercises`)."""
    record = {
        "kit": f"backprop kit {__version__}",
        "selection": list(release.words),
        "exercises": [exercise.id for exercise in release.exercises],
    }
    return json.dumps(record, indent=2) + "\n"


def student_makefile(makefile: str) -> str:
    """The main Makefile without its instructor targets (everything from the marker line on)."""
    lines = makefile.splitlines(keepends=True)
    marker = next((number for number, line in enumerate(lines) if line.startswith(INSTRUCTOR_MAKEFILE_MARKER)), None)
    if marker is None:
        raise ValueError(
            f"the Makefile has no line starting with {INSTRUCTOR_MAKEFILE_MARKER!r}: where do the instructor targets start?"
        )
    return "".join(lines[:marker]).rstrip("\n") + "\n"


def student_pyproject(pyproject: str) -> str:
    """pyproject.toml without the instructors' optional dependencies (and the comment lines just above each)."""
    for extra in INSTRUCTOR_EXTRAS:
        pyproject = re.sub(rf"(?m)(^#[^\n]*\n)*^{re.escape(extra)} = \[[^\]]*\]\n", "", pyproject)
    return pyproject


def first_report(root: Path, release: Plan) -> str:
    """What `make check` prints in the new kit, run for real on its stubs: the README's sample."""
    from . import api, report

    result = api.run_check(root / "exercises", list(release.exercises))
    unexpected = {
        entry.exercise.id: entry.status for entry in result.exercises if entry.status is not Status.NOT_STARTED
    }
    if unexpected:
        raise BuildFailed(f"on the new kit's stubs, every exercise should be not started, but: {unexpected}")
    result.impl = "exercises"
    result.optional = frozenset(exercise.id for exercise in release.exercises if exercise.bonus)
    return report.plain_text(report.render(result), width=80).rstrip("\n")


# --- the student's README ---------------------------------------------------------


def student_readme(release: Plan, sample: str, *, classroom: bool = False) -> str:
    """The README of a student's kit: only what this kit holds."""
    first = next((exercise for exercise in release.exercises if not exercise.bonus), release.exercises[0])
    parts = list(dict.fromkeys(exercise.part for exercise in release.exercises))
    scope = (
        ""
        if release.whole_course
        else f"This kit hands out {manifest.describe(list(release.exercises))} of the course.\n\n"
    )
    sections = [
        _README_TOP.format(scope=scope),
        _readme_steps(release, first),
        _readme_course(release, parts),
        _README_REPORT.format(sample=sample, bonus=_readme_bonus(release)),
        _readme_more(release, parts),
    ]
    if classroom:
        sections.append(_README_CLASSROOM)
    return "\n".join(section.rstrip("\n") + "\n" for section in sections)


_README_TOP = """\
# Backprop kit

Learn backpropagation by writing it: you build a small autograd framework
over NumPy, one function at a time, and a checker tells you precisely what
is right and what is wrong.

{scope}```
make check    # grade your exercises (the first run sets everything up)
make test     # the kit's own tests: does this kit work on your machine?
```

All you need is Python 3.10 or later and `make`. Both commands create
`.venv/` the first time (`make setup` does only that); nothing needs
installing by hand or activating. Run every command from this folder, as it
is printed here and in the checker's messages. Without `make`, call the
checker with the kit's own Python: `.venv/bin/python -m checker list`.
"""


def _readme_steps(release: Plan, first: Exercise) -> str:
    built_on, imported_only = release.stub_only_modules()
    steps = [
        "Run `make check`. The first run sets up `.venv/` (about a minute); then every exercise shows as *not started*."
    ]
    if built_on:
        steps.append(
            f"These exercises build on earlier ones: copy your own {_and_files(built_on)} from your previous kit "
            f"over the stub{'s' if len(built_on) > 1 else ''} in `exercises/`. The checker runs what an exercise "
            "builds on too, and when that fails it says which earlier exercise to fix first."
        )
    steps.append(
        f"Read the lesson of {_part_name(first.part)}, `{first.lesson}`. The report always names the lesson you need."
    )
    example = " `sin_back` at its top is a worked example." if first.module == "part1_backward" else ""
    steps.append(
        f"Open `exercises/{first.module}.py`. Each exercise is a stub: its docstring is the specification "
        f"(the maths, the shapes, the contract), its body a `TODO` and a `raise NotImplementedError`.{example}"
    )
    steps.append(
        f"Write the function, then check just that exercise: `make check EX={first.id}` (an id, a part such as "
        f"`EX={first.part if first.part != 'bonus' else 'b'}`, or a function name such as `EX={first.functions[0]}`)."
    )
    steps.append(
        f"Read the message, fix, repeat. Stuck? `make hint EX={first.id}` shows one more hint each time you ask "
        f"(`make hint EX={first.id} RESET=1` starts again from the first)."
    )
    text = "## Getting started\n\n" + "".join(f"{number}. {step}\n" for number, step in enumerate(steps, start=1))
    if imported_only:
        one = len(imported_only) == 1
        text += (
            f"\n{_and_files(imported_only)} belong{'s' if one else ''} to other parts of the course: the given code "
            f"imports {'it' if one else 'them'}, so {'it is' if one else 'they are'} here as {'a stub' if one else 'stubs'}. "
            "Leave them as they are; this kit does not check them.\n"
        )
    return text


def _readme_course(release: Plan, parts: list[str]) -> str:
    rows = ["| part | file | you build | lesson |", "|---|---|---|---|"]
    for part in parts:
        members = [exercise for exercise in release.exercises if exercise.part == part]
        files = ", ".join(f"`{module}.py`" for module in dict.fromkeys(exercise.module for exercise in members))
        built = ", ".join(exercise.title for exercise in members)
        rows.append(f"| {'bonus' if part == 'bonus' else part} | {files} | {built} | `{manifest.lesson_of(part)}` |")
    heading = "## The course" if release.whole_course else "## The course in this kit"
    given = ", ".join(f"`{module}.py`" for module in manifest.GIVEN_MODULES)
    return (
        f"{heading}\n\n`make list` shows every exercise with its points, its time limit per test and its lesson.\n\n"
        + "\n".join(rows)
        + f"\n\n{given} in `exercises/` are given code (the `Tensor` and the wiring of NumPy functions to your "
        "backward functions): read them, but do not edit them.\n"
    )


_README_REPORT = """\
## What a check looks like

Your first `make check` prints this:

```
$ make check
{sample}
```

Each exercise is *not started* while it still raises `NotImplementedError`,
*failed* when a test finds a wrong answer, *error* when the code cannot run
(a syntax error, a crash, too much memory), and *timeout* when it runs too
long. An exercise earns its points only when all its tests pass. Your code
runs in a separate process with time and memory limits, and is compared
with mathematics (gradients against numerical differences, graphs against
what a topological order must be), so any correct solution passes. When an
exercise fails because one it builds on fails, the message says which to
fix first.

`make check` exits 0 when every main exercise passes.{bonus}
"""


def _readme_bonus(release: Plan) -> str:
    if not any(exercise.bonus for exercise in release.exercises):
        return ""
    return (
        " The bonus exercises are shown apart, as optional, and decide the exit status only when you ask for "
        "them (`make check EX=b`, or one of them by its id)."
    )


def _readme_more(release: Plan, parts: list[str]) -> str:
    helpers = [
        "`make watch` checks again each time you save a file (Ctrl-C stops). It follows the first exercise "
        "that does not pass, moves on when it passes, and shows one line of progress under the report.",
    ]
    if parts != ["1"]:  # the graph view runs the student's Part 2 framework
        helpers.append(
            "`make graph` draws the computational graph your code builds for a small example, with each "
            "node's gradient (`make graph EXAMPLE=reuse` for another). It runs your Part 2 framework."
        )
    if "5" in parts:
        helpers.append("`make train` runs your training loop of Part 5 and prints its test accuracy.")
    helpers.append(
        "In a notebook started in this folder, with the kit's `.venv` as its kernel "
        "(`.venv/bin/python -m ipykernel install --user --name backprop-kit` makes one Jupyter can pick): "
        f'`from checker import check, hint`, then `check("{release.exercises[0].id}")` grades the functions '
        "defined in the notebook."
    )
    helpers.append("`make test` runs the kit's own tests: if it fails on a fresh kit, tell your instructor.")
    return "## More commands\n\n" + "".join(f"- {helper}\n" for helper in helpers)


_README_CLASSROOM = """\
## On GitHub

Each push to your repository runs the checker on GitHub, one test per
exercise (`.github/workflows/classroom.yml`; the Actions tab shows each
report), and GitHub Classroom records the points. It checks exactly what
`make check` checks, so run that first: it is quicker.
"""


def _part_name(part: str) -> str:
    return "the bonus" if part == "bonus" else f"Part {part}"


def _and_files(modules: list[str]) -> str:
    return manifest.spoken_list([f"`{module}.py`" for module in modules])
