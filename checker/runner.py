"""Run student code in a child process, under limits, and collect its records.

The parent never imports student code. It copies the submission into a
private folder, starts a child Python (child.py) with a memory cap, a file
size cap and its own session, and reads one record per case from a pipe.
Before the child imports any student code it confines itself for good
(sandbox.py: Landlock, seccomp, and as root a user id of its own): from
then on it reads only Python, the checker and its own package, writes
nothing, starts no process, opens no socket and signals or traces nothing
outside itself. Its first record says which of those protections hold.

Where Linux's process controls are missing (Windows, macOS), or when the
kit's tests ask for it, the child is started on the portable path instead
(portable.py): it caps itself where it can, its stdout is the channel, and
no kernel sandbox is applied, which its report says.

Whatever the child does, every case ends with exactly one record:

- the child's own record ("returned", "raised" or "timeout"), or
- "timeout" when the case outlived its limit and the child was killed, or
- "crashed" when the child died while running it (segfault, os._exit, ...), or
- "not_run" when an earlier case of the same exercise timed out or crashed,
  or the whole run ran out of time.

A case that hangs (the child's own timer fires) costs its limit once: the
child skips the rest of that exercise and gives every exercise built on it
a short limit, so a hung `topological_sort` costs about a second per
dependent exercise. After a kill or a crash, a fresh child carries on.

The channel is written by the plugin, but student code shares its process
and could write to it too. The parent accepts only the plugin's protocol
(see _Session): starts in the order the cases were handed out, one result
for the running case, nothing after "done"; any other record is tampering,
and voids every result that came through that channel. What remains
possible is what any in-process code can do: a submission that imitates
the protocol exactly can make up observations for the cases it runs in and
those that follow. That is no more than hard-coding answers for the
suite's fixed inputs, which any submission can do; the verdict itself (the
comparison with the mathematics) is always made here, in the parent.
"""

from __future__ import annotations

import json
import os
import queue
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import KIT_ROOT, manifest, portable, safetext, sandbox, seeds
from .cases import Case
from .outcomes import CaseRecord, Limit, LimitHit, NotRunCause, Outcome, Refusal

GIVEN_SOURCE = KIT_ROOT / "exercises"

# The children running right now, from any thread: the sweep for orphans
# must not kill another run's child.
_ACTIVE_CHILDREN: set[int] = set()


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 2 * 1024**3  # address space of the child
    output_bytes: int = 64 * 1024**2  # largest file the child may write (its output, pytest's capture files)
    record_bytes: int = 64 * 1024**2  # largest record the parent reads from the channel
    grace_seconds: float = 2.0  # beyond a case's own limit before the kill
    startup_seconds: float = 30.0  # for the child to import pytest and the suites
    dependent_timeout: float = 1.0  # per case, for exercises built on one that hung
    run_seconds: float = 300.0  # for the whole run
    processes: int = 256  # processes and threads of the child's user, when it has its own
    drop_privileges: bool = True  # as root: run student code as a user of its own
    sandbox_without: tuple[str, ...] = ()  # sandbox mechanisms left out (the kit's tests of a partial sandbox)


@dataclass
class RunLog:
    """What the runner saw, for the report: per case record, and the child's own output."""

    records: dict[str, CaseRecord] = field(default_factory=dict)
    child_output: str = ""
    restarts: int = 0
    tampered: bool = False  # something wrote forged records on the channel
    confinements: list[sandbox.Confinement] = field(default_factory=list)  # one per child that started

    @property
    def sandbox(self) -> sandbox.Confinement:
        """The protections that held for every child of the run."""
        return sandbox.weakest(self.confinements)


def stage(impl_dir: Path, workdir: Path, owner: int | None = None) -> Path:
    """Copy the submission's Python files into a private package folder.

    The child imports the copy, so nothing it does can touch the original,
    and a file it lacks among the given ones (core.py, ...) is taken from the
    kit. With `owner` (the child's own user id), the copy is readable by that
    user. `tmp/` receives the files the child opens before it confines
    itself (pytest's capture files); after that it writes nothing. Returns
    the package folder.
    """
    package = workdir / "package"
    package.mkdir()
    from .submissions import copy_regular_file

    for source in sorted(impl_dir.glob("*.py")):
        # Never through a symlink: as root, the parent could otherwise copy
        # any file of the machine (solutions/, /etc/shadow) into the package.
        copy_regular_file(source, package / source.name)
    for module in manifest.GIVEN_MODULES:
        if not (package / f"{module}.py").exists():
            shutil.copyfile(GIVEN_SOURCE / f"{module}.py", package / f"{module}.py")
    (workdir / "pytest.ini").write_text("[pytest]\n")
    scratch = workdir / "tmp"
    scratch.mkdir()
    if owner is not None:
        os.chmod(workdir, 0o755)
        os.chmod(package, 0o755)
        for path in [*package.iterdir(), workdir / "pytest.ini"]:
            os.chmod(path, 0o644)
        os.chmod(scratch, 0o700)
    return package


@dataclass
class Started:
    """A submission staged in a private folder, and its first child, already
    importing NumPy and pytest while the parent builds the cases (start())."""

    workdir: Path
    package: Path
    user: int | None
    child: _Child | None = None
    portable: str | None = None  # why its children take the portable path; None: the Linux path

    def discard(self) -> None:
        """Kill the child and remove the folder (when run() will not be called)."""
        if self.child is not None:
            self.child.finish(self.user, self.workdir)
            self.child = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(impl_dir: Path, limits: Limits = Limits()) -> Started:
    """Stage the submission and start its first child, before the cases are known.

    The child does its slow imports while the caller imports the suites and
    builds the cases; run(..., started=...) then hands it its cases.
    """
    become_subreaper()
    refuse_inspection()
    workdir = Path(tempfile.mkdtemp(prefix="backprop-check-"))
    try:
        portable_reason = portable.reason_for_portable_path()
        user = child_user(limits, portable_reason)
        package = stage(Path(impl_dir), workdir, user)
        started = Started(workdir, package, user)
        started.child = _Child.spawn(workdir, limits, user, restart=0, portable_reason=portable_reason)
        started.portable = started.child.portable
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return started


def run(impl_dir: Path, cases: list[Case], limits: Limits = Limits(), started: Started | None = None) -> RunLog:
    """Run the probes of `cases` on the submission in `impl_dir` (staged
    and with a child waiting already, when `started` comes from start())."""
    if started is None:
        started = start(impl_dir, limits)
    log = RunLog()
    try:
        timeouts = {case.id: _timeout_of(case) for case in cases}
        exercise_of = {case.id: case.exercise for case in cases}
        dependents = dependents_of(sorted(set(exercise_of.values())))
        pending = [case.id for case in cases]
        deadline = time.monotonic() + limits.run_seconds
        workdir, package, user = started.workdir, started.package, started.user
        session = _Session(log, timeouts, exercise_of, dependents, limits, deadline)
        while pending:
            child, started.child = started.child, None
            if child is None:
                child = _Child.spawn(workdir, limits, user, restart=log.restarts, portable_reason=started.portable)
                started.portable = child.portable
            _run_child(child, workdir, package, pending, session, user)
            pending = [case_id for case_id in pending if case_id not in log.records]
            if pending and time.monotonic() >= deadline:
                for case_id in pending:
                    log.records[case_id] = _run_timed_out(limits)
                break
            if pending:
                log.restarts += 1
    finally:
        started.discard()
    return log


def _timeout_of(case: Case) -> float:
    return case.timeout if case.timeout is not None else manifest.get(case.exercise).timeout


def dependents_of(exercise_ids: list[str]) -> dict[str, list[str]]:
    """For each exercise, the selected exercises built on it, directly or through others."""
    requires = {exercise.id: set(exercise.requires) for exercise in manifest.EXERCISES}
    closure: dict[str, set[str]] = {}

    def below(exercise_id: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if exercise_id not in closure:
            found = set(requires.get(exercise_id, ()))
            for required in list(found):
                if required not in seen:
                    found |= below(required, seen | {exercise_id})
            closure[exercise_id] = found
        return closure[exercise_id]

    return {
        exercise_id: [other for other in exercise_ids if exercise_id in below(other)] for exercise_id in exercise_ids
    }


class _Session:
    """The parent's side of the channel protocol, over all the children of one run.

    The child announces each case with a "start" record, then sends one
    "result" record; at the end a "done". Student code runs in the child and
    can write to the channel too, so the parent accepts only what the plugin
    would send: starts in the order the cases were handed out, one result for
    the case that started, nothing after "done". Anything else is tampering:
    the results this child sent that would count ("returned") are voided.
    """

    def __init__(self, log, timeouts, exercise_of, dependents, limits, deadline):
        self.log: RunLog = log
        self.timeouts: dict[str, float] = timeouts
        self.exercise_of: dict[str, str] = exercise_of
        self.dependents: dict[str, list[str]] = dependents
        self.limits: Limits = limits
        self.deadline: float = deadline

    # -- one child ------------------------------------------------------------

    def begin(self, order: list[str], timer_ends_child: bool = False) -> None:
        """A new child, given the cases of `order`. `timer_ends_child`: its
        pytest-timeout ends the whole child when a case runs out of time
        (the thread method, on Windows), instead of raising in the case."""
        self.order = order
        self.timer_ends_child = timer_ends_child
        self.position = 0
        self.current: str | None = None
        self.current_started = 0.0
        self.accepted: list[str] = []
        self.done = False
        self.ready = False
        self.case_deadline = time.monotonic() + self.limits.startup_seconds

    def receive(self, record: dict[str, Any] | None) -> None:
        """Take one record from the channel (None: a line that is not a record)."""
        if record is None or self.done:
            self.tampering()
            return
        kind, case_id = record.get("kind"), record.get("case")
        if kind == "ready" and self.position == 0 and self.current is None and not self.ready:
            # Sent after the child confined itself and before any student
            # code ran: its account of the sandbox can be trusted.
            self.ready = True
            self.log.confinements.append(sandbox.Confinement.from_json(record.get("sandbox")))
            return
        if kind == "start" and self.current is None and case_id == self._next_case():
            self.current = case_id
            self.current_started = time.monotonic()
            self.position = self.order.index(case_id) + 1
            limit = self.timeouts[case_id] + self.limits.grace_seconds
            self.case_deadline = self.current_started + limit
            return
        if kind == "result" and case_id is not None and case_id == self.current:
            self.current = None
            self.case_deadline = time.monotonic() + self.limits.startup_seconds
            case_record = CaseRecord.from_wire(record)
            self.accept(case_id, case_record)
            if case_record.outcome is Outcome.TIMEOUT:
                self.hung(case_id)
            return
        if kind == "done" and self.current is None:
            self.done = True
            return
        self.tampering()

    def _next_case(self) -> str | None:
        for case_id in self.order[self.position :]:
            if case_id not in self.log.records:
                return case_id
        return None

    def accept(self, case_id: str, record: CaseRecord) -> None:
        if self.log.tampered and record.outcome is Outcome.RETURNED:
            record = _tampered_record(record)
        self.log.records[case_id] = record
        self.accepted.append(case_id)

    def tampering(self) -> None:
        """Forged records on the channel: no result that came through it may count."""
        self.log.tampered = True
        for case_id in self.accepted:
            if self.log.records[case_id].outcome is Outcome.RETURNED:
                self.log.records[case_id] = _tampered_record(self.log.records[case_id])

    def hung(self, case_id: str) -> None:
        """A case hung: skip the other cases of its exercise, shorten its dependents' limits."""
        exercise_id = self.exercise_of[case_id]
        for other, owner in self.exercise_of.items():
            if owner == exercise_id and other not in self.log.records:
                self.log.records[other] = CaseRecord(Outcome.NOT_RUN, not_run=NotRunCause.EXERCISE_HUNG)
        for dependent in self.dependents.get(exercise_id, ()):
            for other, owner in self.exercise_of.items():
                if owner == dependent:
                    self.timeouts[other] = min(self.timeouts[other], self.limits.dependent_timeout)

    # -- the end of a child -----------------------------------------------------

    def silence(self) -> None:
        """Nothing came in time: the current case hung (or the start-up did)."""
        if time.monotonic() >= self.deadline:
            if self.current is not None:
                self.log.records[self.current] = _run_timed_out(self.limits)
            return
        if self.current is not None:
            case_id, self.current = self.current, None
            self.timed_out(case_id)
            return
        self.stopped_early("the test process did not start in time")

    def timed_out(self, case_id: str) -> None:
        """The case outlived its limit, and its child was ended for it."""
        self.log.records[case_id] = CaseRecord(Outcome.TIMEOUT, limit=LimitHit(Limit.CASE_TIME, self.timeouts[case_id]))
        self.hung(case_id)

    def ended(self, exit_text: str, output_tail: str) -> None:
        """The child is gone: blame the case it was running, if any."""
        if self.current is not None and self.current not in self.log.records:
            if self.timer_ends_child and time.monotonic() - self.current_started >= self.timeouts[self.current]:
                # Its own timer ended it: the case ran out of time.
                self.timed_out(self.current)
            else:
                # Crashed either way (status error). What it last printed
                # only chooses the words: a process that died allocating
                # most likely hit the memory cap.
                memory = LimitHit(Limit.MEMORY, self.limits.memory_bytes) if _ran_out_of_memory(output_tail) else None
                self.log.records[self.current] = CaseRecord(Outcome.CRASHED, limit=memory, detail=exit_text)
            # Its other cases would most likely crash too, each costing a
            # fresh process: they are not run.
            exercise_id = self.exercise_of[self.current]
            for other, owner in self.exercise_of.items():
                if owner == exercise_id and other not in self.log.records:
                    self.log.records[other] = CaseRecord(Outcome.NOT_RUN, not_run=NotRunCause.EXERCISE_CRASHED)
        elif not self.accepted and not self.done and self._next_case() is not None:
            self.stopped_early(f"the test process stopped before any test ({exit_text})")

    def too_large(self) -> None:
        """A record beyond the size limit: the case it belongs to gets an error."""
        if self.current is not None:
            case_id, self.current = self.current, None
            self.log.records[case_id] = CaseRecord(
                Outcome.REFUSED,
                refusal=Refusal.RESULT_TOO_LARGE,
                limit=LimitHit(Limit.RESULT_SIZE, self.limits.record_bytes),
                detail=f"more than {self.limits.record_bytes // 1024**2} MB",
            )
        else:
            self.tampering()

    def stopped_early(self, reason: str) -> None:
        # Only the cases this child was given: a later child may still run them...
        # but a child that cannot even start would fail again, so they all end here.
        for case_id in self.order:
            self.log.records.setdefault(case_id, CaseRecord(Outcome.CRASHED, detail=reason))


def _tampered_record(record: CaseRecord) -> CaseRecord:
    return CaseRecord(Outcome.REFUSED, refusal=Refusal.CHANNEL_TAMPERED, output=record.output)


def _run_timed_out(limits: Limits) -> CaseRecord:
    return CaseRecord(
        Outcome.NOT_RUN, not_run=NotRunCause.RUN_TIMED_OUT, limit=LimitHit(Limit.RUN_TIME, limits.run_seconds)
    )


def _ran_out_of_memory(output: str) -> bool:
    return any(sign in output for sign in ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "Out of memory"))


@dataclass
class _Child:
    """A child process, its end of the result channel, and its output file.

    It starts with no cases: it imports NumPy and pytest, then reads its
    configuration (a line of JSON) on stdin, which send_config writes and
    closes, so student code finds stdin at its end.
    """

    process: subprocess.Popen
    channel: _PipeChannel | _StdoutChannel
    write_fd_number: int | None  # the channel's number in the child; None on the portable path (its stdout)
    output_path: Path
    portable: str | None = None  # why this child took the portable path; None: the Linux path

    @classmethod
    def spawn(
        cls, workdir: Path, limits: Limits, user: int | None, restart: int, portable_reason: str | None = None
    ) -> _Child:
        output_path = workdir / f"child-output-{restart}.txt"
        if portable_reason is None:
            try:
                return cls._spawn_linux(workdir, limits, output_path)
            except subprocess.SubprocessError:
                # preexec_fn failed: the caps cannot be set here (a hard
                # limit below ours, say). The child sets what it can itself.
                portable_reason = "the Linux process limits could not be set"
        return cls._spawn_portable(workdir, limits, output_path, portable_reason)

    @classmethod
    def _spawn_linux(cls, workdir: Path, limits: Limits, output_path: Path) -> _Child:
        read_fd, write_fd = os.pipe()
        try:
            with open(output_path, "wb") as output:
                process = subprocess.Popen(
                    [sys.executable, "-I", "-B", "-c", _BOOTSTRAP, str(KIT_ROOT)],
                    cwd=workdir,
                    env=child_environment(workdir),
                    stdin=subprocess.PIPE,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write_fd,),
                    close_fds=True,
                    **child_start_options(limits, None),
                )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        _ACTIVE_CHILDREN.add(process.pid)
        return cls(process, _PipeChannel(read_fd), write_fd, output_path)

    @classmethod
    def _spawn_portable(cls, workdir: Path, limits: Limits, output_path: Path, reason: str) -> _Child:
        with open(output_path, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _BOOTSTRAP, str(KIT_ROOT), *portable_arguments(limits, reason)],
                cwd=workdir,
                env=child_environment(workdir),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,  # the channel (_StdoutChannel)
                stderr=output,  # and, once the child has set its stdout aside, its stdout too
                close_fds=True,
                **child_start_options(limits, reason),
            )
        _ACTIVE_CHILDREN.add(process.pid)
        return cls(process, _StdoutChannel(process.stdout), None, output_path, reason)

    def send_config(self, config: dict[str, Any]) -> None:
        try:
            self.process.stdin.write(json.dumps(config).encode() + b"\n")
            self.process.stdin.close()
        except OSError:
            pass  # it died already: reading the channel will say so

    def finish(self, user: int | None, workdir: Path) -> None:
        self.channel.close()
        _kill_everything(self.process, user, workdir)
        _ACTIVE_CHILDREN.discard(self.process.pid)
        try:
            self.process.stdin.close()
        except OSError:
            pass


_CHUNK_BYTES = 1 << 16  # read from the channel at a time
_QUEUED_CHUNKS = 64  # on the portable path: read ahead of the parent at most


class _PipeChannel:
    """The result channel on the Linux path: a pipe of its own, handed to
    the child with pass_fds, waited on with select."""

    def __init__(self, read_fd: int):
        self.read_fd = read_fd

    def read(self, timeout: float) -> bytes | None:
        """The next chunk (b"" at the end), or None when nothing came within `timeout` seconds."""
        ready, _, _ = select.select([self.read_fd], [], [], timeout)
        if not ready:
            return None
        return os.read(self.read_fd, _CHUNK_BYTES)

    def close(self) -> None:
        os.close(self.read_fd)


class _StdoutChannel:
    """The result channel on the portable path: the child's stdout, read by a thread.

    Why stdout: it is the one pipe every system hands a child with no
    special means (no pass_fds; no handle list on Windows; no socket, which
    a firewall may question or another local process may connect to). The
    child sets its stdout aside as the channel before anything can print,
    and points its own output at the output file (child.stdout_as_channel).

    Why a thread: select cannot wait on a pipe on Windows. The thread reads
    the pipe into a bounded queue, and read() waits on the queue with a
    timeout, so _read_records applies the same deadlines, silence and size
    rules as on the Linux path. A child that floods the channel after the
    parent stopped listening fills the queue, no more.
    """

    def __init__(self, stream: Any):
        self._stream = stream
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=_QUEUED_CHUNKS)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="backprop-channel", daemon=True)
        self._thread.start()

    def read(self, timeout: float) -> bytes | None:
        """The next chunk (b"" at the end), or None when nothing came within `timeout` seconds."""
        try:
            return self._chunks.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        # The thread may be waiting in a read, and closing the pipe under it
        # could make it read whatever file reuses the descriptor. It closes
        # the pipe itself when the read returns, as it does once the child
        # is killed (finish() kills it next). A process the child forked
        # that escaped the kill (possible where there is no /proc) keeps
        # the pipe open: the thread then waits on, a daemon, and costs no
        # more than itself and the pipe.
        self._stopped.set()

    def _pump(self) -> None:
        try:
            while not self._stopped.is_set():
                try:
                    chunk = os.read(self._stream.fileno(), _CHUNK_BYTES)
                except OSError:
                    chunk = b""  # a broken pipe (Windows): the child is gone
                if not self._hand_over(chunk) or not chunk:
                    return
        finally:
            self._stream.close()

    def _hand_over(self, chunk: bytes) -> bool:
        """Queue a chunk, waiting for room while the parent listens. False: it stopped listening."""
        while not self._stopped.is_set():
            try:
                self._chunks.put(chunk, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


def _run_child(
    child: _Child, workdir: Path, package: Path, pending: list[str], session: _Session, user: int | None
) -> None:
    """Run one child on the pending cases, until it finishes, crashes or hangs."""
    limits = session.limits
    config = {
        "package_dir": str(package),
        "workdir": str(workdir),
        "user": user,
        "processes": limits.processes,
        "sandbox_without": list(limits.sandbox_without),
        "channel_fd": child.write_fd_number,
        # The grading seed this process built the cases' inputs from: the
        # child builds its own from the same one (seeds.py).
        "seed": seeds.current(),
        "cases": [[case_id, session.timeouts[case_id]] for case_id in pending],
        "dependents": session.dependents,
        "dependent_timeout": limits.dependent_timeout,
    }
    timeout_method = "signal"
    if child.portable is not None:
        timeout_method = portable.timeout_method()
        config["timeout_method"] = timeout_method
    child.send_config(config)
    session.begin(list(pending), timer_ends_child=timeout_method == "thread")
    ended = False
    try:
        ended = _read_records(child.channel, session)
    finally:
        child.finish(user, workdir)
        tail = _tail(child.output_path)
        session.log.child_output += tail
        # A restarted child gets a new output file: this one goes now, so a
        # run's disk use stays one file's cap, however often it restarts.
        child.output_path.unlink(missing_ok=True)
    if ended:
        session.ended(_exit_description(child.process), tail)


def _read_records(channel: _PipeChannel | _StdoutChannel, session: _Session) -> bool:
    """Read the channel until "done", silence or the end. True when the child closed it."""
    buffer = bytearray()
    while True:
        wait = max(0.0, min(session.case_deadline, session.deadline) - time.monotonic())
        chunk = channel.read(wait)
        if chunk is None:
            session.silence()
            return False
        if not chunk:
            return True
        if b"\n" not in chunk:
            # Part of a long record: keep it, without searching it all again.
            buffer += chunk
            if len(buffer) > session.limits.record_bytes:
                session.too_large()
                return False
            continue
        *lines, rest = (bytes(buffer) + chunk).split(b"\n")
        buffer = bytearray(rest)
        for line in lines:
            if len(line) > session.limits.record_bytes:
                session.too_large()
                return False
            session.receive(_parse(line))
        if session.done:
            return False


def _parse(line: bytes) -> dict[str, Any] | None:
    # Imported here, not at the top: wire imports NumPy, and the parent
    # starts its first child before it imports NumPy (see start()).
    from . import wire

    try:
        record = wire.loads_line(line)
    except (ValueError, UnicodeDecodeError):
        return None  # noise on the channel is ignored; a case without a record fails
    return safetext.neutralise_all(record) if isinstance(record, dict) else None


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


def child_environment(workdir: Path) -> dict[str, str]:
    """The environment of a process that runs student code: little of ours, nothing secret."""
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    environment.update(
        {
            # Temporary files (pytest's captured output among them) go where
            # the run's folder is cleaned up. The child opens them before it
            # confines itself; after that it cannot create a file.
            "TMPDIR": str(workdir / "tmp"),
            "HOME": str(workdir / "tmp"),
            # One BLAS thread: faster start-up, steady timing, no thread buffers
            # eating into the memory cap, and no thread running before the
            # sandbox (Landlock confines only the thread that asks, and those
            # it starts afterwards).
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "NO_COLOR": "1",
        }
    )
    return environment


def apply_limits(limits: Limits) -> None:
    """In the child, before Python starts (the Linux path): caps that its code cannot lift."""
    portable.set_resource_limits(limits.memory_bytes, limits.output_bytes)


def child_start_options(limits: Limits, portable_reason: str | None) -> dict[str, Any]:
    """Popen's keywords for a child that runs student code: a process group of
    its own; on the Linux path, the caps, set before Python starts. (On the
    portable path the child sets them itself: portable_arguments.)"""
    options = portable.process_group_options()
    if portable_reason is None:
        options["preexec_fn"] = lambda: apply_limits(limits)
    return options


def portable_arguments(limits: Limits, reason: str) -> list[str]:
    """The last argument of a child on the portable path (child.Unconfined.start):
    why it is on that path, and the caps to set on itself."""
    return [json.dumps({"reason": reason, "memory_bytes": limits.memory_bytes, "output_bytes": limits.output_bytes})]


# As root, the child runs under a user id of its own (not `nobody`, which
# other runs and services share), drawn at random per run: it cannot signal
# or trace the checker or another run, and every process it could leave
# behind can be found by its user id. The child drops to it itself, after
# its trusted imports (sandbox.confine), so Python may live where only root
# can read.
_SANDBOX_USERS = range(3_100_000, 3_900_000)


def sandbox_user() -> int | None:
    """A fresh user id for the child when the checker runs as root on Linux, else None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return None
    return random.SystemRandom().choice(_SANDBOX_USERS)


def child_user(limits: Limits, portable_reason: str | None) -> int | None:
    """The user id a child drops to: a fresh one as root on the Linux path, else None.
    (The portable path has no sandbox that could make a user of its own safe to read as.)"""
    if not limits.drop_privileges or portable_reason is not None:
        return None
    return sandbox_user()


@dataclass
class OneOffRun:
    """How a one-off child ended: its exit status (None when it ran out of
    time and was killed) and what it printed, stdout and stderr together."""

    returncode: int | None
    output: bytes


def run_one_off(
    entry: str,
    arguments: list[str],
    *,
    timeout: float,
    impl_dir: Path | None = None,
    limits: Limits = Limits(),
    prefix: str = "backprop-one-off-",
) -> OneOffRun:
    """Run one checker function in a child that is confined as a test child is.

    `entry` is "module:function" of the checker package (graphview's
    child_main, child.probe_main). It is called with the staged package's
    folder, the user id to drop to ("" for none), the portable path's caps
    ("" on the Linux path), then `arguments`; it must confine itself
    (child.confine_one_off) before it runs any student code. The child gets
    a staged copy of the submission in `impl_dir` (an empty package when
    None), the same caps, environment and user as a test child, and is
    swept with everything it started once it ends or runs out of time.
    Its output goes to a file, capped by the child's file size limit: a
    pipe read to its end would let it fill our memory.
    """
    module, function = entry.split(":")
    portable_reason = portable.reason_for_portable_path()
    refuse_inspection()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        user = child_user(limits, portable_reason)
        if impl_dir is not None:
            package = stage(Path(impl_dir), workdir, user)
        else:
            package = workdir / "package"
            package.mkdir()
            (workdir / "tmp").mkdir()
        caps = portable_arguments(limits, portable_reason)[0] if portable_reason is not None else ""
        bootstrap = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            f"from checker.{module} import {function}; {function}(*sys.argv[2:])"
        )
        command = [
            sys.executable,
            "-I",
            "-B",
            "-c",
            bootstrap,
            str(KIT_ROOT),
            str(package),
            "" if user is None else str(user),
            caps,
            *arguments,
        ]
        output_path = workdir / "output.txt"
        with open(output_path, "wb") as output:
            child = subprocess.Popen(
                command,
                cwd=workdir,
                env=child_environment(workdir),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                **child_start_options(limits, portable_reason),
            )
        try:
            returncode: int | None = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            # The child, its group, every process of its user, and orphans of this run.
            _kill_everything(child, user, workdir)
        return OneOffRun(returncode, output_path.read_bytes())


def probe_sandbox(limits: Limits = Limits()) -> sandbox.Confinement:
    """Confine an empty child exactly as a test child is confined, and read
    back which protections hold (batch grading asks before it starts)."""
    try:
        run = run_one_off(
            "child:probe_main", [str(limits.processes)], timeout=60, limits=limits, prefix="backprop-probe-"
        )
        if run.returncode is None:
            raise ValueError("it did not finish within 60 s")
        return sandbox.Confinement.from_json(json.loads(run.output.decode().strip().splitlines()[-1]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as error:
        return sandbox.unconfirmed(f"the sandbox probe failed: {error}")


PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36


def refuse_inspection() -> None:
    """Make this process non-dumpable: no other process of the same user can
    open its /proc files (its memory, its pipes) or trace it."""
    prctl(PR_SET_DUMPABLE, 0)


def prctl(option: int, value: int) -> None:
    """Linux's prctl(2) with one argument; does nothing on other systems."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def start_in_own_group(command: list[str], **options: Any) -> subprocess.Popen:
    """Start a process of the checker's own (a grade worker) in a process
    group of its own, so that end_group ends it with everything it started."""
    return subprocess.Popen(command, **options, **portable.process_group_options())


def end_group(process: subprocess.Popen) -> None:
    """Kill a process started by start_in_own_group, with its process group, and reap it."""
    portable.kill_process_group(process)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def sweep_orphans() -> None:
    """Kill every process still below this one (orphans of killed workers,
    which came to us as their subreaper), when no child of ours should run.

    Orphans are found through /proc: elsewhere there are none to find, and
    none to kill (the portable path, where grading needs --allow-partial-sandbox)."""
    for _ in range(3):  # a killed orphan's own children come to us next
        leftovers = descendants(os.getpid())
        if not leftovers:
            return
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in leftovers:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:  # not ours to reap
                pass


def become_subreaper() -> None:
    """Adopt the child's orphans, so that processes it leaves behind can be found and killed."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def _kill_everything(child: subprocess.Popen, user: int | None, workdir: Path) -> None:
    """Kill the child, its process group, and any process it left behind."""
    if hasattr(signal, "SIGKILL"):
        for pid in [child.pid, *descendants(child.pid)]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    else:
        # Windows: no signals, and no /proc to find descendants by; the
        # child alone is ended (the sweeps below find nothing either).
        portable.kill_process_group(child)
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    # Processes of the child's own user, wherever they went (a few rounds:
    # some may be forking while we kill).
    if user is not None:
        _kill_user(user)
    # Orphans that were re-parented to us (we are their subreaper). Only
    # those that carry this run's environment: the process that runs the
    # checker (a notebook kernel, a test runner) may have children of its own.
    marker = f"TMPDIR={workdir / 'tmp'}".encode()
    for pid in descendants(os.getpid(), skip=_ACTIVE_CHILDREN - {child.pid}):
        if not _has_environment_entry(pid, marker):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError, PermissionError):
            pass


def _kill_user(user: int) -> None:
    """Kill every process of `user` (a few rounds: some may be forking while we kill)."""
    for _ in range(20):
        survivors = _processes_of(user)
        if not survivors:
            return
        for pid in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


def _has_environment_entry(pid: int, entry: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return entry in environ.read().split(b"\0")
    except OSError:
        return False


def _processes_of(user: int) -> list[int]:
    found = []
    for entry in _proc_entries():
        try:
            with open(f"/proc/{entry}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) == user:
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def descendants(root: int, skip: set[int] = frozenset()) -> list[int]:
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
            return safetext.neutralise(handle.read().decode("utf-8", "replace"))
    except OSError:
        return ""


# Run in the child with -I (no user site, no PYTHON* variables, no current
# folder on sys.path): put the kit on the path and hand over to child.main.
_BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from checker.child import main; main()"
