"""The proof of issue 10: hostile submissions gain nothing, whoever runs the checker.

Every attack class of the issue is a fixture in tests/fixtures/attacks/ (see
tests/sandbox_harness.py for their format). Each runs

- in three modes: `check --json`, `grade --jobs 2` (all attackers and one
  correct classmate in one class), and the local Gradescope run of a bundle;
- as two users: root (what CI is), and a throwaway unprivileged uid through
  `setpriv` on a world-readable copy of the kit that the uid owns, with a
  venv of the system Python (this machine's default Python is under /root).
  When the tests themselves do not run as root, the unprivileged leg runs as
  the tests' own user on this checkout, and the root leg is skipped.

and asserts what the attack did not achieve: the exercises it targets do
not pass, no kit file changes, the verdict (check's JSON, grades.csv and
each grade JSON, results.json) is unchanged 3 s after the checker exits,
the 127.0.0.1 listener receives nothing, no file or process it created
survives, no /tmp/backprop-* folder of the run survives, the run's canary
(another process of the same user) is neither stopped nor killed, the
correct classmate keeps full marks, and no raw ESC or BEL reaches the
report. The JSON must also report a full sandbox.

Each test runs one mode as one user and prints a table, attack by attack.
Set BACKPROP_ATTACK_REPORT=FILE to also get the rows as JSON lines.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

if sys.platform != "linux":
    # Before the harness, which needs Linux's modules (pwd) and /proc.
    pytest.skip("the sandbox is Linux's", allow_module_level=True)

from tests.sandbox_harness import (  # noqa: E402
    KIT_ROOT,
    Batch,
    Listener,
    build_bundle,
    build_user_identity,
    current_identity,
    load_attacks,
    throwaway_uid,
    world_readable_python,
)

pytestmark = [
    # Skipped (conftest.py) on the portable path, which applies no sandbox.
    pytest.mark.linux_sandbox,
    pytest.mark.timeout(600),
    # Some attacks start from the stubs: skipped in a student's clone (see conftest.py).
    pytest.mark.pristine,
]

ATTACKS = load_attacks()
MODES = ("check", "grade", "gradescope")
USERS = ("root", "user")


@pytest.fixture(scope="module")
def listener():
    listening = Listener()
    yield listening
    listening.close()


def _scratch(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(folder, 0o755)
    return folder


@pytest.fixture(scope="module")
def root_identity():
    if os.geteuid() != 0:
        pytest.skip("the tests do not run as root: the unprivileged leg runs as this user")
    home = _scratch("bpatk-home-")
    yield current_identity(home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def user_identity():
    if os.geteuid() != 0:
        home = _scratch("bpatk-home-")
        yield current_identity(home)
        shutil.rmtree(home, ignore_errors=True)
        return
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run the unprivileged leg as root")
    python = world_readable_python()
    if python is None:
        pytest.fail("no world-readable Python 3.10+ with venv (/usr/bin/python3) for the unprivileged leg")
    base = Path(tempfile.mkdtemp(prefix="bpatk-kit-"))
    try:
        yield build_user_identity(base, throwaway_uid(), python)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def bundle_source():
    folder = _scratch("bpatk-bundle-")
    try:
        yield build_bundle(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_every_attack_class_has_a_fixture():
    classes = {attack.title.split(".", 1)[0] for attack in ATTACKS}
    assert classes == {str(number) for number in range(1, 13)}
    for attack in ATTACKS:
        assert set(attack.modes) <= set(MODES), attack.name
        assert attack.base in ("solutions", "exercises"), attack.name
    for mode in MODES:
        assert any(mode in attack.modes for attack in ATTACKS)


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("mode", MODES)
def test_attacks_are_contained(mode, who, request, listener):
    identity = request.getfixturevalue(f"{who}_identity")
    bundle = request.getfixturevalue("bundle_source") if mode == "gradescope" else None
    kits = [identity.kit] + ([KIT_ROOT] if identity.kit != KIT_ROOT else [])
    batch = Batch(mode, identity, ATTACKS, listener, bundle, kits)
    batch.run()
    table = batch.table()
    print(table)
    report = os.environ.get("BACKPROP_ATTACK_REPORT")
    if report:
        with open(report, "a") as stream:
            for row in batch.rows():
                stream.write(json.dumps(row) + "\n")
    problems = batch.breaches() + batch.sandbox_problems()
    assert not problems, f"{len(batch.breaches())} breaches, sandbox: {batch.sandbox_problems()}\n{table}"
