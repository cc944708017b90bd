"""Find student submissions and copy them, safely, into private folders.

Used by batch grading (`checker grade`) and by the Gradescope autograder.
Whatever a student hands in, the checker only ever sees a *staged* copy: a
fresh folder holding the submission's part files as plain regular files, of
bounded size, with nothing else. So a symlink to another student's work, a
zip that unpacks over `../`, or a 10 GB file never reaches the runner.

A submission may be:

- a folder laid out like `exercises/` (the part files at its top),
- the same folder wrapped in one or more single subfolders (a zipped
  `exercises/`, a cloned repository holding `exercises/`),
- a .zip of either,
- loose part files, as a learning platform exports them: a flat folder of
  `<student>_part1_backward.py`, `<student>_part2_autograd.py`, ... files,
  grouped into one submission per student prefix.

A part file that a submission lacks is filled in from the kit's stub, so it
is graded "not started" rather than as an import error.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import KIT_ROOT, manifest

STUBS = KIT_ROOT / "exercises"

# Every file of the exercise package, by module name.
PACKAGE_MODULES = tuple(manifest.GIVEN_MODULES) + tuple(dict.fromkeys(manifest.PART_MODULES.values()))

MAX_FILE_BYTES = 1024**2  # one part file
MAX_TOTAL_BYTES = 16 * 1024**2  # everything read from one zip
MAX_ZIP_ENTRIES = 2000
MAX_DEPTH = 4  # single-subfolder wrappers looked through

# Folders that archivers and editors add and nobody means to hand in.
_NOISE = re.compile(r"^(__MACOSX|__pycache__|\..*)$")

_LOOSE_FILE = re.compile(
    r"^(?P<owner>.*?)[\s_\-.]*(?P<module>"
    + "|".join(re.escape(name) for name in PACKAGE_MODULES)
    + r")(?:[\s_\-]*\d+)?\.py$"
)


class BadSubmission(Exception):
    """The submission cannot be read (a broken or unsafe zip, ...): graded as an error."""


@dataclass
class Submission:
    """One student's work, before staging: where it lives and what kind it is."""

    name: str
    source: Path
    kind: str  # "folder", "zip" or "loose"
    loose_files: dict[str, Path] = field(default_factory=dict)  # module name -> file, for "loose"


@dataclass
class Staged:
    """A staged submission: a private folder of part files, and what was missing."""

    folder: Path
    missing: list[str]  # part modules filled in from the kit's stubs
    found: list[str]  # part modules the student handed in


# --- finding submissions -----------------------------------------------------------


def discover(root: Path) -> list[Submission]:
    """The submissions in `root`, sorted by name, with unique names.

    Each immediate subfolder and each .zip is one submission; loose part files
    at the top are grouped by the text before the module name (no prefix: the
    folder itself is one submission, named after it).
    """
    root = Path(root)
    found: list[Submission] = []
    loose: dict[str, dict[str, Path]] = {}
    for entry in sorted(root.iterdir(), key=lambda path: path.name):
        if _NOISE.match(entry.name) or entry.is_symlink():
            continue
        if entry.is_dir():
            found.append(Submission(entry.name, entry, "folder"))
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            found.append(Submission(entry.stem, entry, "zip"))
        elif entry.is_file() and entry.suffix == ".py":
            match = _LOOSE_FILE.match(entry.name)
            if match:
                owner = match.group("owner").strip(" _-.") or root.resolve().name
                # A later resubmission (`..._part1_backward-1.py`) sorts after the first and wins.
                loose.setdefault(owner, {})[match.group("module")] = entry
    for owner, files in loose.items():
        if any(module in manifest.PART_MODULES.values() for module in files):
            found.append(Submission(owner, root, "loose", files))
    return _unique_names(sorted(found, key=lambda submission: submission.name))


def safe_name(name: str) -> str:
    """A file name for outputs: no folders, no leading dot, nothing unprintable."""
    cleaned = re.sub(r"[^\w.\-@+ ]", "_", name).strip(" .") or "submission"
    return cleaned[:120]


def _unique_names(submissions: list[Submission]) -> list[Submission]:
    seen: set[str] = set()
    for submission in submissions:
        base = safe_name(submission.name)
        name, number = base, 2
        while name.lower() in seen:
            name, number = f"{base}-{number}", number + 1
        seen.add(name.lower())
        submission.name = name
    return submissions


# --- staging ----------------------------------------------------------------------


def stage(submission: Submission, workdir: Path) -> Staged:
    """Copy the submission's part files into a new folder under `workdir`."""
    target = Path(workdir) / "files"
    target.mkdir(parents=True)
    if submission.kind == "loose":
        for module, path in submission.loose_files.items():
            copy_regular_file(path, target / f"{module}.py")
    else:
        if submission.kind == "zip":
            unpacked = Path(workdir) / "unpacked"
            extract_zip(submission.source, unpacked)
            folder = unpacked
        else:
            folder = submission.source
        folder = find_package_folder(folder)
        for module in PACKAGE_MODULES:
            path = folder / f"{module}.py"
            if path.is_file() and not path.is_symlink():
                copy_regular_file(path, target / f"{module}.py")
    return _fill_missing(target)


def stage_folder(folder: Path, workdir: Path) -> Staged:
    """Stage a plain folder (Gradescope's upload folder, for one)."""
    return stage(Submission(Path(folder).name, Path(folder), "folder"), workdir)


def find_package_folder(folder: Path) -> Path:
    """The folder that holds the part files: `folder` itself, or one wrapped inside it.

    Looks through single-subfolder wrappers, and prefers a subfolder called
    `exercises` (a whole copy of the kit handed in).
    """
    for _ in range(MAX_DEPTH + 1):
        if _holds_part_files(folder):
            return folder
        subfolders = [
            entry
            for entry in sorted(folder.iterdir())
            if entry.is_dir() and not entry.is_symlink() and not _NOISE.match(entry.name)
        ]
        named = [entry for entry in subfolders if entry.name == "exercises"]
        if named:
            folder = named[0]
        elif len(subfolders) == 1:
            folder = subfolders[0]
        else:
            return folder
    return folder


def _holds_part_files(folder: Path) -> bool:
    return any((folder / f"{module}.py").is_file() for module in manifest.PART_MODULES.values())


def copy_regular_file(source: Path, destination: Path) -> None:
    """Copy a regular file of bounded size; symlinks and devices are refused."""
    info = source.lstat()
    if not stat.S_ISREG(info.st_mode):
        return
    if info.st_size > MAX_FILE_BYTES:
        raise BadSubmission(f"{source.name} is larger than {MAX_FILE_BYTES // 1024} KiB")
    with open(source, "rb") as reading:
        data = reading.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise BadSubmission(f"{source.name} is larger than {MAX_FILE_BYTES // 1024} KiB")
    destination.write_bytes(data)


def _fill_missing(target: Path) -> Staged:
    found = [module for module in manifest.PART_MODULES.values() if (target / f"{module}.py").exists()]
    missing = []
    for module in dict.fromkeys(manifest.PART_MODULES.values()):
        if not (target / f"{module}.py").exists() and (STUBS / f"{module}.py").exists():
            shutil.copyfile(STUBS / f"{module}.py", target / f"{module}.py")
            missing.append(module)
    return Staged(target, missing, list(dict.fromkeys(found)))


# --- zips -------------------------------------------------------------------------


def extract_zip(archive: Path, destination: Path) -> None:
    """Extract the .py files of a zip, refusing anything that could escape or explode.

    Absolute names, `..`, symlinks and other special entries are skipped; the
    number of entries and the bytes actually read are capped (the sizes a zip
    declares are not trusted).
    """
    destination.mkdir(parents=True)
    root = destination.resolve()
    total = 0
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = bundle.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise BadSubmission(f"the zip has {len(entries)} entries (at most {MAX_ZIP_ENTRIES})")
            for entry in entries:
                if entry.is_dir() or not entry.filename.endswith(".py"):
                    continue
                kind = stat.S_IFMT(entry.external_attr >> 16)
                if kind and kind != stat.S_IFREG:
                    continue  # a symlink or a device (zips from some tools leave the kind unset: a file)
                parts = entry.filename.replace("\\", "/").split("/")
                if entry.filename.startswith(("/", "\\")) or ".." in parts or any(":" in part for part in parts):
                    continue
                if any(_NOISE.match(part) for part in parts[:-1]):
                    continue
                target = (destination / "/".join(parts)).resolve()
                if root not in target.parents:
                    continue
                with bundle.open(entry) as reading:
                    data = reading.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:
                    raise BadSubmission(f"{entry.filename} in the zip is larger than {MAX_FILE_BYTES // 1024} KiB")
                total += len(data)
                if total > MAX_TOTAL_BYTES:
                    raise BadSubmission(f"the zip unpacks to more than {MAX_TOTAL_BYTES // 1024**2} MiB of Python")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as error:
        raise BadSubmission(f"the zip could not be read ({type(error).__name__}: {error})") from None
