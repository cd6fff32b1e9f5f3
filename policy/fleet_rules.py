"""The policy pack's fleet rule (pure): every spoke whose removal is allowed, with the
Applications that would disappear if it were removed, computed from what the preview
registers (the ApplicationSets and the spokes' cluster Secrets) through the one expansion
(:func:`infra.specs.expand.applications`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra import constants
from infra.specs.expand import ClusterParams, applications

__all__ = ["FleetResource", "removable_spoke_advisories"]

SECRET_TYPE = "kubernetes:core/v1:Secret"
APPLICATION_SET_TYPE = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"


@dataclass(frozen=True)
class FleetResource:
    """What the rule needs of one resource: its type, URN, ``protect`` option and (plain)
    ``metadata`` and ``spec``."""

    type: str
    urn: str
    protect: bool
    obj: Mapping[str, Any]


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _spokes(resources: list[FleetResource]) -> dict[str, FleetResource]:
    """The spokes' cluster Secrets, by spoke name (the ``platform.gitops/cluster`` label)."""
    out = {}
    for resource in resources:
        labels = _labels(resource.obj)
        secret_type = labels.get(constants.ARGOCD_SECRET_TYPE_LABEL)
        if resource.type == SECRET_TYPE and secret_type == constants.ARGOCD_CLUSTER_SECRET_TYPE:
            name = labels.get(constants.LABEL_CLUSTER)
            if name:
                out[name] = resource
    return out


def removable_spoke_advisories(resources: Iterable[FleetResource]) -> list[tuple[str, str]]:
    """(message, URN) per spoke whose cluster Secret is not protected (``allowRemoval:
    true``): the Applications that disappear if it is removed from ``fleet.clusters``."""
    resources = list(resources)
    spokes = _spokes(resources)
    if not spokes:
        return []
    clusters: ClusterParams = [
        {
            "name": name,
            "nameNormalized": name,
            "project": "",
            "metadata": {
                "labels": _labels(secret.obj),
                "annotations": dict((secret.obj.get("metadata") or {}).get("annotations") or {}),
            },
        }
        for name, secret in sorted(spokes.items())
    ]
    appsets = [
        {"apiVersion": constants.ARGOCD_API_VERSION, "kind": "ApplicationSet", **r.obj}
        for r in resources
        if r.type == APPLICATION_SET_TYPE
    ]
    generated = applications(appsets, clusters)
    out = []
    for name, secret in sorted(spokes.items()):
        if secret.protect:
            continue
        on_it = sorted(
            str(app["metadata"]["name"])
            for app in generated
            if app["spec"]["destination"].get("name") == name
        )
        shown = ", ".join(on_it) or "none"
        out.append(
            (
                f"spoke {name} allows removal (allowRemoval: true): removing it from "
                f"fleet.clusters makes its {len(on_it)} Application(s) disappear ({shown}); "
                "their workloads stay on the spoke",
                secret.urn,
            )
        )
    return out
