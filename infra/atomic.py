"""Writing files so that a failure (a full disk, an I/O error, an interrupt) leaves nothing
half-written: each file is written whole to a temporary file beside it, then renamed over it
(a rename within one folder is atomic). Writers of one folder take turns
(:func:`folder_lock`), so two runs at once cannot interleave their plans."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["folder_lock", "temp_beside", "write_atomically", "write_files_atomically"]


def temp_beside(path: Path, data: bytes, mode: int | None = None) -> Path:
    """``data`` in a new file next to ``path``, with ``mode`` (say 0600 for credentials: the
    file is never readable by others, not even briefly), else ``path``'s mode when it exists
    (else 0666 minus the umask); removed again when writing fails."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temp, flags, 0o666 if mode is None else mode)
    try:
        if mode is None:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return temp


def write_files_atomically(files: Mapping[Path, bytes], mode: int | None = None) -> None:
    """Write every file (their folders must exist): all temporary files first, so a failure
    while writing changes none of them; then the renames. ``mode``: as :func:`temp_beside`.
    Raises the :class:`OSError`."""
    temps: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            temps[path] = temp_beside(path, data, mode)
        for path in list(temps):
            os.replace(temps.pop(path), path)
    finally:
        for temp in temps.values():
            with contextlib.suppress(OSError):
                temp.unlink()


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``path`` whole, or leave it as it was (``mode``: as :func:`temp_beside`)."""
    write_files_atomically({path: data}, mode)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on the folder itself: no lock file is
    left behind) until the block ends; a second writer waits its turn, then sees the first
    one's result. Released when the process ends, however it ends."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
