"""Parts 4 and 5: the capstone's reference result, its split, and the loss curve in the report.

The planted bugs and correct variants of these parts run in test_fixtures.py;
this file covers what those cannot: the reference solution's own numbers and
the picture the report draws from them.
"""

from __future__ import annotations

import ast
import time

import numpy as np
from rich.console import Console

from checker import KIT_ROOT, manifest, report
from checker.results import ExerciseResult
from checker.suites import part5 as part5_suite


def test_the_checker_uses_the_split_the_student_sees():
    from solutions import part5_training

    given = part5_training.split_train_test(*part5_training.load_digits())
    for mine, theirs in zip(part5_suite.digits_split(), given):
        assert np.array_equal(mine, theirs)


def test_reference_training_reaches_97_percent_quickly():
    from solutions.core import Tensor

    from solutions import part5_training

    train_features, train_labels, test_features, test_labels = part5_suite.digits_split()
    started = time.perf_counter()
    model, losses = part5_training.train_digits(train_features, train_labels, seed=0)
    seconds = time.perf_counter() - started
    logits = model(Tensor(test_features)).array
    accuracy = float(np.mean(np.argmax(logits, axis=1) == test_labels))
    assert accuracy >= 0.97, accuracy
    assert part5_training.evaluate(model, test_features, test_labels) == accuracy
    assert all(isinstance(loss, float) for loss in losses) and losses[-1] < losses[0] / 10
    # The budget is 1 s on an idle machine; this bound only catches a gross slowdown.
    assert seconds < 5.0, seconds


def test_stubs_and_solutions_agree_on_names_and_docstrings():
    for module in ("part4_nn", "part5_training"):
        trees = [ast.parse((KIT_ROOT / folder / f"{module}.py").read_text()) for folder in ("exercises", "solutions")]
        shapes = []
        for tree in trees:
            shape = {}
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    shape[node.name + ("()" if isinstance(node, ast.FunctionDef) else "")] = ast.get_docstring(node)
            shapes.append(shape)
        assert shapes[0] == shapes[1], module


def test_manifest_names_the_graded_functions():
    assert manifest.get("5.1").functions == ("train_digits", "evaluate")
    assert {
        name
        for exercise_id in ("4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7")
        for name in manifest.get(exercise_id).functions
    } == {
        "Parameter",
        "Module",
        "Linear",
        "ReLU",
        "MLP",
        "cross_entropy",
        "NoGrad",
        "SGD",
    }


def render_text(renderable) -> str:
    console = Console(width=100, color_system=None, force_terminal=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def test_sparkline_goes_from_high_to_low():
    line = report.sparkline(np.linspace(3.0, 0.0, 100), width=20)
    assert len(line) == 20 and line[0] == "█" and line[-1] == "▁"
    assert report.sparkline([]) == ""


def test_loss_curve_is_drawn_from_a_passing_capstone():
    losses = 2.3 * np.exp(-np.linspace(0, 4, 300))
    result = ExerciseResult(
        manifest.get("5.1"),
        "passed",
        observations={
            "train_digits reaches 95% test accuracy": {"losses": {"values": losses}, "accuracy": 0.978, "seconds": 0.31}
        },
    )
    text = render_text(report.loss_curve(result))
    assert "training loss" in text and "97.8%" in text and "0.31 s" in text
    assert "2.240" in text.splitlines()[1]  # the top of the axis: the first columns average
    assert report.loss_curve(ExerciseResult(manifest.get("5.1"), "failed")) is None
