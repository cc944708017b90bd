"""What a copy of the kit handed to students holds, and how such copies are written.

The kit leaves the instructor's copy in three ways: the Gradescope bundle
(gradescope.py), a student's kit in a folder (release.py), and the GitHub
Classroom files written beside one (classroom.py). The first two take the
kit's own files from `student_files`, so that one place decides what may
leave: the checker, the given code and stubs of exercises/, the data set.
Never solutions/, never the kit's instructor tests.

Files that already exist are never destroyed silently: whoever writes over
them moves them aside first (`move_aside`) and says where they went.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from . import KIT_ROOT

# Folders of the kit every student copy holds: Python files only, but every file of data/.
STUDENT_FOLDERS = ("checker", "exercises", "data")


def student_files(exercise_modules: Iterable[str] | None = None) -> list[str]:
    """The kit's files a student copy holds, relative to the kit's root.

    The checker's Python files (it runs on the student's machine), the
    given code and stubs of exercises/, and the data set with its notice.
    `exercise_modules` (module names such as "part1_backward", "__init__")
    keeps only those files of exercises/; None keeps all of them.
    """
    wanted = None if exercise_modules is None else set(exercise_modules)
    names = []
    for folder in STUDENT_FOLDERS:
        root = KIT_ROOT / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.name.startswith("."):
                continue
            if folder != "data" and path.suffix != ".py":
                continue
            if folder == "exercises" and wanted is not None and path.stem not in wanted:
                continue
            names.append(path.relative_to(KIT_ROOT).as_posix())
    return names


def backup_path(path: Path) -> Path:
    """A free name beside `path` to keep it under: NAME.bak-20240131-142501 (-2, -3, ... within one second)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    number = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{number}")
        number += 1
    return candidate


def move_aside(path: Path) -> Path:
    """Rename `path` (a file or a folder) to a backup name beside it; return that name."""
    backup = backup_path(path)
    path.rename(backup)
    return backup
