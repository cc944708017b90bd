"""Hidden suite for Part 5: the capstone, training on digits.

The checker keeps its own copy of the split: it hands the training images to
the student's `train_digits`, then computes the test accuracy itself from
the logits of the returned model on test images the student never saw
(the probe only computes logits; the parent compares them with the labels).
`evaluate` is checked on its own, with a model whose answers are known.

Mistakes these cases are built to catch: no training at all, features and
labels shuffled apart, a learning rate that diverges (NaN), too few steps,
losses not returned (or returned as Tensors), a model that is not a
callable Module, evaluate returning a percentage or counting wrongly.
"""

from __future__ import annotations

import functools
import gzip
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..cases import CaseFailure, probe
from ..numeric import expect_finite, values_match
from ..observe import returned
from ..seeds import rng
from .common import matches, uniform

KIT_ROOT = Path(__file__).resolve().parents[2]
DATA_PATH = KIT_ROOT / "data" / "digits.csv.gz"
NUM_PIXELS, NUM_CLASSES = 64, 10
TRAIN_SEED = 0
SPLIT_SEED = 0
TEST_FRACTION = 0.2
REQUIRED_ACCURACY = 0.95


@functools.lru_cache(maxsize=1)
def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train_features, train_labels, test_features, test_labels), the same split as the given split_train_test(seed=0).

    The split stays the same under a grading seed (seeds.py): 95% on these
    held-out images is the task students tune their training for, and
    another split could take a correct model a few points below it (a
    correct deep, wide variant scored 91.4% on one). The data set is in the
    kit anyway, so a drawn split would not stop a student who memorises it.

    Loaded on first use, in each process: suites are imported by both.
    """
    with gzip.open(DATA_PATH, "rt") as stream:
        table = np.loadtxt(stream, delimiter=",")
    features = (table[:, :NUM_PIXELS] / 16.0).astype(np.float32)
    labels = table[:, NUM_PIXELS].astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    test_size = int(round(len(labels) * TEST_FRACTION))
    test, train = order[:test_size], order[test_size:]
    return features[train], labels[train], features[test], labels[test]


# 5.1 train_digits and evaluate --------------------------------------------------------

# Promises of train_digits and evaluate's docstrings, and the cases that check them:
# - train_digits: returns (model, losses); the model maps (batch, 64) features to a Tensor of finite logits (batch, 10):
#   "train_digits reaches 95% test accuracy"
# - train_digits: at least 95% test accuracy, within the time limit: "train_digits reaches 95% test accuracy"
# - train_digits: losses in order, a list of Python floats or any 1-D sequence of real numbers (not Tensors), finite:
#   "train_digits reaches 95% test accuracy"
# - train_digits: the seed makes every random choice, so a run repeats whatever the global state; seed defaults to 0:
#   "train_digits with one seed gives one run; no seed means seed=0"
# - train_digits: the recipe (MLP, SGD, epochs, batch size, schedule) is free: only the accuracy is graded
# - evaluate: the fraction right, a float in [0, 1], the prediction being the largest logit (argmax over dim 1),
#   computed inside NoGrad (tracking back on afterwards): "evaluate gives the fraction of right predictions"


@probe("5.1", "train_digits reaches 95% test accuracy")
def training(student: Any) -> dict[str, Any]:
    student.core.grad_tracking_enabled = True
    train_features, train_labels, test_features, _ = digits_split()
    np.random.seed(TRAIN_SEED)
    started = time.perf_counter()
    result = student.part5_training.train_digits(train_features.copy(), train_labels.copy(), seed=TRAIN_SEED)
    seconds = time.perf_counter() - started
    observation: dict[str, Any] = {"seconds": seconds}
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        observation["result"] = returned(result)
        return observation
    model, losses = result
    observation["losses"] = returned(list(losses) if not isinstance(losses, np.ndarray) else losses)
    # The checker's own evaluation: logits of the test images, without a graph.
    student.core.grad_tracking_enabled = False
    try:
        logits = model(student.core.Tensor(test_features.copy()))
    finally:
        student.core.grad_tracking_enabled = True
    observation["logits"] = returned(logits)
    return observation


def sparkline(values: np.ndarray, width: int = 40) -> str:
    """The loss history in one line of block characters (the report draws a larger chart)."""
    from ..report import sparkline as draw

    return draw(values, width)


ZERO_GRAD_ADVICE = (
    "is zero_grad called before every backward? Without it each backward adds to the gradients of all the steps "
    "before, and the steps keep growing."
)


@training.judge
def judge_training(observation: dict[str, Any]) -> None:
    _, _, _, test_labels = digits_split()
    if "result" in observation:
        got = observation["result"]
        raise CaseFailure(
            f"train_digits returned a {got.get('type')}; it should return a pair (model, losses): "
            "the trained Module and the list of training losses."
        )
    losses = observation["losses"]
    if "values" not in losses:
        raise CaseFailure(
            f"train_digits returned losses as {str(losses.get('repr', losses.get('type')))[:100]}...; they should be a list of Python floats "
            "(append loss.item() after each step)."
        )
    loss_values = np.asarray(losses["values"], dtype=np.float64).ravel()
    logits = observation["logits"]
    if logits.get("kind") != "tensor":
        raise CaseFailure(
            f"the model returned by train_digits, called on a Tensor of test images, returned a {logits.get('type')}; "
            "it should return a Tensor of logits, shape (batch, 10)."
        )
    shape = tuple(logits.get("shape", ()))
    if shape != (len(test_labels), NUM_CLASSES):
        raise CaseFailure(
            f"the model returned by train_digits maps {len(test_labels)} test images, shape ({len(test_labels)}, 64), "
            f"to logits of shape {shape}; expected ({len(test_labels)}, {NUM_CLASSES})."
        )
    expect_finite(
        logits["values"],
        f"the logits of the model returned by train_digits, on the {len(test_labels)} test images,",
        "Did training diverge (a learning rate too large, gradients piling up without zero_grad)?",
    )
    predictions = np.argmax(np.asarray(logits["values"]), axis=1)
    accuracy = float(np.mean(predictions == test_labels))
    curve = ""
    if loss_values.size:
        curve = (
            f"\nYour loss, step by step: {sparkline(loss_values)}"
            f"\n(first {loss_values[0]:.4g}, last {loss_values[-1]:.4g}, {loss_values.size} values)"
        )
    if accuracy < REQUIRED_ACCURACY:
        diagnosis = ""
        if loss_values.size and not np.all(np.isfinite(loss_values)):
            diagnosis = (
                " The loss became NaN or infinite: the learning rate is too large (or the loss is unstable), "
                f"or the gradients pile up: {ZERO_GRAD_ADVICE}"
            )
        elif loss_values.size > 1 and loss_values[-1] > 1.1 * loss_values[0]:
            diagnosis = f" The loss went up, not down: the learning rate is too large, or the gradients pile up: {ZERO_GRAD_ADVICE}"
        elif loss_values.size > 1 and loss_values[-1] >= 0.9 * loss_values[0]:
            diagnosis = (
                " The loss hardly went down: is every step zero_grad, backward, step? Are features and labels shuffled "
                "with the same permutation? A larger learning rate or more epochs may help."
            )
        raise CaseFailure(
            # No timing here: the same code must get the same message in every run.
            f"test accuracy {accuracy:.1%} on {len(test_labels)} held-out images, below the {REQUIRED_ACCURACY:.0%} required."
            f"{diagnosis}{curve}"
        )
    if loss_values.size == 0:
        raise CaseFailure(
            "the model learns, but train_digits returned no losses: append each step's loss.item() to the list it returns."
        )
    if not np.all(np.isfinite(loss_values)):
        raise CaseFailure(f"the model learns, but some of the losses returned are NaN or infinite.{curve}")
    observation["accuracy"] = accuracy


# The seed: one seed, one run ---------------------------------------------------------

# A small training set keeps the four extra runs short.
REPEAT_IMAGES = 160
# (name, the global NumPy seed set before the call, train_digits' keyword arguments).
# The global state differs each time: only the seed argument may decide the run.
REPEAT_RUNS = [
    ("seed=3", 11, {"seed": 3}),
    ("seed=3, again", 12, {"seed": 3}),
    ("seed=0", 13, {"seed": 0}),
    ("no seed", 14, {}),
]


@probe("5.1", "train_digits with one seed gives one run; no seed means seed=0")
def repeatable(student: Any) -> dict[str, Any]:
    train_features, train_labels, _, _ = digits_split()
    runs = {}
    for name, global_seed, kwargs in REPEAT_RUNS:
        student.core.grad_tracking_enabled = True
        np.random.seed(global_seed)
        result = student.part5_training.train_digits(
            train_features[:REPEAT_IMAGES].copy(), train_labels[:REPEAT_IMAGES].copy(), **kwargs
        )
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return {"not_a_pair": True}
        runs[name] = returned(list(result[1]) if not isinstance(result[1], np.ndarray) else result[1])
    return {"runs": runs}


def first_difference(first: np.ndarray, second: np.ndarray) -> str:
    if first.shape != second.shape:
        return f"{first.size} loss values, then {second.size}"
    step = int(np.flatnonzero(~((first == second) | (np.isnan(first) & np.isnan(second))))[0])
    return f"the losses first differ at value {step}: {first[step]:.6g}, then {second[step]:.6g}"


@repeatable.judge
def judge_repeatable(observation: dict[str, Any]) -> None:
    if observation.get("not_a_pair"):
        return  # the training case says what train_digits should return
    runs = {
        name: np.asarray(run.get("values", []), dtype=np.float64).ravel() for name, run in observation["runs"].items()
    }

    def same(first: str, second: str) -> bool:
        return runs[first].shape == runs[second].shape and bool(
            np.array_equal(runs[first], runs[second], equal_nan=True)
        )

    what = f"train_digits on the first {REPEAT_IMAGES} training images"
    if not same("seed=3", "seed=3, again"):
        raise CaseFailure(
            f"{what}, called twice with seed=3, gave two different runs ({first_difference(runs['seed=3'], runs['seed=3, again'])}). "
            "A seed must make the run repeatable, whatever NumPy's global state was before: call np.random.seed(seed) "
            "at the start, and take every random choice (initial weights, shuffles) after it."
        )
    if not same("seed=0", "no seed"):
        raise CaseFailure(
            f"{what}, called without a seed, did not repeat the run of seed=0 ({first_difference(runs['seed=0'], runs['no seed'])}): "
            "the default is seed=0 (def train_digits(features, labels, seed=0))."
        )


# evaluate: a stand-in model whose predictions are known ----------------------------

EVALUATE_FEATURES = uniform(560, (50, NUM_PIXELS), 0.0, 1.0)
EVALUATE_WEIGHTS = rng(561).normal(size=(NUM_PIXELS, NUM_CLASSES))


def evaluate_labels() -> tuple[np.ndarray, float]:
    """Labels that the stand-in model gets right for exactly 31 of the 50 images."""
    predictions = np.argmax(EVALUATE_FEATURES.astype(np.float64) @ EVALUATE_WEIGHTS, axis=1)
    labels = predictions.copy()
    wrong = rng(562).permutation(len(labels))[:19]
    labels[wrong] = (labels[wrong] + 1 + rng(563).integers(0, NUM_CLASSES - 1, size=wrong.size)) % NUM_CLASSES
    return labels, float(np.mean(predictions == labels))


EVALUATE_LABELS, EVALUATE_ACCURACY = evaluate_labels()


@probe("5.1", "evaluate gives the fraction of right predictions")
def evaluating(student: Any) -> dict[str, Any]:
    student.core.grad_tracking_enabled = True
    Tensor = student.core.Tensor
    weights = EVALUATE_WEIGHTS.copy()
    calls: list[int] = []
    tracking: list[Any] = []  # core.grad_tracking_enabled at each call of the model

    class StandIn:
        """Answers like a Module: logits = features @ weights, batch by batch."""

        def forward(self, x: Any) -> Any:
            features = np.asarray(x.array if isinstance(x, Tensor) else x, dtype=np.float64)
            calls.append(features.shape[0])
            tracking.append(student.core.grad_tracking_enabled)
            return Tensor((features @ weights).astype(np.float32))

        __call__ = forward

        def parameters(self, recurse: bool = True) -> Any:
            return iter(())

        def modules(self) -> Any:
            return iter(())

    result = student.part5_training.evaluate(StandIn(), EVALUATE_FEATURES.copy(), EVALUATE_LABELS.copy())
    return {
        "result": returned(result),
        "is_float": isinstance(result, float),
        "rows": int(sum(calls)),
        "tracking": [flag is True for flag in tracking],
        "tracking_after": student.core.grad_tracking_enabled is True,
    }


@evaluating.judge
def judge_evaluating(observation: dict[str, Any]) -> None:
    result = observation["result"]
    what = (
        f"evaluate(model, features, labels) on 50 images of which the model gets {round(EVALUATE_ACCURACY * 50)} right"
    )
    if (
        result.get("kind") not in ("number", "array", "tensor")
        or "values" not in result
        or np.size(result["values"]) != 1
    ):
        raise CaseFailure(
            f"{what} returned a {result.get('type')}; it should return one number, the fraction right ({EVALUATE_ACCURACY:g})."
        )
    value = float(np.asarray(result["values"]).ravel()[0])
    if values_match(value, EVALUATE_ACCURACY):
        if not observation["is_float"]:
            raise CaseFailure(
                f"{what} returned the right fraction as a {result.get('type')}; it should return a Python float "
                "(float(...) around it)."
            )
        if any(observation["tracking"]):
            raise CaseFailure(
                f"{what} called the model with gradient tracking on: compute the logits inside `with NoGrad():`, "
                "evaluating needs no graph."
            )
        if not observation["tracking_after"]:
            raise CaseFailure(f"after {what}, gradient tracking is still off: leave the NoGrad block before returning.")
        return
    if matches(value, 100 * EVALUATE_ACCURACY):
        raise CaseFailure(
            f"{what} returned {value:g}, a percentage; return the fraction in [0, 1]: {EVALUATE_ACCURACY:g}.",
            mistake="a percentage",
        )
    if matches(value, 1 - EVALUATE_ACCURACY):
        raise CaseFailure(
            f"{what} returned {value:g}, the fraction wrong (the error rate); return the fraction right: {EVALUATE_ACCURACY:g}.",
            mistake="the error rate",
        )
    if matches(value, round(EVALUATE_ACCURACY * 50)):
        raise CaseFailure(
            f"{what} returned {value:g}, the count; return the fraction in [0, 1]: {EVALUATE_ACCURACY:g}.",
            mistake="the count",
        )
    rows = observation["rows"]
    note = f" (the model was asked about {rows} images, not 50)" if rows != 50 else ""
    raise CaseFailure(
        f"{what} returned {value:g}; expected {EVALUATE_ACCURACY:g}{note}. A prediction is the index of the "
        "largest logit in each row (argmax over dim 1), compared with the labels."
    )
