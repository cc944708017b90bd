"""Numeric checking, on the parent side: the oracle and the comparison.

The oracle is mathematics: gradients are central differences of the plain
NumPy computation, in float64. Student results arrive as float64 copies
(observe.returned); they are compared with tolerances loose enough for
float32 work and tight enough to catch any real mistake. When they differ,
`expect_array` says how, in words a student can act on.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .cases import CaseFailure

# Student code works in float32, the oracle in float64.
RTOL = 1e-4
ATOL = 1e-5


def rng(seed: int) -> np.random.Generator:
    """The random source of a test input: always seeded."""
    return np.random.default_rng(seed)


def numerical_vjp(
    function: Callable[..., Any],
    args: Sequence[Any],
    wrt: int,
    grad_out: np.ndarray,
    kwargs: dict[str, Any] | None = None,
    eps: float = 1e-6,
) -> np.ndarray:
    """d/d(args[wrt]) of sum(function(*args, **kwargs) * grad_out), by central differences in float64."""
    kwargs = kwargs or {}
    plain_args = [np.array(arg, dtype=np.float64) if isinstance(arg, np.ndarray) else arg for arg in args]
    x = plain_args[wrt]
    weights = np.asarray(grad_out, dtype=np.float64)
    gradient = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        above = np.sum(np.asarray(function(*plain_args, **kwargs), dtype=np.float64) * weights)
        x[index] = original - eps
        below = np.sum(np.asarray(function(*plain_args, **kwargs), dtype=np.float64) * weights)
        x[index] = original
        gradient[index] = (above - below) / (2 * eps)
    return gradient


def expect_array(
    observation: Any,
    expected: np.ndarray,
    *,
    what: str,
    rtol: float = RTOL,
    atol: float = ATOL,
    broadcast_shape: tuple[int, ...] | None = None,
) -> None:
    """Fail unless the observed return value is an array equal to `expected`.

    what:            how to name the result in a message ("log_back(grad_out, out, x)").
    broadcast_shape: the shape before unbroadcasting, if there was one, so
                     that a result of that shape is called what it is.
    """
    expected = np.asarray(expected, dtype=np.float64)
    got = array_of(observation, what=what, expected_shape=expected.shape, broadcast_shape=broadcast_shape)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    tolerance = atol * scale + rtol * np.abs(expected)
    error = np.abs(got - expected)
    bad = ~(error <= tolerance)  # NaN counts as bad
    if not np.any(bad):
        return
    raise CaseFailure(mismatch_message(got, expected, what=what))


def array_of(
    observation: Any,
    *,
    what: str,
    expected_shape: tuple[int, ...],
    broadcast_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """The observed value as a float64 array of the expected shape, or a CaseFailure saying why not."""
    if not isinstance(observation, dict) or "kind" not in observation:
        raise CaseFailure(f"{what}: the result could not be read.")
    kind = observation["kind"]
    type_name = observation.get("type", "?")
    if type_name == "NoneType":
        raise CaseFailure(f"{what} returned None. Did you forget a `return`?")
    if kind == "tensor":
        raise CaseFailure(f"{what} returned a {type_name}; it should return a plain NumPy array (a Tensor's data is its .array).")
    if kind == "other" or "values" not in observation:
        shown = observation.get("repr", "")
        raise CaseFailure(f"{what} returned a {type_name} ({shown}); it should return a NumPy array.")
    got = np.asarray(observation["values"], dtype=np.float64)
    if got.shape != tuple(expected_shape):
        raise CaseFailure(shape_message(got.shape, tuple(expected_shape), what=what, broadcast_shape=broadcast_shape))
    return got


def shape_message(
    got: tuple[int, ...],
    expected: tuple[int, ...],
    *,
    what: str,
    broadcast_shape: tuple[int, ...] | None = None,
) -> str:
    message = f"{what} has shape {got}, but it should have shape {expected}."
    if broadcast_shape is not None and got == tuple(broadcast_shape) and got != expected:
        message += " That is the broadcast shape: did you forget to unbroadcast?"
    elif len(got) == len(expected) == 2 and got == expected[::-1]:
        message += " It looks transposed."
    elif sorted(got) == sorted(expected):
        message += " The dims are in the wrong order."
    return message


def mismatch_message(got: np.ndarray, expected: np.ndarray, *, what: str) -> str:
    """Expected against got: the largest error, where it is, and the likely mistake."""
    error = np.abs(got - expected)
    error = np.where(np.isnan(error), np.inf, error)
    worst = np.unravel_index(int(np.argmax(error)), expected.shape) if expected.ndim else ()
    lines = [f"{what} has wrong values."]
    where = f" at index {list(int(i) for i in worst)}" if expected.ndim else ""
    lines.append(f"Largest error{where}: expected {expected[worst]:.6g}, got {got[worst]:.6g}.")
    diagnosis = diagnose(got, expected)
    if diagnosis:
        lines.append(diagnosis)
    if expected.size <= 12:
        lines.append(f"expected: {_compact(expected)}")
        lines.append(f"got:      {_compact(got)}")
    return "\n".join(lines)


def diagnose(got: np.ndarray, expected: np.ndarray) -> str:
    """A plain-words guess at a classic mistake, or '' when none fits."""

    def close(a: np.ndarray, b: np.ndarray) -> bool:
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL * 10, atol=ATOL * 10))

    if not np.all(np.isfinite(got)):
        return "Your result has NaN or infinite entries."
    if np.any(expected != 0) and close(got, -expected):
        return "It is exactly the negative of the right answer: check the sign."
    if np.any(expected != 0) and not np.any(got):
        return "Your result is all zeros."
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and close(got, expected.T):
        return "It is the transpose of the right answer."
    nonzero = np.abs(expected) > 1e-8
    if np.any(nonzero):
        ratios = got[nonzero] / expected[nonzero]
        ratio = float(np.median(ratios))
        if abs(ratio) > 1e-8 and abs(ratio - 1) > 1e-3 and close(got, ratio * expected):
            return f"It is the right answer times {ratio:.4g}: a constant factor is off."
    return ""


def _compact(values: np.ndarray) -> str:
    return np.array2string(values, precision=4, suppress_small=True, separator=", ").replace("\n", "")
