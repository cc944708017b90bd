"""Shared set-up of the kit's own tests.

Some tests check the stubs as the kit ships them (every exercise "not
started", and in the instructor's copy the stubs matching the reference
line for line). They are marked `pristine`. In a student's clone,
exercises/ holds the student's work, and `make test` must still pass: there
these tests are skipped, with the reason. CI (CI=true) always runs them, on
a fresh clone where the stubs are pristine.

Tests of the kernel sandbox are marked `linux_sandbox`: on macOS and Windows,
and on Linux with BACKPROP_PORTABLE=1, the checker takes its portable path
(checker/portable.py), which applies no sandbox, and these tests are skipped
with the reason; so they are on a kernel too old for the full sandbox
(Landlock ABI 6, Linux 6.12), such as a hosted CI runner's.

This file is also part of every student's kit that `checker release` writes,
so it uses nothing but the checker and exercises/.
"""

import os
import re
import sys

import pytest

from checker import KIT_ROOT

# The kit's root, so that tests import `checker` (and each other, as `tests.<name>`) from the checkout.
sys.path.insert(0, str(KIT_ROOT))


def exercises_are_pristine() -> bool:
    """Does exercises/ hold the kit's stubs as shipped, for every exercise it hands out?

    A stub raises NotImplementedError("exercise <id> <name>"), where <name>
    is a graded function or a method of a graded class; the student's work
    replaces those lines. So exercises/ is pristine when every name the
    manifest grades still has its stub line (in a release of part of the
    course, every name of the released exercises: manifest.released()).
    """
    from checker import manifest

    try:
        handed_out = manifest.released()
    except manifest.DamagedCourseFile:
        return False  # the kit's own tests say what is wrong with it
    for exercise in handed_out:
        path = KIT_ROOT / "exercises" / f"{exercise.module}.py"
        try:
            source = path.read_text()
        except OSError:
            return False
        stubbed = set(re.findall(r'raise NotImplementedError\("exercise \S+ ([\w]+)', source))
        # A name may be graded twice (b.1 grades 2.4's topological_sort again): one stub.
        if not set(exercise.functions) <= stubbed:
            return False
    return True


def linux_sandbox_missing() -> str | None:
    """Why the checker cannot apply the full kernel sandbox here, or None where it can."""
    from checker import portable, sandbox

    reason = portable.reason_for_portable_path()
    if reason is not None:
        return reason
    abi = sandbox.landlock_abi()
    if abi < 6:
        return f"this kernel offers Landlock ABI {abi}; the full sandbox needs 6"
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pristine: needs exercises/ to hold the kit's stubs as shipped (skipped in a student's clone)"
    )
    config.addinivalue_line(
        "markers", "linux_sandbox: needs the Linux kernel sandbox (skipped on macOS, Windows and the portable path)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _skip_pristine_checks_in_a_students_clone(items)
    _skip_sandbox_tests_without_the_sandbox(items)


def _skip_pristine_checks_in_a_students_clone(items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("pristine")]
    if not marked or os.environ.get("CI") or exercises_are_pristine():
        return
    skip = pytest.mark.skip(
        reason="exercises/ holds your own work; the checks of the pristine stubs run in CI (CI=true make test)"
    )
    for item in marked:
        item.add_marker(skip)


def _skip_sandbox_tests_without_the_sandbox(items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("linux_sandbox")]
    reason = linux_sandbox_missing() if marked else None
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"needs the full Linux kernel sandbox: {reason}")
    for item in marked:
        item.add_marker(skip)
