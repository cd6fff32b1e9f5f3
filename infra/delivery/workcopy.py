"""What ``bump`` and ``promote`` share: the working copy they start from and how they publish.

:func:`open_working_copy` is the one preamble: the repository (its top level), a branch checked
out (a detached HEAD is refused: its commits are easy to lose and nothing says which branch the
user meant), no uncommitted changes, the remote, and the branches fetched with ``--push``.

Both commands then build their commit with :meth:`infra.delivery.git.Git.write_commit`, which
touches no ref, no index and no working tree, and only move a local branch once everything
else worked (:func:`advance_branch`). So on any failure the working copy is exactly as it was:
same HEAD, same branches, same index and files (only ``refs/remotes/<remote>/*`` may have been
fetched).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from infra.delivery.git import Git, GitResult, PushOutcome, classify_push
from infra.errors import GitError

__all__ = [
    "DEFAULT_ATTEMPTS",
    "Backoff",
    "GitRequest",
    "WorkingCopy",
    "advance_branch",
    "open_working_copy",
    "push",
]

DEFAULT_ATTEMPTS: Final = 20


@dataclass(frozen=True, kw_only=True)
class GitRequest:
    """What every command that commits to this repository is given: the working copy, and
    whether (and where) to push."""

    repo: Path = Path()
    push: bool = False
    remote: str = "origin"


@dataclass(frozen=True)
class Backoff:
    """Jittered exponential backoff: after attempt n, sleep min(cap, base * 2^(n-1)) times a
    random factor in [0.5, 1.5) (50 ms, 100 ms, ... at most 2 s by default)."""

    base: float = 0.05
    cap: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep

    def wait(self, attempt: int) -> None:
        delay = min(self.cap, self.base * (2 ** min(attempt - 1, 16)))
        self.sleep(delay * self.rng.uniform(0.5, 1.5))


@dataclass(frozen=True)
class WorkingCopy:
    git: Git
    root: Path
    remote: str
    push: bool
    head: str
    """The branch checked out."""

    def branch_ref(self, branch: str) -> tuple[str, str]:
        """The ref to read ``branch`` from and its name for messages: with ``--push`` the
        just fetched ``<remote>/<branch>``, otherwise the local branch, else the remote's."""
        local = f"refs/heads/{branch}"
        upstream = f"refs/remotes/{self.remote}/{branch}"
        if self.push:
            return upstream, f"{self.remote}/{branch}"
        if self.git.has_ref(local):
            return local, branch
        if self.git.has_ref(upstream):
            return upstream, f"{self.remote}/{branch}"
        raise GitError(
            f"branch {branch!r} does not exist in {self.root} (no local branch, no "
            f"{self.remote}/{branch})"
        )

    def fetch(self, branch: str) -> GitResult:
        return self.git.fetch(self.remote, branch)


def open_working_copy(
    repo: Path, remote: str, *, push: bool, fetch: Iterable[str], writes: str
) -> WorkingCopy:
    """The preamble of ``bump`` and ``promote`` (see the module docstring); changes nothing
    but ``refs/remotes/<remote>/<branch>`` of the branches in ``fetch`` (with ``push``).
    ``writes`` is the branch the command will move: refused when another worktree has it
    checked out (its files would no longer match its branch)."""
    git = Git(repo)
    root = git.toplevel()
    git = Git(root)
    elsewhere = git.other_worktrees().get(writes)
    if elsewhere is not None:
        raise GitError(
            f"branch {writes!r} is checked out in another worktree ({elsewhere}); the command "
            "would move it under that worktree's files: run it there, or check out another "
            "branch there first"
        )
    head = git.current_branch()
    if head is None:
        at = git.run("rev-parse", "--short", "HEAD", check=False).stdout.strip() or "?"
        raise GitError(
            f"HEAD of {root} is detached (at {at}); check out a branch first: the command never "
            "moves HEAD, and commits made on a detached HEAD are easily lost"
        )
    dirty = git.dirty_paths()
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise GitError(
            f"the working tree of {root} has uncommitted changes ({shown}); commit or stash "
            "them first, the command commits only its own change"
        )
    if push:
        if not git.has_remote(remote):
            raise GitError(f"--remote: {root} has no remote named {remote!r}")
        for branch in dict.fromkeys(fetch):
            fetched = git.fetch(remote, branch)
            if not fetched.ok:
                raise GitError(f"cannot fetch branch {branch!r} from {remote!r}: {fetched.message}")
    return WorkingCopy(git=git, root=root, remote=remote, push=push, head=head)


def push(
    copy: WorkingCopy,
    commit: str,
    branch: str,
    *,
    attempts: int,
    backoff: Backoff,
) -> tuple[PushOutcome, int, str]:
    """Push ``commit`` to ``branch`` of the remote, retrying only transient failures (network,
    locks) up to ``attempts`` times. Returns the outcome (``ok``, ``moved``: the branch moved,
    the caller rebuilds; ``transient`` after every attempt; ``permanent``: at once), the
    attempts used and git's message."""
    message = ""
    for attempt in range(1, attempts + 1):
        result = copy.git.push(copy.remote, commit, branch)
        outcome = classify_push(result)
        message = result.message
        if outcome != "transient" or attempt == attempts:
            return outcome, attempt, message
        backoff.wait(attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def advance_branch(copy: WorkingCopy, branch: str, old: str | None, new: str) -> None:
    """Move the local ``branch`` from ``old`` (``None``: it does not exist yet) to ``new``, a
    descendant: the checked-out branch by a fast-forward merge (its files follow; the working
    tree is clean), any other with a compare-and-swap ``update-ref`` (refused when the branch
    moved meanwhile: nothing is lost)."""
    git = copy.git
    ref = f"refs/heads/{branch}"
    if old is not None and branch == copy.head:
        merged = git.run("merge", "--quiet", "--ff-only", new, check=False)
        if not merged.ok:
            raise GitError(
                f"cannot fast-forward the checked-out branch {branch!r} to {new[:12]}: "
                f"{merged.message}"
            )
        return
    updated = git.run("update-ref", ref, new, old or "", check=False)
    if not updated.ok:
        raise GitError(f"cannot move branch {branch!r} to {new[:12]}: {updated.message}")
    upstream = f"refs/remotes/{copy.remote}/{branch}"
    if old is None and git.has_ref(upstream):
        track = f"--set-upstream-to={copy.remote}/{branch}"
        git.run("branch", "--quiet", track, branch, check=False)
