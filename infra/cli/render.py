"""platformctl render / expand: the Argo CD objects a stack declares, and what they generate.

``render --with-generated`` appends, for every blueGreen/canary app enabled in the stack's
environment, the objects of ``apps/<app>/generated/<env>/rollout.yaml`` (Argo CD applies
those from git; `pulumi up` does not, which is why they are not in the default output).
"""

from __future__ import annotations

from typing import Annotated

import typer

from infra.cli.common import AppsDirOption, StackOption, handle_errors, project_root
from infra.delivery.stacks import load_stack_inputs
from infra.specs import argocd_objects
from infra.specs.fleet import generated_applications
from infra.specs.rollout import catalog_rollout_objects
from infra.yamlio import dump_all


@handle_errors
def render(
    stack: StackOption,
    apps_dir: AppsDirOption = None,
    with_generated: Annotated[
        bool,
        typer.Option(
            "--with-generated",
            help="Append the generated Rollout objects of blueGreen/canary apps (applied by "
            "Argo CD from apps/<app>/generated/<env>/, not by `pulumi up`).",
        ),
    ] = False,
) -> None:
    """Print every Argo CD object the stack declares (what `pulumi up` applies), as YAML."""
    settings, catalog = load_stack_inputs(project_root(), stack, apps_dir)
    objects = argocd_objects(catalog, settings)
    if with_generated:
        objects += catalog_rollout_objects(catalog, settings.environment)
    typer.echo(dump_all(objects), nl=False)


@handle_errors
def expand_cmd(stack: StackOption, apps_dir: AppsDirOption = None) -> None:
    """Print the Applications Argo CD will generate from the stack's ApplicationSets (with
    spoke clusters, one per app and cluster it is placed on)."""
    settings, catalog = load_stack_inputs(project_root(), stack, apps_dir)
    generated = generated_applications(argocd_objects(catalog, settings), settings)
    typer.echo(dump_all(generated), nl=False)
