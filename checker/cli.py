"""Command line: `python -m checker check [EXERCISE ...] [--impl DIR] [--json FILE]`,
`python -m checker list`, `hint`, `watch`, `graph`, and for instructors
`python -m checker grade SUBMISSIONS [EXERCISE ...] --out DIR [--jobs N]`,
`python -m checker gradescope --out FILE.zip`,
`python -m checker release --out DIR [EXERCISE ...]` and
`python -m checker classroom [--out DIR] [EXERCISE ...]`.

Exit status (a contract): 0 when every selected exercise passed, 1 when one
did not, 2 for a usage error (an unknown exercise, a missing folder), with a
one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__, manifest

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=".venv/bin/python -m checker",
        description="Check the backprop kit's exercises (make check, make list, make hint, ... call it for you).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="run the hidden tests on your exercises")
    check.add_argument(
        "exercises",
        nargs="*",
        metavar="EXERCISE",
        help="an exercise id (1.2), a part (1), or a function name; none means all",
    )
    check.add_argument("--impl", default="exercises", metavar="DIR", help="the folder to check (default: exercises)")
    check.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    check.add_argument(
        "--seed",
        type=seed_argument(allow_random=True),
        default=None,
        metavar="N|random",
        help="draw the hidden inputs from grading seed N, as `grade` does (random: a fresh one); default: the fixed inputs",
    )
    check.set_defaults(handler=command_check)

    listing = commands.add_parser("list", help="list the exercises")
    listing.set_defaults(handler=command_list)

    hint = commands.add_parser("hint", help="show one more hint for an exercise (each call shows the next)")
    hint.add_argument(
        "exercises",
        nargs="*",
        metavar="EXERCISE",
        help="an exercise id, or a function name; none means the last one asked about",
    )
    hint.add_argument("--reset", action="store_true", help="start this exercise's hints again from the first")
    hint.set_defaults(handler=command_hint)

    watch = commands.add_parser("watch", help="check again every time you save a file (Ctrl-C to stop)")
    watch.add_argument(
        "exercises",
        nargs="*",
        metavar="EXERCISE",
        help="what to check; none means the first exercise that does not pass",
    )
    watch.add_argument(
        "--impl", default="exercises", metavar="DIR", help="the folder to watch and check (default: exercises)"
    )
    watch.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    watch.add_argument("--max-runs", type=int, default=None, help=argparse.SUPPRESS)  # for the kit's tests
    watch.set_defaults(handler=command_watch)

    graph = commands.add_parser(
        "graph", help="draw the computational graph your code builds, with each node's gradient"
    )
    graph.add_argument(
        "--impl",
        default="exercises",
        metavar="DIR",
        help="whose code to run (default: exercises; solutions for the reference)",
    )
    graph.add_argument(
        "--example",
        default="forward_and_back",
        choices=["forward_and_back", "reuse"],
        help="which small computation to draw",
    )
    graph.set_defaults(handler=command_graph)

    grade = commands.add_parser("grade", help="grade a folder of submissions in parallel (instructors)")
    grade.add_argument(
        "submissions",
        metavar="SUBMISSIONS",
        help="a folder: each subfolder, .zip, or group of loose part files is one submission",
    )
    grade.add_argument(
        "exercises", nargs="*", metavar="EXERCISE", help="grade only these (ids, parts, function names); none means all"
    )
    grade.add_argument(
        "--out", required=True, metavar="DIR", help="where to write grades.csv and one JSON per submission"
    )
    grade.add_argument(
        "--jobs", type=int, default=None, metavar="N", help="submissions checked at once (default: one per CPU)"
    )
    grade.add_argument(
        "--allow-partial-sandbox",
        action="store_true",
        help="grade even where the kernel sandbox is not complete (unsafe for untrusted code)",
    )
    grade.add_argument(
        "--seed",
        type=seed_argument(allow_random=False),
        default=None,
        metavar="N",
        help="draw the hidden inputs from grading seed N, to repeat a grade (default: a fresh secret seed)",
    )
    grade.set_defaults(handler=command_grade)

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder bundle (instructors)")
    gradescope.add_argument(
        "exercises", nargs="*", metavar="EXERCISE", help="grade only these (ids, parts, function names); none means all"
    )
    gradescope.add_argument("--out", required=True, metavar="FILE.zip", help="the zip to write")
    gradescope.add_argument(
        "--allow-partial-sandbox",
        action="store_true",
        help="let the bundle grade where the kernel sandbox is not complete (unsafe)",
    )
    gradescope.set_defaults(handler=command_gradescope)

    release = commands.add_parser(
        "release",
        help="write a student's kit into a new folder: stubs, checker, lessons, never the solutions (instructors)",
    )
    release.add_argument(
        "exercises",
        nargs="*",
        metavar="EXERCISE",
        help="hand out only these (ids, parts, function names); none means the whole course",
    )
    release.add_argument("--out", required=True, metavar="DIR", help="the folder to write the kit into (new or empty)")
    release.add_argument(
        "--force", action="store_true", help="when DIR is not empty, move it aside to DIR.bak-<time> first"
    )
    release.add_argument(
        "--classroom", action="store_true", help="also write GitHub Classroom's autograding files into the kit"
    )
    release.set_defaults(handler=command_release)

    classroom = commands.add_parser(
        "classroom", help="write GitHub Classroom's autograding files, one test per exercise (instructors)"
    )
    classroom.add_argument(
        "exercises",
        nargs="*",
        metavar="EXERCISE",
        help="a test for each of these (ids, parts, function names); none means the main course",
    )
    classroom.add_argument(
        "--out", default=".", metavar="DIR", help="the repository's folder (default: the current one)"
    )
    classroom.add_argument(
        "--force", action="store_true", help="replace files that differ, moving the old ones aside first"
    )
    classroom.set_defaults(handler=command_classroom)
    return parser


def seed_argument(allow_random: bool):
    """argparse type of --seed: a whole number from 0 up (or `random`, drawn here, where allowed)."""

    def parse(text: str) -> int:
        from . import seeds

        if allow_random and text == "random":
            return seeds.draw()
        if not text.isdigit():
            expected = "a whole number from 0 up" + (" or 'random'" if allow_random else "")
            raise argparse.ArgumentTypeError(f"--seed takes {expected}, not {text!r}")
        return int(text)

    return parse


def main(argv: list[str] | None = None) -> int:
    _write_utf8_where_windows_would_not()
    try:
        arguments = build_parser().parse_args(argv)
        return arguments.handler(arguments)
    except UsageError as error:
        print(f"checker: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("checker: interrupted", file=sys.stderr)
        return 130


def main_entry() -> None:
    """The `backprop-kit` command (pyproject.toml's [project.scripts]): `backprop-kit check` is `python -m checker check`."""
    sys.exit(main())


def _write_utf8_where_windows_would_not() -> None:
    """On Windows, output to a pipe or a file is in the ANSI code page, which
    has no ✓ or ✗ and would stop the report with an error: write UTF-8 there.
    (A console, and every other system, already takes UTF-8.)"""
    if sys.platform != "win32":
        return
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and not stream.isatty():
            stream.reconfigure(encoding="utf-8")


def selected(words: list[str]) -> list[manifest.Exercise]:
    """The exercises `words` name (all those this kit hands out for none); a word naming none is a usage error."""
    try:
        return manifest.select(words)
    except manifest.UnknownExercise as error:
        raise UsageError(str(error)) from None


def command_check(arguments: argparse.Namespace) -> int:
    exercises = selected(arguments.exercises)
    impl_dir = Path(arguments.impl)
    if not impl_dir.is_dir():
        raise UsageError(f"no folder {str(impl_dir)!r} to check")

    from . import api

    try:
        result = api.run_check(impl_dir, exercises, seed=arguments.seed)
    except Exception as error:  # a checker bug must still leave a report behind
        result = api.failed_to_run(impl_dir, exercises, f"{type(error).__name__}: {error}", arguments.seed)
    result.optional = manifest.optional_bonus(arguments.exercises)
    if arguments.json:
        result.write_json(Path(arguments.json))
    from . import report

    report.show(report.make_console(), report.render(result))
    return EXIT_PASSED if result.all_passed else EXIT_FAILED


def command_list(arguments: argparse.Namespace) -> int:
    from . import report

    report.show(report.make_console(), report.exercise_list(selected([])))
    return EXIT_PASSED


def command_grade(arguments: argparse.Namespace) -> int:
    exercises = selected(arguments.exercises)
    submissions_dir, out_dir = Path(arguments.submissions), Path(arguments.out)
    if not submissions_dir.is_dir():
        raise UsageError(f"no folder {str(submissions_dir)!r} of submissions")
    if arguments.jobs is not None and arguments.jobs < 1:
        raise UsageError("--jobs must be at least 1")

    import time

    from . import grade, grade_report, report, runner, sandbox, seeds

    runner.refuse_inspection()  # no process of our user can open this one's pipes or memory
    confinement = runner.probe_sandbox()
    if not confinement.full and not arguments.allow_partial_sandbox:
        raise UsageError(
            f"refusing to grade: {sandbox.summary(confinement)} "
            "Students' code could forge grades here; pass --allow-partial-sandbox to grade anyway."
        )
    # One secret seed for the whole run, drawn fresh unless a grade is being repeated.
    seed = arguments.seed if arguments.seed is not None else seeds.draw()
    console = report.make_console(stderr=True)
    started = time.monotonic()
    with grade_report.make_progress(console) as progress:
        task = progress.add_task("grading", total=None, last="")
        grades = grade.grade_all(
            submissions_dir,
            out_dir,
            exercises,
            jobs=arguments.jobs,
            words=arguments.exercises,
            seed=seed,
            on_start=lambda total: progress.update(task, total=total),
            on_done=lambda done: progress.update(
                task, advance=1, last=f"{done.name}: {done.score:g}/{done.max_score:g}"
            ),
        )
    report.show(
        report.make_console(), grade_report.summary(grades, exercises, out_dir, time.monotonic() - started, seed)
    )
    return EXIT_PASSED


def command_gradescope(arguments: argparse.Namespace) -> int:
    out = Path(arguments.out)
    if out.suffix.lower() != ".zip":
        raise UsageError(f"the bundle must be a .zip file, not {str(out)!r}")
    selected(arguments.exercises)
    from . import gradescope

    gradescope.build_bundle(out, arguments.exercises, allow_partial_sandbox=arguments.allow_partial_sandbox)
    print(f"Wrote {out}: upload it as the autograder of a Gradescope programming assignment (see README, Instructors).")
    return EXIT_PASSED


def command_release(arguments: argparse.Namespace) -> int:
    handed_out = selected(arguments.exercises)
    from . import release

    try:
        built = release.build(
            Path(arguments.out), arguments.exercises, force=arguments.force, classroom=arguments.classroom
        )
    except release.Refused as error:
        raise UsageError(str(error)) from None
    except release.BuildFailed as error:
        print(f"checker: the kit was not written: {error}", file=sys.stderr)
        return EXIT_FAILED
    if built.moved_aside is not None:
        print(f"Moved what was in {built.out} aside, to {built.moved_aside}.")
    extra = " and GitHub Classroom's autograding files" if arguments.classroom else ""
    print(
        f"Wrote a student's kit to {built.out}: {manifest.describe(handed_out)}, {len(handed_out)} exercise{'s' if len(handed_out) != 1 else ''}{extra}."
    )
    print(f"Try it as a student would: cd {built.out} && make check")
    return EXIT_PASSED


def command_classroom(arguments: argparse.Namespace) -> int:
    selected(arguments.exercises)
    from . import classroom

    graded = classroom.graded(arguments.exercises)
    if not graded:
        raise UsageError("no exercise to grade here but the optional bonus: name it (b) to give it tests")
    out = Path(arguments.out)
    if not out.is_dir():
        raise UsageError(f"no folder {str(out)!r} to write into")
    try:
        moved = classroom.write_files(out, graded, force=arguments.force)
    except classroom.Conflict as error:
        raise UsageError(str(error)) from None
    for path, backup in moved:
        print(f"Moved the old {path} aside, to {backup}.")
    points = sum(exercise.points for exercise in graded)
    print(
        f"Wrote {out / classroom.WORKFLOW_FILE} and {out / classroom.AUTOGRADING_FILE}: {len(graded)} tests, {points:g} points."
    )
    return EXIT_PASSED


def command_hint(arguments: argparse.Namespace) -> int:
    from . import hints, report

    try:
        step = hints.next_hint(arguments.exercises, reset=arguments.reset)
    except manifest.UnknownExercise as error:
        raise UsageError(str(error)) from None
    report.show(report.make_console(), hints.render(step))
    return EXIT_PASSED


def command_watch(arguments: argparse.Namespace) -> int:
    from . import watch

    selected(arguments.exercises)  # also reads course.json: a damaged one stops here, not inside the loop
    impl_dir = Path(arguments.impl)
    if not impl_dir.is_dir():
        raise UsageError(f"no folder {str(impl_dir)!r} to watch")
    watcher = watch.Watcher(
        impl_dir, list(arguments.exercises), interval=arguments.interval, max_runs=arguments.max_runs
    )
    return watcher.run()


def command_graph(arguments: argparse.Namespace) -> int:
    from . import graphview, report

    impl_dir = Path(arguments.impl)
    if not impl_dir.is_dir():
        raise UsageError(f"no folder {str(impl_dir)!r} to run")
    report.show(report.make_console(), graphview.render(graphview.run_example(impl_dir, arguments.example)))
    return EXIT_PASSED
