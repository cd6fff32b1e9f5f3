"""AppProjects and ApplicationSets built from the catalog for one stack (pure).

One AppProject and one ApplicationSet per team with at least one app enabled in the stack's
environment. The ApplicationSet uses a ``list`` generator whose elements the program computes
from validated app definitions, so every app change shows in ``pulumi preview``, and a git
outage cannot change what is generated (git generators read the repo at run time; a list does
not). Each element carries the app's ``name``, ``namespace`` and a ``patch`` (its source and
sync policy), applied through ``templatePatch``: Go templates only fill strings, and sources
of different kinds (kustomize, directory, helm) have different shapes.

With spoke clusters (``fleet.clusters``) a team's ApplicationSet has one generator per
placement of its apps, a matrix of the spokes and the list, and its AppProject the spokes as
destinations (:mod:`infra.specs.fleet_appsets`); without, the output is what it always was.

Per app, the patch also carries its drift policy (``ignoreDifferences``: the app's own plus,
for a blueGreen/canary app, the fields the Rollouts controller owns). A blueGreen/canary app's
source is its generated folder (``apps/<app>/generated/<env>``, see ``infra.specs.rollout``).
Per stack: sync windows on every AppProject, notification subscriptions on every Application.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any, Final

from infra import constants
from infra.catalog import App, Catalog
from infra.catalog.models import DirectorySource, HelmSource, KustomizeSource
from infra.errors import Problem, ValidationError
from infra.settings import StackSettings
from infra.specs import fleet_appsets
from infra.specs import rollout as rollout_specs

__all__ = [
    "NOTIFICATION_SERVICE",
    "NOTIFICATION_TRIGGERS",
    "TEMPLATE_PATCH",
    "app_source_patch",
    "application_set",
    "argocd_objects",
    "notification_annotations",
    "project",
]

TEMPLATE_PATCH = "{{ toJson .patch }}"
"""The templatePatch of every ApplicationSet: the element's ``patch`` verbatim."""

NOTIFICATION_SERVICE = "platform"
"""The webhook notification service (``service.webhook.platform`` in argocd-notifications-cm)."""
NOTIFICATION_TRIGGERS = (
    "on-sync-status-unknown",
    "on-out-of-sync",
    "on-health-degraded",
    "on-sync-failed",
)
"""Triggers every generated Application subscribes to when notifications are enabled."""

MAX_OBJECT_BYTES: Final = 1024 * 1024
"""The largest generated object, as compact JSON. The API server refuses a request over
etcd's limit (1.5 MiB by default), and a client-side apply doubles an object (its
``kubectl.kubernetes.io/last-applied-configuration`` annotation holds a copy, and annotations
are limited to 256 KiB in total). 1 MiB leaves room for the metadata, status and managed
fields the server adds, so an object under it is always storable."""


def _labels(settings: StackSettings, team: str) -> dict[str, str]:
    return {
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
        constants.LABEL_TEAM: team,
        constants.LABEL_ENV: settings.environment,
    }


def sync_policy(app: App, settings: StackSettings) -> dict[str, Any]:
    """The stack's sync defaults, overridden field by field by the app's environment."""
    env = app.environment(settings.environment)
    assert env is not None
    override = env.sync
    automated = settings.sync.automated if override.automated is None else override.automated
    prune = settings.sync.prune if override.prune is None else override.prune
    self_heal = settings.sync.selfHeal if override.selfHeal is None else override.selfHeal
    policy: dict[str, Any] = {}
    if automated:
        # Only the true flags: Argo CD drops false ones (Go's omitempty), so the generated
        # Application would differ from its template otherwise.
        flags = (("prune", prune), ("selfHeal", self_heal))
        policy["automated"] = {key: True for key, on in flags if on}
    policy["syncOptions"] = ["CreateNamespace=true", "ServerSideApply=true"]
    if prune:
        policy["syncOptions"].append("PruneLast=true")
    if _ignore_differences(app):
        # Ignored fields are not drift, and a sync does not reset them either.
        policy["syncOptions"].append("RespectIgnoreDifferences=true")
    # A new dict per Application: a shared one would be dumped as a YAML anchor and alias.
    policy["retry"] = settings.sync.retry.spec()
    return policy


def _ignore_differences(app: App) -> list[dict[str, Any]]:
    """The Rollouts-owned fields first (blueGreen/canary), then the app's own entries."""
    out = rollout_specs.ignore_differences(app)
    for entry in app.definition.ignoreDifferences:
        item: dict[str, Any] = {}
        if entry.group:
            item["group"] = entry.group
        item["kind"] = entry.kind
        if entry.name is not None:
            item["name"] = entry.name
        if entry.jsonPointers:
            item["jsonPointers"] = list(entry.jsonPointers)
        if entry.jqPathExpressions:
            item["jqPathExpressions"] = list(entry.jqPathExpressions)
        out.append(item)
    return out


def app_source_patch(app: App, settings: StackSettings) -> dict[str, Any]:
    """The part of the Application spec that differs per app: sources and sync policy."""
    env_name = settings.environment
    env = app.environment(env_name)
    assert env is not None
    source = app.definition.source
    spec: dict[str, Any]
    if app.definition.strategy.progressive:
        # The generated kustomization: the overlay plus the Rollout objects. Replicas are the
        # Rollout's (generated from the same definition), not the Deployment's.
        spec = {
            "source": {
                "repoURL": settings.repo_url,
                "targetRevision": settings.branch,
                "path": _join(app.folder, rollout_specs.generated_path(app, env_name)),
            }
        }
    elif isinstance(source, KustomizeSource):
        path = app.overlay_path(env_name)
        kustomize: dict[str, Any] = {}
        if env.replicas is not None:
            kustomize["replicas"] = [{"name": app.name, "count": env.replicas}]
        src: dict[str, Any] = {
            "repoURL": settings.repo_url,
            "targetRevision": settings.branch,
            "path": path,
        }
        if kustomize:
            src["kustomize"] = kustomize
        spec = {"source": src}
    elif isinstance(source, DirectorySource):
        directory_source: dict[str, Any] = {
            "repoURL": settings.repo_url,
            "targetRevision": settings.branch,
            "path": _join(app.folder, source.path),
        }
        if source.recurse:
            # Argo CD drops a zero-valued `directory` from the Applications it writes.
            directory_source["directory"] = {"recurse": True}
        spec = {"source": directory_source}
    else:
        assert isinstance(source, HelmSource)
        values = [_join(app.folder, constants.HELM_VALUES_DIR, f"{env_name}.yaml")]
        if settings.fleet.enabled:
            # Per cluster, where it exists; the loader makes sure values/<env>.yaml does.
            cluster = fleet_appsets.CLUSTER_PLACEHOLDER
            values.append(_join(app.folder, constants.HELM_VALUES_DIR, f"{cluster}.yaml"))
        helm: dict[str, Any] = {
            "releaseName": app.name,
            "valueFiles": [f"$values/{file}" for file in values],
        }
        if settings.fleet.enabled:
            helm["ignoreMissingValueFiles"] = True
        if env.replicas is not None:
            helm["parameters"] = [{"name": source.replicasKey, "value": str(env.replicas)}]
        if source.path is not None:
            # A chart in this repository: one source; its value files are paths in the same
            # repository, relative to the chart's folder.
            chart_dir = _join(app.folder, source.path)
            helm["valueFiles"] = [_relative(file, chart_dir) for file in values]
            spec = {
                "source": {
                    "repoURL": settings.repo_url,
                    "targetRevision": settings.branch,
                    "path": chart_dir,
                    "helm": helm,
                }
            }
        else:
            spec = {
                "sources": [
                    {
                        "repoURL": source.repoURL,
                        "chart": source.chart,
                        "targetRevision": source.version,
                        "helm": helm,
                    },
                    {
                        "repoURL": settings.repo_url,
                        "targetRevision": settings.branch,
                        "ref": "values",
                    },
                ]
            }
    ignore = _ignore_differences(app)
    if ignore:
        spec["ignoreDifferences"] = ignore
    spec["syncPolicy"] = sync_policy(app, settings)
    return {"spec": spec}


def _relative(path: str, start: str) -> str:
    """``path`` relative to ``start`` (both repository paths): ``../values/dev.yaml``."""
    return posixpath.relpath(path, start)


def _join(*parts: str) -> str:
    out: list[str] = []
    for part in parts:
        for piece in part.split("/"):
            if piece in ("", "."):
                continue
            out.append(piece)
    return "/".join(out)


def project(team: str, apps: tuple[App, ...], settings: StackSettings) -> dict[str, Any]:
    """The team's AppProject: only this repository and the chart repositories its apps
    declare, only the team's namespaces on this cluster (with spokes: on every spoke, not
    this one), no cluster-scoped resource but those Namespaces."""
    repos = {settings.repo_url}
    repos.update(
        a.definition.source.repoURL
        for a in apps
        if isinstance(a.definition.source, HelmSource) and a.definition.source.repoURL
    )
    namespaces = sorted({a.definition.namespace for a in apps})
    return {
        "apiVersion": constants.ARGOCD_API_VERSION,
        "kind": "AppProject",
        "metadata": {
            "name": team,
            "namespace": settings.argocd.namespace,
            "labels": _labels(settings, team),
            "annotations": dict(constants.OWNED_ANNOTATIONS),
        },
        "spec": {
            "description": f"Apps of team {team} ({settings.environment}), managed by "
            f"{constants.MANAGED_BY}",
            "sourceRepos": sorted(repos),
            "destinations": (
                fleet_appsets.project_destinations(namespaces, settings)
                if settings.fleet.enabled
                else [{"server": constants.IN_CLUSTER_SERVER, "namespace": ns} for ns in namespaces]
            ),
            # The one cluster-scoped kind a team may sync: its own Namespaces, by name (the
            # ones the CreateNamespace sync option creates for its destinations; the real
            # application controller refuses that sync otherwise: "resource :Namespace is not
            # permitted in project"). A Namespace object named after another team's
            # namespace, argocd or kube-system is refused by the controller, so a team can
            # neither take over nor prune one. Nothing else cluster-scoped.
            "clusterResourceWhitelist": [
                {"group": "", "kind": "Namespace", "name": ns} for ns in namespaces
            ],
            # Quotas are the platform's; Argo CD's own kinds would let a team mint
            # Applications or projects outside its AppProject.
            "namespaceResourceBlacklist": [
                {"group": "", "kind": "ResourceQuota"},
                {"group": "", "kind": "LimitRange"},
                *(
                    {"group": constants.ARGOCD_API_GROUP, "kind": kind}
                    for kind in constants.ADDON_API["argocd"][constants.ARGOCD_API_VERSION]
                ),
            ],
            "orphanedResources": {"warn": True},
            **_sync_windows(settings),
        },
    }


def _sync_windows(settings: StackSettings) -> dict[str, Any]:
    windows = [
        {
            "kind": window.kind,
            "schedule": window.schedule.strip(),
            "duration": window.duration,
            "applications": ["*"],
            "manualSync": window.manualSync,
            "timeZone": window.timeZone,
        }
        for window in settings.sync.windows
    ]
    return {"syncWindows": windows} if windows else {}


def notification_annotations(settings: StackSettings) -> dict[str, str]:
    """Subscriptions of every generated Application to the platform webhook (empty when
    notifications are off). Webhook subscriptions need no recipient."""
    if settings.notifications.webhookURL is None:
        return {}
    return {
        f"notifications.argoproj.io/subscribe.{trigger}.{NOTIFICATION_SERVICE}": ""
        for trigger in NOTIFICATION_TRIGGERS
    }


def application_set(team: str, apps: tuple[App, ...], settings: StackSettings) -> dict[str, Any]:
    """The team's ApplicationSet: its list of apps on the stack's own cluster, or with spokes,
    per placement, the apps placed so times the spokes it selects
    (:mod:`infra.specs.fleet_appsets`)."""
    fleet = settings.fleet.enabled
    elements = [
        {
            fleet_appsets.ELEMENT_APP_KEY if fleet else "name": app.name,
            "namespace": app.definition.namespace,
            "patch": app_source_patch(app, settings),
        }
        for app in apps
    ]
    appset_sync: dict[str, Any] = {"preserveResourcesOnDeletion": True}
    if settings.sync.applicationsSync != "sync":
        appset_sync["applicationsSync"] = settings.sync.applicationsSync
    labels = _labels(settings, team)
    template_metadata: dict[str, Any] = (
        {
            "name": fleet_appsets.APPLICATION_NAME,
            "labels": {**labels, **fleet_appsets.template_labels()},
        }
        if fleet
        else {"name": "{{ .name }}", "labels": {**labels, constants.LABEL_APP: "{{ .name }}"}}
    )
    annotations = notification_annotations(settings)
    if annotations:
        template_metadata["annotations"] = annotations
    return {
        "apiVersion": constants.ARGOCD_API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {
            "name": team,
            "namespace": settings.argocd.namespace,
            "labels": labels,
            "annotations": dict(constants.OWNED_ANNOTATIONS),
        },
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": (
                fleet_appsets.generators(zip(apps, elements, strict=True), settings.environment)
                if fleet
                else [{"list": {"elements": elements}}]
            ),
            "syncPolicy": appset_sync,
            "template": {
                "metadata": template_metadata,
                "spec": {
                    # A literal, never templated: the project is fixed per team.
                    "project": team,
                    "destination": (
                        fleet_appsets.destination()
                        if fleet
                        else {
                            "server": constants.IN_CLUSTER_SERVER,
                            "namespace": "{{ .namespace }}",
                        }
                    ),
                },
            },
            "templatePatch": fleet_appsets.TEMPLATE_PATCH if fleet else TEMPLATE_PATCH,
        },
    }


def _rollouts_problems(apps: list[App], settings: StackSettings) -> list[Problem]:
    """A blueGreen or canary app needs Argo Rollouts where it runs: on the stack's own cluster
    (``rollouts.enabled``) or, with spokes, on every spoke its placement selects."""
    if settings.fleet.enabled:
        return fleet_appsets.rollouts_problems(apps)
    if settings.rollouts.enabled:
        return []
    return [
        Problem(
            app.file,
            "strategy.type",
            f"{app.definition.strategy.type} needs Argo Rollouts, which stack "
            f"{settings.stack!r} does not install (set gitops-platform:rollouts.enabled)",
        )
        for app in apps
        if app.definition.strategy.progressive
    ]


def argocd_objects(catalog: Catalog, settings: StackSettings) -> list[dict[str, Any]]:
    """Every Argo CD object the stack declares, AppProjects first, each group by team."""
    by_team = catalog.by_team(settings.environment)
    if not by_team and not settings.catalog.allowEmpty:
        raise ValidationError(
            [
                Problem(
                    settings.catalog.appsDir,
                    "",
                    f"no app is enabled for environment {settings.environment!r}; refusing to "
                    "remove every Application (set gitops-platform:catalog.allowEmpty to true "
                    "if that is what you want)",
                )
            ]
        )
    progressive = _rollouts_problems([a for apps in by_team.values() for a in apps], settings)
    if progressive:
        raise ValidationError(progressive)
    projects = [project(team, apps, settings) for team, apps in by_team.items()]
    appsets = [application_set(team, apps, settings) for team, apps in by_team.items()]
    objects = projects + appsets
    problems = size_problems(objects, settings.catalog.appsDir)
    if settings.fleet.enabled:
        named = {app.name: app for apps in by_team.values() for app in apps}
        problems += fleet_appsets.fleet_problems(objects, named, settings)
    if problems:
        raise ValidationError(problems)
    return objects


def size_problems(objects: list[dict[str, Any]], file: str) -> list[Problem]:
    """A problem per object larger than :data:`MAX_OBJECT_BYTES`, naming its team (a team has
    one AppProject and one ApplicationSet, whatever its apps' placements)."""
    problems = []
    for obj in objects:
        size = len(json.dumps(obj, separators=(",", ":")).encode())
        if size > MAX_OBJECT_BYTES:
            team = obj["metadata"]["labels"].get(constants.LABEL_TEAM, obj["metadata"]["name"])
            problems.append(
                Problem(
                    file,
                    f"team {team}",
                    f"the {obj['kind']} {obj['metadata']['name']!r} would be {size} bytes; the "
                    f"limit is {MAX_OBJECT_BYTES} (the API server refuses larger objects): "
                    "move some of the team's apps to another team (`team` in their app.yaml; "
                    "each team has its own ApplicationSet) or trim their ignoreDifferences",
                )
            )
    return problems
