"""The handoff: set one app's image tag for one stack, as one commit on the stack's branch.

``platformctl bump --app NAME --stack STACK --tag TAG [--digest sha256:HEX] [--push]`` in a
git working copy:

1. reads the stack's settings (``Pulumi.<stack>.yaml`` in the working copy): its environment,
   its branch (``git.branch``) and its catalog folder (``catalog.appsDir``). ``--env ENV``
   instead of ``--stack`` names the one stack that deploys ENV (several: refused);
2. checks the working copy (:func:`infra.delivery.workcopy.open_working_copy`: a branch checked
   out, no uncommitted changes; with ``--push`` the remote, and the branch fetched);
3. loads the app with the catalog loader from the branch's tip (with ``--push`` the fetched
   ``<remote>/<branch>``; local commits not on the remote are refused) and rewrites the one
   scalar that holds the tag (:mod:`infra.yaml_roundtrip`: the diff is that one line,
   comments/quoting/CRLF kept), as a commit of ``gitops-platform-bot`` on top of that tip,
   built without touching HEAD, the index or the working tree. With ``--digest`` the same
   scalar records the digest too (``<tag>@sha256:...``, :mod:`infra.delivery.app_tag`);
   without it the value becomes the tag alone, so a digest of an earlier tag never stays;
4. with ``--push``, pushes it. When the branch moved meanwhile (other pipelines' bumps), it
   fetches and builds the commit again on the new tip (the last bump to push wins). A
   transient failure (network, a lock on the remote) is retried with jittered exponential
   backoff; a refusal (a hook, permissions, a protected branch) fails at once. At most
   ``attempts`` pushes;
5. only then moves the local branch to the commit (a fast-forward; the checked-out branch's
   files follow).

Why no update is lost: a push either lands (then the commit is in the remote history) or is
refused as a whole. After a refusal, the commit is rebuilt on top of the remote's newest tip,
which holds every bump that has landed, and only that rebuilt commit is pushed; nothing is ever
force-pushed. On any failure the working copy is left as it was (no commit on a branch).

Exit codes (``platformctl bump``): 0 the tag was changed (and pushed) or already had that value;
1 invalid input (stack, tag, app, environment, app not enabled there, the file holding the
tag); 2 command-line usage; 3 git refused (not a working copy, detached HEAD, missing branch or
remote, uncommitted changes, local commits not on the remote, the push refused or still failing
after every attempt).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.catalog.image_ref import Version, validate_digest, validate_tag
from infra.delivery.app_tag import FileEdit, TagPlan, load_app, locate_tag
from infra.delivery.git import Git
from infra.delivery.stacks import resolve_stack
from infra.delivery.tree import GitTree
from infra.delivery.workcopy import (
    DEFAULT_ATTEMPTS,
    Backoff,
    GitRequest,
    WorkingCopy,
    advance_branch,
    open_working_copy,
    push,
)
from infra.errors import GitError, InputError
from infra.settings import StackSettings

__all__ = [
    "DEFAULT_ATTEMPTS",
    "Backoff",
    "BumpRequest",
    "BumpResult",
    "app_plan",
    "bump",
]


@dataclass(frozen=True, kw_only=True)
class BumpRequest(GitRequest):
    app: str
    env: str | None
    """The environment: checks ``stack``'s, or without ``stack`` finds the stack."""
    tag: str
    digest: str | None = None
    """``sha256:<hex>``: the image the tag names, recorded with it (``--digest``)."""
    stack: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class BumpResult:
    app: str
    env: str
    stack: str
    branch: str
    tag: str
    old_tag: str
    files: tuple[str, ...]
    changed: bool
    """Whether this run made a commit (``False``: the branch already had the tag)."""
    digest: str | None = None
    old_digest: str | None = None
    commit: str | None = None
    pushed: bool = False
    attempts: int = 0
    """Push attempts used (0 without ``--push``)."""

    def summary(self) -> str:
        where = ", ".join(self.files)
        new = Version(self.tag, self.digest)
        if not self.changed:
            return (
                f"{self.app} {self.env}: already at {new} ({where}) on branch "
                f"{self.branch}; nothing to commit"
            )
        old = str(Version(self.old_tag, self.old_digest))
        text = (
            f"{self.app} {self.env}: {old or '(empty)'} -> {new} ({where}); "
            f"committed {(self.commit or '')[:12]} on branch {self.branch}"
        )
        if self.pushed:
            text += f"; pushed (attempt {self.attempts})"
        return text


def _commit_message(
    request: BumpRequest, env: str, edits: tuple[FileEdit, ...], old: Version
) -> str:
    if request.message:
        return request.message
    new = Version(request.tag, request.digest)
    lines = [f"deploy({env}): {request.app} {request.tag}", ""]
    for edit in edits:
        lines.append(f"{edit.file}: {str(old) or '(empty)'} -> {new}")
    lines.append("")
    lines.append("Image tag handoff by `platformctl bump`.")
    return "\n".join(lines)


def app_plan(
    copy: WorkingCopy, settings: StackSettings, ref: str, label: str, app: str, flag: str
) -> TagPlan:
    """Where ``app``'s tag lives for the stack's environment at ``ref``: the app loaded by the
    catalog loader from the stack's ``catalog.appsDir`` there."""
    tree = GitTree(copy.git, ref, label)
    loaded = load_app(
        tree, app, settings.catalog.appsDir, reserved_namespaces=settings.platform_namespaces
    )
    return locate_tag(tree, loaded, settings.environment, flag)


def _env_flag(request: BumpRequest) -> str:
    return "--stack" if request.stack is not None else "--env"


def _start(copy: WorkingCopy, branch: str) -> tuple[str, str, str | None]:
    """The commit the bump builds on, its name, and the local branch's commit (``None``: no
    local branch). With ``--push`` the fetched remote tip, and the local branch must not hold
    commits the remote lacks (moving it to the pushed commit would lose them)."""
    local = f"refs/heads/{branch}"
    local_commit = copy.git.rev(local) if copy.git.has_ref(local) else None
    ref, label = copy.branch_ref(branch)
    if copy.push and local_commit is not None:
        ahead = copy.git.count(f"{ref}..{local}")
        if ahead:
            raise GitError(
                f"local branch {branch!r} has {ahead} commit(s) that are not on {label}; push "
                "or drop them first (bump --push publishes only its own commit, and would "
                "otherwise leave them behind)"
            )
    return copy.git.rev(ref), label, local_commit


def bump(
    request: BumpRequest,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: Backoff | None = None,
) -> BumpResult:
    """Run the handoff (see the module docstring). Raises :class:`InputError` (exit 1) or
    :class:`GitError` (exit 3); on any error the working copy is as it was."""
    validate_tag(request.tag)
    if request.digest is not None:
        validate_digest(request.digest)
    if attempts < 1:
        raise InputError("attempts must be at least 1")
    backoff = backoff or Backoff()
    root = Git(request.repo).toplevel()
    settings = resolve_stack(root, request.stack, request.env)
    branch = settings.branch
    copy = open_working_copy(root, request.remote, push=request.push, fetch=[branch], writes=branch)
    base, label, local_commit = _start(copy, branch)

    new = Version(request.tag, request.digest)

    def result(plan: TagPlan, commit: str | None, old: Version, **extra: object) -> BumpResult:
        old = old if commit else new
        return BumpResult(
            app=request.app,
            env=settings.environment,
            stack=settings.stack,
            branch=branch,
            tag=request.tag,
            old_tag=old.tag,
            files=plan.files,
            changed=commit is not None,
            digest=request.digest,
            old_digest=old.digest,
            commit=commit,
            **extra,  # type: ignore[arg-type]
        )

    used = 0
    while True:
        plan = app_plan(copy, settings, base, f"branch {label}", request.app, _env_flag(request))
        edits = plan.edits(request.tag, request.digest)
        if not edits:
            return result(plan, None, new)
        old = edits[0].old_versions[0]
        files = {edit.file: edit.new_text.encode("utf-8") for edit in edits}
        message = _commit_message(request, settings.environment, edits, old)
        commit = copy.git.write_commit(base, files, message)
        if not request.push:
            advance_branch(copy, branch, local_commit, commit)
            return result(plan, commit, old)
        outcome, tries, why = push(copy, commit, branch, attempts=attempts - used, backoff=backoff)
        used += tries
        if outcome == "ok":
            copy.git.run("update-ref", f"refs/remotes/{copy.remote}/{branch}", commit)
            advance_branch(copy, branch, local_commit, commit)
            return result(plan, commit, old, pushed=True, attempts=used)
        if outcome == "moved" and used < attempts:
            backoff.wait(used)
            fetched = copy.fetch(branch)
            tip = copy.git.rev(f"refs/remotes/{copy.remote}/{branch}") if fetched.ok else base
            if tip != base:
                base = tip  # another pipeline's push landed: build again on top of it
                continue
            # Refused as not a fast-forward, yet the branch did not move: retrying cannot help.
            outcome = "permanent"
            why = fetched.message if not fetched.ok else why
        kind = "was refused" if outcome == "permanent" else "still failed"
        raise GitError(
            f"push of {request.app} {settings.environment} {request.tag} to "
            f"{copy.remote}/{branch} {kind} after {used} attempt(s) (nothing was changed "
            f"locally): {why}"
        )
