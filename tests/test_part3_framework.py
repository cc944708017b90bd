"""The reference framework end to end: every Tensor operator and method of
Part 3 backpropagates the gradient that central differences give.

Each case pairs a Tensor computation with the same computation in plain
NumPy. The Tensor side runs through the reference solutions (core, functional,
Parts 1-3); the NumPy side is differentiated numerically in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from solutions.core import Tensor

from checker.numeric import numerical_vjp

# Inputs are drawn once, at import, in a fixed order.
RNG = np.random.default_rng(20240603)


def normal(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def positive(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, size=shape).astype(np.float32)


def away_from_zero(*shape: int) -> np.ndarray:
    return (RNG.uniform(0.5, 2.0, size=shape) * RNG.choice([-1.0, 1.0], size=shape)).astype(np.float32)


ROWS = np.array([0, 1, 2])
LABELS = np.array([3, 0, 3])

# name: (Tensor computation, NumPy computation, inputs)
CASES: dict[str, tuple[Callable[..., Any], Callable[..., Any], list[np.ndarray]]] = {
    "a + b, b broadcast": (lambda a, b: a + b, lambda a, b: a + b, [normal(3, 4), normal(4)]),
    "a + 2.0": (lambda a: a + 2.0, lambda a: a + 2.0, [normal(2, 3)]),
    "2.0 + a": (lambda a: 2.0 + a, lambda a: 2.0 + a, [normal(2, 3)]),
    "a - b, both broadcast": (lambda a, b: a - b, lambda a, b: a - b, [normal(3, 1), normal(1, 4)]),
    "1.5 - a": (lambda a: 1.5 - a, lambda a: 1.5 - a, [normal(4)]),
    "a - 1.5": (lambda a: a - 1.5, lambda a: a - 1.5, [normal(4)]),
    "a * b, a broadcast": (lambda a, b: a * b, lambda a, b: a * b, [normal(4), normal(2, 3, 4)]),
    "3.0 * a": (lambda a: 3.0 * a, lambda a: 3.0 * a, [normal(2, 2)]),
    "a / b, b a column": (lambda a, b: a / b, lambda a, b: a / b, [normal(3, 4), away_from_zero(3, 1)]),
    "2.0 / b": (lambda b: 2.0 / b, lambda b: 2.0 / b, [away_from_zero(5)]),
    "a / 4.0": (lambda a: a / 4.0, lambda a: a / 4.0, [normal(5)]),
    "a @ b, non-square": (lambda a, b: a @ b, lambda a, b: a @ b, [normal(2, 3), normal(3, 4)]),
    "a @ b.T": (lambda a, b: a @ b.T, lambda a, b: a @ b.T, [normal(2, 3), normal(4, 3)]),
    "-a": (lambda a: -a, lambda a: -a, [normal(3, 2)]),
    "a[[0, 0, 2]], repeated rows": (lambda a: a[[0, 0, 2]], lambda a: a[[0, 0, 2]], [normal(3, 4)]),
    "a[1:, ::2]": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], [normal(3, 4)]),
    "a[0]": (lambda a: a[0], lambda a: a[0], [normal(3, 4)]),
    "a[..., -1]": (lambda a: a[..., -1], lambda a: a[..., -1], [normal(2, 3, 4)]),
    "a[Tensor rows, Tensor labels]": (
        lambda a: a[Tensor(ROWS), Tensor(LABELS)],
        lambda a: a[ROWS, LABELS],
        [normal(3, 4)],
    ),
    "a.sum()": (lambda a: a.sum(), lambda a: a.sum(), [normal(3, 4)]),
    "a.sum(0)": (lambda a: a.sum(0), lambda a: a.sum(0), [normal(3, 4)]),
    "a.sum(-1, keepdim=True)": (
        lambda a: a.sum(-1, keepdim=True),
        lambda a: a.sum(-1, keepdims=True),
        [normal(2, 3, 4)],
    ),
    "a.sum((0, 2))": (lambda a: a.sum((0, 2)), lambda a: a.sum((0, 2)), [normal(2, 3, 4)]),
    "a.log()": (lambda a: a.log(), np.log, [positive(3, 4)]),
    "a.exp()": (lambda a: a.exp(), np.exp, [normal(3, 4)]),
    "a.reshape((6, -1))": (lambda a: a.reshape((6, -1)), lambda a: a.reshape((6, -1)), [normal(2, 3, 4)]),
    "a.permute((1, 2, 0))": (lambda a: a.permute((1, 2, 0)), lambda a: a.transpose((1, 2, 0)), [normal(2, 3, 4)]),
    "a.permute((-1, 0, 1))": (lambda a: a.permute((-1, 0, 1)), lambda a: a.transpose((2, 0, 1)), [normal(2, 3, 4)]),
    "a.T": (lambda a: a.T, lambda a: a.T, [normal(2, 5)]),
    "a.expand((2, -1, 4))": (
        lambda a: a.expand((2, -1, 4)),
        lambda a: np.broadcast_to(a, (2, 3, 4)),
        [normal(3, 1)],
    ),
    "a.maximum(b)": (lambda a, b: a.maximum(b), np.maximum, [normal(3, 4), normal(4) + 0.01]),
    "a.maximum(0.3)": (lambda a: a.maximum(0.3), lambda a: np.maximum(a, 0.3), [normal(3, 4)]),
    "a.relu()": (lambda a: a.relu(), lambda a: np.maximum(a, 0.0), [away_from_zero(3, 4)]),
    "a node used three times": (
        lambda a: (a * a + a.exp()).sum(1),
        lambda a: (a * a + np.exp(a)).sum(1),
        [normal(3, 4)],
    ),
    "a small network": (
        lambda x, w, b: ((x @ w.T + b).relu() - 1.0).exp().sum(-1).log(),
        lambda x, w, b: np.log(np.exp(np.maximum(x @ w.T + b, 0.0) - 1.0).sum(-1)),
        [normal(4, 3), normal(5, 3), normal(5)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_matches_central_differences(name: str) -> None:
    tensor_fn, numpy_fn, inputs = CASES[name]
    tensors = [Tensor(array.copy(), requires_grad=True) for array in inputs]
    out = tensor_fn(*tensors)
    assert out.requires_grad
    np.testing.assert_allclose(out.array, numpy_fn(*[a.astype(np.float64) for a in inputs]), rtol=1e-5, atol=1e-5)

    # Seeded per case, so that the result does not depend on which tests ran before.
    end_grad = np.random.default_rng(list(CASES).index(name)).normal(size=out.shape).astype(np.float32)
    out.backward(end_grad)
    for position, tensor in enumerate(tensors):
        expected = numerical_vjp(numpy_fn, inputs, position, end_grad)
        assert tensor.grad is not None, f"{name}: input {position} got no gradient"
        assert tensor.grad.shape == tensor.shape
        np.testing.assert_allclose(
            tensor.grad.array, expected, rtol=1e-4, atol=1e-4, err_msg=f"{name}: input {position}"
        )


def test_argmax_is_not_differentiable_but_can_index() -> None:
    a = Tensor(np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32), requires_grad=True)
    picked = a.argmax(1)
    assert not picked.requires_grad
    np.testing.assert_array_equal(picked.array, np.argmax(a.array, axis=1))
    np.testing.assert_array_equal(a.argmax(keepdim=True).array, np.argmax(a.array, keepdims=True))

    # Picking each row's largest entry: the gradient goes to exactly those entries.
    rows = Tensor(np.arange(3))
    a[rows, picked].sum().backward()
    expected = np.zeros((3, 4))
    expected[np.arange(3), np.argmax(a.array, axis=1)] = 1.0
    np.testing.assert_array_equal(a.grad.array, expected)


def test_in_place_updates_keep_the_array_and_the_leaf() -> None:
    source = np.random.default_rng(2)
    start = source.normal(size=(3, 4)).astype(np.float32)
    a = Tensor(start.copy(), requires_grad=True)
    array = a.array
    step = source.normal(size=4).astype(np.float32)

    a.add_(Tensor(step), alpha=0.5)
    a.sub_(2.0)
    a += Tensor(step)
    a -= 1.0

    assert a.array is array and a.array.dtype == np.float32
    assert a.is_leaf and a.recipe is None and a.requires_grad
    np.testing.assert_allclose(a.array, start + 1.5 * step - 3.0, rtol=1e-6, atol=1e-6)

    # The updated leaf still backpropagates as itself.
    (a * 2.0).sum().backward()
    np.testing.assert_array_equal(a.grad.array, np.full((3, 4), 2.0))


def test_relu_at_zero_takes_half_of_the_gradient() -> None:
    # The kit's convention (ties split evenly); the checker accepts anything in [0, 1].
    a = Tensor(np.array([-1.0, 0.0, 2.0], dtype=np.float32), requires_grad=True)
    a.relu().backward(np.array([4.0, 4.0, 4.0], dtype=np.float32))
    np.testing.assert_array_equal(a.grad.array, [0.0, 2.0, 4.0])
