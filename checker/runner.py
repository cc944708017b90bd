"""Run student code in a child process, under limits, and collect its records.

The parent never imports student code. It copies the submission into a
private folder, starts a child Python (child.py) with a memory cap, a file
size cap and its own session, and reads one record per case from a pipe.

Whatever the child does, every case ends with exactly one record:

- the child's own record ("returned", "raised" or "timeout"), or
- "timeout" when the case outlived its limit and the child was killed, or
- "crashed" when the child died while running it (segfault, os._exit, ...), or
- "not_run" when an earlier case of the same exercise timed out.

After a kill or a crash, a fresh child carries on with the cases left.
Cases of exercises that build on one that timed out get a short limit, so a
hung `topological_sort` costs seconds, not a minute per dependent.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import manifest, wire
from .cases import Case

KIT_ROOT = Path(__file__).resolve().parent.parent
GIVEN_SOURCE = KIT_ROOT / "exercises"

# The children running right now, from any thread: the sweep for orphans
# must not kill another run's child.
_ACTIVE_CHILDREN: set[int] = set()


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 2 * 1024**3  # address space of the child
    output_bytes: int = 64 * 1024**2  # largest file the child may write
    grace_seconds: float = 2.0  # beyond a case's own limit before the kill
    startup_seconds: float = 30.0  # for the child to import pytest and the suites
    dependent_timeout: float = 1.0  # per case, for exercises built on one that hung
    run_seconds: float = 300.0  # for the whole run


@dataclass
class RunLog:
    """What the runner saw, for the report: per case record, and the child's own output."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    child_output: str = ""
    restarts: int = 0


def stage(impl_dir: Path, workdir: Path) -> Path:
    """Copy the submission's Python files into a private package folder.

    The child imports the copy, so nothing it does can touch the original,
    and a file it lacks among the given ones (core.py, ...) is taken from the
    kit. Returns the package folder.
    """
    package = workdir / "package"
    package.mkdir()
    for source in sorted(impl_dir.glob("*.py")):
        if source.is_file():
            shutil.copyfile(source, package / source.name)
    for module in manifest.GIVEN_MODULES:
        if not (package / f"{module}.py").exists():
            shutil.copyfile(GIVEN_SOURCE / f"{module}.py", package / f"{module}.py")
    (workdir / "pytest.ini").write_text("[pytest]\n")
    return package


def run(impl_dir: Path, cases: list[Case], limits: Limits = Limits()) -> RunLog:
    """Run the probes of `cases` on the submission in `impl_dir`."""
    log = RunLog()
    timeouts = {case.id: _timeout_of(case) for case in cases}
    exercise_of = {case.id: case.exercise for case in cases}
    pending = [case.id for case in cases]
    deadline = time.monotonic() + limits.run_seconds
    _become_subreaper()
    with tempfile.TemporaryDirectory(prefix="backprop-check-") as tmp:
        workdir = Path(tmp)
        package = stage(impl_dir, workdir)
        while pending:
            hung = _run_child(workdir, package, pending, timeouts, limits, deadline, log)
            pending = [case_id for case_id in pending if case_id not in log.records]
            if hung is not None:
                _after_timeout(exercise_of[hung], pending, exercise_of, timeouts, limits, log)
                pending = [case_id for case_id in pending if case_id not in log.records]
            if pending:
                log.restarts += 1
            if time.monotonic() > deadline:
                for case_id in pending:
                    log.records[case_id] = {"outcome": "not_run", "reason": "the whole run took too long"}
                break
    return log


def _timeout_of(case: Case) -> float:
    return case.timeout if case.timeout is not None else manifest.get(case.exercise).timeout


def _after_timeout(
    exercise_id: str,
    pending: list[str],
    exercise_of: dict[str, str],
    timeouts: dict[str, float],
    limits: Limits,
    log: RunLog,
) -> None:
    """An exercise hung: skip its other cases and shorten its dependents' limits."""
    for case_id in pending:
        owner = exercise_of[case_id]
        if owner == exercise_id:
            log.records[case_id] = {"outcome": "not_run", "reason": "an earlier test of this exercise timed out"}
        elif exercise_id in manifest.get(owner).requires:
            timeouts[case_id] = min(timeouts[case_id], limits.dependent_timeout)


def _run_child(
    workdir: Path,
    package: Path,
    pending: list[str],
    timeouts: dict[str, float],
    limits: Limits,
    deadline: float,
    log: RunLog,
) -> str | None:
    """Run one child on the pending cases. Returns the id of a case that hung, if any."""
    read_fd, write_fd = os.pipe()
    config = {
        "package_dir": str(package),
        "channel_fd": write_fd,
        "cases": [[case_id, timeouts[case_id]] for case_id in pending],
    }
    output_path = workdir / f"child-output-{log.restarts}.txt"
    with open(output_path, "wb") as output:
        child = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", _BOOTSTRAP, str(KIT_ROOT), json.dumps(config)],
            cwd=workdir,
            env=_child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
            preexec_fn=lambda: _apply_limits(limits),
        )
    os.close(write_fd)
    _ACTIVE_CHILDREN.add(child.pid)
    hung = None
    try:
        hung = _read_records(child, read_fd, timeouts, limits, deadline, log)
    finally:
        os.close(read_fd)
        _kill_everything(child)
        _ACTIVE_CHILDREN.discard(child.pid)
        log.child_output += _tail(output_path)
    return hung


def _read_records(
    child: subprocess.Popen,
    read_fd: int,
    timeouts: dict[str, float],
    limits: Limits,
    deadline: float,
    log: RunLog,
) -> str | None:
    buffer = b""
    current: str | None = None
    case_deadline = time.monotonic() + limits.startup_seconds
    while True:
        now = time.monotonic()
        wait = max(0.0, min(case_deadline, deadline) - now)
        ready, _, _ = select.select([read_fd], [], [], wait)
        if not ready:
            # Nothing for too long: the current case hung (or start-up did).
            if current is not None:
                log.records[current] = {"outcome": "timeout", "killed": True, "limit": timeouts[current]}
                return current
            _mark_all(log, timeouts, "crashed", "the test process did not start in time")
            return None
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            # The child closed the channel: it exited, on purpose or not.
            if current is not None and current not in log.records:
                log.records[current] = {"outcome": "crashed", "exit": _exit_description(child)}
            if not any(case_id in log.records for case_id in timeouts) and current is None:
                _mark_all(log, timeouts, "crashed", f"the test process stopped before any test ({_exit_description(child)})")
            return None
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            record = _parse(line)
            if record is None:
                continue
            kind = record.get("kind")
            case_id = record.get("case")
            if kind == "start" and case_id in timeouts:
                current = case_id
                case_deadline = time.monotonic() + timeouts[case_id] + limits.grace_seconds
            elif kind == "result" and case_id in timeouts and case_id not in log.records:
                log.records[case_id] = record
                if record.get("outcome") == "timeout":
                    return case_id
                current = None
                case_deadline = time.monotonic() + limits.startup_seconds
            elif kind == "done":
                return None


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        return wire.loads_line(line)
    except (ValueError, UnicodeDecodeError):
        return None  # noise on the channel is ignored; a case without a record fails


def _mark_all(log: RunLog, timeouts: dict[str, float], outcome: str, reason: str) -> None:
    for case_id in timeouts:
        log.records.setdefault(case_id, {"outcome": outcome, "reason": reason})


def _exit_description(child: subprocess.Popen) -> str:
    try:
        code = child.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _child_environment() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    environment.update({
        # One BLAS thread: faster start-up, steady timing, and no thread
        # buffers eating into the memory cap.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "NO_COLOR": "1",
    })
    return environment


def _apply_limits(limits: Limits) -> None:
    """In the child, before Python starts: caps that its code cannot lift."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Writing past the file size cap then fails with an error instead of
    # killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _become_subreaper() -> None:
    """Adopt the child's orphans, so that processes it leaves behind can be found and killed."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        PR_SET_CHILD_SUBREAPER = 36
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _kill_everything(child: subprocess.Popen) -> None:
    """Kill the child, its process group, and any process it left behind."""
    for pid in [child.pid, *_descendants(child.pid)]:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    # Orphans that were re-parented to us (we are their subreaper).
    for pid in _descendants(os.getpid(), skip=_ACTIVE_CHILDREN - {child.pid}):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError, PermissionError):
            pass


def _descendants(root: int, skip: set[int] = frozenset()) -> list[int]:
    """Every live process below `root` but not below `skip`, from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for entry in _proc_entries():
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [root]
    while frontier:
        for pid in children.get(frontier.pop(), []):
            if pid in skip:
                continue
            found.append(pid)
            frontier.append(pid)
    return found


def _proc_entries() -> Iterable[str]:
    try:
        return [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


# Run in the child with -I (no user site, no PYTHON* variables, no current
# folder on sys.path): put the kit on the path and hand over to child.main.
_BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from checker.child import main; main(sys.argv[2])"
