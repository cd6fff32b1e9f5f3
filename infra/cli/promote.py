"""platformctl promote: propose dev's image tag for prod (see :mod:`infra.delivery.promote`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import RemoteOption, RepoOption, handle_errors
from infra.delivery.promote import PromoteRequest, promote

__all__ = ["promote_cmd"]


@handle_errors
def promote_cmd(
    app: Annotated[str, typer.Option("--app", help="App name (folder under apps/).")],
    source: Annotated[
        str, typer.Option("--from", help="Stack (Pulumi.<stack>.yaml) to read the tag from.")
    ] = "dev",
    target: Annotated[
        str, typer.Option("--to", help="Stack (Pulumi.<stack>.yaml) to promote to.")
    ] = "prod",
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
    skip_signature_check: Annotated[
        bool,
        typer.Option(
            "--skip-signature-check",
            help="Do not run `cosign verify` for a target stack with admission enabled "
            "(a warning says so; admission in the cluster still checks the image).",
        ),
    ] = False,
) -> None:
    """Create a branch off the --to stack's branch that sets APP's image tag to the
    one the --from stack runs.

    Each stack's environment and branch (git.branch) come from its stack file.
    Reads the tag on the source branch (no checkout), commits the one-line
    change as gitops-platform-bot on a new branch based on the target branch
    (both fetched first with --push), and with --push pushes that branch for
    a pull request. HEAD does not move. Nothing happens when the target
    already runs the tag.

    When the target stack enables admission (gitops-platform:admission),
    the image (its recorded digest, or the tag resolved in the registry)
    must be under a trusted registry and pass `cosign verify` with the
    stack's signer; otherwise nothing is created. Where the registry cannot
    be reached, the promotion proceeds with a warning on stderr. cosign
    must be on PATH unless --skip-signature-check is given.

    Exit codes:
      0  promoted, or nothing to promote
      1  invalid input: app, stacks, files holding the tag; the image not
         signed by the target's signer or not under a trusted registry;
         cosign missing
      2  usage
      3  git refused: not a working copy, detached HEAD, uncommitted changes, missing
         branch or remote, promotion branch exists, push failed
    """
    result = promote(
        PromoteRequest(
            app=app,
            source_stack=source,
            target_stack=target,
            repo=repo,
            push=push,
            remote=remote,
            branch=branch,
            skip_signature_check=skip_signature_check,
        )
    )
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        typer.echo(result.summary())
