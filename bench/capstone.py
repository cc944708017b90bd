"""The capstone with the reference solution: test accuracy on digits and training time."""

from __future__ import annotations

import time

from solutions.part5_training import evaluate, load_digits, split_train_test, train_digits

from .common import Result


def run() -> list[Result]:
    train_features, train_labels, test_features, test_labels = split_train_test(*load_digits())
    started = time.perf_counter()
    model, _ = train_digits(train_features, train_labels, seed=0)
    seconds = time.perf_counter() - started
    accuracy = evaluate(model, test_features, test_labels)
    return [
        Result("capstone on digits: test accuracy", f"{accuracy:.1%}", f"{len(test_labels)} test images",
               f"{accuracy:.1%}", ">= 97%", accuracy >= 0.97),
        Result("capstone on digits: training time", f"{seconds:.2f} s", f"{len(train_labels)} training images",
               f"{seconds:.2f} s", "<= 1 s", seconds <= 1.0),
    ]
