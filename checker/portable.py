"""The portable path: run student code where Linux's process controls are missing.

On Linux the runner starts each child with `preexec_fn` (resource limits set
before Python starts), hands it a pipe of its own through `pass_fds`, waits
on that pipe with `select`, and the child confines itself with the kernel
(sandbox.py). None of that exists on Windows, and macOS does not enforce
the memory cap. There the runner takes the portable path instead:

- the child is started without `preexec_fn`, in a process group of its own
  where the system has them, and sets whatever caps it can on itself;
- the child's standard output is the result channel (child.py sets it aside
  and sends its own output to the output file), read by a thread;
- no kernel sandbox: the report says which protections are missing, and why.

The path is chosen here and only here (reason_for_portable_path): on any
system but Linux, where the `resource` module is missing, or when the
environment variable BACKPROP_PORTABLE is 1 (how the kit's tests take the
portable path on Linux). The runner also falls back to it for a child whose
Linux start fails (its caps cannot be set: a hard limit below ours, say).
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys

SWITCH = "BACKPROP_PORTABLE"


def reason_for_portable_path() -> str | None:
    """Why the runner must take the portable path here (for the report), or None: the Linux path is available."""
    if os.environ.get(SWITCH) == "1":
        return f"portable mode ({SWITCH}=1)"
    if sys.platform != "linux":
        return f"not Linux ({system_name()})"
    try:
        import resource  # noqa: F401
    except ImportError:
        return "no resource limits in this Python"
    return None


def system_name() -> str:
    return platform.system() or sys.platform


def timeout_method() -> str:
    """How the child's pytest-timeout stops a case that runs too long.

    "signal" (SIGALRM) raises in the running case, and the child goes on with
    the next one. Windows has no SIGALRM: there "thread", a timer thread that
    ends the whole child, and the parent blames the case that was running
    (runner._Session.ended).
    """
    return "signal" if hasattr(signal, "SIGALRM") else "thread"


def process_group_options() -> dict:
    """Popen's keywords for a child in a process group of its own, so that a
    kill reaches what it started too (on Windows a group only routes Ctrl-Break)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def kill_process_group(process: subprocess.Popen) -> None:
    """Kill a child started with process_group_options(), and its group where groups can be killed."""
    killpg, sigkill = getattr(os, "killpg", None), getattr(signal, "SIGKILL", None)
    if killpg is not None and sigkill is not None:
        try:
            killpg(process.pid, sigkill)
        except (ProcessLookupError, PermissionError):
            pass
    # Windows: TerminateProcess ends the child alone; what it started, if
    # anything, is not found (the kit's own processes start none).
    try:
        process.kill()
    except OSError:
        pass


def _caps(memory_bytes: int, output_bytes: int) -> list[tuple[str, str, int]]:
    """Every cap on a child: (what it is called in the report, its resource limit, its value)."""
    return [
        ("memory cap", "RLIMIT_AS", memory_bytes),  # the address space
        ("file size cap", "RLIMIT_FSIZE", output_bytes),  # its output, pytest's capture files
        ("ban on core dumps", "RLIMIT_CORE", 0),
    ]


def set_resource_limits(memory_bytes: int, output_bytes: int) -> None:
    """Set every cap on the calling process (the Linux path, in preexec_fn). Raises where one cannot be set."""
    import resource

    for _, limit, value in _caps(memory_bytes, output_bytes):
        resource.setrlimit(getattr(resource, limit), (value, value))
    # Writing past the file size cap then fails with an error instead of
    # killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def cap_own_resources(memory_bytes: int, output_bytes: int) -> tuple[bool, list[str]]:
    """In a child on the portable path, before any student code: set each cap
    this system has. Returns whether the memory cap holds, and notes saying
    which caps are missing. Never raises: a missing cap is reported, not fatal.
    """
    try:
        import resource
    except ImportError:  # Windows
        return False, [f"no memory or file size cap on {system_name()}"]
    notes = []
    memory_capped = False
    for name, limit, value in _caps(memory_bytes, output_bytes):
        try:
            resource.setrlimit(getattr(resource, limit), (value, value))
        except (OSError, ValueError, AttributeError) as error:
            notes.append(f"no {name} ({error})")
            continue
        if limit == "RLIMIT_AS":
            memory_capped = True
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if memory_capped and sys.platform != "linux":
        # macOS accepts RLIMIT_AS and does not enforce it.
        memory_capped = False
        notes.append(f"the memory cap is not enforced on {system_name()}")
    return memory_capped, notes
