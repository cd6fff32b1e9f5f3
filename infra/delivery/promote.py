"""Promotion: propose the tag one stack runs for another, as a reviewable branch.

``platformctl promote --app NAME --from STACK --to STACK [--push]`` (default ``dev`` to
``prod``); each stack's environment and branch (``git.branch``) come from its
``Pulumi.<stack>.yaml`` (:mod:`infra.delivery.stacks`):

1. the same preamble as ``bump`` (:func:`infra.delivery.workcopy.open_working_copy`);
2. reads the app's tag on the source stack's branch without checking it out (with ``--push``
   the freshly fetched ``<remote>/<branch>``, otherwise the local branch, else the remote's),
   the app loaded by the catalog loader;
3. plans the same one-line change on the target stack's branch (fetched the same way), so a
   target branch that moved meanwhile is the base, not a stale copy; a digest the source
   records with the tag (``<tag>@sha256:...``, ``bump --digest``) is promoted with it;
4. when the target stack enables admission (``gitops-platform:admission``), checks with
   ``cosign verify`` that the image is signed by its signer and under a trusted registry
   (:mod:`infra.delivery.signature`): refused otherwise; when the image's registry cannot be
   reached, proceeds with a warning (the cluster's admission still checks it);
   ``--skip-signature-check`` skips the cosign part;
5. commits the change as ``gitops-platform-bot`` on top of it without touching HEAD, the index
   or the working tree, and with ``--push`` pushes it as the promotion branch (default
   ``promote/<app>-<tag>``; a pull request is then opened by the workflow; the merge is the
   approval). Transient push failures are retried, refusals fail at once;
6. only then creates the local promotion branch (HEAD stays where it was).

Nothing happens when the target already runs the tag (exit 0). Exit codes as for ``bump``:
0 promoted or nothing to promote; 1 invalid input (also: the image refused by the signature
check, or cosign missing); 2 usage; 3 git refused (not a working copy,
detached HEAD, uncommitted changes, missing branch or remote, promotion branch already exists,
push failed). On any failure no branch and no commit are left behind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from infra import constants
from infra.catalog.image_ref import DIGEST_PATTERN, TAG_PATTERN, Version
from infra.delivery.bump import app_plan
from infra.delivery.git import Git
from infra.delivery.signature import SignatureCheck, check_signature
from infra.delivery.stacks import resolve_stack
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

__all__ = ["PromoteRequest", "PromoteResult", "promote"]


@dataclass(frozen=True, kw_only=True)
class PromoteRequest(GitRequest):
    app: str
    source_stack: str = "dev"
    target_stack: str = "prod"
    branch: str | None = None
    skip_signature_check: bool = False
    """Do not run cosign (the trusted-registry check still applies); a warning says so."""


@dataclass(frozen=True)
class PromoteResult:
    app: str
    source_env: str
    target_env: str
    source_ref: str
    base_ref: str
    tag: str
    old_tag: str
    files: tuple[str, ...]
    changed: bool
    branch: str | None = None
    commit: str | None = None
    base_commit: str | None = None
    pushed: bool = False
    digest: str | None = None
    old_digest: str | None = None
    signature: SignatureCheck | None = None
    """The target stack's signature check (``None``: its admission is not enabled, or there
    was nothing to promote)."""

    @property
    def warnings(self) -> tuple[str, ...]:
        warning = self.signature.warning if self.signature is not None else None
        return (warning,) if warning else ()

    def summary(self) -> str:
        route = f"{self.app} {self.source_env} -> {self.target_env}"
        new = Version(self.tag, self.digest)
        if not self.changed:
            return (
                f"{route}: {self.target_env} already runs {new} ({', '.join(self.files)} "
                f"on {self.base_ref}); nothing to promote"
            )
        old = str(Version(self.old_tag, self.old_digest))
        lines = [
            f"{route}: {old or '(empty)'} -> {new}",
            *(f"  {file}" for file in self.files),
            f"  tag read from {self.source_ref}; based on {self.base_ref} "
            f"({(self.base_commit or '')[:12]})",
            f"  branch {self.branch}, commit {(self.commit or '')[:12]}"
            + (" (pushed)" if self.pushed else " (not pushed; use --push)"),
        ]
        if self.signature is not None and self.signature.status == "verified":
            lines.append(
                f"  signature of {self.signature.digest} verified ({self.signature.signer})"
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        data["warnings"] = list(self.warnings)
        return data


def _remote_has_branch(copy: WorkingCopy, branch: str) -> bool:
    listed = copy.git.run(
        "ls-remote", "--exit-code", "--heads", copy.remote, f"refs/heads/{branch}", check=False
    )
    if listed.ok:
        return True
    if listed.returncode != 2:
        raise GitError(f"cannot list branches of {copy.remote!r}: {listed.message}")
    return False


def promote(
    request: PromoteRequest,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: Backoff | None = None,
) -> PromoteResult:
    """Run the promotion (see the module docstring). Raises :class:`InputError` (exit 1) or
    :class:`GitError` (exit 3); on any error no branch and no commit are created and the
    working copy is as it was."""
    if request.source_stack == request.target_stack:
        raise InputError("--from and --to must name different stacks")
    root = Git(request.repo).toplevel()
    source = resolve_stack(root, request.source_stack, None, stack_flag="--from")
    target = resolve_stack(root, request.target_stack, None, stack_flag="--to")
    if source.environment == target.environment:
        raise InputError(
            f"--from {source.stack} and --to {target.stack} both deploy environment "
            f"{source.environment}; a promotion goes from one environment to another"
        )
    copy = open_working_copy(
        root,
        request.remote,
        push=request.push,
        fetch=[source.branch, target.branch],
        writes=target.branch,
    )
    source_ref, source_name = copy.branch_ref(source.branch)
    base_ref, base_name = copy.branch_ref(target.branch)

    source_plan = app_plan(copy, source, source_ref, source_name, request.app, "--from")
    version = source_plan.current()
    tag, digest = version.tag, version.digest
    if TAG_PATTERN.fullmatch(tag) is None:
        raise InputError(
            f"{', '.join(source_plan.files)} on {source_name}: {tag or '(empty)'!r} is not a "
            "valid image tag; nothing to promote"
        )
    if digest is not None and DIGEST_PATTERN.fullmatch(digest) is None:
        raise InputError(
            f"{', '.join(source_plan.files)} on {source_name}: {str(version)!r} records "
            f"{digest or '(empty)'!r}, which is not an image digest (sha256:<64 lower-case "
            "hex>); nothing to promote"
        )
    base_commit = copy.git.rev(base_ref)
    base_plan = app_plan(copy, target, base_commit, base_name, request.app, "--to")
    edits = base_plan.edits(tag, digest)
    result = PromoteResult(
        app=request.app,
        source_env=source.environment,
        target_env=target.environment,
        source_ref=source_name,
        base_ref=base_name,
        tag=tag,
        old_tag=tag,
        files=base_plan.files,
        changed=False,
        digest=digest,
        old_digest=digest,
    )
    if not edits:
        return result

    branch = request.branch or f"promote/{request.app}-{tag}"
    if not copy.git.valid_branch_name(branch):
        raise InputError(f"--branch: {branch!r} is not a valid git branch name")
    if copy.git.has_ref(f"refs/heads/{branch}"):
        raise GitError(f"branch {branch!r} already exists in {root}; delete it or pass --branch")
    if request.push and _remote_has_branch(copy, branch):
        raise GitError(
            f"branch {branch!r} already exists on {copy.remote} (an open promotion of this "
            "tag?); merge or delete it, or pass --branch"
        )
    signature = None
    if target.admission.enabled:
        signature = check_signature(
            base_plan.app.definition.image.repository,
            version,
            target.admission,
            where=f"stack {target.stack} ({constants.stack_file(target.stack)})",
            skip=request.skip_signature_check,
        )
    old = edits[0].old_versions[0]
    message = "\n".join(
        [
            f"promote({target.environment}): {request.app} {tag}",
            "",
            *(f"{edit.file}: {str(old) or '(empty)'} -> {version}" for edit in edits),
            "",
            f"{source.environment} ({source_name}) runs {version}; promoted by "
            "`platformctl promote`.",
            *(_signature_lines(signature)),
        ]
    )
    files = {edit.file: edit.new_text.encode("utf-8") for edit in edits}
    commit = copy.git.write_commit(base_commit, files, message)
    pushed = False
    if request.push:
        outcome, used, why = push(
            copy, commit, branch, attempts=attempts, backoff=backoff or Backoff()
        )
        if outcome != "ok":
            kind = "still failed" if outcome == "transient" else "was refused"
            raise GitError(
                f"push of branch {branch!r} to {copy.remote} {kind} after {used} attempt(s) "
                f"(no branch was created locally): {why}"
            )
        pushed = True
        copy.git.run("update-ref", f"refs/remotes/{copy.remote}/{branch}", commit)
    advance_branch(copy, branch, None, commit)
    return PromoteResult(
        app=request.app,
        source_env=source.environment,
        target_env=target.environment,
        source_ref=source_name,
        base_ref=base_name,
        tag=tag,
        old_tag=old.tag,
        files=tuple(edit.file for edit in edits),
        changed=True,
        branch=branch,
        commit=commit,
        base_commit=base_commit,
        pushed=pushed,
        digest=digest,
        old_digest=old.digest,
        signature=signature,
    )


def _signature_lines(signature: SignatureCheck | None) -> list[str]:
    if signature is None:
        return []
    if signature.status == "verified":
        return ["", f"Signature of {signature.digest} verified: {signature.signer}."]
    return ["", f"Warning: {signature.warning}."]
