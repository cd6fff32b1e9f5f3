"""platformctl admin-password reset: the break-glass path (see infra.ops.admin_password_reset)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra import constants
from infra.cli.common import handle_errors
from infra.kube import api_client
from infra.ops.admin_password_reset import ResetOptions, reset_admin_password

app = typer.Typer(help="Operate the Argo CD admin password.", no_args_is_help=True)


@app.command("reset")
@handle_errors
def reset(
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="Kubeconfig (default: $KUBECONFIG or ~/.kube/config)."),
    ] = None,
    context: Annotated[str | None, typer.Option("--context", help="Kubeconfig context.")] = None,
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Argo CD namespace.")
    ] = constants.ARGOCD_NAMESPACE_DEFAULT,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for argocd-server.")
    ] = 300.0,
) -> None:
    """Reset the admin password of an Argo CD this stack does NOT manage; prints it once.

    On a stack-managed cluster, rotate instead: change gitops-platform:adminPassword.rotation.
    """
    password = reset_admin_password(
        api_client(kubeconfig, context),
        ResetOptions(namespace=namespace, timeout_seconds=timeout),
        log=lambda m: typer.echo(m, err=True),
    )
    typer.echo(password)
