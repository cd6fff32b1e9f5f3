"""Read-only views of the repository's files: the working tree, or a git commit (no checkout).

Both answer the same three questions (read a file, list a folder, say what they are), so the
code that finds an app's image tag runs unchanged on a checked-out branch (``bump``) and on
``origin/dev`` read with ``git show`` (``promote``). Paths are POSIX, relative to the repository
root; a path that climbs out of it is refused.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Protocol

from infra.delivery.git import Git
from infra.errors import InputError

__all__ = ["GitTree", "Tree", "WorkTree", "clean_path"]


def clean_path(path: str) -> str:
    """Normalise a repository-relative POSIX path; refuse absolute or escaping ones."""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith(("/", "../")) or cleaned == "..":
        raise InputError(f"path {path!r} leaves the repository")
    return "" if cleaned == "." else cleaned


class Tree(Protocol):
    label: str
    """What this tree is, for messages: ``working tree (branch dev)``, ``origin/dev``."""

    def read(self, path: str) -> str | None:
        """The UTF-8 text of a file (line endings kept), or ``None`` when it is not a file."""
        ...

    def files(self, directory: str, *, recursive: bool) -> list[str]:
        """Paths of the files in ``directory`` (sorted), with its sub-folders when recursive."""
        ...


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None


class WorkTree:
    """The files of a working copy on disk."""

    def __init__(self, root: Path, label: str = "working tree") -> None:
        self.root = root
        self.label = label

    def read(self, path: str) -> str | None:
        target = self.root / clean_path(path)
        if not target.is_file():
            return None
        try:
            data = target.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        return _decode(data, path)

    def files(self, directory: str, *, recursive: bool) -> list[str]:
        base = self.root / clean_path(directory)
        if not base.is_dir():
            return []
        found = base.rglob("*") if recursive else base.iterdir()
        return sorted(p.relative_to(self.root).as_posix() for p in found if p.is_file())


class GitTree:
    """The files of one commit, read with ``git show`` / ``git ls-tree``."""

    def __init__(self, git: Git, ref: str, label: str | None = None) -> None:
        self.git = git
        self.ref = ref
        self.label = label or ref

    def read(self, path: str) -> str | None:
        data = self.git.show_bytes(self.ref, clean_path(path))
        return None if data is None else _decode(data, f"{self.ref}:{path}")

    def files(self, directory: str, *, recursive: bool) -> list[str]:
        folder = clean_path(directory)
        args = ["ls-tree", "-z", "--full-tree"]
        if recursive:
            args.append("-r")
        args += [self.ref, "--", f"{folder}/" if folder else "."]
        out = self.git.run(*args, check=False).stdout
        paths = []
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, _, name = entry.partition("\t")
            if meta.split()[1:2] == ["blob"]:
                paths.append(name)
        return sorted(paths)
