"""The child process: run the probes of some cases under pytest.

Started by runner.py as `python -I -B -c <bootstrap> KIT_ROOT`, often before
the parent knows the cases: it imports NumPy and pytest, then reads CONFIG,
one line of JSON on stdin: the student's package folder, the file descriptor
of the result channel, and the cases to run with their time limits.
Everything it learns goes to the parent through the channel; its exit status
means nothing. It confines itself (sandbox.py) once pytest has started and
before the first student module is imported; see plugin.pytest_configure.

On the portable path (portable.py) the command line ends with one more
argument, the JSON of runner.portable_arguments: the child then takes its
stdout as the channel, sets the caps this system has on itself, and reports
the kernel sandbox as not applied (Unconfined) instead of confining itself.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

# Kept: capture (each case's output), skipping, terminal, faulthandler
# (a crash's traceback in the child's output), and pytest's core plugins.
UNUSED_PYTEST_PLUGINS = (
    "debugging",
    "unittest",
    "pastebin",
    "junitxml",
    "doctest",
    "setuponly",
    "setupplan",
    "legacypath",
    "tmpdir",
    "monkeypatch",
    "recwarn",
    "logging",
    "unraisableexception",
    "threadexception",
)


@dataclass(frozen=True)
class Confinement:
    """What the child needs to confine itself: what it may read, whom to become."""

    package_dir: str
    workdir: str
    user: int | None
    processes: int
    without: tuple[str, ...] = ()  # sandbox mechanisms to leave out (sandbox.confine)

    def apply(self) -> dict:
        """Confine this process for good; returns the sandbox report as JSON data."""
        from . import KIT_ROOT, sandbox

        readable = sandbox.readable_paths(
            self.package_dir,
            str(KIT_ROOT / "checker"),
            # The capstone's data set, which its probe reads.
            str(KIT_ROOT / "data"),
            # The kit's root holds the solutions; the run's folder sits beside other runs.
            private=[str(KIT_ROOT), self.workdir],
        )
        return sandbox.confine(readable, self.user, self.processes, self.without).to_json()


@dataclass(frozen=True)
class Unconfined:
    """The portable path: no kernel sandbox. Holds which caps this process
    could set on itself, and reports the sandbox as not applied."""

    reason: str  # why the portable path (the report's note)
    memory_capped: bool
    notes: tuple[str, ...] = ()  # the caps that are missing

    @classmethod
    def start(cls, arguments: str) -> Unconfined:
        """Set the caps on this process, as runner.portable_arguments asks."""
        from .portable import cap_own_resources

        settings = json.loads(arguments)
        memory_capped, notes = cap_own_resources(settings["memory_bytes"], settings["output_bytes"])
        return cls(settings["reason"], memory_capped, tuple(notes))

    def apply(self) -> dict:
        """The sandbox report as JSON data (the same call as Confinement.apply)."""
        from . import sandbox

        return sandbox.not_applied(self.reason, self.memory_capped, self.notes).to_json()


def stdout_as_channel() -> int:
    """The portable path's result channel: this process's stdout, a pipe to
    the parent (runner._StdoutChannel). Returns it as a descriptor of its
    own, and points stdout at the output file that stderr writes to, so
    that nothing printed here (by the checker, pytest or student code)
    reaches the channel. Call it before anything can print."""
    sys.stdout.flush()
    channel = os.dup(1)  # not inheritable: no process started from here gets it
    os.dup2(2, 1)
    if sys.platform == "win32":
        import msvcrt

        # Records are bytes: no newline translation on the way.
        msvcrt.setmode(channel, os.O_BINARY)
    return channel


def confine_one_off(package_dir: str, user: str, portable_settings: str, processes: int = 64) -> dict:
    """Confine a one-off child (runner.run_one_off) exactly as a test child
    confines itself, or on the portable path set the caps it can; returns
    the sandbox report as JSON data. Call it before any student code runs."""
    if portable_settings:
        return Unconfined.start(portable_settings).apply()
    return Confinement(package_dir, os.path.dirname(package_dir), int(user) if user else None, processes).apply()


def probe_main(package_dir: str, user: str, portable_settings: str, processes: str) -> None:
    """A one-off child that only confines itself and prints the sandbox
    report as JSON (batch grading asks before it starts: runner.probe_sandbox)."""
    report = confine_one_off(package_dir, user, portable_settings, int(processes))
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


def main() -> None:
    try:
        own_channel, unconfined = None, None
        if len(sys.argv) > 2:
            # The portable path: before anything can print or allocate.
            own_channel = stdout_as_channel()
            unconfined = Unconfined.start(sys.argv[2])
        # The slow imports first: the parent starts this process before it
        # has built the list of cases, and sends it on stdin meanwhile.
        import pytest  # noqa: F401

        from . import observe, plugin  # noqa: F401

        run(json.loads(sys.stdin.readline()), own_channel, unconfined)
    finally:
        try:
            sys.stdout.flush()
        except BaseException:
            pass
        # Leave at once, whatever happened: threads the student started must
        # not keep us alive, and our exit status means nothing anyway.
        os._exit(0)


def run(config: dict, own_channel: int | None = None, unconfined: Unconfined | None = None) -> None:
    """Run the configured cases. `own_channel` and `unconfined`: the portable
    path's channel (this process's former stdout) and sandbox report."""
    # The plugin and the observation helpers take their references to NumPy
    # and the channel now, before any student code can run.
    from . import observe, plugin

    channel_fd = config["channel_fd"] if own_channel is None else own_channel
    # Student code may start processes: they must not inherit the channel.
    os.set_inheritable(channel_fd, False)
    student = observe.install_package(config["package_dir"])
    plugin.configure(
        channel_fd,
        student,
        [tuple(pair) for pair in config["cases"]],
        config.get("dependents"),
        config.get("dependent_timeout", 1.0),
        confinement=unconfined
        or Confinement(
            config["package_dir"],
            config["workdir"],
            config.get("user"),
            config.get("processes", 64),
            tuple(config.get("sandbox_without", ())),
        ),
    )

    from . import cases, seeds

    # Before the suites are imported: their inputs are drawn from it.
    seeds.use(config.get("seed"))
    cases.cases_for(sorted({case_id.split("::", 1)[0] for case_id, _ in config["cases"]}))

    import pytest

    here = os.path.dirname(os.path.abspath(__file__))
    pytest.main(
        [
            os.path.join(here, "probe_items.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:stepwise",
            "-p",
            "no:warnings",
            # pytest's plugins that running the probes does not use: each
            # costs imports at start-up (pdb, unittest, xml) or hooks per test.
            *(arg for plugin_name in UNUSED_PYTEST_PLUGINS for arg in ("-p", f"no:{plugin_name}")),
            "-p",
            "pytest_timeout",
            "--noconftest",
            "--rootdir",
            config["package_dir"],
            "-o",
            "addopts=",
            # The parent chooses (portable.timeout_method): "thread" where there is no SIGALRM.
            "-o",
            f"timeout_method={config.get('timeout_method', 'signal')}",
            "-o",
            "timeout_func_only=true",
        ],
        plugins=[plugin],
    )
