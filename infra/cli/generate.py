"""platformctl generate: write (or, with --check, verify) the rendered Rollout manifests
(the core: :mod:`infra.delivery.generated`).

``--check`` (CI, and ``platformctl validate``) changes nothing and exits 1 when anything differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import handle_errors, project_root
from infra.delivery.generated import generate as generate_files

__all__ = ["generate"]


@handle_errors
def generate(
    apps_dir: Annotated[
        Path | None,
        typer.Option("--apps-dir", help="Catalog directory (default: the stacks' appsDir)."),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option("--stack", "-s", help="Only this stack's catalog (default: every stack's)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 1 if a generated file is stale."),
    ] = False,
) -> None:
    """Write apps/<app>/generated/<env>/ for every blueGreen/canary app (Rollout, Services,
    AnalysisTemplate, kustomization). Exit 0 done/up to date, 1 stale (--check) or invalid."""
    generate_files(project_root(), apps_dir, stack, check=check, report=typer.echo)
