"""Command line: `python -m checker check [EXERCISE ...] [--impl DIR] [--json FILE]`,
`python -m checker list`, and for instructors
`python -m checker grade SUBMISSIONS [EXERCISE ...] --out DIR [--jobs N]` and
`python -m checker gradescope --out FILE.zip`.

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
    parser = _Parser(prog=".venv/bin/python -m checker", description="Check the backprop kit's exercises (make check, make list, make hint, ... call it for you).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="run the hidden tests on your exercises")
    check.add_argument("exercises", nargs="*", metavar="EXERCISE", help="an exercise id (1.2), a part (1), or a function name; none means all")
    check.add_argument("--impl", default="exercises", metavar="DIR", help="the folder to check (default: exercises)")
    check.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    check.set_defaults(handler=command_check)

    listing = commands.add_parser("list", help="list the exercises")
    listing.set_defaults(handler=command_list)

    hint = commands.add_parser("hint", help="show one more hint for an exercise (each call shows the next)")
    hint.add_argument("exercises", nargs="*", metavar="EXERCISE", help="an exercise id, or a function name; none means the last one asked about")
    hint.add_argument("--reset", action="store_true", help="start this exercise's hints again from the first")
    hint.set_defaults(handler=command_hint)

    watch = commands.add_parser("watch", help="check again every time you save a file (Ctrl-C to stop)")
    watch.add_argument("exercises", nargs="*", metavar="EXERCISE", help="what to check; none means the first exercise that does not pass")
    watch.add_argument("--impl", default="exercises", metavar="DIR", help="the folder to watch and check (default: exercises)")
    watch.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    watch.add_argument("--max-runs", type=int, default=None, help=argparse.SUPPRESS)  # for the kit's tests
    watch.set_defaults(handler=command_watch)

    graph = commands.add_parser("graph", help="draw the computational graph your code builds, with each node's gradient")
    graph.add_argument("--impl", default="exercises", metavar="DIR", help="whose code to run (default: exercises; solutions for the reference)")
    graph.add_argument("--example", default="forward_and_back", choices=["forward_and_back", "reuse"], help="which small computation to draw")
    graph.set_defaults(handler=command_graph)

    grade = commands.add_parser("grade", help="grade a folder of submissions in parallel (instructors)")
    grade.add_argument("submissions", metavar="SUBMISSIONS", help="a folder: each subfolder, .zip, or group of loose part files is one submission")
    grade.add_argument("exercises", nargs="*", metavar="EXERCISE", help="grade only these (ids, parts, function names); none means all")
    grade.add_argument("--out", required=True, metavar="DIR", help="where to write grades.csv and one JSON per submission")
    grade.add_argument("--jobs", type=int, default=None, metavar="N", help="submissions checked at once (default: one per CPU)")
    grade.add_argument("--allow-partial-sandbox", action="store_true", help="grade even where the kernel sandbox is not complete (unsafe for untrusted code)")
    grade.set_defaults(handler=command_grade)

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder bundle (instructors)")
    gradescope.add_argument("exercises", nargs="*", metavar="EXERCISE", help="grade only these (ids, parts, function names); none means all")
    gradescope.add_argument("--out", required=True, metavar="FILE.zip", help="the zip to write")
    gradescope.add_argument("--allow-partial-sandbox", action="store_true", help="let the bundle grade where the kernel sandbox is not complete (unsafe)")
    gradescope.set_defaults(handler=command_gradescope)
    return parser


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


def command_check(arguments: argparse.Namespace) -> int:
    try:
        exercises = manifest.select(arguments.exercises)
    except manifest.UnknownExercise as error:
        raise UsageError(str(error)) from None
    impl_dir = Path(arguments.impl)
    if not impl_dir.is_dir():
        raise UsageError(f"no folder {str(impl_dir)!r} to check")

    from . import api

    try:
        result = api.run_check(impl_dir, exercises)
    except Exception as error:  # a checker bug must still leave a report behind
        result = api.failed_to_run(impl_dir, exercises, f"{type(error).__name__}: {error}")
    result.optional = manifest.optional_bonus(arguments.exercises)
    if arguments.json:
        result.write_json(Path(arguments.json))
    from . import report

    report.show(report.make_console(), report.render(result))
    return EXIT_PASSED if result.all_passed else EXIT_FAILED


def command_list(arguments: argparse.Namespace) -> int:
    from . import report

    report.show(report.make_console(), report.exercise_list(list(manifest.EXERCISES)))
    return EXIT_PASSED


def command_grade(arguments: argparse.Namespace) -> int:
    try:
        exercises = manifest.select(arguments.exercises)
    except manifest.UnknownExercise as error:
        raise UsageError(str(error)) from None
    submissions_dir, out_dir = Path(arguments.submissions), Path(arguments.out)
    if not submissions_dir.is_dir():
        raise UsageError(f"no folder {str(submissions_dir)!r} of submissions")
    if arguments.jobs is not None and arguments.jobs < 1:
        raise UsageError("--jobs must be at least 1")

    import time

    from . import grade, grade_report, report, runner, sandbox

    runner.refuse_inspection()  # no process of our user can open this one's pipes or memory
    confinement = runner.probe_sandbox()
    if not confinement.full and not arguments.allow_partial_sandbox:
        raise UsageError(
            f"refusing to grade: {sandbox.summary(confinement)} "
            "Students' code could forge grades here; pass --allow-partial-sandbox to grade anyway."
        )
    console = report.make_console(stderr=True)
    started = time.monotonic()
    with grade_report.make_progress(console) as progress:
        task = progress.add_task("grading", total=None, last="")
        grades = grade.grade_all(
            submissions_dir, out_dir, exercises, jobs=arguments.jobs, words=arguments.exercises,
            on_start=lambda total: progress.update(task, total=total),
            on_done=lambda done: progress.update(task, advance=1, last=f"{done.name}: {done.score:g}/{done.max_score:g}"),
        )
    report.show(report.make_console(), grade_report.summary(grades, exercises, out_dir, time.monotonic() - started))
    return EXIT_PASSED


def command_gradescope(arguments: argparse.Namespace) -> int:
    out = Path(arguments.out)
    if out.suffix.lower() != ".zip":
        raise UsageError(f"the bundle must be a .zip file, not {str(out)!r}")
    try:
        manifest.select(arguments.exercises)
    except manifest.UnknownExercise as error:
        raise UsageError(str(error)) from None
    from . import gradescope

    gradescope.build_bundle(out, arguments.exercises, allow_partial_sandbox=arguments.allow_partial_sandbox)
    print(f"Wrote {out}: upload it as the autograder of a Gradescope programming assignment (see README, Instructors).")
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

    if arguments.exercises:
        try:
            manifest.select(arguments.exercises)
        except manifest.UnknownExercise as error:
            raise UsageError(str(error)) from None
    impl_dir = Path(arguments.impl)
    if not impl_dir.is_dir():
        raise UsageError(f"no folder {str(impl_dir)!r} to watch")
    watcher = watch.Watcher(impl_dir, list(arguments.exercises), interval=arguments.interval, max_runs=arguments.max_runs)
    return watcher.run()


def command_graph(arguments: argparse.Namespace) -> int:
    from . import graphview, report

    impl_dir = Path(arguments.impl)
    if not impl_dir.is_dir():
        raise UsageError(f"no folder {str(impl_dir)!r} to run")
    report.show(report.make_console(), graphview.render(graphview.run_example(impl_dir, arguments.example)))
    return EXIT_PASSED
