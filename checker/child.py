"""The child process: run the probes of some cases under pytest.

Started by runner.py as `python -I -B -c <bootstrap> KIT_ROOT`, often before
the parent knows the cases: it imports NumPy and pytest, then reads CONFIG,
one line of JSON on stdin: the student's package folder, the file descriptor
of the result channel, and the cases to run with their time limits.
Everything it learns goes to the parent through the channel; its exit status
means nothing. It confines itself (sandbox.py) once pytest has started and
before the first student module is imported; see plugin.pytest_configure.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass


# Kept: capture (each case's output), skipping, terminal, faulthandler
# (a crash's traceback in the child's output), and pytest's core plugins.
UNUSED_PYTEST_PLUGINS = (
    "debugging", "unittest", "pastebin", "junitxml", "doctest", "setuponly", "setupplan",
    "legacypath", "tmpdir", "monkeypatch", "recwarn", "logging", "unraisableexception", "threadexception",
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
        from . import sandbox

        kit_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        readable = sandbox.readable_paths(
            self.package_dir,
            os.path.join(kit_root, "checker"),
            # The capstone's data set, which its probe reads.
            os.path.join(kit_root, "data"),
            # The kit's root holds the solutions; the run's folder sits beside other runs.
            private=[kit_root, self.workdir],
        )
        return sandbox.confine(readable, self.user, self.processes, self.without).to_json()


def probe_main() -> None:
    """`python -I -c ...probe_main() KIT_ROOT PACKAGE USER PROCESSES`: confine an
    empty process exactly as a test child confines itself, and print the
    sandbox report as JSON (batch grading asks before it starts)."""
    package, user, processes = sys.argv[2], sys.argv[3], int(sys.argv[4])
    confinement = Confinement(package, os.path.dirname(package), int(user) if user else None, processes)
    sys.stdout.write(json.dumps(confinement.apply()) + "\n")
    sys.stdout.flush()


def main() -> None:
    try:
        # The slow imports first: the parent starts this process before it
        # has built the list of cases, and sends it on stdin meanwhile.
        from . import observe, plugin  # noqa: F401

        import pytest  # noqa: F401

        run(json.loads(sys.stdin.readline()))
    finally:
        try:
            sys.stdout.flush()
        except BaseException:
            pass
        # Leave at once, whatever happened: threads the student started must
        # not keep us alive, and our exit status means nothing anyway.
        os._exit(0)


def run(config: dict) -> None:
    # The plugin and the observation helpers take their references to NumPy
    # and the channel now, before any student code can run.
    from . import observe, plugin

    # Student code may start processes: they must not inherit the channel.
    os.set_inheritable(config["channel_fd"], False)
    student = observe.install_package(config["package_dir"])
    plugin.configure(
        config["channel_fd"],
        student,
        [tuple(pair) for pair in config["cases"]],
        config.get("dependents"),
        config.get("dependent_timeout", 1.0),
        confinement=Confinement(
            config["package_dir"], config["workdir"], config.get("user"), config.get("processes", 64),
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
            "-p", "no:cacheprovider",
            "-p", "no:stepwise",
            "-p", "no:warnings",
            # pytest's plugins that running the probes does not use: each
            # costs imports at start-up (pdb, unittest, xml) or hooks per test.
            *(arg for plugin_name in UNUSED_PYTEST_PLUGINS for arg in ("-p", f"no:{plugin_name}")),
            "-p", "pytest_timeout",
            "--noconftest",
            "--rootdir", config["package_dir"],
            "-o", "addopts=",
            "-o", "timeout_method=signal",
            "-o", "timeout_func_only=true",
        ],
        plugins=[plugin],
    )
