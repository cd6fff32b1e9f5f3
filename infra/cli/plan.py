"""platformctl plan: what merging HEAD into BASE changes in each stack (infra.delivery.plan).

Exit codes: 0 the plan was printed (warnings or not); 1 invalid input (an unknown revision or
stack, an invalid stack file or catalog at either revision, kustomize or helm not on PATH, a
file that cannot be written); 2 command-line usage; 3 not a git working copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from infra.cli.common import handle_errors
from infra.delivery.plan_request import PlanRequest, plan

__all__ = ["plan_cmd"]


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
    text = plan(
        PlanRequest(
            base=base,
            head=head,
            stacks=stack,
            output=output,
            full_output=full_output,
            previews=tuple(preview or ()),
        )
    )
    typer.echo(text, nl=False)
