"""platformctl render / expand: the Argo CD objects a stack declares, and what they generate.

``render --with-generated`` appends, for every blueGreen/canary app enabled in the stack's
environment, the objects of ``apps/<app>/generated/<env>/rollout.yaml`` (Argo CD applies
those from git; `pulumi up` does not, which is why they are not in the default output).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import StackOption, handle_errors, load_inputs
from infra.specs import argocd_objects, expand
from infra.specs.rollout import rollout_objects
from infra.yamlio import dump_all

AppsDirOption = Annotated[
    Path | None, typer.Option("--apps-dir", help="Catalog directory (default: from the stack).")
]


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
    _, settings, catalog = load_inputs(stack, apps_dir)
    objects = argocd_objects(catalog, settings)
    if with_generated:
        for app in catalog.enabled_in(settings.environment):
            if app.definition.strategy.progressive:
                objects.extend(rollout_objects(app, settings.environment))
    typer.echo(dump_all(objects), nl=False)


@handle_errors
def expand_cmd(stack: StackOption, apps_dir: AppsDirOption = None) -> None:
    """Print the Applications Argo CD will generate from the stack's ApplicationSets."""
    _, settings, catalog = load_inputs(stack, apps_dir)
    applications = []
    for obj in argocd_objects(catalog, settings):
        if obj["kind"] == "ApplicationSet":
            applications.extend(expand(obj))
    typer.echo(dump_all(applications), nl=False)
