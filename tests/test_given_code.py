"""The given code that no exercise grades: the worked example sin_back, Part 3's
`_sum`, Part 4's `uniform`, Part 5's load_digits, split_train_test and main,
and in core.py and functional.py the Tensor's operators and properties,
`backward`, Recipe and the registration table.

Students build on these and the checker never calls them, so the kit tests
them itself. By default they test solutions/ (the given code is the same in
exercises/, test_agreement makes sure); with BACKPROP_KIT_IMPL set to a
folder laid out like solutions/, they test that folder instead. The mutation
run (tests/run_mutants.py) does so, to judge mutants of the given code.

The promises of the given code's docstrings, and the tests that check them
(the graded functions' promises sit in each suite, checker/suites/, above
the cases that check them):

- sin_back: grad_out * cos(x): test_sin_back_is_grad_out_times_cos_x,
  test_sin_back_on_a_0d_array
- _sum: np.sum with PyTorch's names (dim None, an int, a negative int or a
  tuple; keepdim False by default):
  test_given_sum_defaults_sum_everything_and_drop_the_summed_dims
- _sum: keepdim keeps the summed dims as size 1:
  test_given_sum_keepdim_keeps_the_summed_dims_as_size_1
- Recipe: made once, then only read (frozen, no new attributes): test_recipe_is_frozen
- Recipe: args unboxed (a Tensor's very array), kwargs, parents by position:
  test_recipe_is_frozen, test_reflected_operators_keep_the_number_first
- Tensor: float64 input stored as float32, grad and recipe start as None:
  test_a_new_tensor_stores_float64_as_float32_and_starts_without_grad_or_recipe
- Tensor: operators call the functional function of the same name:
  test_tensor_operators_compute_and_record_their_numpy_function (20 operators),
  test_argmax_of_a_tensor_passes_dim_and_keepdim_on
- Tensor: == is elementwise and not differentiable, hashed by identity:
  test_tensor_equality_is_elementwise_and_not_differentiable
- Tensor: +=, -=, add_ and sub_ change the same array, record nothing and
  return the tensor: test_in_place_operators_change_the_same_array_and_record_nothing
- Tensor.is_leaf: a made tensor, one not requiring grad, or one with no parents:
  test_is_leaf_is_false_only_for_a_computed_tensor_that_requires_grad
- Tensor.backward: end_grad an ndarray or a Tensor, None means ones:
  test_backward_takes_end_grad_as_an_array_or_a_tensor (ndarray, Tensor),
  test_backward_without_end_grad_starts_from_ones
- BACK_FUNCS: every (forward function, position) of BACKWARD_FUNCTIONS
  registered, eq not differentiable:
  test_every_wrapped_function_has_its_backward_functions_registered
- uniform: a float32 Tensor of draws from U(low, high), repeatable with
  np.random.seed: test_uniform_gives_float32_draws_inside_the_bounds_and_repeats_with_the_seed
- load_digits: features float32 (1797, 64) in [0, 1] (pixels / 16), labels
  int64 (1797,): test_load_digits_gives_1797_images_scaled_to_0_1_and_their_labels,
  test_load_digits_reads_the_path_it_is_given
- split_train_test: a seeded random split (train_x, train_y, test_x, test_y),
  test_fraction rounded: test_split_train_test_is_a_seeded_partition_with_a_fifth_held_out,
  test_split_train_test_rounds_the_test_size, test_split_train_test_matches_the_checkers_own_split
- main: trains, reports the time, the losses and the test accuracy:
  test_main_reports_size_time_losses_and_accuracy, test_main_with_no_losses_says_nothing_about_them
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

from checker import KIT_ROOT

IMPL = Path(os.environ.get("BACKPROP_KIT_IMPL") or KIT_ROOT / "solutions").resolve()
PACKAGE = "given_code_under_test"


def load(module: str) -> ModuleType:
    """A module of the implementation folder, imported under a private package name."""
    if PACKAGE not in importlib.sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, IMPL / "__init__.py", submodule_search_locations=[str(IMPL)]
        )
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


# core.py and functional.py: the Tensor, Recipe and the registration table -----------------


def leaves(values_a, values_b, requires_grad=True):
    core = load("core")
    return (
        core.Tensor(np.array(values_a, dtype=np.float32), requires_grad=requires_grad),
        core.Tensor(np.array(values_b, dtype=np.float32), requires_grad=requires_grad),
    )


# (label, the operation on Tensors a and b, the NumPy function it records, its value from the arrays)
OPERATORS = [
    ("a + b", lambda a, b: a + b, np.add, lambda a, b: a + b),
    ("2 + a", lambda a, b: 2 + a, np.add, lambda a, b: 2 + a),
    ("a - b", lambda a, b: a - b, np.subtract, lambda a, b: a - b),
    ("2 - a", lambda a, b: 2 - a, np.subtract, lambda a, b: 2 - a),
    ("a * b", lambda a, b: a * b, np.multiply, lambda a, b: a * b),
    ("3 * a", lambda a, b: 3 * a, np.multiply, lambda a, b: 3 * a),
    ("a / b", lambda a, b: a / b, np.true_divide, lambda a, b: a / b),
    ("2 / a", lambda a, b: 2 / a, np.true_divide, lambda a, b: 2 / a),
    ("-a", lambda a, b: -a, np.negative, lambda a, b: -a),
    ("a.log()", lambda a, b: a.log(), np.log, lambda a, b: np.log(a)),
    ("a.exp()", lambda a, b: a.exp(), np.exp, lambda a, b: np.exp(a)),
    ("a.maximum(b)", lambda a, b: a.maximum(b), np.maximum, lambda a, b: np.maximum(a, b)),
    ("a.reshape((3, 2))", lambda a, b: a.reshape((3, 2)), np.reshape, lambda a, b: a.reshape(3, 2)),
    ("a.permute((1, 0))", lambda a, b: a.permute((1, 0)), np.transpose, lambda a, b: a.T),
    ("a.T", lambda a, b: a.T, np.transpose, lambda a, b: a.T),
    ("a.sum()", lambda a, b: a.sum(), None, lambda a, b: a.sum()),
    ("a.sum(1, keepdim=True)", lambda a, b: a.sum(1, keepdim=True), None, lambda a, b: a.sum(1, keepdims=True)),
    ("a.expand((4, 2, 3))", lambda a, b: a.expand((4, 2, 3)), None, lambda a, b: np.broadcast_to(a, (4, 2, 3))),
    ("a[1]", lambda a, b: a[1], None, lambda a, b: a[1]),
    ("a @ b.T", lambda a, b: a @ b.T, None, lambda a, b: a @ b.T),
]


@pytest.mark.parametrize("label, operation, func, value", OPERATORS, ids=[row[0] for row in OPERATORS])
def test_tensor_operators_compute_and_record_their_numpy_function(label, operation, func, value):
    a, b = leaves([[0.5, 1.0, 2.0], [3.0, 0.25, 1.5]], [[1.0, -2.0, 0.5], [2.0, 4.0, -1.0]])
    result = operation(a, b)
    assert isinstance(result, load("core").Tensor)
    np.testing.assert_allclose(result.array, value(a.array.astype(np.float64), b.array.astype(np.float64)), rtol=1e-6)
    assert result.requires_grad and result.recipe is not None
    if func is not None:
        assert result.recipe.func is func
    # Every operation above is of a (b.T in `a @ b.T` is a computed Tensor of its own).
    assert any(parent is a for parent in result.recipe.parents.values())
    assert all(isinstance(parent, load("core").Tensor) for parent in result.recipe.parents.values())


def test_reflected_operators_keep_the_number_first():
    a, _ = leaves([1.0, 4.0], [0.0, 0.0])
    assert (2 - a).recipe.args[0] == 2 and (2 - a).recipe.parents == {1: a}
    assert (8 / a).recipe.args[0] == 8 and (8 / a).recipe.parents == {1: a}
    np.testing.assert_array_equal((8 / a).array, [8.0, 2.0])


def test_tensor_equality_is_elementwise_and_not_differentiable():
    a, b = leaves([1.0, 2.0, 3.0], [1.0, 5.0, 3.0])
    same = a == b
    np.testing.assert_array_equal(same.array, [True, False, True])
    assert same.requires_grad is False and same.recipe is None
    # Hashed by identity, so that tensors can be dictionary keys although == is elementwise.
    assert hash(a) != hash(b) and {a: 1, b: 2}[a] == 1


def test_argmax_of_a_tensor_passes_dim_and_keepdim_on():
    a, _ = leaves([[0.5, 3.0, 2.0], [4.0, 0.25, 1.5]], [0.0])
    assert a.argmax().item() == 3
    np.testing.assert_array_equal(a.argmax(1).array, [1, 0])
    assert a.argmax(1, keepdim=True).shape == (2, 1)
    assert a.argmax().requires_grad is False


def test_in_place_operators_change_the_same_array_and_record_nothing():
    a, b = leaves([1.0, 2.0], [0.5, 0.5], requires_grad=False)
    array = a.array
    a += b
    a -= 2.0
    assert a.array is array and a.recipe is None
    np.testing.assert_array_equal(array, [-0.5, 0.5])
    assert a.add_(b, alpha=2.0) is a
    np.testing.assert_array_equal(array, [0.5, 1.5])
    assert a.sub_(1.0) is a
    np.testing.assert_array_equal(array, [-0.5, 0.5])


def test_a_new_tensor_stores_float64_as_float32_and_starts_without_grad_or_recipe():
    core = load("core")
    made = core.Tensor([[1.0, 2.0, 3.0]])
    assert made.array.dtype == np.float32 and made.shape == (1, 3) and made.ndim == 2 and made.size == 3
    assert made.dtype == np.float32 and made.grad is None and made.recipe is None and made.requires_grad is False
    assert made.is_leaf and made.numpy() is made.array
    assert core.Tensor(np.arange(3)).dtype == np.arange(3).dtype  # integers are kept as they are
    assert core.tensor([1.0], requires_grad=True).requires_grad is True
    assert len(made) == 1 and made[0, 2].item() == 3.0
    with pytest.raises(TypeError):
        len(core.Tensor(1.0))
    assert bool(core.Tensor([2.0])) is True and bool(core.Tensor(0.0)) is False
    with pytest.raises(RuntimeError):
        bool(made)


def test_is_leaf_is_false_only_for_a_computed_tensor_that_requires_grad():
    a, _ = leaves([1.0, 2.0], [0.0, 0.0])
    assert a.is_leaf
    assert not (a * 2).is_leaf
    assert (load("core").Tensor([1.0]) * 2).is_leaf  # no input requires grad


@pytest.mark.parametrize("kind", ["ndarray", "Tensor"])
def test_backward_takes_end_grad_as_an_array_or_a_tensor(kind):
    core = load("core")
    a, b = leaves([1.0, 2.0, 3.0], [0.5, -1.0, 4.0])
    end_grad = np.array([1.0, 10.0, 100.0], dtype=np.float32)
    (a * b).backward(end_grad if kind == "ndarray" else core.Tensor(end_grad))
    np.testing.assert_allclose(a.grad.array, end_grad * b.array)
    np.testing.assert_allclose(b.grad.array, end_grad * a.array)
    assert isinstance(a.grad, core.Tensor)


def test_backward_without_end_grad_starts_from_ones():
    a, b = leaves([1.0, 2.0, 3.0], [0.5, -1.0, 4.0])
    (a * b).backward()
    np.testing.assert_allclose(a.grad.array, b.array)


def test_recipe_is_frozen():
    a, _ = leaves([1.0, 2.0], [0.0, 0.0])
    recipe = a.log().recipe
    # Immutable, whichever kind it is (a frozen dataclass raises a subclass of AttributeError).
    with pytest.raises(AttributeError):
        recipe.func = np.exp
    with pytest.raises((AttributeError, TypeError)):
        recipe.extra = 1  # slots: no new attributes either
    assert recipe.func is np.log and recipe.args[0] is a.array and recipe.kwargs == {} and recipe.parents == {0: a}


def test_every_wrapped_function_has_its_backward_functions_registered():
    functional = load("functional")
    part1, part3 = load("part1_backward"), load("part3_ops")
    for forward, position, backward in functional.BACKWARD_FUNCTIONS:
        assert functional.BACK_FUNCS.get_back_func(forward, position) is backward
    registered = {(forward, position) for forward, position, _ in functional.BACKWARD_FUNCTIONS}
    assert len(registered) == len(functional.BACKWARD_FUNCTIONS)  # each key once
    # Spot checks against the exercises' names.
    assert functional.BACK_FUNCS.get_back_func(np.log, 0) is part1.log_back
    assert functional.BACK_FUNCS.get_back_func(np.multiply, 1) is part1.multiply_back1
    assert functional.BACK_FUNCS.get_back_func(part3._sum, 0) is part3.sum_back
    assert functional.BACK_FUNCS.get_back_func(part3._matmul2d, 1) is part3.matmul2d_back1
    # Every differentiable binary NumPy function has both positions; the unary ones have position 0 only.
    for binary in (np.multiply, np.add, np.subtract, np.true_divide, np.maximum):
        assert {(binary, 0), (binary, 1)} <= registered
    for unary in (np.log, np.exp, np.negative, np.reshape, np.transpose):
        assert (unary, 0) in registered and (unary, 1) not in registered
    with pytest.raises(KeyError):
        functional.BACK_FUNCS.get_back_func(np.equal, 0)  # eq is not differentiable


# Part 3: the worked example ---------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
def test_flip_back_moves_the_gradient_back(axis):
    part3 = load("part3_ops")
    generator = np.random.default_rng(3)
    x = generator.normal(size=(2, 3, 4))
    grad_out = generator.normal(size=(2, 3, 4))
    grad_before = grad_out.copy()
    result = part3.flip_back(grad_out, np.flip(x, axis), x, axis)
    # dL/dx by the definition: L = sum(grad_out * flip(x)), one entry of x at a time.
    expected = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        basis = np.zeros_like(x)
        basis[index] = 1.0
        expected[index] = np.sum(grad_out * np.flip(basis, axis))
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=0)
    assert result.shape == x.shape
    np.testing.assert_array_equal(grad_out, grad_before)
