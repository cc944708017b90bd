"""The given code that no exercise grades: the worked example sin_back, Part 3's
`_sum`, Part 4's `uniform`, and Part 5's load_digits, split_train_test and main.

Students build on these and the checker never calls them, so the kit tests
them itself. By default they test solutions/ (the given code is the same in
exercises/, test_agreement makes sure); with BACKPROP_KIT_IMPL set to a
folder laid out like solutions/, they test that folder instead. The mutation
run (tests/run_mutants.py) does so, to judge mutants of the given code.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import re
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

KIT_ROOT = Path(__file__).resolve().parent.parent
IMPL = Path(os.environ.get("BACKPROP_KIT_IMPL") or KIT_ROOT / "solutions").resolve()
PACKAGE = "given_code_under_test"


def load(module: str) -> ModuleType:
    """A module of the implementation folder, imported under a private package name."""
    if PACKAGE not in importlib.sys.modules:
        spec = importlib.util.spec_from_file_location(PACKAGE, IMPL / "__init__.py", submodule_search_locations=[str(IMPL)])
        package = importlib.util.module_from_spec(spec)
        importlib.sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{module}")


# Part 1: the worked example ---------------------------------------------------------


def test_sin_back_is_grad_out_times_cos_x():
    part1 = load("part1_backward")
    generator = np.random.default_rng(0)
    x = generator.normal(size=(3, 4)).astype(np.float32)
    grad_out = generator.normal(size=(3, 4)).astype(np.float32)
    x_before, grad_before = x.copy(), grad_out.copy()
    eps = 1e-6
    x64 = x.astype(np.float64)
    numerical = grad_out * (np.sin(x64 + eps) - np.sin(x64 - eps)) / (2 * eps)
    result = part1.sin_back(grad_out, np.sin(x), x)
    assert result.shape == x.shape
    np.testing.assert_allclose(result, numerical, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(grad_out, grad_before)


def test_sin_back_on_a_0d_array():
    part1 = load("part1_backward")
    x = np.array(0.5, dtype=np.float32)
    result = part1.sin_back(np.array(2.0, dtype=np.float32), np.sin(x), x)
    assert np.shape(result) == ()
    assert float(result) == pytest.approx(2 * np.cos(0.5), rel=1e-6)


# Part 3: _sum, np.sum with PyTorch's names --------------------------------------------


def test_given_sum_defaults_sum_everything_and_drop_the_summed_dims():
    part3 = load("part3_ops")
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    everything = part3._sum(x)
    assert np.shape(everything) == () and float(everything) == 276.0
    # keepdim left out is False: the summed dim is gone.
    np.testing.assert_array_equal(part3._sum(x, 1), x.sum(axis=1))
    assert part3._sum(x, dim=-1).shape == (2, 3)
    assert part3._sum(x, dim=(0, 2)).shape == (3,)


def test_given_sum_keepdim_keeps_the_summed_dims_as_size_1():
    part3 = load("part3_ops")
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert part3._sum(x, keepdim=True).shape == (1, 1, 1)
    kept = part3._sum(x, dim=(0, 2), keepdim=True)
    assert kept.shape == (1, 3, 1)
    np.testing.assert_array_equal(kept.reshape(3), x.sum(axis=(0, 2)))


# Part 4: uniform ---------------------------------------------------------------------


def test_uniform_gives_float32_draws_inside_the_bounds_and_repeats_with_the_seed():
    part4 = load("part4_nn")
    np.random.seed(3)
    first = part4.uniform(-0.5, 0.25, (200, 3))
    np.random.seed(3)
    again = part4.uniform(-0.5, 0.25, (200, 3))
    assert isinstance(first, load("core").Tensor)
    assert first.array.dtype == np.float32 and first.array.shape == (200, 3)
    assert first.requires_grad is False and first.recipe is None
    assert -0.5 <= first.array.min() < -0.4 and 0.15 < first.array.max() <= 0.25
    np.testing.assert_array_equal(first.array, again.array)


# Part 5: the data and main --------------------------------------------------------------


def test_load_digits_gives_1797_images_scaled_to_0_1_and_their_labels():
    features, labels = load("part5_training").load_digits()
    assert features.shape == (1797, 64) and features.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    # The raw pixels are the integers 0..16: scaled by 1/16 they are multiples of 1/16 in [0, 1].
    assert features.min() == 0.0 and features.max() == 1.0
    np.testing.assert_array_equal(features * 16, np.round(features * 16))
    assert sorted(set(labels.tolist())) == list(range(10))
    assert np.bincount(labels).min() > 150  # about 180 images of each digit


def test_load_digits_reads_the_path_it_is_given(tmp_path):
    import gzip

    rows = ["0," * 64 + "3", "16," * 64 + "7"]
    path = tmp_path / "two.csv.gz"
    with gzip.open(path, "wt") as stream:
        stream.write("\n".join(rows) + "\n")
    features, labels = load("part5_training").load_digits(str(path))
    np.testing.assert_array_equal(features, np.array([[0.0] * 64, [1.0] * 64], dtype=np.float32))
    np.testing.assert_array_equal(labels, [3, 7])


def test_split_train_test_is_a_seeded_partition_with_a_fifth_held_out():
    part5 = load("part5_training")
    features = np.arange(100 * 2, dtype=np.float32).reshape(100, 2)
    labels = np.arange(100)
    train_x, train_y, test_x, test_y = part5.split_train_test(features, labels)
    assert len(test_y) == 20 and len(train_y) == 80
    assert sorted([*train_y.tolist(), *test_y.tolist()]) == list(range(100))
    # Features and labels stay paired: row i of features belongs to label i.
    np.testing.assert_array_equal(train_x[:, 0], 2 * train_y)
    np.testing.assert_array_equal(test_x[:, 0], 2 * test_y)
    again = part5.split_train_test(features, labels, test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(again[3], test_y)
    other = part5.split_train_test(features, labels, seed=1)
    assert not np.array_equal(other[3], test_y)
    order = np.random.default_rng(0).permutation(100)
    np.testing.assert_array_equal(test_y, order[:20])


def test_split_train_test_rounds_the_test_size():
    part5 = load("part5_training")
    labels = np.arange(10)
    *_, test_y = part5.split_train_test(labels[:, None], labels, test_fraction=0.35)
    assert len(test_y) == 4  # round(3.5) is 4


def test_split_train_test_matches_the_checkers_own_split():
    from checker.suites.part5 import digits_split

    part5 = load("part5_training")
    ours = part5.split_train_test(*part5.load_digits())
    for mine, checkers in zip(ours, digits_split()):
        np.testing.assert_array_equal(mine, checkers)


class PredictsZero:
    """A stand-in model: every image is a 0."""

    def __init__(self, tensor_class: type):
        self.tensor_class = tensor_class

    def __call__(self, x):
        logits = np.zeros((x.array.shape[0], 10), dtype=np.float32)
        logits[:, 0] = 1.0
        return self.tensor_class(logits)


def run_main(monkeypatch, losses: list[float]) -> str:
    part5 = load("part5_training")
    model = PredictsZero(load("core").Tensor)
    monkeypatch.setattr(part5, "train_digits", lambda features, labels: (model, list(losses)))
    output = io.StringIO()
    with redirect_stdout(output):
        part5.main()
    return output.getvalue()


def test_main_reports_size_time_losses_and_accuracy(monkeypatch):
    text = run_main(monkeypatch, [2.5, 1.25, 0.125])
    first = re.search(r"trained on (\d+) images in ([\d.]+) s \((\d+) loss values\)", text)
    assert first, text
    assert first.group(1) == "1438" and first.group(3) == "3"
    assert 0.0 <= float(first.group(2)) < 0.5  # the stand-in trains in no time
    assert "loss: first 2.5000, last 0.1250" in text
    *_, test_labels = load("part5_training").split_train_test(*load("part5_training").load_digits())
    accuracy = float(np.mean(test_labels == 0))
    assert f"test accuracy on {len(test_labels)} images: {accuracy:.1%}" in text


def test_main_with_no_losses_says_nothing_about_them(monkeypatch):
    text = run_main(monkeypatch, [])
    assert "(0 loss values)" in text
    assert "loss: first" not in text
    assert "test accuracy on 359 images" in text


@contextmanager
def fresh_package(name: str):
    """The implementation folder imported once more under another package name, removed afterwards."""
    spec = importlib.util.spec_from_file_location(name, IMPL / "__init__.py", submodule_search_locations=[str(IMPL)])
    package = importlib.util.module_from_spec(spec)
    importlib.sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        yield name
    finally:
        for module in [key for key in importlib.sys.modules if key == name or key.startswith(name + ".")]:
            del importlib.sys.modules[module]


def test_running_the_file_runs_main():
    import runpy

    output = io.StringIO()
    with fresh_package("given_code_as_script") as package, redirect_stdout(output):
        runpy.run_module(f"{package}.part5_training", run_name="__main__", alter_sys=False)
    text = output.getvalue()
    assert "trained on 1438 images" in text and "test accuracy on 359 images:" in text, text


def test_importing_part5_training_does_not_run_main():
    # A package name that sorts before "__main__" ("A" < "_"), so that only
    # an exact test of __name__ keeps main from running on import.
    output = io.StringIO()
    with fresh_package("A_given_code_imported") as package, redirect_stdout(output):
        importlib.import_module(f"{package}.part5_training")
    assert output.getvalue() == ""
