"""The handoff: set one app's image tag for one environment, as one commit on its branch.

``platformctl bump --app NAME --env ENV --tag TAG [--push]`` in a git working copy:

1. checks the request (tag grammar, environment, app and its definition) and the working copy
   (a repository, no uncommitted changes to tracked files, the branch exists);
2. checks out the environment's branch (``dev`` or ``prod``); with ``--push`` it first fetches
   it and fast-forwards to the remote (local commits not on the remote are refused);
3. rewrites the one scalar that holds the tag (:mod:`infra.delivery.yaml_scalar`: the diff is
   that one line, comments/quoting/CRLF kept) and commits it as ``gitops-platform-bot``;
4. with ``--push``, pushes; when the branch moved meanwhile (other pipelines' bumps), fetches,
   rebases the commit onto the new tip and pushes again. When the rebase conflicts (another
   bump of the same line) the commit is dropped and the bump is done again on top of the new
   tip, so the last bump to push wins. Bounded: ``attempts`` tries with jittered exponential
   backoff.

Why no update is lost: a push either lands (then the commit is in the remote history) or is
refused as a whole. After a refusal, the commit is rebuilt on top of the remote's newest tip,
which holds every bump that has landed, and only that rebuilt commit is pushed; nothing is ever
force-pushed. Each failed attempt means another pipeline's push landed in between, so with N
pipelines racing, each one lands within N attempts.

Exit codes (``platformctl bump``): 0 the tag was changed (and pushed) or already had that value;
1 invalid input (tag, app, environment, app not enabled there, the file holding the tag);
2 command-line usage; 3 git refused (not a working copy, missing branch or remote, uncommitted
changes, local commits not on the remote, or the push failed after every attempt).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from infra import constants
from infra.delivery.app_tag import FileEdit, load_app, locate_tag
from infra.delivery.errors import GitError, InputError
from infra.delivery.git import Git
from infra.delivery.image_ref import validate_tag
from infra.delivery.tree import GitTree, WorkTree

__all__ = [
    "BRANCHES",
    "DEFAULT_ATTEMPTS",
    "Backoff",
    "BumpRequest",
    "BumpResult",
    "bump",
    "environment_branch",
    "validate_environment",
]

BRANCHES: Final = {"dev": "dev", "prod": "prod"}
"""The branch each environment's stack tracks (``git.branch`` of ``Pulumi.<env>.yaml``)."""
DEFAULT_ATTEMPTS: Final = 20
# A refusal that another attempt cannot fix: fail at once instead of retrying.
_PERMANENT: Final = (
    "authentication failed",
    "permission denied",
    "permission to",
    "could not read username",
    "repository not found",
    "does not appear to be a git repository",
    "protected branch",
)


def validate_environment(env: str, flag: str = "--env") -> str:
    if env not in constants.ENVIRONMENTS:
        raise InputError(
            f"{flag}: unknown environment {env!r}; expected one of "
            f"{', '.join(constants.ENVIRONMENTS)}"
        )
    return env


def environment_branch(env: str, flag: str = "--env") -> str:
    """The branch ``env`` is deployed from; an unknown environment is an :class:`InputError`."""
    return BRANCHES[validate_environment(env, flag)]


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
class BumpRequest:
    app: str
    env: str
    tag: str
    repo: Path = Path()
    push: bool = False
    remote: str = "origin"
    message: str | None = None


@dataclass(frozen=True)
class BumpResult:
    app: str
    env: str
    branch: str
    tag: str
    old_tag: str
    files: tuple[str, ...]
    changed: bool
    """Whether this run made a commit (``False``: the branch already had the tag)."""
    commit: str | None = None
    pushed: bool = False
    attempts: int = 0
    """Push attempts used (0 without ``--push``)."""

    def summary(self) -> str:
        where = ", ".join(self.files)
        if not self.changed:
            return (
                f"{self.app} {self.env}: already at {self.tag} ({where}) on branch "
                f"{self.branch}; nothing to commit"
            )
        text = (
            f"{self.app} {self.env}: {self.old_tag or '(empty)'} -> {self.tag} ({where}); "
            f"committed {(self.commit or '')[:12]} on branch {self.branch}"
        )
        if self.pushed:
            text += f"; pushed (attempt {self.attempts})"
        return text


def _commit_message(request: BumpRequest, edits: tuple[FileEdit, ...], old: str) -> str:
    if request.message:
        return request.message
    lines = [f"deploy({request.env}): {request.app} {request.tag}", ""]
    for edit in edits:
        lines.append(f"{edit.file}: {old or '(empty)'} -> {request.tag}")
    lines.append("")
    lines.append("Image tag handoff by `platformctl bump`.")
    return "\n".join(lines)


def _ensure_clean(git: Git) -> None:
    dirty = git.dirty_paths()
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise GitError(
            f"the working tree of {git.repo} has uncommitted changes ({shown}); commit or stash "
            "them first, the bump commits only its own change"
        )


def checkout_branch(git: Git, branch: str, remote: str) -> None:
    """Switch to ``branch``, creating it from ``<remote>/<branch>`` when only that exists."""
    if git.has_ref(f"refs/heads/{branch}"):
        if git.current_branch() != branch:
            git.run("checkout", "--quiet", branch)
        return
    if git.has_ref(f"refs/remotes/{remote}/{branch}"):
        git.run("checkout", "--quiet", "-b", branch, "--track", f"{remote}/{branch}")
        return
    raise GitError(
        f"branch {branch!r} does not exist in {git.repo} (no local branch, no {remote}/{branch}); "
        f"the {branch} environment is deployed from it"
    )


def _branch_ref(git: Git, branch: str, remote: str, *, pushing: bool) -> str:
    """The commit the bump will start from, without switching to it: with ``--push`` the
    freshly fetched ``<remote>/<branch>`` (the local branch may not have commits of its own:
    ``--push`` publishes the bump commit, not unrelated work), else the local branch, else
    ``<remote>/<branch>``."""
    local = f"refs/heads/{branch}"
    upstream = f"refs/remotes/{remote}/{branch}"
    if pushing:
        fetched = git.fetch(remote, branch)
        if not fetched.ok:
            raise GitError(f"cannot fetch branch {branch!r} from {remote!r}: {fetched.message}")
        ahead = git.count(f"{upstream}..{local}") if git.has_ref(local) else 0
        if ahead:
            raise GitError(
                f"local branch {branch!r} has {ahead} commit(s) that are not on "
                f"{remote}/{branch}; push or drop them first (bump --push publishes only its "
                "own commit)"
            )
        return upstream
    for ref in (local, upstream):
        if git.has_ref(ref):
            return ref
    raise GitError(
        f"branch {branch!r} does not exist in {git.repo} (no local branch, no {remote}/{branch}); "
        f"the {branch} environment is deployed from it"
    )


class _Bumper:
    """One bump in one working copy: plan on the checked-out files, write, commit."""

    def __init__(self, git: Git, root: Path, request: BumpRequest, branch: str) -> None:
        self.git = git
        self.root = root
        self.request = request
        self.branch = branch
        self.old_tag = ""
        self.files: tuple[str, ...] = ()

    def commit(self) -> str | None:
        """Apply the bump to the working tree and commit it; ``None`` when already there."""
        tree = WorkTree(self.root, f"branch {self.branch}")
        app = load_app(tree, self.request.app)
        plan = locate_tag(tree, app, self.request.env)
        self.files = plan.files
        edits = plan.edits(self.request.tag)
        if not edits:
            return None
        self.old_tag = edits[0].old_tags[0]
        for edit in edits:
            try:
                (self.root / edit.file).write_bytes(edit.new_text.encode("utf-8"))
            except OSError as exc:
                raise GitError(f"{edit.file}: cannot write: {exc.strerror}") from None
        message = _commit_message(self.request, edits, self.old_tag)
        return self.git.commit_paths([edit.file for edit in edits], message)

    def already_there(self) -> bool:
        tree = WorkTree(self.root, f"branch {self.branch}")
        plan = locate_tag(tree, load_app(tree, self.request.app), self.request.env)
        return not plan.edits(self.request.tag)

    def result(self, commit: str | None, *, pushed: bool = False, attempts: int = 0) -> BumpResult:
        return BumpResult(
            app=self.request.app,
            env=self.request.env,
            branch=self.branch,
            tag=self.request.tag,
            old_tag=self.old_tag if commit else self.request.tag,
            files=self.files,
            changed=commit is not None,
            commit=commit,
            pushed=pushed,
            attempts=attempts,
        )


def _integrate(bumper: _Bumper, upstream: str) -> str | None:
    """Put the bump on top of ``upstream`` (just fetched): rebase the commit; when that
    conflicts or the rebased tree does not hold the tag, drop it and bump again there.
    Returns the commit to push, or ``None`` when upstream already holds the tag."""
    git = bumper.git
    rebased = git.run("rebase", "--quiet", upstream, check=False)
    if rebased.ok and git.count(f"{upstream}..HEAD") == 1 and bumper.already_there():
        return git.rev("HEAD")
    if not rebased.ok:
        git.run("rebase", "--abort", check=False)
    git.run("reset", "--quiet", "--hard", upstream)
    return bumper.commit()


def bump(
    request: BumpRequest,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: Backoff | None = None,
) -> BumpResult:
    """Run the handoff (see the module docstring). Raises :class:`InputError` (exit 1) or
    :class:`GitError` (exit 3). Invalid requests are refused before anything changes; when the
    push fails after every attempt, the commit exists in this working copy only."""
    validate_tag(request.tag)
    branch = environment_branch(request.env)
    if attempts < 1:
        raise InputError("attempts must be at least 1")
    backoff = backoff or Backoff()
    git = Git(request.repo)
    root = git.toplevel()
    git = Git(root)
    _ensure_clean(git)
    if request.push and not git.has_remote(request.remote):
        raise GitError(f"--remote: {root} has no remote named {request.remote!r}")
    start = _branch_ref(git, branch, request.remote, pushing=request.push)
    # Check the request against the branch's files before switching to it: an invalid request
    # leaves the working copy as it was.
    tree = GitTree(git, start, f"branch {branch}")
    locate_tag(tree, load_app(tree, request.app), request.env).edits(request.tag)
    checkout_branch(git, branch, request.remote)
    if request.push:
        git.run("merge", "--quiet", "--ff-only", start)
    bumper = _Bumper(git, root, request, branch)
    commit = bumper.commit()
    if commit is None or not request.push:
        return bumper.result(commit)
    upstream = f"refs/remotes/{request.remote}/{branch}"
    last = ""
    for attempt in range(1, attempts + 1):
        pushed = git.push(request.remote, "HEAD", branch)
        if pushed.ok:
            return bumper.result(commit, pushed=True, attempts=attempt)
        last = pushed.message
        if any(word in last.lower() for word in _PERMANENT):
            break
        if attempt == attempts:
            break
        backoff.wait(attempt)
        fetched = git.fetch(request.remote, branch)
        if not fetched.ok:
            last = fetched.message
            continue
        commit = _integrate(bumper, upstream)
        if commit is None:
            return bumper.result(None)
    raise GitError(
        f"push of {request.app} {request.env} {request.tag} to {request.remote}/{branch} "
        f"failed after {attempt} attempt(s): {last}"
    )
