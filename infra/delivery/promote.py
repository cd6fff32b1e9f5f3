"""Promotion: propose the tag one environment runs for the next one, as a reviewable branch.

``platformctl promote --app NAME --from dev --to prod [--push]``:

1. reads the app's tag on the source branch without checking it out (``git show
   <ref>:<file>``; with ``--push`` the ref is the freshly fetched ``<remote>/dev``, otherwise the
   local ``dev`` branch, else ``<remote>/dev``);
2. plans the same one-line change on the target branch (``prod``, fetched the same way), so a
   target branch that moved meanwhile is the base, not a stale copy;
3. creates the promotion branch (default ``promote/<app>-<tag>``) from the target branch,
   commits the change as ``gitops-platform-bot`` and, with ``--push``, pushes that branch (a
   pull request to ``prod`` is then opened by the workflow; the merge is the approval).

Nothing happens when the target already runs the tag (exit 0). Exit codes as for ``bump``:
0 promoted or nothing to promote; 1 invalid input; 2 usage; 3 git refused (not a working copy,
uncommitted changes, missing branch or remote, promotion branch already exists, push failed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.delivery.app_tag import load_app, locate_tag
from infra.delivery.bump import environment_branch
from infra.delivery.errors import GitError, InputError
from infra.delivery.git import Git
from infra.delivery.image_ref import TAG_PATTERN
from infra.delivery.tree import GitTree

__all__ = ["PromoteRequest", "PromoteResult", "promote"]


@dataclass(frozen=True)
class PromoteRequest:
    app: str
    source_env: str = "dev"
    target_env: str = "prod"
    repo: Path = Path()
    push: bool = False
    remote: str = "origin"
    branch: str | None = None


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

    def summary(self) -> str:
        route = f"{self.app} {self.source_env} -> {self.target_env}"
        if not self.changed:
            return (
                f"{route}: {self.target_env} already runs {self.tag} ({', '.join(self.files)} "
                f"on {self.base_ref}); nothing to promote"
            )
        lines = [
            f"{route}: {self.old_tag or '(empty)'} -> {self.tag}",
            *(f"  {file}" for file in self.files),
            f"  tag read from {self.source_ref}; based on {self.base_ref} "
            f"({(self.base_commit or '')[:12]})",
            f"  branch {self.branch}, commit {(self.commit or '')[:12]}"
            + (" (pushed)" if self.pushed else " (not pushed; use --push)"),
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        return data


def _resolve(git: Git, branch: str, remote: str, *, fetched: bool) -> tuple[str, str]:
    """The ref to read ``branch`` from, and its display name."""
    remote_ref = f"refs/remotes/{remote}/{branch}"
    if fetched:
        return remote_ref, f"{remote}/{branch}"
    if git.has_ref(f"refs/heads/{branch}"):
        return f"refs/heads/{branch}", branch
    if git.has_ref(remote_ref):
        return remote_ref, f"{remote}/{branch}"
    raise GitError(
        f"branch {branch!r} does not exist in {git.repo} (no local branch, no {remote}/{branch})"
    )


def _fetch(git: Git, remote: str, branch: str) -> None:
    fetched = git.fetch(remote, branch)
    if not fetched.ok:
        raise GitError(f"cannot fetch branch {branch!r} from {remote!r}: {fetched.message}")


def promote(request: PromoteRequest) -> PromoteResult:
    """Run the promotion (see the module docstring). Raises :class:`InputError` (exit 1) or
    :class:`GitError` (exit 3); on any error no branch and no commit are created."""
    source_branch = environment_branch(request.source_env, "--from")
    target_branch = environment_branch(request.target_env, "--to")
    if request.source_env == request.target_env:
        raise InputError("--from and --to must name different environments")
    git = Git(request.repo)
    git = Git(git.toplevel())
    dirty = git.dirty_paths()
    if dirty:
        raise GitError(
            f"the working tree of {git.repo} has uncommitted changes ({', '.join(dirty[:5])}); "
            "commit or stash them first"
        )
    if request.push:
        if not git.has_remote(request.remote):
            raise GitError(f"--remote: {git.repo} has no remote named {request.remote!r}")
        _fetch(git, request.remote, source_branch)
        _fetch(git, request.remote, target_branch)
    source_ref, source_name = _resolve(git, source_branch, request.remote, fetched=request.push)
    base_ref, base_name = _resolve(git, target_branch, request.remote, fetched=request.push)

    source_tree = GitTree(git, source_ref, source_name)
    source_plan = locate_tag(
        source_tree, load_app(source_tree, request.app), request.source_env, "--from"
    )
    tag = source_plan.current_tag()
    if TAG_PATTERN.fullmatch(tag) is None:
        raise InputError(
            f"{', '.join(source_plan.files)} on {source_name}: {tag or '(empty)'!r} is not a "
            "valid image tag; nothing to promote"
        )

    base_tree = GitTree(git, base_ref, base_name)
    base_plan = locate_tag(base_tree, load_app(base_tree, request.app), request.target_env, "--to")
    edits = base_plan.edits(tag)
    result = PromoteResult(
        app=request.app,
        source_env=request.source_env,
        target_env=request.target_env,
        source_ref=source_name,
        base_ref=base_name,
        tag=tag,
        old_tag=tag,
        files=base_plan.files,
        changed=False,
    )
    if not edits:
        return result

    branch = request.branch or f"promote/{request.app}-{tag}"
    if not git.valid_branch_name(branch):
        raise InputError(f"--branch: {branch!r} is not a valid git branch name")
    if git.has_ref(f"refs/heads/{branch}"):
        raise GitError(
            f"branch {branch!r} already exists in {git.repo}; delete it or pass --branch"
        )
    if request.push:
        listed = git.run(
            "ls-remote",
            "--exit-code",
            "--heads",
            request.remote,
            f"refs/heads/{branch}",
            check=False,
        )
        if listed.ok:
            raise GitError(
                f"branch {branch!r} already exists on {request.remote} (an open promotion of "
                "this tag?); merge or delete it, or pass --branch"
            )
        if listed.returncode != 2:
            raise GitError(f"cannot list branches of {request.remote!r}: {listed.message}")

    base_commit = git.rev(base_ref)
    git.run("checkout", "--quiet", "--no-track", "-b", branch, base_commit)
    root = git.repo
    for edit in edits:
        target = root / edit.file
        try:
            if target.read_bytes() != edit.old_text.encode("utf-8"):
                raise GitError(
                    f"{edit.file} in the working tree differs from {base_name} after checkout "
                    "(core.autocrlf or a smudge filter?); refusing to rewrite it"
                )
            target.write_bytes(edit.new_text.encode("utf-8"))
        except OSError as exc:
            raise GitError(f"{edit.file}: cannot rewrite: {exc.strerror}") from None
    old_tag = edits[0].old_tags[0]
    message = "\n".join(
        [
            f"promote({request.target_env}): {request.app} {tag}",
            "",
            *(f"{edit.file}: {old_tag or '(empty)'} -> {tag}" for edit in edits),
            "",
            f"{request.source_env} ({source_name}) runs {tag}; promoted by `platformctl promote`.",
        ]
    )
    commit = git.commit_paths([edit.file for edit in edits], message)
    pushed = False
    if request.push:
        result_push = git.run(
            "push",
            "--porcelain",
            "--set-upstream",
            request.remote,
            f"refs/heads/{branch}:refs/heads/{branch}",
            check=False,
        )
        if not result_push.ok:
            raise GitError(
                f"committed {commit[:12]} on branch {branch!r}, but the push to "
                f"{request.remote} failed: {result_push.message}"
            )
        pushed = True
    return PromoteResult(
        app=request.app,
        source_env=request.source_env,
        target_env=request.target_env,
        source_ref=source_name,
        base_ref=base_name,
        tag=tag,
        old_tag=old_tag,
        files=tuple(edit.file for edit in edits),
        changed=True,
        branch=branch,
        commit=commit,
        base_commit=base_commit,
        pushed=pushed,
    )
