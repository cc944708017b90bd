"""The shared comparison never accepts NaN or inf where finite numbers are required.

Every comparison with NaN is False, so a judge written as `if error > tolerance:
fail` lets NaN through. These tests pin the shared helpers down.
"""

from __future__ import annotations

import numpy as np
import pytest

from checker.cases import CaseFailure
from checker.numeric import expect_array, expect_finite, non_finite_text, values_match
from checker.observe import returned


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_values_match_rejects_a_non_finite_entry_on_either_side(bad):
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    got = expected.copy()
    got[1, 0] = bad
    assert not values_match(got, expected)
    assert not values_match(expected, got)
    assert not values_match(got, got)  # NaN or inf never matches, not even itself
    assert values_match(expected, expected.copy())


def test_expect_array_names_the_nan_and_where_it_is():
    expected = np.arange(6.0).reshape(2, 3)
    got = expected.copy()
    got[1, 2] = np.nan
    with pytest.raises(CaseFailure) as failure:
        expect_array(returned(got), expected, what="weight.grad")
    assert "It has NaN at index [1, 2]" in str(failure.value)


def test_expect_array_names_an_infinity():
    with pytest.raises(CaseFailure) as failure:
        expect_array(returned(np.array([1.0, -np.inf, 2.0])), np.array([1.0, 5.0, 2.0]), what="losses")
    assert "-inf at index [1]" in str(failure.value)


def test_expect_array_refuses_to_compare_with_a_non_finite_expected_value():
    # Expected values built from the student's own numbers (a model's weights) may be NaN.
    nan_everywhere = np.full(3, np.nan)
    with pytest.raises(CaseFailure) as failure:
        expect_array(returned(nan_everywhere), nan_everywhere, what="MLP(x)")
    assert "cannot be checked" in str(failure.value) and "NaN at index [0]" in str(failure.value)


def test_expect_finite_passes_finite_numbers_and_says_where_the_first_bad_one_is():
    expect_finite(np.zeros((2, 2)), "weight")
    expect_finite(np.float64(3.0), "a number")
    with pytest.raises(CaseFailure) as failure:
        expect_finite(np.array([[0.0, 1.0], [np.inf, np.nan]]), "weight", "Draw it uniform.")
    message = str(failure.value)
    assert message.startswith("weight has inf at index [1, 0] (2 of 4 entries are NaN or infinite)")
    assert message.endswith("Draw it uniform.")


def test_non_finite_text_of_a_0d_value_has_no_index():
    assert non_finite_text(np.array(np.nan), "the loss") == "the loss has NaN"
    assert non_finite_text(np.array(1.5), "the loss") == ""
