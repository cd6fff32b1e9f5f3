"""platformctl bump: the image-tag handoff (see :mod:`infra.delivery.bump`).

Exit codes: 0 the tag was changed (and pushed) or already had that value; 1 invalid input (tag,
app, environment, app not enabled there, the file holding the tag); 2 command-line usage; 3 git
refused (not a working copy, missing branch or remote, uncommitted changes, push failed after
every retry).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from infra.cli.common import fail, handle_errors
from infra.delivery.bump import BumpRequest, bump
from infra.delivery.errors import DeliveryError

__all__ = ["bump_cmd", "delivery_errors"]

P = ParamSpec("P")
R = TypeVar("R")

RepoOption = Annotated[
    Path, typer.Option("--repo", help="Git working copy of this repository (default: cwd).")
]
PushOption = Annotated[
    bool,
    typer.Option("--push", help="Push the commit; fetch, rebase and retry until it lands."),
]
RemoteOption = Annotated[str, typer.Option("--remote", help="Git remote to fetch and push.")]


def delivery_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Delivery errors -> ``error: ...`` on stderr and their exit code (1 input, 3 git);
    other platform errors as :func:`infra.cli.common.handle_errors` does. Never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DeliveryError as exc:
            fail(f"error: {exc}", exc.exit_code)
        raise AssertionError("unreachable")  # pragma: no cover

    return handle_errors(wrapper)


@delivery_errors
def bump_cmd(
    app: Annotated[str, typer.Option("--app", help="App name (folder under apps/).")],
    env: Annotated[str, typer.Option("--env", help="Environment: dev or prod.")],
    tag: Annotated[str, typer.Option("--tag", help="New image tag, e.g. the commit SHA.")],
    repo: RepoOption = Path(),
    push: PushOption = False,
    remote: RemoteOption = "origin",
    message: Annotated[
        str | None, typer.Option("--message", help="Commit message (default: generated).")
    ] = None,
) -> None:
    """Set APP's image tag in ENV as one commit on the environment's branch.

    Checks out dev or prod, changes exactly the line holding the tag (comments,
    quoting, line endings kept) and commits it as gitops-platform-bot.
    The same tag again changes nothing.

    Exit codes:
      0  changed, or already at the tag
      1  invalid input: tag, app, environment, app not enabled there,
         the file holding the tag
      2  usage
      3  git refused: not a working copy, missing branch or remote,
         uncommitted changes, push failed after 20 attempts
    """
    result = bump(
        BumpRequest(app=app, env=env, tag=tag, repo=repo, push=push, remote=remote, message=message)
    )
    typer.echo(result.summary())
