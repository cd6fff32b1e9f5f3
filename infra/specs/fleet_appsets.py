"""The shape of a stack's ApplicationSets when its apps run on spoke clusters
(``fleet.clusters``), pure: one per team, named ``<team>`` as without spokes, whose generators
are one ``matrix`` per distinct placement of the team's apps: Argo CD's cluster generator (the
spokes the placement selects) times the ``list`` of the apps placed so. Argo CD generates the
union, one Application per (app, cluster), named ``<app>-<cluster>``.

An app's placement (``placement.clusterSelector`` in ``app.yaml``) is written in one
canonical form, and the apps of a team with the same placement share a matrix: the default
placement's first, then in the order of the canonical selectors' JSON. Changing an app's
placement moves its list element to another matrix of the same ApplicationSet, so its
Applications never change owner: an ApplicationSet updates only the Applications it owns, and
prod's ``create-update`` would leave one owned by another ApplicationSet stuck.

A blueGreen or canary app needs the Argo Rollouts controller where it runs, on the spokes:
its placement must select only spokes labelled :data:`ROLLOUTS_LABEL` (a spoke's
``addons: [rollouts]``).

Per-cluster values: a helm app's value files are ``values/<env>.yaml`` then
``values/<cluster>.yaml`` (``ignoreMissingValueFiles``: only where it exists). The cluster's
name reaches the list element's patch through the ``templatePatch``, which replaces
:data:`CLUSTER_PLACEHOLDER` with the generator's ``name`` (sprig's ``replace``). Kustomize and
directory apps get the same source on every cluster.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from infra import constants
from infra.catalog import App
from infra.catalog.kube_names import MAX_LABEL_LENGTH
from infra.catalog.models import HelmSource, Placement
from infra.errors import Problem
from infra.settings import StackSettings
from infra.specs.expand import selected_clusters
from infra.specs.fleet import generator_params

__all__ = [
    "APPLICATION_NAME",
    "CLUSTER_PLACEHOLDER",
    "ELEMENT_APP_KEY",
    "ROLLOUTS_LABEL",
    "TEMPLATE_PATCH",
    "canonical_selector",
    "destination",
    "fleet_problems",
    "generators",
    "project_destinations",
    "rollouts_problems",
    "template_labels",
]

CLUSTER_PLACEHOLDER: Final = "__PLATFORM_GITOPS_CLUSTER__"
"""Stands for the cluster's name in a list element's patch (``values/<cluster>.yaml``); the
``templatePatch`` replaces it. Letters and ``_`` only, so JSON writes it as it is, and an app
whose patch would hold it otherwise is refused."""
TEMPLATE_PATCH: Final = f'{{{{ toJson .patch | replace "{CLUSTER_PLACEHOLDER}" .name }}}}'
"""The templatePatch of a fleet ApplicationSet: the element's ``patch``, the cluster named."""
ELEMENT_APP_KEY: Final = "app"
"""The app's name in a list element: not ``name``, which the matrix would merge with (and lose
to) the cluster generator's ``name``."""
APPLICATION_NAME: Final = f"{{{{ .{ELEMENT_APP_KEY} }}}}-{{{{ .name }}}}"
"""The template of an Application's name: ``<app>-<cluster>``."""
ROLLOUTS_LABEL: Final = f"{constants.ADDON_LABEL_PREFIX}rollouts"
"""The label (``"true"``) of a spoke that runs Argo Rollouts, which a blueGreen or canary app's
placement must require."""

Selector = dict[str, Any]


def canonical_selector(placement: Placement) -> Selector | None:
    """The placement's selector in one form (``None``: the default, every spoke): labels by
    key, each expression's values sorted without repeats, expressions sorted without repeats,
    ``values`` only where the operator takes them, empty parts left out. Two selectors that
    select alike by their text share a matrix."""
    selector = placement.clusterSelector
    if selector is None or selector.is_empty():
        return None
    out: Selector = {}
    if selector.matchLabels:
        out["matchLabels"] = dict(sorted(selector.matchLabels.items()))
    expressions: dict[str, dict[str, Any]] = {}
    for requirement in selector.matchExpressions:
        item: dict[str, Any] = {"key": requirement.key, "operator": requirement.operator}
        if requirement.values:
            item["values"] = sorted(set(requirement.values))
        expressions[_selector_json(item)] = item
    if expressions:
        out["matchExpressions"] = [expressions[text] for text in sorted(expressions)]
    return out


def _selector_json(selector: Mapping[str, Any]) -> str:
    return json.dumps(selector, sort_keys=True, separators=(",", ":"))


def generator_selector(selector: Selector | None, environment: str) -> Selector:
    """The cluster generator's selector: the stack's environment, then the placement's."""
    out: Selector = {"matchLabels": {constants.LABEL_ENV: environment}}
    if selector is not None:
        out["matchLabels"].update(selector.get("matchLabels", {}))
        if selector.get("matchExpressions"):
            out["matchExpressions"] = [dict(e) for e in selector["matchExpressions"]]
    return out


def generators(
    placed: Iterable[tuple[App, dict[str, Any]]], environment: str
) -> list[dict[str, Any]]:
    """A team's generators, from its apps and their list elements: one matrix per distinct
    placement (:func:`canonical_selector`), the default first, then in the order of the
    selectors' JSON; each the spokes the placement selects, times the apps placed so (in the
    order given)."""
    groups: dict[str, tuple[Selector | None, list[dict[str, Any]]]] = {}
    for app, element in placed:
        selector = canonical_selector(app.definition.placement)
        key = "" if selector is None else _selector_json(selector)
        groups.setdefault(key, (selector, []))[1].append(element)
    return [
        {
            "matrix": {
                "generators": [
                    {"clusters": {"selector": generator_selector(selector, environment)}},
                    {"list": {"elements": elements}},
                ]
            }
        }
        for _, (selector, elements) in sorted(groups.items())
    ]


def template_labels() -> dict[str, str]:
    """The Application's labels naming its app and its cluster (besides the team's)."""
    return {
        constants.LABEL_APP: f"{{{{ .{ELEMENT_APP_KEY} }}}}",
        constants.LABEL_CLUSTER: "{{ .name }}",
    }


def destination() -> dict[str, str]:
    """The Application's destination: the spoke by name (its server is Argo CD's to know)."""
    return {"name": "{{ .name }}", "namespace": "{{ .namespace }}"}


def project_destinations(
    namespaces: Sequence[str], settings: StackSettings
) -> list[dict[str, str]]:
    """A team's AppProject destinations: each of its namespaces on every spoke, never the hub
    (``in-cluster`` is no destination of a stack with spokes)."""
    return [
        {"name": spoke.name, "namespace": namespace}
        for spoke in settings.fleet.clusters
        for namespace in namespaces
    ]


# -- what a stack with spokes refuses ----------------------------------------------------------


def _matrices(appset: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """A fleet ApplicationSet's cluster generator and list elements, matrix by matrix."""
    for generator in appset["spec"]["generators"]:
        clusters, apps = generator["matrix"]["generators"]
        yield clusters["clusters"], apps["list"]["elements"]


def fleet_problems(
    objects: list[dict[str, Any]], apps: Mapping[str, App], settings: StackSettings
) -> list[Problem]:
    """What a stack with spokes refuses in its Argo CD ``objects`` (``apps``: the catalog's
    apps by name): an app whose patch holds :data:`CLUSTER_PLACEHOLDER`, two (app, cluster)
    pairs of one Application name anywhere in the stack (Argo CD would refuse the second in
    one ApplicationSet, and two ApplicationSets would fight over it), and Application names
    over 63 characters (Argo CD writes the name into a label value)."""
    clusters = generator_params(settings)
    problems: list[Problem] = []
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for appset in (o for o in objects if o["kind"] == "ApplicationSet"):
        for generator, elements in _matrices(appset):
            chosen = [c["name"] for c in selected_clusters(generator, clusters)]
            for element in elements:
                app = apps[element[ELEMENT_APP_KEY]]
                problems.extend(_placeholder_problems(app, element["patch"]))
                for cluster in chosen:
                    pairs[f"{app.name}-{cluster}"].append((app.name, cluster))
    return problems + _name_problems(pairs, apps)


def _requires_true(selector: Selector | None, key: str) -> bool:
    """Whether every spoke a canonical selector selects has ``key: "true"`` (in
    ``matchLabels``, or a requirement ``In ["true"]``)."""
    if selector is None:
        return False
    if selector.get("matchLabels", {}).get(key) == "true":
        return True
    return any(
        e["key"] == key and e["operator"] == "In" and e.get("values") == ["true"]
        for e in selector.get("matchExpressions", [])
    )


def rollouts_problems(apps: Iterable[App]) -> list[Problem]:
    """A problem per blueGreen or canary app whose placement does not require
    :data:`ROLLOUTS_LABEL`: its Rollout would reach spokes without the Rollouts controller
    (nothing would run it) or without its CRD (the sync would fail)."""
    return [
        Problem(
            app.file,
            "placement.clusterSelector",
            f"strategy {app.definition.strategy.type} needs Argo Rollouts on every spoke the "
            f'app runs on: add matchLabels {{{ROLLOUTS_LABEL}: "true"}} (set on a spoke by '
            "its addons: [rollouts])",
        )
        for app in apps
        if app.definition.strategy.progressive
        and not _requires_true(canonical_selector(app.definition.placement), ROLLOUTS_LABEL)
    ]


def _placeholder_problems(app: App, patch: dict[str, Any]) -> list[Problem]:
    expected = 1 if isinstance(app.definition.source, HelmSource) else 0
    if json.dumps(patch).count(CLUSTER_PLACEHOLDER) <= expected:
        return []
    return [
        Problem(
            app.file,
            "",
            f"its Application would hold {CLUSTER_PLACEHOLDER!r}, which a stack with spoke "
            "clusters replaces by each cluster's name: rename what holds it (a path, an "
            "ignoreDifferences entry, the stack's git.repoURL or branch)",
        )
    ]


def _name_problems(
    pairs: Mapping[str, list[tuple[str, str]]], apps: Mapping[str, App]
) -> list[Problem]:
    problems = []
    long: dict[str, list[str]] = defaultdict(list)
    for name, found in sorted(pairs.items()):
        for app, cluster in found:
            if len(name) > MAX_LABEL_LENGTH:
                long[app].append(cluster)
        if len(found) > 1:
            shown = " and ".join(f"app {a} on cluster {c}" for a, c in sorted(found))
            problems.append(
                Problem(
                    apps[min(found)[0]].file,
                    "placement",
                    f"Application {name!r} would be generated twice: {shown}; rename an app "
                    "or a cluster, or place the apps apart",
                )
            )
    for app, on in sorted(long.items()):
        problems.append(
            Problem(
                apps[app].file,
                "placement",
                f"its Application on cluster(s) {', '.join(on)} would be named "
                f"<app>-<cluster> in more than {MAX_LABEL_LENGTH} characters, the limit of a "
                "label value (Argo CD labels its resources with it): shorten the app's or the "
                "cluster's name",
            )
        )
    return problems
