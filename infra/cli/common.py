"""What every command shares: finding the project, the flags several commands take, and the one
way a command fails (:func:`handle_errors`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from infra.errors import PlatformError, ValidationError
from infra.project import find_project_root

__all__ = [
    "AppsDirOption",
    "RemoteOption",
    "RepoOption",
    "StackOption",
    "handle_errors",
    "project_root",
]

P = ParamSpec("P")
R = TypeVar("R")

StackOption = Annotated[
    str, typer.Option("--stack", "-s", help="Stack name (Pulumi.<stack>.yaml).")
]
AppsDirOption = Annotated[
    Path | None, typer.Option("--apps-dir", help="Catalog directory (default: from the stack).")
]
RepoOption = Annotated[
    Path, typer.Option("--repo", help="Git working copy of this repository (default: cwd).")
]
RemoteOption = Annotated[str, typer.Option("--remote", help="Git remote to fetch and push.")]


def project_root() -> Path:
    """The nearest directory at or above the current one holding Pulumi.yaml."""
    return find_project_root()


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """The one way a command fails: a platform error becomes its message on stderr (a
    :class:`ValidationError`'s problems one a line, any other as ``error: <message>``) and the
    exit code its class names (:attr:`PlatformError.exit_code`); never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PlatformError as exc:
            message = str(exc) if isinstance(exc, ValidationError) else f"error: {exc}"
            print(message, file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None

    return wrapper
