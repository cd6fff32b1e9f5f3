"""platformctl validate: check the app catalog and every stack file, report every problem.

It also runs ``platformctl generate --check`` (a stale generated Rollout is a problem) and
judges what Argo CD would apply for each stack, rendered with the toolchain's kustomize and
helm (:mod:`infra.delivery.applied_checks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.catalog import load_catalog
from infra.cli.common import apps_dirs, handle_errors, project_root
from infra.cli.generate import generated_problems
from infra.delivery.applied_checks import applied_problems
from infra.delivery.stacks import stack_names
from infra.errors import Problem, ValidationError
from infra.settings import load_stack_file
from infra.specs import argocd_objects


@handle_errors
def validate(
    apps_dir: Annotated[
        Path | None,
        typer.Option("--apps-dir", help="Catalog directory (default: each stack's appsDir)."),
    ] = None,
) -> None:
    """Validate every stack's catalog (its catalog.appsDir) and Pulumi.<stack>.yaml.
    Exit 0 valid, 1 invalid, 2 usage."""
    root = project_root()
    problems: list[Problem] = []
    stacks = stack_names(root)
    settings_list = []
    for stack in stacks:
        try:
            settings_list.append(load_stack_file(root, stack))
        except ValidationError as exc:
            problems.extend(exc.problems)
    apps_count = 0
    for apps, readers in apps_dirs(root, settings_list, apps_dir).items():
        reserved = {ns for s in (readers or settings_list) for ns in s.platform_namespaces}
        try:
            catalog = load_catalog(root, apps, reserved_namespaces=reserved)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        apps_count = max(apps_count, len(catalog.apps))
        problems.extend(generated_problems(root, apps, catalog))
        for settings in readers:
            try:
                objects = argocd_objects(catalog, settings)
            except ValidationError as exc:
                problems.extend(exc.problems)
                continue
            problems.extend(applied_problems(objects, settings, root))
    if problems:
        raise ValidationError(list(dict.fromkeys(problems)))
    typer.echo(f"ok: {apps_count} apps, stacks: {', '.join(stacks) or 'none'}")
