"""platformctl bump: the image-tag handoff (see :mod:`infra.delivery.bump`).

Exit codes: 0 the tag was changed (and pushed) or already had that value; 1 invalid input
(stack, tag, digest, app, environment, app not enabled there, the file holding the tag);
2 command-line usage; 3 git refused (not a working copy, detached HEAD, missing branch or
remote, uncommitted changes, push refused or still failing after every attempt).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import RemoteOption, RepoOption, handle_errors
from infra.delivery.bump import BumpRequest, bump
from infra.errors import UsageError

__all__ = ["bump_cmd"]


@handle_errors
def bump_cmd(
    app: Annotated[str, typer.Option("--app", help="App name (folder under the catalog).")],
    tag: Annotated[str, typer.Option("--tag", help="New image tag, e.g. the commit SHA.")],
    digest: Annotated[
        str | None,
        typer.Option(
            "--digest",
            help="Digest of the image the tag names (sha256:<64 hex>), recorded with the tag "
            "(<tag>@sha256:...). Without it, the tag alone is written.",
        ),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "-s",
            help="Stack (Pulumi.<stack>.yaml): its environment, git.branch and "
            "catalog.appsDir say what to change where.",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Environment (dev or prod): with --stack, must be the stack's; without, "
            "the one stack deploying it.",
        ),
    ] = None,
    repo: RepoOption = Path(),
    push: Annotated[
        bool,
        typer.Option("--push", help="Push the commit; fetch, rebase and retry until it lands."),
    ] = False,
    remote: RemoteOption = "origin",
    message: Annotated[
        str | None, typer.Option("--message", help="Commit message (default: generated).")
    ] = None,
) -> None:
    """Set APP's image tag for STACK as one commit on the stack's branch (git.branch).

    Changes exactly the line holding the tag (comments, quoting, line endings
    kept) and commits it as gitops-platform-bot on the branch, without
    switching branches. --digest records the image's digest in the same
    value (<tag>@sha256:...); without it a digest written there is dropped.
    The same tag (and digest) again changes nothing. With --push,
    a moved branch is fetched and the commit rebuilt on it; network and lock
    failures are retried, refusals (hooks, permissions) are not.

    Exit codes:
      0  changed, or already at the tag
      1  invalid input: stack, tag, digest, app, environment, app not enabled
         there, the file holding the tag
      2  usage
      3  git refused: not a working copy, detached HEAD, missing branch or
         remote, uncommitted changes, push refused or failing after 20 attempts
    """
    if stack is None and env is None:
        raise UsageError("give --stack STACK (or --env ENV: the one stack deploying it)")
    result = bump(
        BumpRequest(
            app=app,
            env=env,
            stack=stack,
            tag=tag,
            digest=digest,
            repo=repo,
            push=push,
            remote=remote,
            message=message,
        )
    )
    typer.echo(result.summary())
