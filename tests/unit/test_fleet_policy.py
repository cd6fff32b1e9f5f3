"""The policy pack's advisory of a hub: each spoke that allows its removal, with the
Applications removing it would make disappear, computed from the resources a preview
registers (the ApplicationSets and the spokes' cluster Secrets, with their ``protect``)."""

from __future__ import annotations

from typing import Any

from infra.catalog import load_catalog
from infra.specs import argocd_objects
from infra.specs.fleet import cluster_secret_metadata
from policy.fleet_rules import (
    APPLICATION_SET_TYPE,
    SECRET_TYPE,
    FleetResource,
    removable_spoke_advisories,
)
from tests.support import REPO
from tests.unit.factories import repo_settings


def _resources(allow: dict[str, bool]) -> list[FleetResource]:
    """What the local-fleet stack registers, its spokes allowing removal as ``allow`` says."""
    fleet = {
        "clusters": [
            {"name": name, "kwok": {}, "region": f"local-{name[-1]}", "allowRemoval": allowed}
            for name, allowed in allow.items()
        ]
    }
    settings = repo_settings("local-fleet", fleet=fleet)
    catalog = load_catalog(REPO, REPO / "apps", reserved_namespaces=settings.platform_namespaces)
    out = [
        FleetResource(APPLICATION_SET_TYPE, f"urn:{obj['metadata']['name']}", False, spec(obj))
        for obj in argocd_objects(catalog, settings)
        if obj["kind"] == "ApplicationSet"
    ]
    for spoke in settings.fleet.clusters:
        metadata = cluster_secret_metadata("argocd", settings.environment, spoke)
        out.append(
            FleetResource(
                SECRET_TYPE, f"urn:{spoke.name}", not spoke.allowRemoval, {"metadata": metadata}
            )
        )
    return out


def spec(obj: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": obj["metadata"], "spec": obj["spec"]}


def test_a_spoke_that_allows_removal_is_named_with_its_applications() -> None:
    (advisory,) = removable_spoke_advisories(_resources({"spoke-a": True, "spoke-b": False}))
    message, urn = advisory
    assert urn == "urn:spoke-a"
    assert message.startswith("spoke spoke-a allows removal (allowRemoval: true): removing it")
    assert "3 Application(s) disappear (experiments-spoke-a, hello-web-spoke-a, " in message
    assert "metrics-cache-spoke-a)" in message and "spoke-b" not in message


def test_protected_spokes_and_stacks_without_spokes_say_nothing() -> None:
    assert removable_spoke_advisories(_resources({"spoke-a": False, "spoke-b": False})) == []
    assert removable_spoke_advisories([]) == []
