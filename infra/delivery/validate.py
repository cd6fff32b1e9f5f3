"""``platformctl validate``'s judgement: every problem of every stack file and of the catalogs
the stacks read, at once.

A catalog is checked as ``pulumi up`` of each stack reading it checks it (the loader, the Argo
CD objects, :mod:`infra.delivery.applied_checks` on what Argo CD would apply), and its
generated Rollout manifests must be up to date (:mod:`infra.delivery.generated`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import constants
from infra.catalog import Catalog, load_catalog
from infra.delivery.applied_checks import applied_problems
from infra.delivery.generated import generated_problems
from infra.delivery.stacks import apps_dirs, stack_names
from infra.errors import Problem, ValidationError
from infra.settings import StackSettings, load_stack_file
from infra.specs import argocd_objects
from infra.specs.fleet import generated_applications

__all__ = ["Validated", "unplaced_warnings", "validate_project"]


@dataclass(frozen=True)
class Validated:
    """What a valid project holds: the most apps one catalog folder has, the stacks, and
    what is valid but likely a mistake (``warnings``, one line each)."""

    apps: int
    stacks: list[str]
    warnings: list[str] = field(default_factory=list)


def unplaced_warnings(
    objects: list[dict[str, Any]], catalog: Catalog, settings: StackSettings
) -> list[str]:
    """With spokes: one line per app enabled in the stack's environment whose placement
    selects no spoke (it has no Application anywhere)."""
    if not settings.fleet.enabled:
        return []
    placed = {
        app["metadata"]["labels"].get(constants.LABEL_APP)
        for app in generated_applications(objects, settings)
    }
    spokes = ", ".join(s.name for s in settings.fleet.clusters)
    return [
        f"{app.file}: placement: stack {settings.stack!r} places {app.name} on none of its "
        f"spokes ({spokes}): it has no Application there"
        for app in catalog.enabled_in(settings.environment)
        if app.name not in placed
    ]


def validate_project(root: Path, apps_dir: Path | None) -> Validated:
    """Check every ``Pulumi.<stack>.yaml`` of ``root`` and every catalog folder they read
    (``apps_dir``: ``--apps-dir`` for all of them). Raises one :class:`ValidationError` with
    every problem found."""
    problems: list[Problem] = []
    warnings: list[str] = []
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
            warnings.extend(unplaced_warnings(objects, catalog, settings))
    if problems:
        raise ValidationError(list(dict.fromkeys(problems)))
    return Validated(apps=apps_count, stacks=stacks, warnings=warnings)
