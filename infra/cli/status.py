"""platformctl status: the local runtime's Argo CD API and every Application's status."""

from __future__ import annotations

import shutil
from typing import Annotated

import typer

from infra.cli.common import StackOption, handle_errors, project_root
from infra.delivery.stacks import load_stack_inputs
from infra.runtime.status import (
    application_statuses,
    not_running,
    require_settled,
    runtime_info,
    wait_settled,
)
from infra.specs import argocd_objects
from infra.specs.fleet import generated_applications


@handle_errors
def status_cmd(
    stack: StackOption = "local",
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            max=3600,
            help="Seconds to wait for every Application to be Synced and Healthy.",
        ),
    ] = 0,
    if_local: Annotated[
        bool,
        typer.Option(
            "--if-local", help="Print nothing and exit 0 for a stack with no local runtime."
        ),
    ] = False,
) -> None:
    """Where the local Argo CD listens, how to log in, and each Application's sync/health
    (as Argo CD reports them). Exits 1 when one is not Synced and Healthy."""
    settings, catalog = load_stack_inputs(project_root(), stack, None)
    if if_local and not settings.local_controllers:
        return
    info = runtime_info(settings)
    # One Application per enabled app, or with spokes per (app, cluster) it is placed on.
    expected = len(generated_applications(argocd_objects(catalog, settings), settings))
    statuses = wait_settled(lambda: application_statuses(info), wait, expected=expected)
    password = f"make -s password STACK={stack}"
    # Plain HTTP on loopback, as the chart's server.insecure runs behind a TLS ingress: the
    # traffic never leaves the machine, and a self-signed certificate would only teach people
    # to click through a browser warning.
    typer.echo(f"Argo CD UI:  http://{info.server}/ (user admin, password: `{password}`)")
    # The toolchain's bin directory is on make's PATH, not necessarily on the user's.
    argocd = shutil.which("argocd") or "argocd"
    typer.echo(
        f"Argo CD CLI: {argocd} login {info.server} --plaintext --username admin --password "
        f'"$({password})"'
    )
    if "rollouts-dashboard" in info.processes:
        typer.echo(f"Rollouts:    http://127.0.0.1:{info.ports['rollouts-dashboard']}/rollouts/")
    typer.echo(f"Logs:        {info.logs}")
    for line in not_running(info):
        typer.echo(f"Process:     {line}")
    typer.echo("")
    width = max([len(s.name) for s in statuses] + [11])
    typer.echo(f"{'APPLICATION':<{width}}  {'SYNC':<10}  {'HEALTH':<12}  REVISION")
    for s in statuses:
        typer.echo(f"{s.name:<{width}}  {s.sync:<10}  {s.health:<12}  {s.revision}")
    for s in statuses:
        if not s.settled and s.error:
            typer.echo(f"\n{s.name}: {s.error[:400]}")
    require_settled(statuses, expected)
