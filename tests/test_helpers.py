"""The student's helpers, used the way a new student would: hint, watch, graph, notebook."""

from __future__ import annotations

import linecache
import shutil
import subprocess
import sys
import time

import pytest

import checker
from checker import cli, hints, manifest
from checker.notebook import NotebookError
from tests.mutation import KIT_ROOT, SOLUTIONS

EXERCISES = KIT_ROOT / "exercises"


@pytest.fixture
def state(tmp_path, monkeypatch):
    """Hint state in a private folder, never the kit's own .checker/."""
    folder = tmp_path / "state"
    monkeypatch.setenv(hints.STATE_DIR_VARIABLE, str(folder))
    return folder


# hint -----------------------------------------------------------------------------------------


def test_hint_shows_one_more_each_time_and_remembers(state, capsys):
    unbroadcast = manifest.get("1.2")
    for seen in range(1, len(unbroadcast.hints) + 1):
        assert cli.main(["hint", "1.2"]) == 0
        out = capsys.readouterr().out
        assert f"Hint {seen} of {len(unbroadcast.hints)}" in out or seen == len(unbroadcast.hints)
        assert unbroadcast.hints[seen - 1][:30] in out
    assert "No more hints" in out
    assert cli.main(["hint", "1.2"]) == 0  # asking again after the last one
    assert "No more hints" in capsys.readouterr().out
    assert (state / "hints.json").is_file()


def test_hint_accepts_a_function_name_and_defaults_to_the_last_exercise(state, capsys):
    assert cli.main(["hint", "log_back"]) == 0
    assert "Hints for 1.1 log_back" in capsys.readouterr().out
    assert cli.main(["hint"]) == 0
    out = capsys.readouterr().out
    assert "Hints for 1.1" in out and "Hint 2 of" in out


def test_hint_reset_starts_again(state, capsys):
    cli.main(["hint", "2.4"])
    cli.main(["hint", "2.4"])
    capsys.readouterr()
    cli.main(["hint", "2.4", "--reset"])
    assert "Hint 1 of" in capsys.readouterr().out


def test_hint_usage_errors(state, capsys):
    assert cli.main(["hint"]) == 2  # nothing asked yet: which exercise?
    assert "make hint EX=" in capsys.readouterr().err
    assert cli.main(["hint", "1"]) == 2  # a whole part
    assert cli.main(["hint", "nonsense"]) == 2


def test_a_corrupt_state_file_starts_afresh(state, capsys):
    state.mkdir()
    (state / "hints.json").write_text("{not json")
    assert cli.main(["hint", "1.1"]) == 0
    assert "Hint 1 of" in capsys.readouterr().out


def test_every_exercise_has_hints():
    assert all(exercise.hints for exercise in manifest.EXERCISES)


# watch ----------------------------------------------------------------------------------------


def run_checker(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "checker", *arguments], cwd=KIT_ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.pristine
def main_count() -> int:
    return sum(1 for exercise in manifest.EXERCISES if not exercise.bonus)


def bonus_points() -> str:
    return f"{sum(exercise.points for exercise in manifest.EXERCISES if exercise.bonus):g}"


def points_of(*words: str) -> str:
    """The points of the exercises these words select (ids or parts), as the course line writes them."""
    return f"{sum(exercise.points for exercise in manifest.select(list(words))):g}"


def test_watch_runs_the_check_once_and_stops(tmp_path):
    impl = tmp_path / "mine"
    shutil.copytree(EXERCISES, impl, ignore=shutil.ignore_patterns("__pycache__"))
    completed = run_checker("watch", "1.1", "--impl", str(impl), "--max-runs", "1")
    assert completed.returncode == 0
    assert "run 1: following 1.1" in completed.stdout
    text = " ".join(completed.stdout.replace("│", " ").split())
    assert "Next up: log_back" in text
    assert (
        f"Course: 0/{main_count()} main exercises pass, score 0/{manifest.MAIN_POINTS}; bonus 0/{bonus_points()}"
        in completed.stdout
    )
    assert "Watching" in completed.stdout


@pytest.mark.pristine
def test_watch_moves_on_when_the_exercise_passes(tmp_path):
    impl = tmp_path / "mine"
    shutil.copytree(EXERCISES, impl, ignore=shutil.ignore_patterns("__pycache__"))
    process = subprocess.Popen(
        [sys.executable, "-m", "checker", "watch", "1.1", "--impl", str(impl), "--max-runs", "2", "--interval", "0.1"],
        cwd=KIT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        seen = ""
        while "Watching" not in seen and time.monotonic() < deadline:
            seen += process.stdout.readline()
        assert "Watching" in seen, seen
        shutil.copyfile(SOLUTIONS / "part1_backward.py", impl / "part1_backward.py")
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "run 2: following 2.1" in rest
    assert "✓ 1.1 log_back passes." in rest
    assert "Next: 2.1 BackwardFuncLookup (read docs/course/part2.md)." in rest
    assert f"Course: 4/{main_count()} main exercises pass, score {points_of('1')}/{manifest.MAIN_POINTS}" in rest
    assert len(rest.splitlines()) < 30  # one exercise's report and a line of progress: a normal terminal's height


def test_watch_follows_one_exercise_and_advances_past_every_passing_one(tmp_path):
    from checker import watch
    from checker.watch import CheckRun, Watcher

    course = {exercise.id: "not_started" for exercise in manifest.EXERCISES}
    calls: list[list[str]] = []

    def fake_check(impl_dir, exercises):
        calls.append(list(exercises))
        chosen = exercises or list(course)
        return CheckRun(
            f"report of {' '.join(exercises) or 'everything'}\n",
            {exercise_id: course[exercise_id] for exercise_id in chosen},
        )

    lines: list[str] = []
    original = watch.run_check
    watch.run_check = fake_check
    try:
        watcher = Watcher(tmp_path, [], interval=0.01, max_runs=1, say=lines.append)
        assert watcher.run() == 0
        assert calls == [[], ["1.1"]] and watcher.focus == "1.1"
        assert "report of 1.1" in lines and "report of everything" not in lines  # the full survey is not shown
        course.update({"1.1": "passed", "1.2": "passed", "1.3": "failed"})
        lines.clear()
        watcher._check()
        assert calls[2:] == [["1.1"], [], ["1.3"]] and watcher.focus == "1.3"
        assert "✓ 1.1 log_back passes." in lines and "Next: 1.3 multiply_back (read docs/course/part1.md)." in lines
        passing = points_of("1.1", "1.2")
        assert (
            f"Course: 2/{main_count()} main exercises pass, score {passing}/{manifest.MAIN_POINTS}; bonus 0/{bonus_points()}"
            in lines
        )
        course.update({exercise_id: "passed" for exercise_id in course})
        lines.clear()
        watcher._check()
        assert watcher.focus is None and any("Every exercise passes" in line for line in lines)
    finally:
        watch.run_check = original


def test_watch_stops_cleanly_on_ctrl_c(tmp_path):
    from checker.watch import Watcher

    def interrupted(*_):
        raise KeyboardInterrupt

    import checker.watch as watch

    original = watch.run_check
    watch.run_check = interrupted
    lines: list[str] = []
    try:
        assert Watcher(tmp_path, ["1.1"], say=lines.append).run() == 0
    finally:
        watch.run_check = original
    assert "Stopped watching." in lines[-1]


def test_watch_usage_errors():
    assert cli.main(["watch", "nonsense", "--max-runs", "1"]) == 2
    assert cli.main(["watch", "--impl", "/no/such/folder", "--max-runs", "1"]) == 2


# graph ----------------------------------------------------------------------------------------


def test_graph_of_the_reference_has_every_gradient_right():
    completed = run_checker("graph", "--impl", str(SOLUTIONS))
    assert completed.returncode == 0
    assert "Every gradient is right." in completed.stdout
    assert completed.stdout.count("✓") == 7  # g, f, d, e, a, b, c


@pytest.mark.pristine
def test_graph_of_the_stubs_says_what_to_write_first():
    completed = run_checker("graph")
    assert completed.returncode == 0
    assert "is not written yet" in completed.stdout


def test_graph_shows_where_an_accumulation_bug_goes_wrong(tmp_path):
    impl = tmp_path / "mine"
    shutil.copytree(SOLUTIONS, impl, ignore=shutil.ignore_patterns("__pycache__"))
    source = (impl / "part2_autograd.py").read_text()
    accumulate = "grads[parent] = parent_grad if received is None else received + parent_grad"
    assert accumulate in source
    # The mistake: a gradient from a second child replaces the first instead of adding to it.
    (impl / "part2_autograd.py").write_text(source.replace(accumulate, "grads[parent] = parent_grad"))
    completed = run_checker("graph", "--impl", str(impl), "--example", "reuse")
    assert "✗" in completed.stdout and "should be" in completed.stdout
    assert "a again" in completed.stdout


def test_graph_survives_code_that_hangs(tmp_path, monkeypatch):
    from checker import graphview

    impl = tmp_path / "mine"
    shutil.copytree(SOLUTIONS, impl, ignore=shutil.ignore_patterns("__pycache__"))
    with open(impl / "part1_backward.py", "a") as handle:
        handle.write("\n\ndef log_back(grad_out, out, x):\n    while True:\n        pass\n")
    monkeypatch.setattr(graphview, "TIMEOUT_SECONDS", 3.0)
    run = graphview.run_example(impl)
    assert "did not finish" in run.description["problem"]


# notebook -------------------------------------------------------------------------------------


def unbroadcast(broadcasted, original):
    leading = broadcasted.ndim - original.ndim
    summed = broadcasted.sum(axis=tuple(range(leading)))
    stretched = tuple(dim for dim, size in enumerate(original.shape) if size == 1 and summed.shape[dim] != 1)
    return summed.sum(axis=stretched, keepdims=True)


def my_log_back(grad_out, out, x):
    return grad_out / out


def test_import_checker_stays_cheap():
    code = "import sys, checker; print(any(m in sys.modules for m in ('numpy', 'rich', 'checker.notebook')))"
    completed = subprocess.run([sys.executable, "-c", code], cwd=KIT_ROOT, capture_output=True, text=True)
    assert completed.stdout.strip() == "False"


def test_notebook_check_grades_a_function_defined_here(capsys):
    checked = checker.check("unbroadcast", unbroadcast)
    assert checked.passed and bool(checked)
    out = capsys.readouterr().out
    assert "1.2" in out and "passed" in out and "notebook (unbroadcast)" in out
    assert repr(checked) == "<checked: 1.2 passed; score 4>"


def test_notebook_check_renames_a_function_given_for_a_function_name(capsys):
    checked = checker.check("log_back", my_log_back)
    assert not checked.passed
    assert "used out where x was meant" in checked.result.exercises[0].message
    assert "used out where x was meant" in capsys.readouterr().out


def test_notebook_check_of_a_cell(capsys):
    # IPython keeps each cell's source in linecache under a made-up file name: inspect finds it there.
    cell = "def log_back(grad_out, out, x):\n    return grad_out / x\n"
    filename = "<ipython-input-7-cell>"
    linecache.cache[filename] = (len(cell), None, cell.splitlines(keepends=True), filename)
    namespace: dict = {}
    exec(compile(cell, filename, "exec"), namespace)
    try:
        checked = checker.check("1.1", namespace["log_back"], show=False)
    finally:
        linecache.cache.pop(filename, None)
    assert checked.passed
    assert capsys.readouterr().out == ""


def test_notebook_check_accepts_source_text_and_never_changes_the_exercises():
    before = (EXERCISES / "part1_backward.py").read_text()
    checked = checker.check("1.1", "def log_back(grad_out, out, x):\n    return grad_out / x\n", show=False)
    assert checked.passed
    assert (EXERCISES / "part1_backward.py").read_text() == before


def test_notebook_check_explains_bad_arguments():
    with pytest.raises(NotebookError, match="no exercise"):
        checker.check("nonsense", unbroadcast, show=False)
    with pytest.raises(NotebookError, match="syntax error"):
        checker.check("1.1", "def log_back(:\n", show=False)
    with pytest.raises(NotebookError, match="source"):
        checker.check("1.1", len, show=False)


def test_notebook_class_whose_source_is_lost_gets_a_hint_for_a_class():
    namespace: dict = {}
    exec(
        compile(
            "class Parameter:\n    def __init__(self, tensor):\n        self.tensor = tensor\n", "<nowhere>", "exec"
        ),
        namespace,
    )
    with pytest.raises(NotebookError, match='"""class Parameter'):
        checker.check("4.1", namespace["Parameter"], show=False)


@pytest.mark.pristine
def test_notebook_takes_what_the_exercise_builds_on_from_the_namespace():
    checked = checker.check("1.3", show=False, namespace={"__name__": __name__, "unbroadcast": unbroadcast})
    assert checked.result.impl == "notebook (unbroadcast)"  # 1.3 builds on 1.2; multiply_back0/1 stay the files' stubs
    assert checked.result.exercises[0].status == "not_started"


@pytest.mark.pristine
def test_notebook_ignores_what_it_imported_from_the_exercises():
    from exercises.part1_backward import unbroadcast as imported

    checked = checker.check("1.2", show=False, namespace={"__name__": __name__, "unbroadcast": imported})
    assert checked.result.impl.endswith("exercises") and checked.result.exercises[0].status == "not_started"


def test_a_syntax_error_is_not_prefixed_by_a_test_name():
    from checker import judge
    from checker.outcomes import RaisedError
    from checker.results import CaseResult

    error = RaisedError("SyntaxError", "expected ':'", file="part1_backward.py", line=3, text="def f()")
    status, message = judge.describe_exception(error, manifest.get("1.1"))
    tests = [CaseResult("log_back on a 0-d array", status, message, general=judge._about_the_code(error))]
    summary = judge.summarise(manifest.get("1.1"), tests)
    assert summary.message.startswith("part1_backward.py, line 3 has a syntax error"), summary.message


@pytest.mark.skipif(
    shutil.which("make") is None, reason="no make here (Windows has none): README gives each target's python -m command"
)
def test_make_hint_can_start_again():
    dry_run = subprocess.run(["make", "-n", "hint", "EX=1.2", "RESET=1"], cwd=KIT_ROOT, capture_output=True, text=True)
    assert "-m checker hint 1.2 --reset" in dry_run.stdout
