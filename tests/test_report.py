"""The report as a student reads it: rendered on a fixed-width plain console.

Results are built by hand (no student code runs), rendered with rich on a
100-column console without colour, and read back as text.
"""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from checker import graphview, hints, manifest, report
from checker.numeric import mismatch_message
from checker.results import CaseResult, CheckResult, ExerciseResult


def plain_console() -> Console:
    return Console(width=100, color_system=None, force_terminal=False, record=True)


def render_text(renderable) -> str:
    console = plain_console()
    console.print(renderable)
    return console.export_text()


def exercise(exercise_id: str, status: str, message: str = "", tests=None, **extra) -> ExerciseResult:
    return ExerciseResult(
        manifest.get(exercise_id), status, message, tests or [CaseResult("a case", status, message)], **extra
    )


WRONG_VALUES = mismatch_message(
    np.array([0.5, -2.0, 3.0]), np.array([0.5, 2.0, 3.0]), what="log_back(grad_out, out, x)"
)


def part1(statuses: dict[str, str], messages: dict[str, str] | None = None) -> CheckResult:
    messages = messages or {}
    return CheckResult(
        "exercises", [exercise(i, statuses[i], messages.get(i, "")) for i in ("1.1", "1.2", "1.3", "1.4")]
    )


def test_table_lists_every_exercise_in_course_order_with_points():
    text = render_text(report.render(part1({"1.1": "passed", "1.2": "failed", "1.3": "not_started", "1.4": "timeout"})))
    lines = [line for line in text.splitlines() if line.strip().startswith(("✓", "✗", "·", "⧗", "!"))]
    assert [line.split()[1] for line in lines] == ["1.1", "1.2", "1.3", "1.4"]
    assert "log_back" in lines[0] and "passed" in lines[0] and "2/2" in lines[0]
    assert "failed" in lines[1] and "0/4" in lines[1]
    assert "not started" in lines[2]
    assert "timed out" in lines[3]
    assert "1/4 exercises passed, score 2/12" in text


def test_plain_console_has_no_escape_codes():
    text = render_text(report.render(part1({"1.1": "passed", "1.2": "failed", "1.3": "failed", "1.4": "failed"})))
    assert "\x1b[" not in text


def test_the_first_failure_gets_a_panel_with_its_message_and_a_hint():
    result = part1(
        {"1.1": "failed", "1.2": "failed", "1.3": "not_started", "1.4": "not_started"},
        {"1.1": WRONG_VALUES, "1.2": "other"},
    )
    text = render_text(report.render(result))
    assert "1.1 log_back: failed" in text
    assert "It is exactly the negative" not in text  # only one entry is wrong: no pattern to name
    assert "Stuck? make hint EX=1.1" in text
    assert "other" not in text  # one panel only: the first exercise to fix


def test_the_side_by_side_table_keeps_its_columns():
    result = part1({"1.1": "failed", "1.2": "passed", "1.3": "passed", "1.4": "passed"}, {"1.1": WRONG_VALUES})
    text = render_text(report.render(result))
    rows = [line.strip("│ ").split() for line in text.splitlines() if line.strip("│ ").startswith(("[1]", "index"))]
    assert ["index", "expected", "got"] == rows[0][:3]
    assert rows[1][:5] == ["[1]", "2", "-2", "<-", "wrong"]


def test_not_started_says_where_to_start():
    text = render_text(
        report.render(part1({"1.1": "not_started", "1.2": "not_started", "1.3": "not_started", "1.4": "not_started"}))
    )
    assert "Next up: log_back in exercises/part1_backward.py" in text
    assert "make check EX=1.1" in text


def test_everything_passed_shows_no_panel():
    text = render_text(report.render(part1({"1.1": "passed", "1.2": "passed", "1.3": "passed", "1.4": "passed"})))
    assert "4/4 exercises passed, score 12/12" in text
    assert "Stuck?" not in text


def test_blame_comes_first_in_the_panel():
    blamed = "Fix 1.2 unbroadcast first: this exercise builds on it, and it does not pass yet."
    result = CheckResult(
        "exercises", [exercise("1.2", "failed", "shape"), exercise("1.3", "failed", blamed, blocked_by=["1.2"])]
    )
    text = render_text(report.render(result))
    assert "1.2 unbroadcast: failed" in text  # the panel is about the exercise to fix first


def test_what_student_code_printed_is_shown():
    tests = [CaseResult("a case", "failed", "wrong", output="debug: x is 3\n")]
    result = CheckResult("exercises", [exercise("1.1", "failed", "wrong", tests=tests)])
    text = render_text(report.render(result))
    assert "Your code printed:" in text and "debug: x is 3" in text


def test_exercise_list():
    text = render_text(report.exercise_list(list(manifest.EXERCISES)))
    assert "part1_backward.py" in text and "unbroadcast" in text and "Bonus: bonus (optional" in text


def test_exercise_list_shows_each_time_limit_and_each_lesson():
    lines = render_text(report.exercise_list(list(manifest.EXERCISES))).splitlines()
    row = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in {"1.1", "5.1", "b.1"}}
    assert (
        row["1.1"].rstrip().endswith("5 s")
        and row["5.1"].rstrip().endswith("60 s")
        and row["b.1"].rstrip().endswith("10 s")
    )
    for part in ("part1", "part2", "part3", "part4", "part5", "bonus"):
        assert f"docs/course/{part}.md" in "\n".join(lines)


def test_every_lesson_the_kit_points_to_exists():
    from pathlib import Path

    kit = Path(__file__).resolve().parent.parent
    for exercise in manifest.EXERCISES:
        assert (kit / exercise.lesson).is_file(), exercise.lesson


def test_the_panel_points_to_the_lesson_of_the_exercise():
    started = render_text(
        report.render(part1({"1.1": "passed", "1.2": "not_started", "1.3": "not_started", "1.4": "not_started"}))
    )
    assert "docs/course/part1.md" in started
    failing = render_text(
        report.render(part1({"1.1": "failed", "1.2": "passed", "1.3": "passed", "1.4": "passed"}, {"1.1": "wrong"}))
    )
    assert "The lesson of Part 1: docs/course/part1.md" in failing


def test_in_a_notebook_the_panel_suggests_notebook_calls():
    result = part1({"1.1": "failed", "1.2": "passed", "1.3": "passed", "1.4": "passed"}, {"1.1": "wrong"})
    text = render_text(report.render(result, report.NOTEBOOK))
    assert 'Stuck? hint("1.1")' in text and "make " not in text
    hint_text = render_text(hints.render(hints.HintStep(manifest.get("1.2"), shown=4, new=False), report.NOTEBOOK))
    assert 'check("1.2")' in hint_text and 'hint("1.2", reset=True)' in hint_text and "make " not in hint_text


def full_course(bonus_passed: int) -> CheckResult:
    results = [exercise(item.id, "passed") for item in manifest.EXERCISES if not item.bonus]
    results += [
        exercise(item.id, "passed" if number < bonus_passed else "not_started")
        for number, item in enumerate(item for item in manifest.EXERCISES if item.bonus)
    ]
    return CheckResult("exercises", results, optional=frozenset(item.id for item in manifest.EXERCISES if item.bonus))


@pytest.mark.parametrize("width", [80, 60])
def test_the_summary_line_does_not_wrap(width):
    console = Console(width=width, color_system=None, force_terminal=False, record=True)
    console.print(report.progress(full_course(bonus_passed=2)))
    lines = console.export_text().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= width, lines
    main = sum(1 for item in manifest.EXERCISES if not item.bonus)
    assert lines[0].endswith(f"{main + 2}/{len(manifest.EXERCISES)} exercises passed, score 100/100, bonus 4/10")


def test_the_summary_goes_under_the_bar_on_a_very_narrow_console():
    console = Console(width=40, color_system=None, force_terminal=False, record=True)
    console.print(report.progress(full_course(bonus_passed=0)))
    lines = console.export_text().splitlines()
    assert set(lines[0]) <= {"━", "─"} and "exercises passed" in lines[1]


def test_the_bar_shows_progress_in_plain_text():
    line = render_text(report.progress(part1({"1.1": "passed", "1.2": "passed", "1.3": "failed", "1.4": "failed"})))
    bar = line.split()[0]
    assert bar.count("━") == bar.count("─") == 20


def test_piped_output_has_no_trailing_spaces():
    import io

    stream = io.StringIO()
    console = Console(file=stream, width=80, color_system=None, force_terminal=False)
    result = part1(
        {"1.1": "failed", "1.2": "not_started", "1.3": "not_started", "1.4": "not_started"}, {"1.1": WRONG_VALUES}
    )
    report.show(console, report.render(result))
    report.show(console, report.exercise_list(list(manifest.EXERCISES)))
    lines = stream.getvalue().splitlines()
    assert len(lines) > 40 and not [line for line in lines if line != line.rstrip()]


def test_hints_render_the_ones_seen_and_say_when_there_are_no_more():
    unbroadcast = manifest.get("1.2")
    text = render_text(hints.render(hints.HintStep(unbroadcast, shown=2, new=True)))
    assert "1. " + unbroadcast.hints[0][:40] in text
    assert "2. " + unbroadcast.hints[1][:40] in text
    assert unbroadcast.hints[2][:30] not in text
    assert "Hint 2 of 4" in text
    last = render_text(hints.render(hints.HintStep(unbroadcast, shown=4, new=False)))
    assert "No more hints" in last


def graph_description(leaf_grad: list[float]) -> dict:
    """The reuse example, h = log(a * a * b), as the child would describe it."""
    inputs = graphview.example_inputs("reuse")
    a, b = inputs["a"].astype(np.float64), inputs["b"].astype(np.float64)
    product = a * a
    total = product * b
    return {
        "nodes": [
            {
                "name": "",
                "op": "log",
                "leaf": False,
                "shape": [2],
                "value": np.log(total),
                "parents": [[0, 1]],
                "grad": np.ones(2),
            },
            {
                "name": "",
                "op": "multiply",
                "leaf": False,
                "shape": [2],
                "value": total,
                "parents": [[0, 2], [1, 4]],
                "grad": 1 / total,
            },
            {
                "name": "",
                "op": "multiply",
                "leaf": False,
                "shape": [2],
                "value": product,
                "parents": [[0, 3], [1, 3]],
                "grad": b / total,
            },
            {"name": "a", "op": "", "leaf": True, "shape": [2], "value": a, "parents": [], "grad": np.array(leaf_grad)},
            {"name": "b", "op": "", "leaf": True, "shape": [2], "value": b, "parents": [], "grad": product / total},
        ]
    }


def test_graph_view_marks_right_gradients():
    inputs = graphview.example_inputs("reuse")
    right = list(2 / inputs["a"].astype(np.float64))
    text = render_text(graphview.render(graphview.GraphRun("reuse", graph_description(right), "")))
    assert "Your computational graph" in text
    assert text.count("✓") == 5 and "✗" not in text
    assert "a again (used more than once" in text
    assert "Every gradient is right." in text


def test_graph_view_marks_a_wrong_gradient_with_the_expected_one():
    inputs = graphview.example_inputs("reuse")
    half = list(1 / inputs["a"].astype(np.float64))  # only one of a's two uses counted
    text = render_text(graphview.render(graphview.GraphRun("reuse", graph_description(half), "")))
    assert "✗" in text and "should be [1.3912, 1.0835]" in text
    assert "1 gradient(s) differ" in text


def test_graph_view_explains_an_unwritten_exercise():
    description = {
        "stage": "forward",
        "error": {
            "type": "NotImplementedError",
            "message": "exercise 2.3",
            "frames": [{"function": "wrap_forward_fn", "file": "part2_autograd.py", "line": 9}],
        },
    }
    text = render_text(graphview.render(graphview.GraphRun("forward_and_back", description, "")))
    assert "wrap_forward_fn is not written yet" in text


def test_graph_view_says_when_the_forward_built_no_graph():
    description = {
        "nodes": [{"name": "", "op": "", "leaf": True, "shape": [2], "value": np.ones(2), "parents": [], "grad": None}]
    }
    text = render_text(graphview.render(graphview.GraphRun("forward_and_back", description, "")))
    assert "fresh tensor with no graph" in " ".join(text.replace("│", " ").split())
