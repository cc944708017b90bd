"""Confine the process that runs student code, with what the Linux kernel offers.

The checker's own logic can never stop code that wants a grade: that code
shares the process, can read what the process can read and can talk to
anything the process can reach. Only the kernel can. So every child process
of the kit that imports student code calls `confine()` once, after its own
trusted imports (NumPy, pytest, the suites) and before the first line of
student code. From then on, in that process and every thread it starts:

- **user** (only when the checker runs as root): the process becomes a user
  id of its own, drawn at random for this run, with no groups. It keeps one
  capability, CAP_DAC_READ_SEARCH, and only while Landlock and seccomp both
  hold: Python may live under a private home (/root/.pyenv), and Landlock,
  not file modes, then decides what may be read.
- **filesystem** (Landlock, ABI 3 or later): reading only the folders that
  `readable_paths()` lists (Python and its packages, the system's shared
  libraries, the child-side checker, the student's own staged package);
  writing nothing anywhere, not even truncating. Files opened before
  `confine()` (the output file, the result pipe, pytest's capture files)
  stay usable, and their size is capped by RLIMIT_FSIZE.
- **network**: no socket can be created (seccomp), and no TCP port bound or
  connected (Landlock ABI 4).
- **processes**: no fork, vfork, clone without CLONE_THREAD, or exec
  (seccomp); threads still work. With one process, the memory cap (an
  rlimit per process) is a cap per submission.
- **signals**: signals reach only this process (Landlock ABI 6 scoping, and
  seccomp allows kill(), tgkill() and sigqueue only towards its own pid).
- **ptrace**: nothing outside the process can be traced, nor its memory
  read through /proc or process_vm_readv (Landlock's cross-domain ptrace
  rule, /proc unreadable, and seccomp).

Each protection is reported as held or not (`Confinement`): an older kernel,
another system or a container that blocks a mechanism gives a partial
sandbox, which the report and the JSON say, and which batch grading refuses
unless the instructor allows it. On the portable path (portable.py) no
mechanism is applied at all (`not_applied`), and the report also says
whether the child could cap its own memory.

There is no library for this that is kept up to date and small enough to
trust (the PyPI bindings for Landlock are pre-releases, those for libseccomp
need the C library and have been unmaintained since 2021), so this module
speaks to the kernel directly through ctypes: three Landlock system calls,
one seccomp filter written in classic BPF, and prctl/capset.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PROTECTIONS = ("filesystem", "network", "processes", "signals", "ptrace")


@dataclass
class Confinement:
    """Which protections hold for the process that reported it."""

    filesystem: bool = False
    network: bool = False
    processes: bool = False
    signals: bool = False
    ptrace: bool = False
    fresh_user: bool | None = None  # None: the checker does not run as root, there is no user to drop to
    user: str = ""  # who the student's code runs as, in words
    notes: list[str] = field(default_factory=list)  # why a protection is missing
    # Only the portable path reports it: there the child caps its own memory
    # where the system lets it. None: the parent capped it before the child
    # started (the Linux path), and the JSON leaves it out.
    memory_cap: bool | None = None

    @property
    def missing(self) -> list[str]:
        names = [name for name in PROTECTIONS if not getattr(self, name)]
        if self.fresh_user is False:
            names.append("fresh_user")
        if self.memory_cap is False:
            names.append("memory_cap")
        return names

    @property
    def full(self) -> bool:
        return not self.missing

    def to_json(self) -> dict[str, Any]:
        protections = {**{name: getattr(self, name) for name in PROTECTIONS}, "fresh_user": self.fresh_user}
        if self.memory_cap is not None:
            protections["memory_cap"] = self.memory_cap
        return {
            "full": self.full,
            "user": self.user,
            "protections": protections,
            "missing": self.missing,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Any) -> Confinement:
        """Read back a child's report; anything malformed counts as no protection."""
        if not isinstance(data, dict) or not isinstance(data.get("protections"), dict):
            return unconfirmed("the test process did not report its sandbox")
        protections = data["protections"]
        fresh_user, memory_cap = protections.get("fresh_user"), protections.get("memory_cap")
        return cls(
            **{name: protections.get(name) is True for name in PROTECTIONS},
            fresh_user=fresh_user if fresh_user in (True, False) else None,
            user=str(data.get("user", ""))[:200],
            notes=[str(note)[:300] for note in data.get("notes", [])][:10]
            if isinstance(data.get("notes"), list)
            else [],
            memory_cap=memory_cap if memory_cap in (True, False) else None,
        )


def unconfirmed(reason: str) -> Confinement:
    """What to assume when no process reported: nothing holds."""
    return Confinement(user="unknown", notes=[reason])


def not_applied(reason: str, memory_cap: bool, notes: Iterable[str] = ()) -> Confinement:
    """The report of a process on the portable path: no kernel sandbox (for
    `reason`), no user of its own, and whether its memory is capped."""
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return Confinement(
        fresh_user=False if as_root else None,
        user=_describe_user(),
        notes=[f"no kernel sandbox: {reason}", *notes],
        memory_cap=memory_cap,
    )


def weakest(reports: Iterable[Confinement]) -> Confinement:
    """One report for a run made of several processes: a protection holds only if it held in all."""
    reports = list(reports)
    if not reports:
        return unconfirmed("no test process reported its sandbox")
    merged = Confinement(**{name: all(getattr(report, name) for report in reports) for name in PROTECTIONS})
    fresh = [report.fresh_user for report in reports]
    merged.fresh_user = None if all(value is None for value in fresh) else all(value is True for value in fresh)
    # None (capped by the parent) holds as well as True.
    memory = [report.memory_cap for report in reports]
    merged.memory_cap = None if all(value is None for value in memory) else all(value is not False for value in memory)
    merged.user = reports[0].user
    for report in reports:
        merged.notes += [note for note in report.notes if note not in merged.notes]
    return merged


def summary(report: Confinement) -> str:
    """One line for the report, when something is missing."""
    if report.full:
        return f"Sandbox: full ({report.user})."
    reasons = "; ".join(report.notes[:3])
    return f"Sandbox: partial, missing {', '.join(report.missing)}" + (f" ({reasons})" if reasons else "") + "."


# --- what the child may read ------------------------------------------------------------

# Where the dynamic loader finds the shared libraries that a lazily imported
# extension module (ctypes, decimal, ...) links to.
SYSTEM_LIBRARIES = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache")


def readable_paths(package_dir: str, *kit_dirs: str, private: Iterable[str] = ()) -> list[str]:
    """The folders and files student code may read: Python, its packages, the
    system's libraries, the student's own package and `kit_dirs` (the
    child-side checker, the data set).

    A candidate that contains one of the `private` paths (the kit's root,
    which holds the solutions; the run's own folder, beside other runs) is
    left out: granting it would grant them.
    """
    candidates: list[str] = []
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars) if scheme_vars else sysconfig.get_paths()
        candidates += [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    # Where the packages the child imported came from (a site-packages the
    # scheme does not name, such as Debian's dist-packages). Not the whole
    # of sys.path: a .pth file can name any folder.
    for module in ("numpy", "pytest", "_pytest", "pluggy"):
        found = sys.modules.get(module)
        if found is not None and getattr(found, "__file__", None):
            candidates.append(os.path.dirname(os.path.dirname(found.__file__)))
    candidates += [*SYSTEM_LIBRARIES, *kit_dirs, package_dir]
    private_paths = [os.path.realpath(path) for path in private]
    chosen: list[str] = []
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if not os.path.exists(real) or real in chosen:
            continue
        if any(_contains(real, secret) for secret in private_paths):
            continue
        chosen.append(real)
    return chosen


def _contains(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# --- the whole procedure --------------------------------------------------------------------


MECHANISMS = ("landlock", "seccomp")


def confine(
    readable: list[str], user: int | None = None, processes: int = 64, without: Iterable[str] = ()
) -> Confinement:
    """Confine this process for good, and say which protections hold.

    `user`: as root, the user id to become (None: stay who we are).
    `without`: mechanisms (of MECHANISMS) to leave out, so that the kit's
    own tests can see a partial sandbox reported and refused. Call it once,
    from the main thread, before student code runs; it cannot be undone.
    """
    without = set(without)
    if not without <= set(MECHANISMS):
        raise ValueError(
            f"unknown sandbox mechanisms {sorted(without - set(MECHANISMS))}; known: {', '.join(MECHANISMS)}"
        )
    report = Confinement()
    if sys.platform != "linux":
        report.user = "the checker's own user"
        report.notes.append(f"no kernel sandbox on {platform.system() or sys.platform}")
        return report
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int

    threads = _thread_count()
    # The rules name folders by open descriptors: take them while this process
    # can still open every folder (as root, before it becomes another user).
    if "landlock" in without:
        abi, ruleset = 0, None
        report.notes.append("Landlock left out on purpose")
    else:
        abi, ruleset = _landlock_ruleset(libc, readable, report)
    if user is not None:
        report.fresh_user = _become(libc, user, processes, report)
    else:
        if os.geteuid() == 0:
            report.fresh_user = False
            report.notes.append("no user of its own to run as")
        _limit_tasks(processes, report)
    report.user = _describe_user()

    # Both need no_new_privs: no exec can ever regain a privilege.
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        report.notes.append(f"no_new_privs refused: {_error(libc)}")
    if ruleset is not None and _landlock_enforce(libc, abi, ruleset, report) and threads > 1:
        # Landlock confines the calling thread and the threads it starts
        # later; one already running would stay free.
        report.filesystem = report.signals = report.ptrace = False
        report.notes.append(f"{threads} threads were running before the sandbox")
    if "seccomp" in without:
        seccomp_held = False
        report.notes.append("seccomp left out on purpose")
    else:
        seccomp_held = _seccomp(libc, report)
    report.processes = report.network = seccomp_held
    report.signals = report.signals or seccomp_held
    if report.fresh_user:
        # Reading past file modes is safe only where Landlock decides what
        # may be read, and open_by_handle_at is refused.
        keep = report.filesystem and seccomp_held
        _set_capabilities(libc, CAP_DAC_READ_SEARCH if keep else None, report)
    return report


# --- user -------------------------------------------------------------------------------

PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAP_DAC_READ_SEARCH = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _become(libc: ctypes.CDLL, user: int, processes: int, report: Confinement) -> bool:
    """Become `user` (and group `user`), keeping only CAP_DAC_READ_SEARCH in reserve."""
    import resource

    try:
        for capability in range(64):
            if capability != CAP_DAC_READ_SEARCH and libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                break  # past the last capability this kernel knows
        libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
        # Counted per user, and this user is the run's alone.
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        os.setgroups([])
        os.setgid(user)
        os.setuid(user)
    except OSError as error:
        report.notes.append(f"could not become a user of its own: {error.strerror}")
        return False
    return os.getuid() == user and os.geteuid() == user


def _limit_tasks(extra: int, report: Confinement) -> None:
    """Under a shared user, cap the user's tasks at what it runs now plus `extra`.

    RLIMIT_NPROC counts every process and thread of the real user: with no
    user of its own, the child could otherwise start threads until the
    machine runs out of process ids.
    """
    import resource

    running = _tasks_of(os.getuid())
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (running + extra, running + extra))
    except (OSError, ValueError) as error:
        report.notes.append(f"could not cap the number of threads: {error}")


def _tasks_of(user: int) -> int:
    """Processes and threads whose real user is `user`, from /proc."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as status:
                fields = dict(line.split(b":", 1) for line in status if b":" in line)
            if int(fields[b"Uid"].split()[0]) == user:
                count += int(fields[b"Threads"].strip())
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return count


def _set_capabilities(libc: ctypes.CDLL, capability: int | None, report: Confinement) -> None:
    """Keep `capability` (effective and permitted), or none at all."""
    mask = 0 if capability is None else 1 << capability
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    data = struct.pack("6I", mask, mask, 0, 0, 0, 0)  # effective, permitted, inheritable; twice (64 bits)
    if libc.syscall(_syscalls()["capset"], ctypes.c_char_p(header), ctypes.c_char_p(data)) != 0:
        report.notes.append(f"capset failed: {_error(libc)}")


def _describe_user() -> str:
    if not hasattr(os, "geteuid"):  # Windows
        return "the checker's own user"
    uid = os.geteuid()
    if uid == 0:
        return "root"
    return f"uid {uid}"


# --- Landlock ---------------------------------------------------------------------------------

_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

# Filesystem access rights, by the ABI version that introduced them.
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | (1 << 14) | (1 << 15)

# Devices that ordinary code opens: reading /dev/null and /dev/urandom,
# writing /dev/null.
_DEVICES = {"/dev/null": _FS_READ_FILE | _FS_WRITE_FILE, "/dev/urandom": _FS_READ_FILE, "/dev/zero": _FS_READ_FILE}


def landlock_abi() -> int:
    """The Landlock ABI version of the running kernel (0: none)."""
    if sys.platform != "linux":
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(
        _syscalls()["landlock_create_ruleset"], None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(0, int(version))


def _landlock_ruleset(libc: ctypes.CDLL, readable: list[str], report: Confinement) -> tuple[int, int | None]:
    """A ruleset that reads only `readable`, writes nothing, binds and connects
    no TCP port, and keeps signals and abstract sockets inside the domain.
    Returns the ABI version and the ruleset's descriptor (None: no Landlock)."""
    numbers = _syscalls()
    abi = libc.syscall(numbers["landlock_create_ruleset"], None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION)
    if abi < 1:
        report.notes.append(f"no Landlock in this kernel ({_error(libc)})")
        return 0, None
    fs_rights = max(rights for version, rights in _FS_RIGHTS_BY_ABI.items() if version <= abi)
    net_rights = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
    scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
    attributes = struct.pack("QQQ", fs_rights, net_rights, scoped)
    ruleset = libc.syscall(
        numbers["landlock_create_ruleset"], ctypes.c_char_p(attributes), ctypes.c_size_t(len(attributes)), 0
    )
    if ruleset < 0:
        report.notes.append(f"Landlock refused a ruleset: {_error(libc)}")
        return abi, None
    read_dir = (_FS_READ_FILE | _FS_READ_DIR) & fs_rights
    rules = [(path, read_dir if os.path.isdir(path) else _FS_READ_FILE) for path in readable]
    rules += [(path, rights) for path, rights in _DEVICES.items() if os.path.exists(path)]
    for path, rights in rules:
        _add_path_rule(libc, numbers, ruleset, path, rights & fs_rights, report)
    return abi, ruleset


def _landlock_enforce(libc: ctypes.CDLL, abi: int, ruleset: int, report: Confinement) -> bool:
    """Put this process (and the threads it will start) under the ruleset."""
    try:
        if libc.syscall(_syscalls()["landlock_restrict_self"], ruleset, 0) != 0:
            report.notes.append(f"Landlock could not be enforced: {_error(libc)}")
            return False
    finally:
        os.close(ruleset)
    report.filesystem = abi >= 3  # before 3, truncate() of a readable file was not covered
    report.ptrace = True  # any Landlock domain: no tracing of a process outside it
    report.signals = abi >= 6
    if abi < 3:
        report.notes.append(f"Landlock ABI {abi} cannot stop truncation")
    return True


def _add_path_rule(
    libc: ctypes.CDLL, numbers: dict[str, int], ruleset: int, path: str, rights: int, report: Confinement
) -> None:
    try:
        descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as error:
        report.notes.append(f"{path} could not be opened for a Landlock rule: {error.strerror}")
        return
    try:
        rule = struct.pack("=Qi", rights, descriptor)  # struct landlock_path_beneath_attr is packed
        if (
            libc.syscall(numbers["landlock_add_rule"], ruleset, _LANDLOCK_RULE_PATH_BENEATH, ctypes.c_char_p(rule), 0)
            != 0
        ):
            report.notes.append(f"Landlock rule for {path} refused: {_error(libc)}")
    finally:
        os.close(descriptor)


# --- seccomp ----------------------------------------------------------------------------------

# Refused with EPERM: creating a process or running a program, every kind of
# socket (io_uring can open sockets too), tracing or reading another
# process, and the administrative calls a confined process never needs
# (mounts, namespaces, modules, keys, BPF, clocks). memfd_create and System V
# IPC are refused because their memory counts against no limit and outlives
# the process (and, under the checker's own user, IPC objects of other
# processes could be read). Landlock does not cover changing a file's mode,
# owner, times or extended attributes: under the checker's own user, code
# could make the kit unreadable; those calls are refused here. So are
# setpriority and ioprio_set, whose "who" can name every process of a user.
_DENIED = (
    "fork",
    "vfork",
    "execve",
    "execveat",
    "socket",
    "socketpair",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    "pidfd_send_signal",
    "tkill",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "mount_setattr",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "name_to_handle_at",
    "open_by_handle_at",
    "add_key",
    "request_key",
    "keyctl",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "syslog",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
    "sethostname",
    "setdomainname",
    "vhangup",
    "iopl",
    "ioperm",
    "uselib",
    "lookup_dcookie",
    "personality",
    "memfd_create",
    "memfd_secret",
    "migrate_pages",
    "move_pages",
    "shmget",
    "shmat",
    "shmctl",
    "shmdt",
    "semget",
    "semop",
    "semctl",
    "semtimedop",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "setxattrat",
    "removexattrat",
    "file_setattr",
    "setpriority",
    "ioprio_set",
)

# Allowed only towards this process itself: (call, which argument is the
# target, what "itself" is). pid 0 means the caller for these calls.
_SELF_ONLY = (
    ("kill", 0, "pid"),
    ("tgkill", 0, "pid"),
    ("rt_sigqueueinfo", 0, "pid"),
    ("rt_tgsigqueueinfo", 0, "pid"),
    ("prlimit64", 0, "zero"),
    ("sched_setaffinity", 0, "zero"),
    ("sched_setparam", 0, "zero"),
    ("sched_setscheduler", 0, "zero"),
    ("sched_setattr", 0, "zero"),
)

_CLONE_THREAD = 0x00010000
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR_OFFSET, _ARCH_OFFSET, _ARGS_OFFSET = 0, 4, 16


def _seccomp(libc: ctypes.CDLL, report: Confinement) -> bool:
    """Install the filter on every thread of the process. True when it holds."""
    numbers = _syscalls()
    if "audit_arch" not in numbers:
        report.notes.append(f"no seccomp filter for the {platform.machine()} architecture")
        return False
    program = _filter(numbers, os.getpid())
    instructions = (ctypes.c_ubyte * len(program)).from_buffer_copy(program)
    fprog = struct.pack("HxxxxxxP", len(program) // 8, ctypes.addressof(instructions))
    result = libc.syscall(
        numbers["seccomp"], _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, ctypes.c_char_p(fprog)
    )
    if result != 0:
        report.notes.append(f"seccomp refused the filter: {_error(libc)}")
        return False
    return True


def _filter(numbers: dict[str, int], own_pid: int) -> bytes:
    """The BPF program: one short block per rule, checked in order."""
    code: list[tuple[int, int, int, int]] = []

    def emit(op: int, k: int, jt: int = 0, jf: int = 0) -> None:
        code.append((op, jt, jf, k))

    def errno_of(value: int) -> int:
        return _RET_ERRNO | value

    # Another architecture's calls (i386 through int 0x80) have other numbers.
    emit(_LD_W_ABS, _ARCH_OFFSET)
    emit(_JEQ, numbers["audit_arch"], jt=1)
    emit(_RET, _RET_KILL_PROCESS)
    emit(_LD_W_ABS, _NR_OFFSET)
    if numbers.get("x32_bit"):
        # x32 calls are the x86-64 numbers with this bit set: refuse them all.
        emit(_JGE, numbers["x32_bit"], jf=1)
        emit(_RET, errno_of(errno.EPERM))
    for name in _DENIED:
        if name in numbers:
            emit(_JEQ, numbers[name], jf=1)
            emit(_RET, errno_of(errno.EPERM))
    # clone3 passes its flags in memory, where a filter cannot look: say it
    # does not exist, and the C library falls back to clone.
    emit(_JEQ, numbers["clone3"], jf=1)
    emit(_RET, errno_of(errno.ENOSYS))
    # clone: threads yes (CLONE_THREAD), processes no.
    emit(_JEQ, numbers["clone"], jf=4)
    emit(_LD_W_ABS, _ARGS_OFFSET)
    emit(_JSET, _CLONE_THREAD, jt=1)
    emit(_RET, errno_of(errno.EPERM))
    emit(_RET, _RET_ALLOW)
    for name, argument, allowed in _SELF_ONLY:
        if name not in numbers:
            continue
        # The low 32 bits hold the pid (pid_t is an int).
        # Its own pid, 0 (itself, or its own process group), or minus its
        # pid (its process group: it leads a session of its own).
        emit(_JEQ, numbers[name], jf=6)
        emit(_LD_W_ABS, _ARGS_OFFSET + 8 * argument)
        emit(_JEQ, 0, jt=3)
        emit(_JEQ, own_pid if allowed == "pid" else 0, jt=2)
        emit(_JEQ, (-own_pid & 0xFFFFFFFF) if allowed == "pid" else 0, jt=1)
        emit(_RET, errno_of(errno.EPERM))
        emit(_RET, _RET_ALLOW)
    emit(_RET, _RET_ALLOW)
    return b"".join(struct.pack("HBBI", op, jt, jf, k) for op, jt, jf, k in code)


# System call numbers per architecture (from the kernel's unistd tables).
_X86_64 = {
    "audit_arch": 0xC000003E,
    "x32_bit": 0x40000000,
    "fork": 57,
    "vfork": 58,
    "clone": 56,
    "clone3": 435,
    "execve": 59,
    "execveat": 322,
    "socket": 41,
    "socketpair": 53,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_getfd": 438,
    "kcmp": 312,
    "pidfd_send_signal": 424,
    "tkill": 200,
    "kill": 62,
    "tgkill": 234,
    "rt_sigqueueinfo": 129,
    "rt_tgsigqueueinfo": 297,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "mount_setattr": 442,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "unshare": 272,
    "setns": 308,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "acct": 163,
    "quotactl": 179,
    "syslog": 103,
    "settimeofday": 164,
    "clock_settime": 227,
    "adjtimex": 159,
    "clock_adjtime": 305,
    "sethostname": 170,
    "setdomainname": 171,
    "vhangup": 153,
    "iopl": 172,
    "ioperm": 173,
    "uselib": 134,
    "lookup_dcookie": 212,
    "personality": 135,
    "memfd_create": 319,
    "memfd_secret": 447,
    "migrate_pages": 256,
    "move_pages": 279,
    "prlimit64": 302,
    "sched_setaffinity": 203,
    "sched_setparam": 142,
    "sched_setscheduler": 144,
    "sched_setattr": 314,
    "setpriority": 141,
    "ioprio_set": 251,
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "shmdt": 67,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "semtimedop": 220,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "chmod": 90,
    "fchmod": 91,
    "fchmodat": 268,
    "fchmodat2": 452,
    "chown": 92,
    "fchown": 93,
    "lchown": 94,
    "fchownat": 260,
    "utime": 132,
    "utimes": 235,
    "futimesat": 261,
    "utimensat": 280,
    "setxattr": 188,
    "lsetxattr": 189,
    "fsetxattr": 190,
    "removexattr": 197,
    "lremovexattr": 198,
    "fremovexattr": 199,
    "setxattrat": 463,
    "removexattrat": 466,
    "file_setattr": 469,
    "seccomp": 317,
    "capset": 126,
    "landlock_create_ruleset": 444,
    "landlock_add_rule": 445,
    "landlock_restrict_self": 446,
}
_AARCH64 = {
    "audit_arch": 0xC00000B7,
    "clone": 220,
    "clone3": 435,
    "execve": 221,
    "execveat": 281,
    "socket": 198,
    "socketpair": 199,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "ptrace": 117,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "pidfd_getfd": 438,
    "kcmp": 272,
    "pidfd_send_signal": 424,
    "tkill": 130,
    "kill": 129,
    "tgkill": 131,
    "rt_sigqueueinfo": 138,
    "rt_tgsigqueueinfo": 240,
    "mount": 40,
    "umount2": 39,
    "pivot_root": 41,
    "chroot": 51,
    "mount_setattr": 442,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "unshare": 97,
    "setns": 268,
    "bpf": 280,
    "perf_event_open": 241,
    "userfaultfd": 282,
    "name_to_handle_at": 264,
    "open_by_handle_at": 265,
    "add_key": 217,
    "request_key": 218,
    "keyctl": 219,
    "init_module": 105,
    "finit_module": 273,
    "delete_module": 106,
    "kexec_load": 104,
    "kexec_file_load": 294,
    "reboot": 142,
    "swapon": 224,
    "swapoff": 225,
    "acct": 89,
    "quotactl": 60,
    "syslog": 116,
    "settimeofday": 170,
    "clock_settime": 112,
    "adjtimex": 171,
    "clock_adjtime": 266,
    "sethostname": 161,
    "setdomainname": 162,
    "vhangup": 58,
    "lookup_dcookie": 18,
    "personality": 92,
    "memfd_create": 279,
    "memfd_secret": 447,
    "migrate_pages": 238,
    "move_pages": 239,
    "prlimit64": 261,
    "sched_setaffinity": 122,
    "sched_setparam": 118,
    "sched_setscheduler": 119,
    "sched_setattr": 274,
    "setpriority": 140,
    "ioprio_set": 30,
    "shmget": 194,
    "shmat": 196,
    "shmctl": 195,
    "shmdt": 197,
    "semget": 190,
    "semop": 193,
    "semctl": 191,
    "semtimedop": 192,
    "msgget": 186,
    "msgsnd": 189,
    "msgrcv": 188,
    "msgctl": 187,
    "fchmod": 52,
    "fchmodat": 53,
    "fchmodat2": 452,
    "fchown": 55,
    "fchownat": 54,
    "utimensat": 88,
    "setxattr": 5,
    "lsetxattr": 6,
    "fsetxattr": 7,
    "removexattr": 14,
    "lremovexattr": 15,
    "fremovexattr": 16,
    "setxattrat": 463,
    "removexattrat": 466,
    "file_setattr": 469,
    "seccomp": 277,
    "capset": 91,
    "landlock_create_ruleset": 444,
    "landlock_add_rule": 445,
    "landlock_restrict_self": 446,
}


def _syscalls() -> dict[str, int]:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64") and struct.calcsize("P") == 8:
        return _X86_64
    if machine in ("aarch64", "arm64"):
        return _AARCH64
    # The Landlock calls have one number everywhere; without a table, no seccomp.
    return {"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446}


def _thread_count() -> int:
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 1


def _error(libc: ctypes.CDLL) -> str:
    number = ctypes.get_errno()
    return os.strerror(number) if number else "unknown error"
