"""Hidden suite for the bonus exercises.

Mistakes these cases are built to catch:
- b.1 topological_sort: recursion (also with a raised recursion limit),
  no "finished" mark (exponential on a ladder of diamonds), a revisit taken
  for a cycle, an iterative pre-order or a node marked when pushed (a node
  before its children), a cycle deep down not detected.
- b.2 numerical_gradient: a one-sided difference, dividing by eps instead of
  2 eps, float32 work, x left changed by `+= eps ... -= eps`, a flattened
  x or result, ignoring the eps given, a 0-d x.
- b.3 versioned_add_, checked_forward_fn, checked_backprop: not in place,
  no version bump, saving only the parents (a constant factor changed goes
  unnoticed), not saving the result, comparing with 0 instead of the saved
  version, a wrong tensor in the error, gradients written before raising.
- b.4 matmul_back0/1: `.T` on a batch, no unbroadcast of the batch dims,
  1-D operands, operands swapped.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..cases import CaseFailure, probe
from ..numeric import expect_array, numerical_vjp, shape_message, values_match
from ..observe import exception_info, returned, where_raised
from ..seeds import rng
from .common import Check, changed_inputs, expect_each, expect_untouched, float32, normal, uniform

_NotImplementedError = NotImplementedError
_Exception = Exception
_str = str
_type = type


def call_student(function: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """{"value": ...} or {"raised": ...}. A stub's NotImplementedError goes up,
    so that the exercise is reported as not started."""
    try:
        return {"value": function(*args, **kwargs)}
    except _NotImplementedError:
        raise
    except _Exception as exc:
        return {"raised": exception_info(exc)}


def raised_text(error: dict[str, Any]) -> str:
    return f"{error.get('type')}: {error.get('message')}{where_raised(error)}"


def raised(error: dict[str, Any], kind: str) -> bool:
    """Whether the exception (as exception_info gives it) is a `kind` (ValueError, say) or a subclass of one."""
    return kind in error.get("bases", [])


# b.1 topological_sort on deep graphs ----------------------------------------

# Promises of topological_sort's docstring, and the cases that check them:
# - no recursion, for graphs 10,000 nodes deep: "sorts a chain 10,000 nodes deep",
#   "sorts a ladder of diamonds 10,000 nodes deep (i -> i+1 and i -> i+2)",
#   "sorts a 10,000-node chain with random shortcuts (shared nodes)",
#   "sorts 100 branches that merge into one 10,000-node chain"
# - a cycle still raises ValueError:
#   "raises ValueError on a 10,000-node chain whose last node points back to node 5,000",
#   "raises ValueError on a ladder of diamonds 10,000 nodes deep whose last node points back to the first"

DEEP = 10_000
# Frames allowed above the probe while the student's sort runs: plenty for a
# loop, far too few for a recursion 10,000 deep, whatever limit the
# student's module may have set.
STACK_ALLOWANCE = 200


class Node:
    """A graph node for the sort: compared and hashed by identity."""

    __slots__ = ("label", "children", "__weakref__")

    def __init__(self, label: int):
        self.label = label
        self.children: list[Node] = []

    def __repr__(self) -> str:
        return f"Node({self.label})"


def chain(length: int) -> list[list[int]]:
    """0 -> 1 -> ... -> length - 1."""
    return [[i + 1] for i in range(length - 1)] + [[]]


def diamond_ladder(length: int) -> list[list[int]]:
    """i -> i + 1 and i -> i + 2: every node is reached along exponentially many paths."""
    return [[j for j in (i + 2, i + 1) if j < length] for i in range(length)]


def shared_spine(seed: int, length: int) -> list[list[int]]:
    """A spine 0 -> 1 -> ... plus random shortcuts forward, children in random order."""
    generator = rng(seed)
    shortcuts = np.arange(length)[:, None] + generator.integers(2, 40, size=(length, 2))
    graph = []
    for i in range(length):
        children = {int(j) for j in shortcuts[i] if j < length}
        if i + 1 < length:
            children.add(i + 1)
        graph.append(sorted(children))
    for children, flip in zip(graph, generator.random(length) < 0.5):
        if flip:
            children.reverse()
    return graph


def fan_into_chain(heads: int, length: int) -> list[list[int]]:
    """Root 0 has `heads` children, each pointing into one long shared chain."""
    chain_start = heads + 1
    graph = [list(range(1, heads + 1))]
    graph += [[chain_start + (i * 37) % 200] for i in range(heads)]
    graph += [[chain_start + i + 1] for i in range(length - 1)] + [[]]
    return graph


def with_back_edge(graph: list[list[int]], source: int, target: int) -> list[list[int]]:
    graph = [list(children) for children in graph]
    graph[source].append(target)
    return graph


_setrecursionlimit = sys.setrecursionlimit  # taken before student code runs


def _keep_recursion_limit(limit: int) -> None:
    """Stands in for sys.setrecursionlimit while the student's sort runs."""


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def run_sort(student: Any, graph: list[list[int]]) -> dict[str, Any]:
    """Sort the graph from node 0 with a shallow stack; the order as labels (-1: not a node)."""
    nodes = [Node(label) for label in range(len(graph))]
    for node, children in zip(nodes, graph):
        node.children = [nodes[child] for child in children]
    topological_sort = student.part2_autograd.topological_sort
    old_limit = sys.getrecursionlimit()
    _setrecursionlimit(_stack_depth() + STACK_ALLOWANCE)
    # While the sort runs, raising the limit again does nothing.
    sys.setrecursionlimit = _keep_recursion_limit
    try:
        outcome = call_student(topological_sort, nodes[0], lambda node: node.children)
    finally:
        sys.setrecursionlimit = _setrecursionlimit
        _setrecursionlimit(old_limit)
    if "raised" in outcome:
        return outcome
    order = outcome["value"]
    if not isinstance(order, (list, tuple)):
        return {"not_a_list": type(order).__name__}
    label_of = {id(node): node.label for node in nodes}
    return {"order": [label_of.get(id(item), -1) for item in order]}


def expect_no_recursion(error: dict[str, Any]) -> None:
    if error.get("type") == "RecursionError":
        raise CaseFailure(
            f"topological_sort hit Python's recursion limit. A recursive depth-first "
            f"search needs one stack frame per node on the current path, and this graph has paths "
            f"{DEEP:,} nodes long (raising the limit with sys.setrecursionlimit is not the fix: the "
            f"checker runs it with a small stack). Use a loop with an explicit stack: a list of "
            f"(node, iterator over its children) pairs.",
            mistake="recursion",
        )


def check_order(labels: list[int], graph: list[list[int]], name: str) -> None:
    """A valid topological order of everything reachable from 0, with 0 last."""
    what = "topological_sort"
    count = len(graph)
    if any(label < 0 for label in labels):
        raise CaseFailure(
            f"{what} returned something that is not one of the graph's nodes. Return the nodes themselves."
        )
    seen = (
        np.bincount(np.asarray(labels, dtype=np.int64), minlength=count) if labels else np.zeros(count, dtype=np.int64)
    )
    twice = np.flatnonzero(seen > 1)
    if twice.size:
        raise CaseFailure(
            f"{what} returned node {int(twice[0])} {int(seen[twice[0]])} times; each node must appear once. Mark nodes as finished and skip finished ones.",
            mistake="no finished mark",
        )
    missing = np.flatnonzero(seen == 0)
    if missing.size:
        raise CaseFailure(
            f"{what} left out {missing.size} of the {count} reachable nodes (node {int(missing[0])}, for one)."
        )
    if labels[-1] != 0:
        raise CaseFailure(f"{what}: the node the sort started from must come last, but the last node is {labels[-1]}.")
    position = np.empty(count, dtype=np.int64)
    position[np.asarray(labels)] = np.arange(count)
    for parent, children in enumerate(graph):
        for child in children:
            if position[child] > position[parent]:
                raise CaseFailure(
                    f"{what}: node {parent} comes before its child {child} (at positions "
                    f"{int(position[parent])} and {int(position[child])}); every node must come after "
                    f"all of its children. Append a node only when all its children are finished, "
                    f"not when it is first reached.",
                    mistake="a node before its children",
                )


def deep_sort_case(name: str, build: Callable[[], list[list[int]]]) -> None:
    # Built on first use, not at import: importing the suite stays cheap.
    graph = functools.cache(build)

    @probe("b.1", f"sorts {name}")
    def case(student: Any) -> dict[str, Any]:
        return run_sort(student, graph())

    @case.judge
    def judge_deep_sort(observation: dict[str, Any]) -> None:
        if "raised" in observation:
            error = observation["raised"]
            expect_no_recursion(error)
            if error.get("type") == "ValueError":
                raise CaseFailure(
                    f"topological_sort raised ValueError, but this graph has no cycle: "
                    f"{raised_text(error)}. A node reached a second time along another path is "
                    f"not a cycle; only a node that is still on the current path closes one.",
                    mistake="a revisit taken for a cycle",
                )
            raise CaseFailure(f"topological_sort raised {raised_text(error)}.")
        if "not_a_list" in observation:
            raise CaseFailure(
                f"topological_sort returned a {observation['not_a_list']}; it should return a list of nodes."
            )
        check_order(observation["order"], graph(), name)


def deep_cycle_case(name: str, build: Callable[[], list[list[int]]], source: int, target: int) -> None:
    @probe("b.1", f"raises ValueError on {name}")
    def case(student: Any) -> dict[str, Any]:
        return run_sort(student, with_back_edge(build(), source, target))

    @case.judge
    def judge_deep_cycle(observation: dict[str, Any]) -> None:
        if "raised" in observation:
            error = observation["raised"]
            expect_no_recursion(error)
            if not raised(error, "ValueError"):
                raise CaseFailure(
                    f"topological_sort should raise ValueError on this graph, but raised {raised_text(error)}."
                )
            return
        raise CaseFailure(
            f"topological_sort returned without an error: node {source} points back to "
            f"node {target}, which is still on the path being explored. It should raise ValueError.",
            mistake="a cycle not detected",
        )


deep_sort_case(f"a chain {DEEP:,} nodes deep", lambda: chain(DEEP))
deep_sort_case(f"a ladder of diamonds {DEEP:,} nodes deep (i -> i+1 and i -> i+2)", lambda: diamond_ladder(DEEP))
deep_sort_case(f"a {DEEP:,}-node chain with random shortcuts (shared nodes)", lambda: shared_spine(71, DEEP))
deep_sort_case(f"100 branches that merge into one {DEEP:,}-node chain", lambda: fan_into_chain(100, DEEP))
deep_cycle_case(f"a {DEEP:,}-node chain whose last node points back to node 5,000", lambda: chain(DEEP), DEEP - 1, 5000)
deep_cycle_case(
    f"a ladder of diamonds {DEEP:,} nodes deep whose last node points back to the first",
    lambda: diamond_ladder(DEEP),
    DEEP - 1,
    0,
)


# b.2 numerical_gradient --------------------------------------------------------

# Promises of numerical_gradient's docstring, and the cases that check them:
# - gradient[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps): all cases
# - f returns a Python float or a 0-d array: "numerical_gradient of f(x) = 3 exp(x) returning a 0-d array, x 0-d"; the
#   others return NumPy float64 scalars
# - x of any shape, 0-d included: "numerical_gradient of f(x) = 3 exp(x) returning a 0-d array, x 0-d",
#   "numerical_gradient of f(x) = sum(w * sin(x)), x of shape (2, 3, 5)"
# - eps is honoured: "numerical_gradient of f(x) = sum(w * x**3) with eps=0.01, x of shape (2, 3)",
#   "numerical_gradient of f(x) = sum(w * sin(3 x)) with eps=0.1, x of shape (2, 3)"
# - float64 throughout: "numerical_gradient of f(x) = sum(x**2) / 100, x of shape (6,) with entries in [100, 200]", and
#   all cases check the dtype f is called with
# - returns a new float64 array shaped like x; x holds exactly its old values afterwards: all cases


def uniform64(seed: int, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """Like common.uniform, in float64: numerical_gradient works on float64 arrays."""
    return rng(seed).uniform(low, high, size=shape)


class GradientProblem:
    """A function with a known gradient (or a known central difference)."""

    def __init__(
        self,
        name: str,
        x: np.ndarray,
        f: Callable[[np.ndarray], Any],
        expected: np.ndarray,
        eps: float | None = None,
        atol: float = 1e-7,
        rtol: float = 1e-6,
    ):
        self.name, self.x, self.f, self.expected = name, x, f, np.asarray(expected, dtype=np.float64)
        self.eps, self.atol, self.rtol = eps, atol, rtol


W34 = uniform64(81, (3, 4), 1.0, 3.0)
X34 = uniform64(82, (3, 4), -0.01, 0.01)
W235 = uniform64(83, (2, 3, 5), -2.0, 2.0)
X235 = uniform64(84, (2, 3, 5), -2.0, 2.0)
X43 = uniform64(85, (4, 3), -1.0, 1.0)
M44 = uniform64(86, (4, 4), -1.0, 1.0)
X42 = uniform64(87, (4, 2), -1.0, 1.0)
X57 = rng(88).normal(size=(5, 7)) * 3.0
W57 = uniform64(89, (5, 7), 0.5, 1.5)
X23 = uniform64(90, (2, 3), -1.0, 1.0)
W23 = uniform64(91, (2, 3), 0.5, 2.0)
X6 = uniform64(92, (6,), 100.0, 200.0)
SMALL_EPS = 0.01
LARGE_EPS = 0.1


def log_sum_exp(z: np.ndarray) -> float:
    return float(np.log(np.sum(np.exp(z))))


GRADIENT_PROBLEMS = [
    GradientProblem("f(x) = sum(w * x**2), x of shape (3, 4) near 0", X34, lambda z: np.sum(W34 * z**2), 2 * W34 * X34),
    GradientProblem(
        "f(x) = sum(w * sin(x)), x of shape (2, 3, 5)", X235, lambda z: np.sum(W235 * np.sin(z)), W235 * np.cos(X235)
    ),
    GradientProblem(
        "f(x) = 3 exp(x) returning a 0-d array, x 0-d",
        np.array(0.7),
        lambda z: 3.0 * np.exp(z),
        3.0 * np.exp(np.array(0.7)),
    ),
    GradientProblem("f(x) = log(sum(exp(x))), x of shape (4, 3)", X43, log_sum_exp, np.exp(X43) / np.sum(np.exp(X43))),
    GradientProblem(
        "f(x) = trace(x.T @ M @ x), x of shape (4, 2)",
        X42,
        lambda z: float(np.trace(z.T @ M44 @ z)),
        (M44 + M44.T) @ X42,
    ),
    GradientProblem(
        "f(x) = sum(w * x**2), x of shape (5, 7) with entries around +-3",
        X57,
        lambda z: np.sum(W57 * z**2),
        2 * W57 * X57,
    ),
    GradientProblem(
        "f(x) = sum(x**2) / 100, x of shape (6,) with entries in [100, 200]",
        X6,
        lambda z: np.sum(z**2) / 100.0,
        X6 / 50.0,
    ),
    # With a large eps the central difference is not the derivative, and
    # its exact value is known: it shows whether eps is used, and how.
    GradientProblem(
        f"f(x) = sum(w * x**3) with eps={SMALL_EPS}, x of shape (2, 3)",
        X23,
        lambda z: np.sum(W23 * z**3),
        W23 * (3 * X23**2 + SMALL_EPS**2),
        eps=SMALL_EPS,
        atol=1e-9,
        rtol=1e-9,
    ),
    GradientProblem(
        f"f(x) = sum(w * sin(3 x)) with eps={LARGE_EPS}, x of shape (2, 3)",
        X23,
        lambda z: np.sum(W23 * np.sin(3 * z)),
        W23 * np.cos(3 * X23) * np.sin(3 * LARGE_EPS) / LARGE_EPS,
        eps=LARGE_EPS,
        atol=1e-9,
        rtol=1e-9,
    ),
]


def gradient_case(problem: GradientProblem) -> None:
    shape = problem.x.shape

    @probe("b.2", f"numerical_gradient of {problem.name}")
    def case(student: Any) -> dict[str, Any]:
        x = problem.x.copy()
        calls: list[tuple[tuple[int, ...], str]] = []

        def f(z: Any) -> Any:
            array = np.asarray(z)
            calls.append((tuple(array.shape), str(array.dtype)))
            if array.shape != shape:
                raise ValueError(f"f was called with an array of shape {array.shape}, but x has shape {shape}")
            return problem.f(array.astype(np.float64))

        kwargs = {} if problem.eps is None else {"eps": problem.eps}
        outcome = call_student(student.bonus.numerical_gradient, f, x, **kwargs)
        observation: dict[str, Any] = {
            "x_after": x,  # compared with the original by the judge, in the parent
            "calls": len(calls),
            "dtypes": sorted({dtype for _, dtype in calls}),
        }
        if "raised" in outcome:
            observation["raised"] = outcome["raised"]
        else:
            observation["result"] = returned(outcome["value"])
            observation["returned_x"] = outcome["value"] is x
        return observation

    @case.judge
    def judge_gradient(observation: dict[str, Any]) -> None:
        eps_text = "" if problem.eps is None else f", eps={problem.eps}"
        what = f"numerical_gradient(f, x{eps_text})"
        if "raised" in observation:
            raise CaseFailure(f"{what} raised {raised_text(observation['raised'])}.")
        x_after = observation["x_after"]
        if np.shape(x_after) != np.shape(problem.x) or not np.array_equal(x_after, problem.x):
            raise CaseFailure(
                f"{what} changed x: after the call x must hold exactly its old values. "
                f"Work on a copy, or put back each entry by assigning the value you saved "
                f"(x[i] + eps - eps is not always x[i] in floating point).",
                mistake="x left changed",
            )
        dtypes = [dtype for dtype in observation["dtypes"] if dtype != "float64"]
        expect_each(
            observation,
            [
                Check(
                    "returned_x",
                    False,
                    "{what} returned x itself; it should return a new array, and leave x as it was.",
                    "x returned",
                ),
            ],
            what=what,
        )
        result = observation["result"]
        if (
            result.get("kind") == "array"
            and result.get("dtype") != "float64"
            and np.shape(result.get("values")) == problem.expected.shape
        ):
            raise CaseFailure(
                f"{what} returned a {result.get('dtype')} array; it should return float64 "
                "(np.zeros_like(x, dtype=np.float64), say): float32 keeps only about 7 digits of a difference quotient.",
                mistake="a float32 result",
            )
        known = wrong_differences(problem)
        try:
            expect_array(
                observation["result"], problem.expected, what=what, rtol=problem.rtol, atol=problem.atol, mistakes=known
            )
        except CaseFailure as failure:
            if failure.mistake in known:  # a known wrong difference quotient says it all
                raise
            # Neither its size nor a mistake name: a problem whose result
            # matches a known wrong quotient is shown first, then the first
            # problem (x near 0), which shows these mistakes best.
            raise CaseFailure(f"{failure}{gradient_diagnosis(problem, observation, dtypes)}") from None


def wrong_differences(problem: GradientProblem) -> dict[str, Callable[[], np.ndarray]]:
    """Classic wrong difference quotients, in float64, computed only when a result is wrong."""
    x = problem.x
    eps = 1e-6 if problem.eps is None else problem.eps

    def value(z: np.ndarray) -> float:
        return float(np.asarray(problem.f(z), dtype=np.float64))

    def each_entry(quotient: Callable[[float, float, float], float]) -> np.ndarray:
        result = np.zeros(x.shape)
        for index in np.ndindex(x.shape):
            step = np.zeros(x.shape)
            step[index] = eps
            result[index] = quotient(value(x + step), value(x), value(x - step))
        return result

    def all_at_once() -> np.ndarray:
        return np.full(x.shape, (value(x + eps) - value(x - eps)) / (2 * eps))

    return {
        "with the points x + eps and x, divided by 2 * eps (x[i] was put back before the second call): "
        "that is half a one-sided difference. The second point is x - eps": lambda: each_entry(
            lambda plus, middle, minus: (plus - middle) / (2 * eps)
        ),
        "with a one-sided difference (f(x + eps) - f(x)) / eps. Use central differences, (f(x + eps) - f(x - eps)) / (2 * eps)": lambda: (
            each_entry(lambda plus, middle, minus: (plus - middle) / eps)
        ),
        "by moving every entry of x at once (x + eps everywhere): that is one slope along the diagonal, "
        "the same number everywhere. Move one entry at a time (e_i is 1 at index i only)": all_at_once,
    }


def gradient_diagnosis(problem: GradientProblem, observation: dict[str, Any], dtypes: list[str]) -> str:
    """What else a wrong result shows, in words to add to the message ('' when nothing)."""
    if dtypes:
        return f"\nf was called with {', '.join(dtypes)} arrays: work in float64 (float32 cannot even represent x + 1e-6 for most x)."
    size = problem.x.size
    if observation["calls"] == size + 1:
        return (
            "\nf was called once per entry plus once: that looks like a one-sided difference (f(x + eps) - f(x)) / eps. "
            "Use central differences."
        )
    got = observation["result"].get("values")
    if got is None:
        return ""
    if values_match(got, 2 * problem.expected, rtol=1e-5, atol=1e-9):
        return "\nThe central difference divides by the distance between its two points: 2 * eps, not eps."
    if problem.eps is not None:
        eps = problem.eps
        derivative = {SMALL_EPS: 3 * W23 * X23**2, LARGE_EPS: 3 * W23 * np.cos(3 * X23)}[eps]
        if values_match(got, derivative, rtol=1e-6, atol=1e-8):
            return f"\nYour result is the exact derivative, not the central difference with step eps={eps}. Is the eps argument used?"
    return ""


for problem in GRADIENT_PROBLEMS:
    gradient_case(problem)


# b.3 In-place modification detection ----------------------------------------

# Promises of versioned_add_, checked_forward_fn and checked_backprop's docstrings, and the cases that check them:
# - version_of (given): every Tensor starts at version 0: "versioned_add_ changes x in place and counts the change"
# - versioned_add_: x.array += alpha * other, other a Tensor, an array or a number; x.array stays the same object, with
#   its shape and dtype; the version goes up by one; returns x:
#   "versioned_add_ changes x in place and counts the change"
# - versioned_sub_ (given): x.array -= alpha * other, the version up by one:
#   "versioned_add_ changes x in place and counts the change"
# - InPlaceModificationError (given): tensor (the one changed), operation (the saving function's name), saved_version,
#   current_version: "raises when a constant factor is changed after the forward",
#   "raises, before writing any gradient, when a leaf is changed twice after the forward",
#   "raises when a result is changed after the operation that made it"
# - checked_forward_fn: like wrap_forward_fn, and saves every Tensor argument, constants included:
#   "raises when a constant factor is changed after the forward"
# - checked_forward_fn: saves the result itself: "raises when a result is changed after the operation that made it"
# - checked_forward_fn: a result without a recipe saves nothing: not observable (such a result is never a node of the
#   graph checked_backprop walks), advice rather than a promise
# - checked_backprop: backprop's gradients when nothing changed:
#   "without in-place changes, checked_backprop gives backprop's gradients"
# - checked_backprop: a change before the forward is no reason to stop:
#   "a change made before the forward is no reason to stop"
# - checked_backprop: raises before computing anything, so no .grad changed:
#   "raises, before writing any gradient, when a leaf is changed twice after the forward"

SHAPE = (3, 4)
A = uniform(101, SHAPE, 0.5, 2.0)
W = uniform(102, SHAPE, -2.0, 2.0)
B = uniform(103, (4,), 0.5, 2.0)
C = uniform(104, SHAPE, -1.0, 1.0)
END_GRAD = normal(105, SHAPE)


def graph_function(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.log(a) * w * b


class Bench:
    """The student's functions, and tensors named for the messages."""

    def __init__(self, student: Any, forward: bool = True):
        self.bonus = student.bonus
        self.Tensor = student.core.Tensor
        self.names: dict[int, str] = {}
        if forward:
            # The bonus functions first: an unwritten one makes the exercise
            # "not started" rather than blamed on an earlier part.
            self.log = self.bonus.checked_forward_fn(np.log)
            self.multiply = self.bonus.checked_forward_fn(np.multiply)
            _ = student.functional  # importing it registers the backward functions in BACK_FUNCS

    def tensor(self, name: str, values: np.ndarray, requires_grad: bool) -> Any:
        made = self.Tensor(values.copy(), requires_grad=requires_grad)
        self.names[id(made)] = name
        return made

    def name_of(self, tensor: Any) -> str:
        return self.names.get(id(tensor), "a tensor that is none of those named in this test")

    def grads(self, **tensors: Any) -> dict[str, Any]:
        return {
            name: None if t.grad is None else returned(getattr(t.grad, "array", t.grad)) for name, t in tensors.items()
        }


def run_backprop(bench: Bench, end: Any) -> dict[str, Any]:
    """checked_backprop(end, END_GRAD): what it raised, and about which tensor."""
    try:
        bench.bonus.checked_backprop(end, bench.Tensor(END_GRAD.copy()))
    except _NotImplementedError:
        raise
    except _Exception as exc:
        return {
            "raised": exception_info(exc),
            "tensor": bench.name_of(getattr(exc, "tensor", None)),
            "versions": [
                _plain_int(getattr(exc, "saved_version", None)),
                _plain_int(getattr(exc, "current_version", None)),
            ],
            "operation": _safe_text(getattr(exc, "operation", None)),
        }
    return {}


def _plain_int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None


@probe("b.3", "versioned_add_ changes x in place and counts the change")
def versioned_add_in_place(student: Any) -> dict[str, Any]:
    bench = Bench(student, forward=False)
    x = bench.Tensor(A.copy(), requires_grad=True)
    array = x.array
    steps = []
    for other in (bench.Tensor(W.copy()), 2.5, B.copy()):
        result = bench.bonus.versioned_add_(x, other, alpha=0.5)
        steps.append(
            {
                "same_tensor": result is x,
                "same_array": x.array is array,
                "values": returned(x.array),
                "version": _plain_int(bench.bonus.version_of(x)),
            }
        )
    result = bench.bonus.versioned_sub_(x, 1.0)
    steps.append(
        {
            "same_tensor": result is x,
            "same_array": x.array is array,
            "values": returned(x.array),
            "version": _plain_int(bench.bonus.version_of(x)),
        }
    )
    return {"steps": steps}


@versioned_add_in_place.judge
def judge_versioned_add_in_place(observation: dict[str, Any]) -> None:
    expected = A.astype(np.float64)
    labels = ["a Tensor", "the number 2.5", "a (4,) array (broadcast)", "versioned_sub_(x, 1.0)"]
    additions = [0.5 * W.astype(np.float64), 0.5 * 2.5, 0.5 * B.astype(np.float64), -1.0]
    for step, (label, addition) in enumerate(zip(labels, additions), start=1):
        seen = observation["steps"][step - 1]
        expected = expected + addition
        what = f"versioned_add_(x, other, alpha=0.5) with other {label}" if step < 4 else label
        expect_each(
            seen,
            [
                Check("same_tensor", True, "{what} should return x itself."),
                Check(
                    "same_array",
                    True,
                    "{what} replaced x.array by a new array; change the entries of the existing array (x.array += ...).",
                    "not in place",
                ),
            ],
            what=what,
        )
        expect_array(seen["values"], expected, what=f"x.array after {what}")
        expect_each(
            seen,
            [
                Check(
                    "version",
                    step,
                    "after {step} in-place change{s}, version_of(x) is {version}, but it should be {step}. Set x.version = version_of(x) + 1.",
                    "no version bump",
                ),
            ],
            step=step,
            s="s" if step > 1 else "",
        )


@probe("b.3", "without in-place changes, checked_backprop gives backprop's gradients")
def no_change_same_gradients(student: Any) -> dict[str, Any]:
    bench = Bench(student)
    a = bench.tensor("a", A, True)
    w = bench.tensor("w", W, False)
    b = bench.tensor("b", B, True)
    bystander = bench.tensor("other", C, True)
    end = bench.multiply(bench.multiply(bench.log(a), w), b)
    bench.bonus.versioned_add_(bystander, 1.0)  # not in the graph: nothing to see
    outcome = run_backprop(bench, end)
    return {**outcome, "grads": bench.grads(a=a, b=b)}


@no_change_same_gradients.judge
def judge_no_change_same_gradients(observation: dict[str, Any]) -> None:
    check_gradients(observation, A, "log(a) * w * b, with a tensor outside the graph changed in place")


@probe("b.3", "a change made before the forward is no reason to stop")
def change_before_forward(student: Any) -> dict[str, Any]:
    bench = Bench(student)
    a = bench.tensor("a", A, True)
    w = bench.tensor("w", W, False)
    b = bench.tensor("b", B, True)
    bench.bonus.versioned_add_(a, 0.25)
    bench.bonus.versioned_add_(w, 1.0)
    end = bench.multiply(bench.multiply(bench.log(a), w), b)
    outcome = run_backprop(bench, end)
    return {**outcome, "grads": bench.grads(a=a, b=b)}


@change_before_forward.judge
def judge_change_before_forward(observation: dict[str, Any]) -> None:
    check_gradients(
        observation,
        A + np.float32(0.25),
        "log(a) * w * b, where a and w were changed in place before the forward",
        w=W + np.float32(1.0),
        hint=" Compare each tensor's version now with its version when the forward ran, not with 0.",
        mistake="versions compared with 0",
    )


def check_gradients(
    observation: dict[str, Any],
    a_values: np.ndarray,
    label: str,
    w: np.ndarray = W,
    hint: str = "",
    mistake: str | None = None,
) -> None:
    """checked_backprop must not raise, and must give backprop's gradients; `hint` names the likely `mistake` when it raises."""
    if "raised" in observation:
        raise CaseFailure(
            f"checked_backprop on {label} raised {raised_text(observation['raised'])}, but nothing it reads was changed after the forward.{hint}",
            mistake=mistake,
        )
    args = [a_values.astype(np.float32), w, B]
    for position, name in ((0, "a"), (2, "b")):
        grad = observation["grads"][name]
        if grad is None:
            raise CaseFailure(f"after checked_backprop on {label}, {name}.grad is None. Did you call backprop?")
        expected = numerical_vjp(graph_function, args, position, END_GRAD)
        expect_array(grad, expected, what=f"{name}.grad after checked_backprop on {label}")


def _safe_text(value: Any) -> str | None:
    """A plain str copy of a str attribute (None for anything else): student objects never reach the judge."""
    return _str.__str__(value) if _type(value) is _str else None


def modification_case(
    name: str,
    changed: str,
    saved_version: int,
    current_version: int,
    operation: str,
    build: Callable[[Bench], tuple[Any, dict[str, Any]]],
    explanation: str,
) -> None:
    @probe("b.3", name)
    def case(student: Any) -> dict[str, Any]:
        bench = Bench(student)
        end, leaves = build(bench)
        outcome = run_backprop(bench, end)
        return {**outcome, "grads": bench.grads(**leaves)}

    # What the error must carry, once it is an InPlaceModificationError.
    error_checks = [
        Check(
            "tensor",
            changed,
            "checked_backprop raised InPlaceModificationError about {tensor}, but the tensor changed in place is {changed}: "
            "pass that tensor as the error's first argument.",
            "the wrong tensor in the error",
        ),
        Check(
            "versions",
            [saved_version, current_version],
            "InPlaceModificationError about {changed} has saved_version={versions[0]} and current_version={versions[1]}; "
            "they should be {saved_version} (when the forward ran) and {current_version} (now).",
            "wrong versions in the error",
        ),
        Check(
            "operation",
            operation,
            "InPlaceModificationError about {changed} has operation={operation!r}; it should be "
            "{wanted_operation!r}, the name of the forward function that saved it (its recipe's func.__name__).",
            "wrong operation in the error",
        ),
    ]

    @case.judge
    def judge_modification(observation: dict[str, Any]) -> None:
        if "raised" not in observation:
            raise CaseFailure(f"checked_backprop did not raise, but {explanation}", mistake="a change not detected")
        error = observation["raised"]
        if not raised(error, "InPlaceModificationError"):
            raise CaseFailure(
                f"checked_backprop raised {raised_text(error)}; it should raise InPlaceModificationError(tensor, operation, "
                f"saved_version, current_version), because {explanation}"
            )
        expect_each(
            observation,
            error_checks,
            changed=changed,
            saved_version=saved_version,
            current_version=current_version,
            wanted_operation=operation,
        )
        written = [leaf for leaf, grad in observation["grads"].items() if grad is not None]
        if written:
            raise CaseFailure(
                f"checked_backprop raised the right error, but only after setting {', '.join(f'{leaf}.grad' for leaf in written)}. "
                "Check the whole graph first: when it raises, no .grad may have changed.",
                mistake="gradients written before raising",
            )


def _constant_changed(bench: Bench) -> tuple[Any, dict[str, Any]]:
    a = bench.tensor("a", A, True)
    w = bench.tensor("w", W, False)
    b = bench.tensor("b", B, True)
    end = bench.multiply(bench.multiply(bench.log(a), w), b)
    bench.bonus.versioned_add_(w, 1.0)
    return end, {"a": a, "b": b}


def _leaf_changed(bench: Bench) -> tuple[Any, dict[str, Any]]:
    a = bench.tensor("a", A, True)
    c = bench.tensor("c", C, True)
    deep = bench.log(bench.log(bench.multiply(a, a)))
    end = bench.multiply(deep, c)
    bench.bonus.versioned_sub_(a, 0.1)
    bench.bonus.versioned_sub_(a, 0.1)
    return end, {"a": a, "c": c}


def _result_changed(bench: Bench) -> tuple[Any, dict[str, Any]]:
    a = bench.tensor("a", A, True)
    w = bench.tensor("w", W, False)
    log_a = bench.log(a)
    bench.names[id(log_a)] = "log_a (the result of log)"
    bench.bonus.versioned_add_(log_a, 1.0)
    end = bench.multiply(log_a, w)
    return end, {"a": a}


modification_case(
    "raises when a constant factor is changed after the forward",
    "w",
    0,
    1,
    "multiply",
    _constant_changed,
    "w (the constant factor in log(a) * w * b, which does not require grad) was changed with "
    "versioned_add_ after the forward. multiply's backward reads w to compute a's gradient: save "
    "every Tensor argument in checked_forward_fn, not only the parents.",
)
modification_case(
    "raises, before writing any gradient, when a leaf is changed twice after the forward",
    "a",
    0,
    2,
    "multiply",
    _leaf_changed,
    "a was changed twice with versioned_sub_ after log(log(a * a)) * c was computed from it.",
)
modification_case(
    "raises when a result is changed after the operation that made it",
    "log_a (the result of log)",
    0,
    1,
    "log",
    _result_changed,
    "log_a = log(a) was changed in place after log made it (and before multiply used it). "
    "Every backward function is handed its result `out`: save the result too, at version 0.",
)


# b.4 batched matmul backward ----------------------------------------------------

# Promises of matmul_back0 and matmul_back1's docstrings, and the cases that check them:
# - matmul_back0: grad_out @ y^T unbroadcast to x's shape, batch dims that broadcast:
#   "matmul_back0 with x of shape (2, 1, 3, 4) and y of shape (5, 4, 2)",
#   "matmul_back0 with x of shape (3, 4) and y of shape (2, 4, 5)",
#   "matmul_back0 with x of shape (1, 3, 4) and y of shape (2, 4, 5)"
# - matmul_back0: 1-D operands (x, y or both; two 1-D give a 0-d out):
#   "matmul_back0 with x of shape (4,) and y of shape (4, 3)",
#   "matmul_back0 with x of shape (3, 4) and y of shape (4,)", "matmul_back0 with x of shape (4,) and y of shape (4,)"
# - matmul_back0: returns an array shaped like x: all its cases
# - matmul_back1: x^T @ grad_out unbroadcast to y's shape, 1-D operands; returns an array shaped like y: all its cases

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((1, 3, 4), (2, 4, 5)),
    ((4,), (4, 3)),
    ((3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((4,), (4,)),
]


def shapes_clash(compute: Callable[[], Any]) -> bool:
    """Whether NumPy refuses to compute this for its shapes."""
    try:
        compute()
    except ValueError:
        return True
    return False


def matmul_case(index: int, x_shape: tuple[int, ...], y_shape: tuple[int, ...], position: int) -> None:
    generator = rng(120 + index)
    x = float32(generator.normal(size=x_shape))
    y = float32(generator.normal(size=y_shape))
    out = np.matmul(x, y)
    grad_out = float32(generator.normal(size=out.shape))
    function = f"matmul_back{position}"
    # np.matmul's view of the operands: 1-D ones get a matrix dim of size 1.
    x_matrix_shape = (1,) + x_shape if len(x_shape) == 1 else x_shape
    y_matrix_shape = y_shape + (1,) if len(y_shape) == 1 else y_shape
    matrix_shape = (x_matrix_shape, y_matrix_shape)[position][-2:]
    batch = np.broadcast_shapes(x_matrix_shape[:-2], y_matrix_shape[:-2])
    # The gradient's shape before the batch dims are summed away.
    unsummed_shape = tuple(batch) + tuple(matrix_shape)
    # The 2-D formula (grad_out @ y.T, x.T @ grad_out) on batched operands: .T reverses every dim, and the shapes clash.
    transpose_clashes = max(x.ndim, y.ndim) > 2 and shapes_clash(
        lambda: grad_out @ y.T if position == 0 else x.T @ grad_out
    )

    @probe("b.4", f"{function} with x of shape {x_shape} and y of shape {y_shape}")
    def case(student: Any) -> dict[str, Any]:
        inputs = [grad_out.copy(), out.copy(), x.copy(), y.copy()]
        outcome = call_student(getattr(student.bonus, function), *inputs)
        observation = {"mutated": changed_inputs([grad_out, out, x, y], inputs, ["grad_out", "out", "x", "y"])}
        if "raised" in outcome:
            observation["raised"] = outcome["raised"]
        else:
            observation["result"] = returned(outcome["value"])
        return observation

    @case.judge
    def judge_matmul(observation: dict[str, Any]) -> None:
        what = f"{function}(grad_out, out, x, y) with x of shape {x_shape}, y of shape {y_shape} (out of shape {out.shape})"
        if "raised" in observation:
            error = observation["raised"]
            # Advice only, not a named mistake: shapes clash for other mistakes too (operands swapped, say).
            advice = ""
            if transpose_clashes and raised(error, "ValueError"):  # NumPy's word for shapes that do not line up
                advice = " For arrays with batch dims, .T reverses every dim: use .swapaxes(-1, -2) to transpose only the last two."
            if min(x.ndim, y.ndim) == 1:
                advice += " A 1-D operand needs its missing matrix dim put back (on it and on grad_out) first."
            raise CaseFailure(f"{what} raised {raised_text(error)}.{advice}")
        expect_untouched(observation, function)
        expected = numerical_vjp(np.matmul, [x, y], position, grad_out)
        got_shape = tuple(observation["result"].get("shape") or ())
        if "values" in observation["result"] and got_shape != expected.shape:
            if got_shape == unsummed_shape and batch:
                raise CaseFailure(
                    shape_message(got_shape, expected.shape, what=what)
                    + " It still has the batch dims: sum them away with unbroadcast.",
                    mistake="batch dims not unbroadcast",
                )
            if got_shape == matrix_shape:
                raise CaseFailure(
                    shape_message(got_shape, expected.shape, what=what)
                    + " The operand is 1-D: reshape the result back to its shape.",
                    mistake="a 1-D operand not reshaped back",
                )
        expect_array(observation["result"], expected, what=what)


for index, (x_shape, y_shape) in enumerate(MATMUL_SHAPES):
    for position in (0, 1):
        matmul_case(index, x_shape, y_shape, position)
