"""The capstone with the reference solution: test accuracy on digits and training time."""

from __future__ import annotations

from solutions.part5_training import evaluate, load_digits, split_train_test, train_digits

from .common import Result, timed_call


def run() -> list[Result]:
    train_features, train_labels, test_features, test_labels = split_train_test(*load_digits())
    (model, _), timing = timed_call(lambda: train_digits(train_features, train_labels, seed=0))
    accuracy = evaluate(model, test_features, test_labels)
    return [
        Result(
            "capstone on digits: test accuracy",
            f"{accuracy:.1%}",
            f"{len(test_labels)} test images",
            f"{accuracy:.1%}",
            ">= 97%",
            accuracy >= 0.97,
        ),
        Result(
            "capstone on digits: training time",
            f"{timing.cpu:.2f} s",
            f"{len(train_labels)} training images",
            f"{timing.cpu:.2f} s",
            "<= 1 s",
            timing.cpu <= 1.0,
            f"CPU time; wall clock {timing.wall:.2f} s",
        ),
    ]
