"""The proof harness of issue 10: run hostile submissions through the kit's
three entry points (`check`, `grade --jobs 2`, the local Gradescope run), as
root and as a throwaway unprivileged user, and record what each attack
achieved. tests/test_sandbox_attacks.py asserts that it achieved nothing.

An attack fixture (tests/fixtures/attacks/aNN_*.py) is code put at the end
of one part file of a submission, after tests/fixtures/attacks/_common.py.
Its docstring says:

    attack: 6. send the suites out ...   what it tries (the report's name for it)
    module: part1_backward              the part file it goes into
    base: solutions | exercises         that file starts as the reference (right
                                        answers) or as the stub (wrong ones)
    targets: 1.1 1.2                    exercises that pass only if the attack works
    modes: check grade gradescope       where it runs

Every file and process an attack creates carries its run's tag, so that what
survives a run is found, blamed on the right attack, and cleaned up.
"""

from __future__ import annotations

import json
import os
import pwd
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker import KIT_ROOT

ATTACKS = Path(__file__).resolve().parent / "fixtures" / "attacks"
SELECTION = ("1", "4.3")  # every attack targets Part 1 or 4.3: quick runs
FILE_MARKS = ("backprop-attack-", "backprop_attack_")
CANARY = "backprop-attack-canary-"
RUN_TIMEOUT = 150.0  # seconds for one command (a grade of the whole class included)
SETTLE_SECONDS = 3.0  # how long after the last exit the verdicts must stay unchanged
CONTROL = re.compile("[\x1b\x07]")  # raw ESC and BEL: what a terminal acts on


# --- the attacks --------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    path: Path
    title: str
    module: str
    base: str
    targets: tuple[str, ...]
    modes: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.stem

    def code(self, values: dict[str, str]) -> str:
        text = (ATTACKS / "_common.py").read_text() + "\n" + self.path.read_text()
        for key, value in values.items():
            text = text.replace(key, value)
        return text


def load_attacks() -> list[Attack]:
    attacks = []
    for path in sorted(ATTACKS.glob("a[0-9]*.py")):
        docstring = re.match(r'\s*"""(.*?)"""', path.read_text(), re.S).group(1)
        fields = {}
        for line in docstring.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("attack", "module", "base", "targets", "modes"):
                fields[key.strip()] = value.strip()
        attacks.append(
            Attack(
                path=path,
                title=fields["attack"],
                module=fields["module"],
                base=fields["base"],
                targets=tuple(fields.get("targets", "").split()),
                modes=tuple(fields["modes"].split()),
            )
        )
    return attacks


def build_submission(attack: Attack, folder: Path, values: dict[str, str]) -> Path:
    """A copy of the reference solutions whose attacked file is its base plus the attack.

    Every file carries the run's tag: the classmate attacks leave the other
    attackers alone (one attack must not blur another's result)."""
    shutil.copytree(KIT_ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for path in folder.glob("*.py"):
        path.write_text(path.read_text() + f"\n# {values['__ATTACK_TAG__']}\n")
    base = (KIT_ROOT / attack.base / f"{attack.module}.py").read_text()
    (folder / f"{attack.module}.py").write_text(base + "\n\n# --- attack ---\n" + attack.code(values))
    return folder


def build_classmate(folder: Path, marker: str) -> Path:
    """A correct classmate: the reference solutions, marked so that its run's folders can be told."""
    shutil.copytree(KIT_ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for path in folder.glob("*.py"):
        path.write_text(path.read_text() + f"\n# {marker}\n")
    return folder


# --- who runs the kit ------------------------------------------------------------------


@dataclass
class Identity:
    """The user a leg runs as, and the kit and Python it runs."""

    who: str  # "root" or "user"
    uid: int | None  # a throwaway user id to switch to (setpriv), or None: this process's own user
    kit: Path
    python: str
    home: Path
    site_packages: list[Path] = field(default_factory=list)

    def command(self, argv: list[str]) -> list[str]:
        if self.uid is None:
            return argv
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--", *argv]

    def environment(self, **extra: str) -> dict[str, str]:
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.home),
        }
        environment.update(extra)
        return environment

    def give(self, path: Path) -> None:
        """Hand a folder of the harness's to this identity."""
        if self.uid is None:
            return
        for folder, _, files in os.walk(path):
            os.chown(folder, self.uid, self.uid)
            for name in files:
                os.lchown(os.path.join(folder, name), self.uid, self.uid)

    def describe(self) -> str:
        return f"uid {self.uid}" if self.uid is not None else f"uid {os.geteuid()}"


def site_packages_of(python: str) -> list[Path]:
    found = subprocess.run(
        [python, "-c", "import site, sys; print('\\n'.join(site.getsitepackages()))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [Path(line) for line in found.stdout.split() if line]


def current_identity(home: Path) -> Identity:
    """The kit and Python the tests themselves run (root's leg, or the user's when not root).

    `home` is an empty folder for $HOME: what an attack leaves there is found."""
    return Identity(
        who="root" if os.geteuid() == 0 else "user",
        uid=None,
        kit=KIT_ROOT,
        python=sys.executable,
        home=home,
        site_packages=site_packages_of(sys.executable),
    )


def throwaway_uid() -> int:
    used = {entry.pw_uid for entry in pwd.getpwall()}
    while True:
        uid = random.SystemRandom().randrange(2_100_000, 2_900_000)
        if uid not in used and not processes_of_user(uid):
            return uid


def world_readable_python() -> str | None:
    """A system Python any user can run (this machine's default one lives under /root, mode 700)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate):
            probe = subprocess.run(
                [candidate, "-c", "import sys, venv; assert sys.version_info >= (3, 10)"],
                capture_output=True,
                timeout=30,
            )
            if probe.returncode == 0:
                return candidate
    return None


def kit_files(root: Path) -> list[str]:
    """The kit's files: tracked and untracked-but-not-ignored (the working state), or all of a bundle."""
    if (root / ".git").exists():
        listed = (
            subprocess.run(
                ["git", "ls-files", "-z", "-co", "--exclude-standard"],
                cwd=root,
                capture_output=True,
                check=True,
                timeout=60,
            )
            .stdout.decode()
            .split("\0")
        )
        return sorted(name for name in listed if name and (root / name).is_file() and not (root / name).is_symlink())
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts and ".venv" not in path.parts
    )


def build_user_identity(base: Path, uid: int, python: str) -> Identity:
    """A world-readable copy of the kit (its working state) with a venv of its own, owned by `uid`.

    Owned, not just readable: the user then runs the checker on its own
    clone, as a student or an instructor would, and only the sandbox stands
    between student code and the kit's files.
    """
    os.chmod(base, 0o755)
    kit = base / "kit"
    for name in kit_files(KIT_ROOT):
        target = kit / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(KIT_ROOT / name, target)
    venv = base / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    from checker.gradescope import REQUIREMENTS

    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
        check=True,
        capture_output=True,
        timeout=600,
    )
    home = base / "home"
    home.mkdir()
    identity = Identity("user", uid, kit, str(venv / "bin" / "python"), home)
    identity.site_packages = site_packages_of(identity.python)
    for folder, _, files in os.walk(base):
        os.chown(folder, uid, uid)
        for name in files:
            os.lchown(os.path.join(folder, name), uid, uid)
    return identity


# --- what the harness watches ------------------------------------------------------------


class Listener:
    """A TCP and a UDP port on 127.0.0.1 and an abstract unix socket; records whatever arrives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.unix_name = f"bpatk-listener-{os.getpid()}-{random.SystemRandom().randrange(1 << 30)}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.unix_name)
        self.unix.listen(16)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def tcp_port(self) -> int:
        return self.tcp.getsockname()[1]

    @property
    def udp_port(self) -> int:
        return self.udp.getsockname()[1]

    def _record(self, kind: str, data: bytes) -> None:
        with self._lock:
            self.events.append((kind, data))

    def _serve(self) -> None:
        streams: dict[socket.socket, tuple[str, bytearray]] = {}
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.tcp, self.udp, self.unix, *streams], [], [], 0.2)
            except (OSError, ValueError):
                return
            for sock in ready:
                try:
                    if sock is self.udp:
                        self._record("udp", sock.recv(65536))
                    elif sock in (self.tcp, self.unix):
                        connection, _ = sock.accept()
                        streams[connection] = ("tcp" if sock is self.tcp else "unix", bytearray())
                    else:
                        chunk = sock.recv(65536)
                        kind, buffer = streams[sock]
                        if chunk and len(buffer) < 4096:
                            buffer += chunk
                        if not chunk:
                            self._record(kind, bytes(buffer) or b"(a connection, no data)")
                            del streams[sock]
                            sock.close()
                except OSError:
                    continue

    def received(self, since: int = 0) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.events[since:])

    def count(self) -> int:
        with self._lock:
            return len(self.events)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for sock in (self.tcp, self.udp, self.unix):
            sock.close()


def _proc_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def processes_of_user(uid: int) -> list[int]:
    found = []
    for pid in _proc_pids():
        for line in _read(f"/proc/{pid}/status").splitlines():
            if line.startswith(b"Uid:"):
                if int(line.split()[1]) == uid:
                    found.append(pid)
                break
    return found


def tagged_processes(short: str) -> dict[int, bytes]:
    """Processes whose command line carries the batch's tag, or whose name is it (canaries aside)."""
    found = {}
    for pid in _proc_pids():
        if pid == os.getpid():
            continue
        cmdline = _read(f"/proc/{pid}/cmdline")
        comm = _read(f"/proc/{pid}/comm").strip()
        if (short.encode() in cmdline or comm == short.encode()[:15]) and CANARY.encode() not in cmdline:
            found[pid] = cmdline.replace(b"\0", b" ") or comm
    return found


def process_state(pid: int) -> str:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith(b"State:"):
            return line.split()[1].decode()
    return "gone"


def kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a kit, by content."""
    return {name: (root / name).read_bytes() for name in kit_files(root)}


def changed_files(root: Path, before: dict[str, bytes]) -> dict[str, bytes]:
    """The kit's files whose content moved (with what they now hold, b"" when gone)."""
    changed = {}
    for name, data in before.items():
        now = _read(str(root / name)) if (root / name).exists() else b""
        if now != data:
            changed[name] = now
    return changed


def restore(root: Path, before: dict[str, bytes], short: str) -> None:
    """Put back the kit files an attack changed (those now holding the batch's tag).

    Only those: someone editing the kit while the tests run keeps their edits."""
    for name, data in before.items():
        path = root / name
        if path.exists() and short.encode() in (now := path.read_bytes()) and now != data:
            path.write_bytes(data)


def marked_files(places: list[Path], recursive: list[Path]) -> list[Path]:
    """Files and folders named like an attack's, at the top of `places` and anywhere under `recursive`."""
    found = []
    for place in places:
        try:
            found += [place / name for name in os.listdir(place) if any(mark in name for mark in FILE_MARKS)]
        except OSError:
            pass
    for place in recursive:
        for folder, folders, files in os.walk(place):
            folders[:] = [name for name in folders if name not in (".git", ".venv", "venv", ".venv-np1")]
            found += [Path(folder) / name for name in files + folders if any(mark in name for mark in FILE_MARKS)]
    return sorted(set(found))


def checker_run_folders() -> set[Path]:
    """The checker's temporary folders (/tmp/backprop-*) that exist now."""
    root = Path(tempfile.gettempdir())
    return {
        root / name for name in os.listdir(root) if name.startswith("backprop-") and not name.startswith(FILE_MARKS)
    }


def folder_mentions(folder: Path, needles: list[str], limit: int = 400) -> set[str]:
    """Which needles appear in the files under `folder` (a bounded look)."""
    seen: set[str] = set()
    count = 0
    for path in folder.rglob("*"):
        count += 1
        if count > limit:
            break
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 4_000_000:
                text = path.read_bytes()
                seen |= {needle for needle in needles if needle.encode() in text}
        except OSError:
            continue
    return seen


def remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except OSError:
        pass


def control_characters(value: Any) -> bool:
    """Whether any string in a JSON value holds a raw ESC or BEL."""
    if isinstance(value, str):
        return bool(CONTROL.search(value))
    if isinstance(value, dict):
        return any(control_characters(key) or control_characters(item) for key, item in value.items())
    if isinstance(value, list):
        return any(control_characters(item) for item in value)
    return False


def run_command(
    argv: list[str], cwd: Path, environment: dict[str, str], timeout: float = RUN_TIMEOUT
) -> tuple[int | None, str, str, float]:
    """Run a command in a session of its own (killed whole on a timeout); its exit status, output, time."""
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        stdout, stderr = process.communicate()
        code = None
    return code, stdout.decode(errors="replace"), stderr.decode(errors="replace"), time.monotonic() - started


def unpack_bundle(bundle: Path, source: Path) -> None:
    """Unzip as Gradescope does, keeping the executable bits."""
    with zipfile.ZipFile(bundle) as archive:
        for entry in archive.infolist():
            target = source / entry.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(entry))
            mode = (entry.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)


def build_bundle(folder: Path) -> Path:
    """The Gradescope bundle of the selection, unpacked once (each run copies it)."""
    bundle = folder / "autograder.zip"
    code, stdout, stderr, _ = run_command(
        [sys.executable, "-m", "checker", "gradescope", *SELECTION, "--out", str(bundle)],
        KIT_ROOT,
        {**os.environ},
    )
    assert code == 0, f"building the Gradescope bundle failed: {stderr}"
    source = folder / "source"
    unpack_bundle(bundle, source)
    return source


# --- one mode, one identity: every attack ------------------------------------------------


@dataclass
class Run:
    attack: Attack
    tag: str
    folder: Path
    verdict: Path | None = None
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    verdict_at_exit: bytes | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    sandbox: Any = None
    canary: subprocess.Popen | None = None
    problems: list[str] = field(default_factory=list)


def _load(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


class Batch:
    """Every attack of one mode, run by one identity, and what each achieved."""

    def __init__(
        self,
        mode: str,
        identity: Identity,
        attacks: list[Attack],
        listener: Listener,
        bundle_source: Path | None,
        kits: list[Path],
    ):
        self.mode, self.identity, self.listener = mode, identity, listener
        self.attacks = [attack for attack in attacks if mode in attack.modes]
        self.bundle_source = bundle_source
        self.kits = kits  # every kit whose files must not change
        self.short = "bpatk" + "".join(random.SystemRandom().choice("0123456789abcdef") for _ in range(6))
        self.classmate_marker = "classmate" + self.short[5:]
        self.runs: list[Run] = []
        self.batch_problems: list[str] = []
        self.grade_stdout = ""
        self.seconds = 0.0
        self.sandbox_reports: list[Any] = []

    def values(self, tag: str) -> dict[str, str]:
        return {
            "__ATTACK_TAG__": tag,
            "__ATTACK_SHORT__": self.short,
            "__ATTACK_TCP__": str(self.listener.tcp_port),
            "__ATTACK_UDP__": str(self.listener.udp_port),
            "__ATTACK_UNIX__": self.listener.unix_name,
        }

    def tag_of(self, attack: Attack) -> str:
        return f"{self.short}-{attack.name}-{self.mode}-{self.identity.who}"

    def folder(self) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="bpatk-run-"))
        os.chmod(folder, 0o755)
        return folder

    def canary(self, tag: str) -> subprocess.Popen:
        return subprocess.Popen(
            self.identity.command([self.identity.python, "-c", "import time; time.sleep(600)", f"{CANARY}{tag}"]),
            env=self.identity.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    # -- running ------------------------------------------------------------------------

    def run(self) -> None:
        started = time.monotonic()
        snapshots = {kit: snapshot(kit) for kit in self.kits}
        folders_before = checker_run_folders()
        self.events_before = self.listener.count()
        try:
            if self.mode == "grade":
                self._run_grade()
            else:
                self._run_each()
            time.sleep(SETTLE_SECONDS)
            self._observe(snapshots, folders_before)
        finally:
            self._clean_up(snapshots)
        self.seconds = time.monotonic() - started

    def _prepare(self, attack: Attack) -> Run:
        tag = self.tag_of(attack)
        run = Run(attack, tag, self.folder())
        run.canary = self.canary(tag)
        return run

    def _run_each(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.runs = [self._prepare(attack) for attack in self.attacks]
        # The slowest first (the memory hog fills 2.4 GiB), so it does not end the batch alone.
        order = sorted(self.runs, key=lambda run: "memory" not in run.attack.name)
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(self._run_one, order))

    def _run_one(self, run: Run) -> None:
        identity = self.identity
        if self.mode == "check":
            submission = build_submission(run.attack, run.folder / "submission", self.values(run.tag))
            (run.folder / "out").mkdir()
            run.verdict = run.folder / "out" / "report.json"
            identity.give(run.folder)
            argv = [
                identity.python,
                "-m",
                "checker",
                "check",
                *SELECTION,
                "--impl",
                str(submission),
                "--json",
                str(run.verdict),
            ]
            run.code, run.stdout, run.stderr, run.seconds = run_command(
                identity.command(argv), identity.kit, identity.environment()
            )
        else:
            root = run.folder / "autograder"
            shutil.copytree(self.bundle_source, root / "source")
            build_submission(run.attack, root / "submission", self.values(run.tag))
            run.verdict = root / "results" / "results.json"
            identity.give(run.folder)
            environment = identity.environment(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=identity.python)
            argv = [str(root / "source" / "run_autograder")]
            run.code, run.stdout, run.stderr, run.seconds = run_command(identity.command(argv), root, environment)
        run.verdict_at_exit = _read(str(run.verdict)) if run.verdict.exists() else None

    def _run_grade(self) -> None:
        identity = self.identity
        folder = self.folder()
        self.grade_folder = folder
        submissions = folder / "submissions"
        submissions.mkdir()
        self.runs = []
        for attack in self.attacks:
            run = self._prepare(attack)
            build_submission(attack, submissions / attack.name, self.values(run.tag))
            self.runs.append(run)
        build_classmate(submissions / "zz_classmate", self.classmate_marker)
        out = folder / "out"
        identity.give(folder)
        argv = [
            identity.python,
            "-m",
            "checker",
            "grade",
            str(submissions),
            *SELECTION,
            "--out",
            str(out),
            "--jobs",
            "2",
        ]
        code, stdout, stderr, seconds = run_command(identity.command(argv), identity.kit, identity.environment())
        self.grade_code, self.grade_stdout, self.grade_stderr, self.grade_seconds = code, stdout, stderr, seconds
        self.grades_csv = out / "grades.csv"
        self.grades_csv_at_exit = _read(str(self.grades_csv)) if self.grades_csv.exists() else None
        self.classmate_json = out / "zz_classmate.json"
        self.classmate_at_exit = _read(str(self.classmate_json)) if self.classmate_json.exists() else None
        for run in self.runs:
            run.verdict = out / f"{run.attack.name}.json"
            run.verdict_at_exit = _read(str(run.verdict)) if run.verdict.exists() else None
            run.code, run.stdout, run.stderr = code, stdout, stderr

    # -- what the attacks achieved ----------------------------------------------------------

    def _observe(self, snapshots: dict[Path, dict[str, bytes]], folders_before: set[Path]) -> None:
        by_tag = {run.tag: run for run in self.runs}

        def blame(text: bytes | str, problem: str, fallback: list[Run] | None = None) -> None:
            if isinstance(text, str):
                text = text.encode(errors="replace")
            runs = [
                run for tag, run in by_tag.items() if tag.encode() in text or tag.replace("-", "_").encode() in text
            ] or fallback
            if runs:
                for run in runs:
                    run.problems.append(problem)
            else:
                self.batch_problems.append(problem)

        for run in self.runs:
            self._judge_verdict(run)

        if self.mode == "grade":
            self._judge_grade()

        # Nothing reached the listener.
        for kind, data in self.listener.received(self.events_before):
            network = [run for run in self.runs if "network" in run.attack.name]
            blame(data, f"the listener received {len(data)} bytes over {kind}: {data[:60]!r}", network)
        # No process of the run is alive.
        for pid, cmdline in tagged_processes(self.short).items():
            blame(cmdline, f"a process it started is still alive after the run: pid {pid} ({cmdline[:80]!r})")
        # The canaries are alive and running.
        for run in self.runs:
            if run.canary is not None:
                state = "gone" if run.canary.poll() is not None else process_state(run.canary.pid)
                if state in ("gone", "T", "t", "Z", "X"):
                    run.problems.append(f"the canary (a process of the same user) was hit: its state is {state}")
        # No kit file moved (nor, in the Gradescope runs, the bundle's copy).
        for kit, before in snapshots.items():
            for name, now in changed_files(kit, before).items():
                blame(now, f"a kit file changed: {kit / name}")
        if self.mode == "gradescope":
            bundle = snapshot(self.bundle_source)
            for run in self.runs:
                source = run.folder / "autograder" / "source"
                for name in changed_files(source, bundle):
                    run.problems.append(f"a file of the autograder's source changed: {name}")
                extra = set(kit_files(source)) - set(bundle)
                if extra:
                    run.problems.append(f"files appeared in the autograder's source: {sorted(extra)[:5]}")
        # No file an attack created survives, and no folder of the checker's for the run.
        places = [Path(tempfile.gettempdir()), Path("/dev/shm"), *self.identity.site_packages]
        recursive = [*self.kits, self.identity.home, *[run.folder for run in self.runs]]
        if self.mode == "grade":
            recursive.append(self.grade_folder)
        self.survivors = marked_files(places, recursive)
        for path in self.survivors:
            blame(str(path), f"a file it created survives: {path}")
        self.left_folders = []
        for folder in sorted(checker_run_folders() - folders_before):
            seen = folder_mentions(folder, [self.short, self.classmate_marker])
            if seen:
                self.left_folders.append(folder)
                text = " ".join(str(path) for path in folder.rglob("*") if path.is_file())[:20000]
                contents = b"".join(_read(str(path))[:200000] for path in list(folder.rglob("*.py"))[:50])
                blame(contents + text.encode(), f"a folder of the checker's survives the run: {folder}")

    def _judge_verdict(self, run: Run) -> None:
        attack = run.attack
        data = _load(run.verdict_at_exit)
        if data is None:
            run.problems.append(f"no verdict was written ({run.verdict}); exit {run.code}: {run.stderr.strip()[-300:]}")
            return
        if self.mode == "gradescope":
            run.statuses = {test["number"]: test["status"] for test in data.get("tests", [])}
            run.sandbox = (data.get("extra_data") or {}).get("sandbox")
        else:
            run.statuses = {entry["id"]: entry["status"] for entry in data.get("exercises", [])}
            run.sandbox = data.get("sandbox")
        self.sandbox_reports.append(run.sandbox)
        forged = [exercise for exercise in attack.targets if run.statuses.get(exercise) == "passed"]
        if forged:
            run.problems.append(f"a wrong answer scored: {' '.join(forged)} passed")
        missing = [exercise for exercise in attack.targets if exercise not in run.statuses]
        if missing:
            run.problems.append(f"no status for {' '.join(missing)}")
        if self.mode == "check" and attack.targets and run.code != 1:
            run.problems.append(f"check exited {run.code}, not 1")
        now = _read(str(run.verdict)) if run.verdict.exists() else None
        if now != run.verdict_at_exit:
            run.problems.append(f"the verdict changed {SETTLE_SECONDS:g} s after the checker exited")
        if control_characters(data):
            run.problems.append("raw ESC/BEL in the verdict's text")
        if self.mode != "grade" and CONTROL.search(run.stdout):
            run.problems.append("raw ESC/BEL in the command's output")

    def _judge_grade(self) -> None:
        if self.grade_code != 0:
            self.batch_problems.append(f"grade exited {self.grade_code}: {self.grade_stderr.strip()[-300:]}")
        if CONTROL.search(self.grade_stdout):
            for run in self.runs:
                if "terminal" in run.attack.name:
                    run.problems.append("raw ESC/BEL in grade's output")
        csv_now = _read(str(self.grades_csv)) if self.grades_csv.exists() else None
        if self.grades_csv_at_exit is None:
            self.batch_problems.append("grade wrote no grades.csv")
        elif csv_now != self.grades_csv_at_exit:
            self.batch_problems.append(f"grades.csv changed {SETTLE_SECONDS:g} s after grade exited")
        elif CONTROL.search(self.grades_csv_at_exit.decode(errors="replace")):
            self.batch_problems.append("raw ESC/BEL in grades.csv")
        classmate = _load(self.classmate_at_exit)
        saboteurs = [run for run in self.runs if "classmate" in run.attack.name and not run.attack.targets] or self.runs
        if classmate is None:
            for run in saboteurs:
                run.problems.append("the correct classmate has no grade")
            return
        self.classmate = classmate
        self.sandbox_reports.append(classmate.get("sandbox"))
        hurt = {entry["id"]: entry["status"] for entry in classmate["exercises"] if entry["status"] != "passed"}
        if classmate["score"] != classmate["max_score"] or hurt:
            for run in saboteurs:
                run.problems.append(
                    f"the correct classmate's grade moved: {classmate['score']:g}/{classmate['max_score']:g}, {hurt}"
                )
        if _read(str(self.classmate_json)) != self.classmate_at_exit:
            for run in saboteurs:
                run.problems.append("the classmate's JSON changed after grade exited")

    def _clean_up(self, snapshots: dict[Path, dict[str, bytes]]) -> None:
        for _ in range(3):
            kill_all(tagged_processes(self.short))
            time.sleep(0.05)
        for run in self.runs:
            if run.canary is not None and run.canary.poll() is None:
                run.canary.kill()
            if run.canary is not None:
                run.canary.wait()
        for kit, before in snapshots.items():
            restore(kit, before, self.short)
        places = [Path(tempfile.gettempdir()), Path("/dev/shm"), *self.identity.site_packages]
        recursive = [*self.kits, self.identity.home]
        for path in marked_files(places, recursive):
            remove(path)
        for folder in getattr(self, "left_folders", []):
            remove(folder)
        for run in self.runs:
            remove(run.folder)
        if self.mode == "grade" and hasattr(self, "grade_folder"):
            remove(self.grade_folder)

    # -- the report ----------------------------------------------------------------------

    def table(self) -> str:
        lines = [f"mode {self.mode}, as {self.identity.who} ({self.identity.describe()}), {self.seconds:.1f} s"]
        for run in self.runs:
            verdict = "contained" if not run.problems else "BREACHED: " + "; ".join(run.problems)
            seconds = f"{run.seconds:5.1f} s" if self.mode != "grade" else "       "
            lines.append(f"  {run.attack.name:28} {seconds}  {verdict}")
        for problem in self.batch_problems:
            lines.append(f"  {'(whole run)':28} {problem}")
        sandboxes = {json.dumps(report, sort_keys=True) for report in self.sandbox_reports}
        lines.append(f"  sandbox reported: {' | '.join(sorted(sandboxes)) if sandboxes else 'nothing'}")
        return "\n".join(lines)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "attack": run.attack.name,
                "title": run.attack.title,
                "mode": self.mode,
                "user": self.identity.who,
                "result": "contained" if not run.problems else "breached",
                "problems": run.problems,
                "sandbox": run.sandbox,
            }
            for run in self.runs
        ]

    def breaches(self) -> list[str]:
        return [f"{run.attack.name}: {problem}" for run in self.runs for problem in run.problems] + self.batch_problems

    def sandbox_problems(self) -> list[str]:
        problems = []
        for report in self.sandbox_reports:
            if not isinstance(report, dict):
                problems.append("no `sandbox` object in the JSON")
            elif report.get("full") is not True:
                problems.append(f"the sandbox is not full: missing {report.get('missing')}")
        return sorted(set(problems))
