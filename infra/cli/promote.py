"""platformctl promote: propose dev's image tag for prod (see :mod:`infra.delivery.promote`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.bump import RemoteOption, RepoOption, delivery_errors
from infra.delivery.promote import PromoteRequest, promote

__all__ = ["promote_cmd"]


@delivery_errors
def promote_cmd(
    app: Annotated[str, typer.Option("--app", help="App name (folder under apps/).")],
    source: Annotated[str, typer.Option("--from", help="Environment to read the tag from.")] = (
        "dev"
    ),
    target: Annotated[str, typer.Option("--to", help="Environment to promote to.")] = "prod",
    repo: RepoOption = Path(),
    push: Annotated[
        bool, typer.Option("--push", help="Push the promotion branch to the remote.")
    ] = False,
    remote: RemoteOption = "origin",
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="Promotion branch (default: promote/<app>-<tag>)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (for workflows).")
    ] = False,
) -> None:
    """Create a branch off prod that sets APP's image tag to the one dev runs.

    Reads the tag on dev with git show (no checkout), commits the one-line
    change as gitops-platform-bot on a new branch based on prod (both fetched
    first with --push), and with --push pushes that branch for a pull request.
    Nothing happens when prod already runs the tag.

    Exit codes:
      0  promoted, or nothing to promote
      1  invalid input: app, environments, files holding the tag
      2  usage
      3  git refused: not a working copy, uncommitted changes, missing
         branch or remote, promotion branch exists, push failed
    """
    result = promote(
        PromoteRequest(
            app=app,
            source_env=source,
            target_env=target,
            repo=repo,
            push=push,
            remote=remote,
            branch=branch,
        )
    )
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        typer.echo(result.summary())
