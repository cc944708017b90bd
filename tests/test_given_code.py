"""Given code that no exercise grades: the worked example sin_back."""

from __future__ import annotations

import numpy as np
import pytest

from checker.numeric import numerical_vjp
from exercises import part1_backward as given
from solutions import part1_backward as reference


@pytest.mark.parametrize("module", [given, reference], ids=["exercises", "solutions"])
def test_sin_back_matches_central_differences(module):
    generator = np.random.default_rng(7)
    x = generator.normal(size=(3, 4))
    grad_out = generator.normal(size=(3, 4))
    expected = numerical_vjp(np.sin, [x], 0, grad_out)
    np.testing.assert_allclose(module.sin_back(grad_out, np.sin(x), x), expected, rtol=1e-6, atol=1e-8)
