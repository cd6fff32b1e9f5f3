"""platformctl app-diff: the Argo CD Applications two `expand` outputs differ by, in markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import handle_errors
from infra.delivery.appdiff import diff_files

__all__ = ["app_diff"]


@handle_errors
def app_diff(
    base: Annotated[Path, typer.Argument(help="`platformctl expand` output of the base.")],
    head: Annotated[Path, typer.Argument(help="`platformctl expand` output of the head.")],
    title: Annotated[
        str, typer.Option("--title", help="Heading of the table.")
    ] = "Argo CD Applications",
) -> None:
    """Print a markdown table of the Applications HEAD adds, changes or removes vs BASE.

    Exit codes: 0 the table was printed (changes or not); 1 a file is missing or invalid.
    """
    typer.echo(diff_files(base, head, title=title), nl=False)
