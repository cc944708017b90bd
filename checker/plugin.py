"""The pytest plugin of the child process: run each selected case's probe.

pytest collects one parametrised test function (probe_items.py) with one item
per selected case. This plugin's hooks, in the order pytest calls them:

- pytest_generate_tests: one item per case id.
- pytest_collection_modifyitems: give each item its case's time limit.
- pytest_collection_finish: confine the process (sandbox.py), then tell the
  parent it is ready and which sandbox protections hold. No student module
  is imported before this point.
- pytest_runtest_protocol: tell the parent which case is starting, so that a
  crash or a hang is blamed on the right one; skip the other cases of an
  exercise that hung, and give the exercises built on it a short limit (the
  parent applies the same rule on its side, and enforces it).
- pytest_pyfunc_call: run the probe and keep its outcome on the item.
- pytest_runtest_makereport: collect the outcome and the captured output
  into one plain record, and send it.
- pytest_sessionfinish: tell the parent everything was sent.

The verdict is not decided here: the parent judges each record.
"""

from __future__ import annotations

import os
import random
import signal
from typing import Any

import numpy as np
import pytest

from . import seeds, wire
from .cases import REGISTRY, Case
from .observe import StudentPackage, exception_info
from .outcomes import Outcome, Refusal

# Set by configure() before pytest starts.
_channel_fd: int | None = None
_student: StudentPackage | None = None
_selected: list[tuple[str, float]] = []
_dependents: dict[str, list[str]] = {}  # exercise -> the exercises built on it, directly or not
_dependent_timeout: float = 1.0
_confinement: Any = None  # child.Confinement: applied in pytest_collection_finish

# Exercises one of whose cases hung in this process, and those built on them.
_hung: set[str] = set()
_shortened: set[str] = set()

_OUTCOME = pytest.StashKey[dict]()
_OUTPUT_LIMIT = 4000  # characters of captured output kept per case

# Taken before student code runs: the channel must keep working even if it
# replaces these.
_write = os.write
_dumps_line = wire.dumps_line
_seed_numpy = np.random.seed
_seed_python = random.seed
_set_handler = signal.signal
_set_timer = getattr(signal, "setitimer", None)  # None on Windows, where the thread method is used
_ALARM = getattr(signal, "SIGALRM", None)
_TIMER_SET = pytest.StashKey[bool]()


class CaseTimedOut(BaseException):
    """Raised inside a probe when its case's time is up (the signal method).

    A BaseException, like pytest's own outcomes, so that student code that
    catches Exception does not swallow it.
    """


def configure(
    channel_fd: int,
    student: StudentPackage,
    selected: list[tuple[str, float]],
    dependents: dict[str, list[str]] | None = None,
    dependent_timeout: float = 1.0,
    confinement: Any = None,
) -> None:
    global _channel_fd, _student, _selected, _dependents, _dependent_timeout, _confinement
    _channel_fd, _student, _selected = channel_fd, student, selected
    _dependents, _dependent_timeout = dict(dependents or {}), dependent_timeout
    _confinement = confinement


def send(record: dict[str, Any]) -> None:
    data = _dumps_line(record)
    while data:
        written = _write(_channel_fd, data)
        data = data[written:]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case_id" in metafunc.fixturenames:
        ids = [case_id for case_id, _ in _selected]
        metafunc.parametrize("case_id", ids, ids=ids)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    timeouts = dict(_selected)
    for item in items:
        item.add_marker(pytest.mark.timeout(timeouts[item.callspec.params["case_id"]]))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # Collection walks the kit's folders, and every plugin has opened its
    # files by now; no student module is imported yet. From here on the
    # process reads only what the sandbox allows and writes nothing.
    report = _confinement.apply() if _confinement is not None else None
    send({"kind": "ready", "sandbox": report})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    case_id = item.callspec.params["case_id"]
    exercise = REGISTRY[case_id].exercise
    if exercise in _hung:
        return True  # not run: the parent records it so
    if exercise in _shortened:
        limit = min(dict(_selected)[case_id], _dependent_timeout)
        item.add_marker(pytest.mark.timeout(limit), append=False)
    send({"kind": "start", "case": case_id})
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool:
    case: Case = REGISTRY[pyfuncitem.callspec.params["case_id"]]
    outcome = run_probe(case)
    pyfuncitem.stash[_OUTCOME] = outcome
    if outcome["outcome"] == Outcome.TIMEOUT.value:
        _hung.add(case.exercise)
        _shortened.update(_dependents.get(case.exercise, ()))
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """pytest-timeout's timer, with our own exception: a case that timed out
    is then told apart by its type, not by the words of a message. With the
    thread method (no SIGALRM) pytest-timeout ends the whole process, and the
    parent tells that apart by the time (runner._Session.ended)."""
    if settings.method != "signal" or _set_timer is None:
        return None

    def time_up(signum: int, frame: Any) -> None:
        raise CaseTimedOut(settings.timeout)

    _set_handler(_ALARM, time_up)
    _set_timer(signal.ITIMER_REAL, settings.timeout)
    item.stash[_TIMER_SET] = True
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> bool | None:
    if not item.stash.get(_TIMER_SET, False):
        return None
    _set_timer(signal.ITIMER_REAL, 0)
    _set_handler(_ALARM, signal.SIG_DFL)
    item.stash[_TIMER_SET] = False
    return True


def run_probe(case: Case) -> dict[str, Any]:
    try:
        # Every case starts from freshly imported student modules: nothing
        # another case left there can change this case's verdict.
        _student.fresh()
        # The same random numbers for a case however many cases ran before it,
        # for code that draws from NumPy's or Python's global generator.
        seed = seeds.case_seed(case.id)
        _seed_numpy(seed)
        _seed_python(seed)
        observation = case.run_probe(_student)
    except CaseTimedOut as exc:
        return {"outcome": Outcome.TIMEOUT.value, "error": exception_info(exc)}
    except BaseException as exc:  # everything, even SystemExit: the parent decides
        return {"outcome": Outcome.RAISED.value, "error": exception_info(exc)}
    return {"outcome": Outcome.RETURNED.value, "observation": observation}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = (yield).get_result()
    if report.when != "call" and not report.failed:
        return
    record = dict(item.stash.get(_OUTCOME, None) or _pytest_failure(report))
    record["kind"] = "result"
    record["case"] = item.callspec.params["case_id"]
    record["output"] = _captured_output(report)
    try:
        send(record)
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        # The observation could not be encoded: say so instead of losing the case.
        too_large = isinstance(exc, MemoryError)
        # Let a huge observation go before encoding the short record.
        record = None
        del item.stash[_OUTCOME]
        send(
            {
                "kind": "result",
                "case": item.callspec.params["case_id"],
                "outcome": Outcome.REFUSED.value,
                "refusal": (Refusal.RESULT_TOO_LARGE if too_large else Refusal.UNREADABLE_RESULT).value,
                "detail": "it does not fit in memory" if too_large else str(exc),
                "output": "",
            }
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    send({"kind": "done"})


def _pytest_failure(report: pytest.TestReport) -> dict[str, Any]:
    return {
        "outcome": Outcome.REFUSED.value,
        "refusal": Refusal.CHECKER_ERROR.value,
        "detail": str(report.longrepr)[-2000:],
    }


def _captured_output(report: pytest.TestReport) -> str:
    text = (report.capstdout or "") + (report.capstderr or "")
    if len(text) > _OUTPUT_LIMIT:
        cut = len(text) - _OUTPUT_LIMIT
        text = text[:_OUTPUT_LIMIT] + f"\n... ({cut} more characters not shown)"
    return text
