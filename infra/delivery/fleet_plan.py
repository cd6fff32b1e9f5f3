"""What a pull request does to a stack's spokes (pure): the spokes it removes, each with the
Applications that disappear with it, and the spokes whose labels change, with the Applications
that leave or reach them. The PR plan reports these as blast-radius warnings.

Removing a spoke whose entry at the base does not set ``allowRemoval: true`` is refused as
``pulumi up`` refuses it (the hub's cluster Secret is protected until that setting is
applied), so the plan names the problem before the merge rather than at the next ``up``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import constants
from infra.errors import Problem
from infra.settings import SpokeCluster, StackSettings
from infra.specs.fleet import cluster_labels

__all__ = ["SpokeFinding", "spoke_findings"]


@dataclass(frozen=True)
class SpokeFinding:
    kind: str
    """``spoke-removed`` or ``spoke-labels``."""
    message: str


def _on(applications: dict[str, dict[str, Any]], spoke: str) -> list[str]:
    """The names of the Applications whose destination is cluster ``spoke``."""
    return sorted(
        str(app["metadata"]["name"])
        for app in applications.values()
        if app["spec"].get("destination", {}).get("name") == spoke
    )


def _listed(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "") or "none"


def _spokes(settings: StackSettings | None) -> dict[str, SpokeCluster]:
    return {s.name: s for s in settings.fleet.clusters} if settings is not None else {}


def spoke_findings(
    before: tuple[StackSettings | None, dict[str, dict[str, Any]]],
    after: tuple[StackSettings | None, dict[str, dict[str, Any]]],
    head: str,
) -> tuple[list[SpokeFinding], list[Problem]]:
    """The findings of one stack between ``before`` and ``after`` (each: its settings, or
    ``None`` where the stack file is absent, and its Applications), and the problems of the
    head (``head``: how a problem names it, ``head (<ref>)``)."""
    (old_settings, old_apps), (new_settings, new_apps) = before, after
    old, new = _spokes(old_settings), _spokes(new_settings)
    findings: list[SpokeFinding] = []
    problems: list[Problem] = []
    for name, spoke in sorted(old.items()):
        if name in new:
            continue
        gone = _on(old_apps, name)
        findings.append(
            SpokeFinding(
                "spoke-removed",
                f"spoke `{name}` is removed: its {len(gone)} Application(s) disappear "
                f"({_listed(gone)}); their workloads stay on the spoke "
                "(preserveResourcesOnDeletion), and the program deletes Argo CD's identity "
                "there" + (" and the kwok cluster itself" if spoke.kwok is not None else ""),
            )
        )
        if not spoke.allowRemoval and new_settings is not None:
            problems.append(
                Problem(
                    f"{head}: {constants.stack_file(new_settings.stack)}",
                    f"{constants.PROJECT}:fleet.clusters",
                    f"spoke {name} is removed, but its entry does not set allowRemoval: true: "
                    "`pulumi up` refuses to delete its cluster Secret (its Applications would "
                    "disappear); set allowRemoval: true and apply it first, then remove the "
                    "spoke",
                )
            )
    for name, spoke in sorted(new.items()):
        if name not in old or old_settings is None or new_settings is None:
            continue
        old_labels = cluster_labels(old_settings.environment, old[name])
        new_labels = cluster_labels(new_settings.environment, spoke)
        if old_labels == new_labels:
            continue
        changed = sorted(
            f"{key}: {old_labels.get(key, '(none)')} → {new_labels.get(key, '(none)')}"
            for key in old_labels.keys() | new_labels.keys()
            if old_labels.get(key) != new_labels.get(key)
        )
        leaving = sorted(set(_on(old_apps, name)) - set(_on(new_apps, name)))
        arriving = sorted(set(_on(new_apps, name)) - set(_on(old_apps, name)))
        if not leaving and not arriving:
            continue
        findings.append(
            SpokeFinding(
                "spoke-labels",
                f"spoke `{name}`'s labels change ({'; '.join(changed)}): Application(s) "
                f"leaving it: {_listed(leaving)} (their workloads stay on it); arriving: "
                f"{_listed(arriving)}",
            )
        )
    return findings, problems
