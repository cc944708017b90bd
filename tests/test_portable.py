"""The portable path (checker/portable.py), run on this machine.

On Windows and macOS the checker starts its test processes without
preexec_fn, reads their records from their stdout through a thread instead
of a pipe of their own and select, and applies no kernel sandbox. Here, on
Linux, BACKPROP_PORTABLE=1 switches the Linux-only parts off, and these
tests check that the path still grades: the solutions pass, the stubs are
not started, a loop times out and a crash is an error for its exercise
alone while the rest is graded, and the JSON says which protections are
missing. Windows's way of stopping a case (pytest-timeout's timer thread,
which ends the whole process) and a Python without `resource`, `fcntl` or
select on pipes are simulated.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from checker import KIT_ROOT, cli, graphview, manifest, portable, report, runner, sandbox
from checker.api import run_check
from tests.test_hostile import BY_NAME, assert_contained

SOLUTIONS = KIT_ROOT / "solutions"
EXERCISES = KIT_ROOT / "exercises"


@pytest.fixture
def portable_path(monkeypatch):
    monkeypatch.setenv(portable.SWITCH, "1")


@pytest.fixture(scope="module")
def solutions_result():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(portable.SWITCH, "1")
        return run_check(SOLUTIONS, list(manifest.EXERCISES))


def no_channel_thread_left() -> bool:
    """The thread that reads a child's stdout ends once the child is gone (runner._StdoutChannel)."""
    for _ in range(50):
        if not any(thread.name == "backprop-channel" for thread in threading.enumerate()):
            return True
        time.sleep(0.1)
    return False


# --- choosing the path --------------------------------------------------------------


def test_the_path_is_chosen_by_the_system_and_the_switch(monkeypatch):
    monkeypatch.setenv(portable.SWITCH, "1")
    assert portable.reason_for_portable_path() == "portable mode (BACKPROP_PORTABLE=1)"
    monkeypatch.delenv(portable.SWITCH)
    monkeypatch.setattr(sys, "platform", "win32")
    assert portable.reason_for_portable_path().startswith("not Linux")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "resource", None)  # a Python built without it
    assert portable.reason_for_portable_path() == "no resource limits in this Python"
    monkeypatch.delitem(sys.modules, "resource")
    if os.name == "posix":
        assert portable.reason_for_portable_path() is None


def test_the_child_reports_the_caps_it_could_not_set(monkeypatch):
    """cap_own_resources never raises: a cap that is missing is a note, and no memory cap is said so."""
    monkeypatch.setattr(portable.signal, "signal", lambda *arguments: None)  # this process keeps its handlers
    monkeypatch.setitem(sys.modules, "resource", None)  # Windows
    assert portable.cap_own_resources(1 << 30, 1 << 20) == (
        False,
        [f"no memory or file size cap on {portable.system_name()}"],
    )
    monkeypatch.delitem(sys.modules, "resource")
    resource = pytest.importorskip("resource")

    def refuse(limit, values):
        raise ValueError("not allowed")

    monkeypatch.setattr(resource, "setrlimit", refuse)  # never this process's own limits
    memory_capped, notes = portable.cap_own_resources(1 << 30, 1 << 20)
    assert not memory_capped and len(notes) == 3 and "no memory cap (not allowed)" in notes
    monkeypatch.setattr(resource, "setrlimit", lambda limit, values: None)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert portable.cap_own_resources(1 << 30, 1 << 20) == (
        False,
        [f"the memory cap is not enforced on {portable.system_name()}"],
    )
    monkeypatch.setattr(sys, "platform", "linux")
    assert portable.cap_own_resources(1 << 30, 1 << 20) == (True, [])


# --- grading on the portable path -----------------------------------------------------


def test_the_solutions_pass_everything(solutions_result):
    assert {item.exercise.id: item.status for item in solutions_result.exercises} == {
        exercise.id: "passed" for exercise in manifest.EXERCISES
    }
    assert no_channel_thread_left()


def test_the_json_and_the_report_say_which_protections_are_missing(solutions_result):
    reported = solutions_result.to_json()["sandbox"]
    assert reported["full"] is False
    assert set(sandbox.PROTECTIONS) <= set(reported["missing"])
    assert not any(reported["protections"][name] for name in sandbox.PROTECTIONS)
    assert reported["notes"][0] == "no kernel sandbox: portable mode (BACKPROP_PORTABLE=1)"
    # The child caps its own memory where the system enforces it.
    assert reported["protections"]["memory_cap"] is (sys.platform == "linux")
    assert ("memory_cap" in reported["missing"]) is (sys.platform != "linux")
    notice = report.sandbox_notice(solutions_result).plain
    assert "portable mode" in notice and "do not grade" in notice


@pytest.mark.pristine
def test_the_stubs_are_not_started(portable_path):
    result = run_check(EXERCISES, list(manifest.EXERCISES))
    assert {item.status for item in result.exercises} == {"not_started"}


# Each stops or abuses the test process in its own way; the rest of Part 1 is still graded.
CONTAINED = [
    "fault_infinite_loop",  # the child's own timer stops the case (SIGALRM)
    "fault_loop_ignoring_timeout",  # only the parent's deadline stops it: a kill, then a fresh child
    "fault_os_exit_3",  # a crash: an error for its exercise alone
    "fault_segfault",
    "cheat_forged_records",  # forged records on the channel, which is the child's stdout here
    "cheat_huge_record",  # a record too large for the parent to read
]


@pytest.mark.parametrize("name", CONTAINED)
def test_a_hostile_submission_is_contained(name, portable_path, tmp_path):
    assert_contained(BY_NAME[name], tmp_path)
    assert no_channel_thread_left()


@pytest.mark.parametrize("name", ["fault_infinite_loop", "fault_long_sleep"])
def test_a_case_ended_by_its_timer_thread_times_out(name, portable_path, monkeypatch, tmp_path):
    """Windows has no SIGALRM: pytest-timeout's thread method ends the whole
    child, and the parent must call it a timeout, not a crash."""
    monkeypatch.setattr(portable, "timeout_method", lambda: "thread")
    assert_contained(BY_NAME[name], tmp_path)


def test_a_failed_linux_start_falls_back_to_the_portable_path(monkeypatch):
    if portable.reason_for_portable_path() is not None:
        pytest.skip("the Linux path is not available here: there is nothing to fall back from")

    def limits_refused(limits):
        raise OSError("a hard limit below ours")

    monkeypatch.setattr(runner, "apply_limits", limits_refused)  # runs in preexec_fn
    result = run_check(SOLUTIONS, [manifest.get("1.1")])
    assert result.exercises[0].status == "passed"
    assert result.sandbox["notes"][0] == "no kernel sandbox: the Linux process limits could not be set"


def test_the_parent_needs_no_resource_fcntl_or_select_on_pipes(tmp_path):
    """A Python like Windows's: no `resource`, no `fcntl`, and select()
    refuses pipes. The checker must pick the portable path by itself and grade."""
    simulation = (
        "import select, sys\n"
        "sys.modules['resource'] = None\n"
        "sys.modules['fcntl'] = None\n"
        "def refuse(*arguments):\n"
        "    raise OSError('select() cannot wait on a pipe here')\n"
        "select.select = refuse\n"
        "from checker import cli\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    out = tmp_path / "result.json"
    environment = {key: value for key, value in os.environ.items() if key != portable.SWITCH}
    finished = subprocess.run(
        [sys.executable, "-c", simulation, "check", "1", "--impl", str(SOLUTIONS), "--json", str(out)],
        cwd=KIT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert {entry["status"] for entry in result["exercises"]} == {"passed"}
    assert result["sandbox"]["notes"][0] == "no kernel sandbox: no resource limits in this Python"


def test_the_graph_runs_on_the_portable_path(portable_path):
    shown = graphview.run_example(SOLUTIONS, "reuse")
    assert "problem" not in shown.description, shown.description


def test_grading_refuses_the_portable_path_unless_allowed(portable_path, tmp_path, capsys):
    confinement = runner.probe_sandbox()
    assert not confinement.full and confinement.notes[0] == "no kernel sandbox: portable mode (BACKPROP_PORTABLE=1)"
    submissions = tmp_path / "submissions"
    shutil.copytree(SOLUTIONS, submissions / "ann", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "grades"
    assert cli.main(["grade", str(submissions), "1", "--out", str(out)]) == cli.EXIT_USAGE
    assert "refusing to grade" in capsys.readouterr().err and not out.exists()
    # Allowed: the worker, and its test process, take the portable path too.
    assert cli.main(["grade", str(submissions), "1", "--out", str(out), "--allow-partial-sandbox"]) == cli.EXIT_PASSED
    with open(out / "grades.csv", newline="", encoding="utf-8") as stream:
        (row,) = list(csv.DictReader(stream))
    assert row["submission"] == "ann" and row["score"] == row["max_score"] == "12"
    graded = json.loads((out / "ann.json").read_text(encoding="utf-8"))
    assert graded["sandbox"]["notes"][0] == "no kernel sandbox: portable mode (BACKPROP_PORTABLE=1)"
