"""Mutation testing of the checker: cosmic-ray mutates the reference solutions,
and the checker, run on each mutant, must fail it.

    python -m tests.run_mutants [FILE ...] [--fresh]      (or: make mutate)

FILE is a module of solutions/ such as part4_nn (default: every file in
PART_OF_FILE). Each file is mutated in its own copy of solutions/ under
build/mutation/<file>/, never in solutions/ itself, and each mutant is judged
by `python -m checker check <its part> --impl <that copy>`: the mutant is
killed when the check exits non-zero (or times out).

A session is resumable: run again and only the mutants not yet tried run,
unless --fresh. The summary (generated, killed, equivalent, survived per
file) goes to build/mutation/summary.md, and every survivor that
docs/mutation-survivors.md does not list as equivalent is printed with its
diff. A survivor is listed as equivalent by a table row

    | part4_nn.py | 123 | core/ReplaceComparisonOperator_Eq_Is | 0 | why it cannot be told apart |

(file, line, operator, occurrence as cosmic-ray numbers them, reason), in a
section whose heading says "equivalent".
"""

from __future__ import annotations

import argparse
import ast
import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from checker import KIT_ROOT

SOLUTIONS = KIT_ROOT / "solutions"
WORK = KIT_ROOT / "build" / "mutation"
SURVIVORS_DOC = KIT_ROOT / "docs" / "mutation-survivors.md"

# The part whose check judges a mutant of each file: only that part runs, so
# a mutant costs about a second.
PART_OF_FILE = {
    "part1_backward": "1",
    "part2_autograd": "2",
    "part3_ops": "3",
    "part4_nn": "4",
    "part5_training": "5",
    "bonus": "b",
}

# Seconds before a mutant's check counts as killed by a timeout. Part 5 trains
# a model, so a mutant that slows training down needs some room.
TIMEOUT = 60.0


@dataclass
class FileResult:
    name: str
    generated: int = 0
    killed: int = 0
    incompetent: int = 0
    pending: int = 0
    equivalent: list[dict] = field(default_factory=list)
    survived: list[dict] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Killed over non-equivalent mutants that ran to an outcome."""
        judged = self.killed + self.incompetent + len(self.survived)
        return 100.0 * (self.killed + self.incompetent) / judged if judged else 100.0


# Files with given code that no exercise grades: the kit's own tests of it
# (tests/test_given_code.py) judge their mutants too.
# The value selects the tests of that file's given code (pytest -k).
GIVEN_CODE_TESTS = {
    "part1_backward": "sin_back",
    "part3_ops": "given_sum",
    "part4_nn": "uniform",
    "part5_training": "digits or split or main",
}


def test_command(copy: Path, name: str) -> str:
    """The shell command that judges one mutant: exit status 0 means it survived."""
    impl = copy / "solutions"
    command = f"{sys.executable} -m checker check {PART_OF_FILE[name]} --impl {impl}"
    if name in GIVEN_CODE_TESTS:
        command += (
            f" && BACKPROP_KIT_IMPL={impl} {sys.executable} -m pytest -q -x -p no:cacheprovider -p no:xdist"
            f" tests/test_given_code.py -k {shlex.quote(GIVEN_CODE_TESTS[name])}"
        )
    return command


def config_text(copy: Path, name: str) -> str:
    # cosmic-ray runs the command without a shell: sh -c gives it one, for && and the variable.
    command = f"sh -c {shlex.quote(test_command(copy, name))}"
    return (
        "[cosmic-ray]\n"
        f'module-path = "{copy / "solutions" / (name + ".py")}"\n'
        f"timeout = {TIMEOUT}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "\n[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )


def prepare(name: str, fresh: bool) -> tuple[Path, Path]:
    """A private copy of solutions/ for this file, its config and session."""
    copy = WORK / name
    session = copy / "session.sqlite"
    if fresh and copy.exists():
        shutil.rmtree(copy)
    snapshot_kit(copy)
    (copy / "config.toml").write_text(config_text(copy, name))
    if not session.exists():
        if (copy / "solutions").exists():
            shutil.rmtree(copy / "solutions")
        shutil.copytree(SOLUTIONS, copy / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
        run(["cosmic-ray", "init", str(copy / "config.toml"), str(session)], copy)
        skip_annotation_mutants(session, copy / "solutions" / f"{name}.py")
    return copy, session


def snapshot_kit(copy: Path) -> None:
    """Judge with a frozen copy of the checker and the kit's tests, so that
    editing the kit while mutants run cannot decide their fate.

    The copy is laid out like the kit (checker/, data/, ... beside
    solutions/), so that solutions/part5_training.py finds ../data.
    """
    for folder in ("checker", "exercises", "data", "tests"):
        if (copy / folder).exists():
            shutil.rmtree(copy / folder)
        shutil.copytree(KIT_ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__", "fixtures"))


def run(command: list[str], copy: Path) -> None:
    executable = Path(sys.executable).parent / command[0]
    # From the copy's folder, `python -m checker` imports the snapshot.
    subprocess.run([str(executable), *command[1:]], cwd=copy, check=True)


def listed_equivalents() -> dict[tuple[str, int, str, int], str]:
    """(file, line, operator, occurrence) -> reason, from the tables under the
    survivors doc's headings that say "equivalent"."""
    listed = {}
    if not SURVIVORS_DOC.exists():
        return listed
    heading = ""
    for line in SURVIVORS_DOC.read_text().splitlines():
        if line.startswith("#"):
            heading = line.lower()
        if "equivalent" not in heading:
            continue  # only the sections of equivalent mutants; the others list mutants still to kill
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].endswith(".py") and cells[1].isdigit() and cells[3].isdigit():
            listed[(cells[0], int(cells[1]), cells[2].strip("`"), int(cells[3]))] = cells[4]
    return listed


ANNOTATION_REASON = "inside a type annotation: with `from __future__ import annotations` it is never evaluated"


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions, as (line, column), of every type annotation in the source."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        annotations = []
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None:
                spans.append(
                    ((annotation.lineno, annotation.col_offset), (annotation.end_lineno, annotation.end_col_offset))
                )
    return spans


def in_annotation(spans: list, position: tuple[int, int]) -> bool:
    return any(start <= tuple(position) < end for start, end in spans)


def skip_annotation_mutants(session: Path, module: Path) -> None:
    """Mark the mutants inside annotations as skipped: they cannot change behaviour, so they need not run."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = annotation_spans(module.read_text())
    with use_db(str(session)) as database:
        for item in list(database.pending_work_items):
            if all(in_annotation(spans, mutation.start_pos) for mutation in item.mutations):
                database.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))


def expect_own_copy(session: Path, module: Path) -> None:
    """Refuse a session that mutates a file outside this copy (one copied from
    another checkout): its mutants would change that file, while the checker
    judged this copy's unchanged one, and every mutant would survive."""
    import sqlite3

    with sqlite3.connect(session) as database:
        paths = {row[0] for row in database.execute("SELECT DISTINCT module_path FROM mutation_specs")}
    foreign = sorted(path for path in paths if Path(path) != module)
    if foreign:
        sys.exit(f"{session} mutates {foreign[0]}, not {module}: run with --fresh, or correct the session's paths.")


def forget_survivors(session: Path) -> None:
    """Drop the verdicts of the surviving mutants, so that the next exec judges them again."""
    import sqlite3

    with sqlite3.connect(session) as database:
        database.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")


def collect(name: str, session: Path, equivalents: dict) -> FileResult:
    dump = subprocess.run(
        [str(Path(sys.executable).parent / "cosmic-ray"), "dump", str(session)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = FileResult(name)
    # The session's own copy: its line numbers are the ones the mutants carry.
    spans = annotation_spans((session.parent / "solutions" / f"{name}.py").read_text())
    for line in dump.splitlines():
        item, outcome = json.loads(line)
        result.generated += 1
        if outcome is None:
            result.pending += 1
            continue
        mutation = item["mutations"][0]
        record = {
            "file": f"{name}.py",
            "line": mutation["start_pos"][0],
            "operator": mutation["operator_name"],
            "occurrence": mutation["occurrence"],
            "diff": outcome.get("diff") or "",
        }
        key = (record["file"], record["line"], record["operator"], record["occurrence"])
        if in_annotation(spans, mutation["start_pos"]):
            result.equivalent.append({**record, "reason": ANNOTATION_REASON})
        elif outcome["test_outcome"] == "survived":
            if key in equivalents:
                result.equivalent.append({**record, "reason": equivalents[key]})
            else:
                result.survived.append(record)
        elif outcome["test_outcome"] == "incompetent":
            result.incompetent += 1
        else:
            result.killed += 1
    return result


def changed_lines(diff: str) -> str:
    """The mutated line, before and after: '-old  +new'."""
    lines = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    return "  ".join(" ".join(line.split()) for line in lines)


def summary(results: list[FileResult]) -> str:
    lines = [
        "| file | generated | killed | equivalent | survived | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name}.py | {r.generated} | {r.killed + r.incompetent} | {len(r.equivalent)} "
            f"| {len(r.survived)} | {r.score:.1f}% |" + (f" ({r.pending} pending)" if r.pending else "")
        )
    killed = sum(r.killed + r.incompetent for r in results)
    survived = sum(len(r.survived) for r in results)
    total = killed + survived
    lines.append(
        f"| all | {sum(r.generated for r in results)} | {killed} | "
        f"{sum(len(r.equivalent) for r in results)} | {survived} | "
        f"{100.0 * killed / total if total else 100.0:.1f}% |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.run_mutants", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", metavar="FILE", help=f"any of {', '.join(PART_OF_FILE)}")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results and start again")
    parser.add_argument(
        "--recheck-survivors",
        action="store_true",
        help="judge the survivors again with the kit as it is now (after adding cases)",
    )
    parser.add_argument("--report-only", action="store_true", help="summarise the sessions, run nothing")
    args = parser.parse_args(argv)
    unknown = [name for name in args.files if name not in PART_OF_FILE]
    if unknown:
        parser.error(f"unknown file {unknown[0]!r}: choose from {', '.join(PART_OF_FILE)}")
    names = args.files or list(PART_OF_FILE)
    equivalents = listed_equivalents()
    results = []
    for name in names:
        if args.report_only:
            copy, session = WORK / name, WORK / name / "session.sqlite"
        else:
            copy, session = prepare(name, args.fresh)
            expect_own_copy(session, copy / "solutions" / f"{name}.py")
            if args.recheck_survivors:
                forget_survivors(session)
                # Mutants inside annotations need no run: skip them again.
                skip_annotation_mutants(session, copy / "solutions" / f"{name}.py")
            run(["cosmic-ray", "exec", str(copy / "config.toml"), str(session)], copy)
        results.append(collect(name, session, equivalents))
    table = summary(results)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "summary.md").write_text(table)
    for r in results:
        for s in r.survived:
            print(f"SURVIVED {s['file']}:{s['line']} {s['operator']} #{s['occurrence']}: {changed_lines(s['diff'])}")
    print(table)
    return 0 if all(not r.survived for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
