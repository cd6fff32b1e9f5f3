"""platformctl plan: what merging HEAD into BASE changes in each stack (infra.delivery.plan).

Exit codes: 0 the plan was printed (warnings or not); 1 invalid input (an unknown revision or
stack, an invalid stack file or catalog at either revision, kustomize or helm not on PATH, a
file that cannot be written); 2 command-line usage; 3 not a git working copy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

import typer

from infra.atomic import write_atomically
from infra.cli.common import handle_errors, project_root
from infra.delivery.errors import InputError
from infra.delivery.git import Git
from infra.delivery.plan import build_plan, open_revision
from infra.delivery.plan_report import render_json, render_markdown

__all__ = ["plan_cmd"]


def _previews(entries: list[str]) -> dict[str, str]:
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


@handle_errors
def plan_cmd(
    base: Annotated[
        str, typer.Option("--base", help="The revision merged into (e.g. origin/dev).")
    ],
    head: Annotated[
        str, typer.Option("--head", help="The revision to merge (default: HEAD).")
    ] = "HEAD",
    stack: Annotated[
        list[str] | None,
        typer.Option(
            "--stack",
            "-s",
            help="Stack to plan (repeatable; default: every Pulumi.<stack>.yaml at either "
            "revision).",
        ),
    ] = None,
    output: Annotated[
        Literal["markdown", "json"], typer.Option("--output", "-o", help="markdown or json.")
    ] = "markdown",
    full_output: Annotated[
        Path | None,
        typer.Option(
            "--full-output",
            help="Also write the whole plan, never folded, to this file (the artifact).",
        ),
    ] = None,
    preview: Annotated[
        list[str] | None,
        typer.Option(
            "--preview",
            help="STACK=FILE: fold this `pulumi preview` output into the stack's section "
            "(repeatable).",
        ),
    ] = None,
) -> None:
    """Print the plan of a pull request: Argo CD objects, Applications and every changed
    app's rendered Kubernetes objects, per stack, with blast-radius warnings. No cluster."""
    previews = _previews(preview or [])
    root = project_root()
    git = Git(root)
    top = git.toplevel()
    prefix = root.resolve().relative_to(top.resolve()).as_posix()
    with tempfile.TemporaryDirectory(prefix="gitops-platform-plan-") as scratch:
        work = Path(scratch)
        before = open_revision(git, "base", base, "--base", prefix if prefix != "." else "", work)
        after = open_revision(git, "head", head, "--head", prefix if prefix != "." else "", work)
        plan = build_plan(before, after, stack, root)
    if output == "json":
        text = render_json(plan)
        full = text
    else:
        text = render_markdown(plan, previews=previews)
        full = render_markdown(plan, limit=None, previews=previews)
    if full_output is not None:
        try:
            write_atomically(full_output, full.encode("utf-8"))
        except OSError as exc:
            raise InputError(f"--full-output: {full_output}: {exc.strerror}") from None
    typer.echo(text, nl=False)
