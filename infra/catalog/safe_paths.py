"""What the catalog may read: regular files and folders inside the repository (pure reads).

Argo CD reads the catalog's folders from git, where a symbolic link is a link and a FIFO or a
device does not exist; the platform must not see anything else on disk than Argo CD will. So
a symbolic link anywhere under an app folder (or on the way to the catalog folder), a FIFO, a
socket or a device is refused before anything is opened: a link could make the platform read
(and print) files outside the repository, and ``open()`` on a FIFO blocks forever. Only
``os.lstat`` is used here; nothing is followed, nothing is opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = ["entry_problem", "path_problem", "tree_problems"]


def entry_problem(path: Path) -> str | None:
    """Why the entry at ``path`` (not followed) may not be read, or ``None`` (a regular file,
    a folder, or nothing there)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be inspected: {exc.strerror}"
    if stat.S_ISLNK(mode):
        return "is a symbolic link; links are not followed (commit the file itself)"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        kind = "a FIFO"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    else:
        kind = "not a regular file"
    return f"is {kind}; only regular files and folders are read"


def _inside(path: Path, root: Path) -> Path | None:
    """``path`` relative to ``root``, lexically, or ``None`` when it leaves ``root``."""
    try:
        relative = Path(os.path.normpath(path)).relative_to(os.path.normpath(root))
    except ValueError:
        return None
    return relative


def path_problem(path: Path, root: Path) -> tuple[Path, str] | None:
    """The first entry on the way from ``root`` to ``path`` that may not be read, with why:
    ``path`` leaves ``root``, or one of its parts (``path`` included) is a link, a FIFO, a
    device. ``None`` when the whole way is plain folders (``path`` may be missing)."""
    relative = _inside(path, root)
    if relative is None and path.is_absolute() != root.is_absolute():
        relative = _inside(path.absolute(), root.absolute())
    if relative is None:
        return path, "leaves the repository"
    probe = Path(os.path.normpath(root))
    for part in relative.parts:
        probe = probe / part
        problem = entry_problem(probe)
        if problem:
            return probe, problem
    return None


def tree_problems(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every entry under ``folder`` (hidden ones included) that may not be read, sorted;
    links are reported, never entered."""
    for directory, dirs, files in os.walk(folder, followlinks=False):
        here = Path(directory)
        dirs.sort()
        for name in sorted([*dirs, *files]):
            problem = entry_problem(here / name)
            if problem:
                yield here / name, problem
        # os.walk lists a link to a folder among the folders; never descend into it
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
