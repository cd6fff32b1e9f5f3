"""``platformctl plan`` from its flags: the two revisions opened, the plan built, rendered, and
the whole plan written where ``--full-output`` says (:mod:`infra.delivery.plan` builds it,
:mod:`infra.delivery.plan_report` renders it)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from infra.atomic import write_atomically
from infra.delivery.git import Git
from infra.delivery.plan import build_plan, open_revision
from infra.delivery.plan_report import render_json, render_markdown
from infra.errors import InputError
from infra.project import find_project_root

__all__ = ["PlanRequest", "plan"]


@dataclass(frozen=True)
class PlanRequest:
    """What ``platformctl plan`` was asked (each field a flag)."""

    base: str
    head: str = "HEAD"
    stacks: list[str] | None = None
    """``None``: every stack at either revision."""
    output: Literal["markdown", "json"] = "markdown"
    full_output: Path | None = None
    previews: tuple[str, ...] = ()
    """``STACK=FILE``: a ``pulumi preview`` output folded into the stack's section."""


def _previews(entries: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for entry in entries:
        stack, sep, file = entry.partition("=")
        if not sep or not stack or not file:
            raise InputError(f"--preview: expected STACK=FILE, got {entry!r}")
        try:
            out[stack] = Path(file).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(f"--preview: {file}: cannot read: {exc.strerror}") from None
    return out


def plan(request: PlanRequest) -> str:
    """The plan of merging ``head`` into ``base`` for the project around the current directory,
    as the text to print (Markdown folded to the comment limit, or JSON); the unfolded plan is
    written to ``full_output`` first. Errors name the flag: :class:`InputError` (exit 1),
    ``GitError`` (exit 3)."""
    previews = _previews(request.previews)
    root = find_project_root()
    git = Git(root)
    top = git.toplevel()
    prefix = root.resolve().relative_to(top.resolve()).as_posix()
    prefix = prefix if prefix != "." else ""
    with tempfile.TemporaryDirectory(prefix="gitops-platform-plan-") as scratch:
        work = Path(scratch)
        before = open_revision(git, "base", request.base, "--base", prefix, work)
        after = open_revision(git, "head", request.head, "--head", prefix, work)
        built = build_plan(before, after, request.stacks, root)
    if request.output == "json":
        text = render_json(built)
        full = text
    else:
        text = render_markdown(built, previews=previews)
        full = render_markdown(built, limit=None, previews=previews)
    if request.full_output is not None:
        try:
            write_atomically(request.full_output, full.encode("utf-8"))
        except OSError as exc:
            raise InputError(f"--full-output: {request.full_output}: {exc.strerror}") from None
    return text
