"""platformctl validate: check the app catalog and every stack file, report every problem
(the core: :mod:`infra.delivery.validate`).

It also runs ``platformctl generate --check`` (a stale generated Rollout is a problem) and
judges what Argo CD would apply for each stack, rendered with the toolchain's kustomize and
helm (:mod:`infra.delivery.applied_checks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import handle_errors, project_root
from infra.delivery.validate import validate_project


@handle_errors
def validate(
    apps_dir: Annotated[
        Path | None,
        typer.Option("--apps-dir", help="Catalog directory (default: each stack's appsDir)."),
    ] = None,
) -> None:
    """Validate every stack's catalog (its catalog.appsDir) and Pulumi.<stack>.yaml.
    Exit 0 valid, 1 invalid, 2 usage."""
    result = validate_project(project_root(), apps_dir)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"ok: {result.apps} apps, stacks: {', '.join(result.stacks) or 'none'}")
