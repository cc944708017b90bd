"""Messages that teach: each classic mistake is named in plain words.

Two levels: the diagnosis functions of checker/numeric.py on arrays a
mistake would produce, and planted bugs run through the real checker (more
of those, written by each suite's author, are in tests/fixtures/bugs/).
"""

from __future__ import annotations

import numpy as np
import pytest

from checker import judge, manifest
from checker.api import run_check
from checker.cases import CaseFailure
from checker.numeric import diagnose, expect_array, mismatch_message, shape_message, side_by_side
from checker.observe import returned
from checker.outcomes import RaisedError
from checker.suites.common import expect_untouched
from tests.mutation import Fixture, build_submission

RNG = np.random.default_rng(5)
RIGHT = RNG.normal(size=(3, 4))
SQUARE = RNG.normal(size=(3, 3))
CUBE = RNG.normal(size=(3, 3, 3))


def message_for(got, expected, **options) -> str:
    with pytest.raises(CaseFailure) as failure:
        expect_array(returned(np.asarray(got) if got is not None else None), expected, what="f(x)", **options)
    return str(failure.value)


# The diagnosis, mistake by mistake ------------------------------------------------------------


def test_wrong_sign():
    assert "wrong sign" in message_for(-RIGHT, RIGHT)


def test_transposed_values_of_a_square_gradient():
    assert "transposed" in message_for(SQUARE.T, SQUARE)


def test_transposed_shape():
    assert "transposed" in message_for(RIGHT.T, RIGHT)


def test_forgot_to_unbroadcast_names_the_dims():
    message = shape_message((2, 3, 4), (3, 1), what="g", broadcast_shape=(2, 3, 4))
    assert "forgot to unbroadcast" in message
    assert "[0]" in message and "[2]" in message  # the leading dim, and the stretched one


def test_wrong_shape_says_both_shapes():
    message = shape_message((5,), (3,), what="g")
    assert "(5,)" in message and "(3,)" in message


def test_keepdim_not_handled():
    assert "keepdim" in shape_message((4,), (1, 4), what="g")
    assert "keepdims" in shape_message((4,), (1, 4), what="g", broadcast_shape=(3, 4))


def test_summed_the_wrong_end():
    message = shape_message((1, 3), (1, 4), what="g", broadcast_shape=(2, 3, 4))
    assert "leading" in message and "from the right" in message


def test_not_the_inverse_permutation_by_values():
    assert "inverse permutation" in message_for(CUBE.transpose(1, 2, 0), CUBE)


def test_not_the_inverse_permutation_by_shape():
    assert "inverse permutation" in shape_message((4, 2, 3), (3, 4, 2), what="g")


def test_used_out_where_x_was_meant_through_an_alternative():
    x = RNG.uniform(0.5, 2.0, size=(2, 3))
    grad_out = RNG.normal(size=(2, 3))
    out = np.log(x)
    message = message_for(grad_out / out, grad_out / x, mistakes={"with out in place of x": lambda: grad_out / out})
    assert "with out in place of x" in message


def test_an_alternative_equal_to_the_right_answer_explains_nothing():
    diagnosis = diagnose(RIGHT * 3, RIGHT, mistakes={"doing it right": RIGHT})
    assert diagnosis is None or diagnosis.mistake != "doing it right"


def test_an_alternative_undefined_at_some_entries_still_matches_where_defined():
    candidate = RIGHT * 7
    candidate[0, 0] = np.nan
    got = RIGHT * 7
    assert diagnose(got, RIGHT, mistakes={"with the bug": candidate}).mistake == "with the bug"


def test_constant_factor():
    assert "constant factor" in message_for(RIGHT * 3.0, RIGHT)


def test_half_suggests_an_overwritten_contribution():
    assert "assigned instead of accumulated" in message_for(RIGHT * 0.5, RIGHT)


def test_a_mean_instead_of_a_sum():
    assert "mean" in message_for(RIGHT / 4, RIGHT)


def test_mutated_an_input_in_place():
    with pytest.raises(CaseFailure, match="in place"):
        expect_untouched({"mutated": [["grad_out", np.ones(3), np.full(3, 0.5)]]}, "log_back")


def test_assignment_instead_of_add_at_through_an_alternative():
    x = np.zeros(4)
    grad_out = np.array([1.0, 2.0, 3.0])
    index = np.array([0, 2, 0])
    right = x.copy()
    np.add.at(right, index, grad_out)
    assigned = x.copy()
    assigned[index] = grad_out
    message = message_for(
        assigned, right, mistakes={"with assignment instead of np.add.at for repeated indices": assigned}
    )
    assert "np.add.at" in message


def test_overflow_is_numerically_unstable():
    got = RIGHT.copy()
    got[1, 2] = np.nan
    message = message_for(got, RIGHT)
    assert "numerically unstable" in message and "[1, 2]" in message


def test_returned_none():
    assert "returned None" in message_for(None, RIGHT)


def test_returned_a_tensor_instead_of_an_array():
    class Tensor:
        array = RIGHT

    with pytest.raises(CaseFailure, match="plain NumPy array"):
        expect_array(returned(Tensor()), RIGHT, what="f(x)")


def test_close_but_not_close_enough_is_a_precision_problem():
    assert "precision" in message_for(RIGHT * (1 + 1e-3 * RNG.normal(size=RIGHT.shape)), RIGHT)


def test_all_zeros():
    assert "all zeros" in message_for(np.zeros_like(RIGHT), RIGHT)


def test_recursion_limit_points_to_the_bonus():
    error = RaisedError("RecursionError", "maximum recursion depth exceeded")
    status, message = judge.describe_exception(error, manifest.get("2.4"))
    assert "recursion limit" in message and "b.1" in message


def test_otherwise_the_largest_error_and_where():
    got = RIGHT.copy()
    got[2, 1] += 5.0
    got[0, 3] += 1.0
    message = message_for(got, RIGHT)
    assert "Largest error at index [2, 1]" in message
    assert "2 of 12 entries are wrong" in message


def test_small_arrays_get_a_side_by_side_table():
    got = np.array([1.0, 2.0, 9.0])
    table = side_by_side(got, np.array([1.0, 2.0, 3.0]))
    rows = table.splitlines()
    assert rows[0].split() == ["index", "expected", "got"]
    assert rows[3].split() == ["[2]", "3", "9", "<-", "wrong"]
    assert "wrong" not in rows[1]


def test_large_arrays_get_no_table():
    big = RNG.normal(size=(10, 10))
    message = mismatch_message(big + 1, big, what="f(x)")
    assert "<- wrong" not in message and message.splitlines()[-1].startswith("Largest error")


def test_a_matching_result_passes():
    expect_array(returned(RIGHT.astype(np.float32)), RIGHT, what="f(x)")


def test_failures_carry_their_size_and_the_mistake_they_name():
    with pytest.raises(CaseFailure) as failure:
        expect_array(returned(-RIGHT), RIGHT, what="f(x)")
    assert failure.value.size == 12 and failure.value.mistake == "wrong sign"
    with pytest.raises(CaseFailure) as failure:
        expect_array(returned(RIGHT + np.arange(12.0).reshape(RIGHT.shape) ** 3), RIGHT, what="f(x)")
    assert failure.value.mistake is None


# Planted bugs through the real checker --------------------------------------------------------

PLANTED = [
    # (exercise, replacement source, words the message must contain)
    ("1.1", "def log_back(grad_out, out, x):\n    return grad_out / out\n", "used out where x was meant"),
    ("1.1", "def log_back(grad_out, out, x):\n    return -grad_out / x\n", "wrong sign"),
    ("1.1", "def log_back(grad_out, out, x):\n    return 1 / x\n", "forgot grad_out"),
    ("1.1", "def log_back(grad_out, out, x):\n    return None\n", "returned None"),
    ("1.1", "def log_back(grad_out, out, x):\n    grad_out /= x\n    return grad_out\n", "in place"),
    ("1.2", "def unbroadcast(broadcasted, original):\n    return broadcasted\n", "forgot to unbroadcast"),
    (
        "1.2",
        "def unbroadcast(broadcasted, original):\n"
        "    summed = broadcasted.sum(axis=tuple(range(broadcasted.ndim - original.ndim)))\n"
        "    ones = tuple(d for d, n in enumerate(original.shape) if n == 1 and summed.shape[d] != 1)\n"
        "    return summed.sum(axis=ones)\n",
        "keepdims not handled",
    ),
    (
        "1.2",
        "def unbroadcast(broadcasted, original):\n"
        "    summed = broadcasted.mean(axis=tuple(range(broadcasted.ndim - original.ndim)))\n"
        "    ones = tuple(d for d, n in enumerate(original.shape) if n == 1 and summed.shape[d] != 1)\n"
        "    return summed.mean(axis=ones, keepdims=True)\n",
        "mean where a sum was needed",
    ),
    (
        "1.3",
        "def multiply_back0(grad_out, out, x, y):\n    return unbroadcast(grad_out * x, x)\n",
        "operands are swapped",
    ),
    ("1.3", "def multiply_back1(grad_out, out, x, y):\n    return grad_out * x\n", "forgot to unbroadcast"),
]


def check_planted(exercise_id: str, source: str, tmp_path, selection=None):
    module = manifest.get(exercise_id).module
    fixture = Fixture(tmp_path / "planted.py", exercise_id, "failed", (), module, "import numpy as np\n\n" + source)
    submission = build_submission(fixture, tmp_path)
    return run_check(submission, manifest.select(selection or [exercise_id]))


@pytest.mark.parametrize("exercise_id, source, words", PLANTED, ids=[words for _, _, words in PLANTED])
def test_planted_bug_is_named(exercise_id, source, words, tmp_path):
    (result,) = check_planted(exercise_id, source, tmp_path).exercises
    assert result.status == "failed"
    assert words in result.message, result.message


def test_backprop_that_assigns_instead_of_accumulating(tmp_path):
    source = (
        "def backprop(end_node, end_grad=None):\n"
        "    grads = {end_node: np.ones_like(end_node.array) if end_grad is None else end_grad.array}\n"
        "    for node in sorted_computational_graph(end_node):\n"
        "        grad = grads.pop(node)\n"
        "        if node.is_leaf:\n"
        "            if node.requires_grad:\n"
        "                node.grad = Tensor(np.array(grad)) if node.grad is None else Tensor(node.grad.array + grad)\n"
        "            continue\n"
        "        for position, parent in node.recipe.parents.items():\n"
        "            back_fn = BACK_FUNCS.get_back_func(node.recipe.func, position)\n"
        "            grads[parent] = back_fn(grad, node.array, *node.recipe.args, **node.recipe.kwargs)\n"
    )
    (result,) = check_planted("2.6", source, tmp_path).exercises
    assert result.status == "failed"
    assert "assigned instead of accumulated" in result.message, result.message


def test_blame_names_the_earlier_exercise_first(tmp_path):
    source = "def unbroadcast(broadcasted, original):\n    return broadcasted\n"
    result = check_planted("1.2", source, tmp_path, selection=["1.2", "1.3"])
    by_id = {exercise.exercise.id: exercise for exercise in result.exercises}
    assert by_id["1.2"].status == "failed"
    assert by_id["1.3"].message.startswith("Fix 1.2 unbroadcast first"), by_id["1.3"].message
    assert by_id["1.3"].blocked_by == ["1.2"]


def test_the_smallest_diagnosed_case_is_shown(tmp_path):
    # Wrong on every case: the message should come from a small case that names the mistake.
    source = "def log_back(grad_out, out, x):\n    return -grad_out / x\n"
    (result,) = check_planted("1.1", source, tmp_path).exercises
    assert "shape (5,)" in result.message.splitlines()[0]


# Messages show no internal names or paths; they say what they know ---------------------------


def test_a_returned_tuple_says_how_many_items_it_had():
    with pytest.raises(CaseFailure) as failure:
        expect_array(returned((RIGHT, RIGHT)), RIGHT, what="multiply_back0(grad_out, out, x, y)")
    assert "returned a tuple of 2 items" in str(failure.value), str(failure.value)


def test_messages_leave_out_checker_names_and_staging_paths():
    from checker.safetext import without_internals

    assert (
        without_internals("get_back_func returned <function _back_stub.<locals>.back>")
        == "get_back_func returned <function back>"
    )
    staged = (
        "cannot import name 'x' from 'submission.part1_backward' (/tmp/backprop-check-k2j_9/package/part1_backward.py)"
    )
    assert without_internals(staged) == "cannot import name 'x' from 'part1_backward' (part1_backward.py)"
    assert without_internals("get_children was <function <lambda>>") == "get_children was a lambda function"
    assert without_internals("TypeError: <lambda>() missing 1 required keyword-only argument: 'axis'") == (
        "TypeError: a lambda function missing 1 required keyword-only argument: 'axis'"
    )
    assert without_internals("no backward function registered for <lambda> at argument position 0") == (
        "no backward function registered for a lambda function at argument position 0"
    )
    assert without_internals("1.5 and np.log and x.y") == "1.5 and np.log and x.y"


def test_a_planted_bug_in_the_lookup_names_the_registered_function(tmp_path):
    source = (
        "class BackwardFuncLookup:\n"
        "    def __init__(self):\n"
        "        self.back_funcs = {}\n"
        "    def add_back_func(self, forward_fn, arg_position, back_fn):\n"
        "        self.back_funcs[forward_fn] = back_fn\n"
        "    def get_back_func(self, forward_fn, arg_position):\n"
        "        return self.back_funcs[forward_fn]\n"
    )
    (result,) = check_planted("2.1", source, tmp_path).exercises
    assert result.status == "failed"
    assert "<locals>" not in result.message and "backprop-check" not in result.message, result.message
