"""The ``fleet`` section: every spoke a valid name, exactly one way to reach it, labels and
annotations that the API server accepts and that never take the platform's own keys; and the
cluster Secret's labels (what placement selects on) from that one model."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra import constants
from infra.catalog.kube_names import label_key_problem, label_value_problem
from infra.settings.fleet import MAX_CLUSTER_NAME, kwok_spoke_name
from infra.specs.fleet import cluster_annotations, cluster_labels, generator_params
from tests.unit.factories import MINIMAL_STACK, minimal_settings, settings_problems

KEY = f"{constants.PROJECT}:fleet"
LOCAL: dict[str, Any] = {
    "cluster": {"provider": "kwok", "controllers": "local"},
    "git": {"mirror": True},
}


def spoke(name: str = "spoke-a", **fields: Any) -> dict[str, Any]:
    return {"name": name, "kubeconfig": {"context": "ctx"}, **fields}


def fleet_problems(*spokes: dict[str, Any], **sections: Any) -> list[str]:
    return settings_problems({**MINIMAL_STACK, **sections, "fleet": {"clusters": list(spokes)}})


def test_no_fleet_by_default_and_a_valid_one_parses() -> None:
    assert not minimal_settings().fleet.enabled
    settings = minimal_settings(
        fleet={
            "clusters": [
                spoke("eu-1", region="eu-west-1", addons=["rollouts"], labels={"tier": "gold"}),
                {"name": "us-1", "stackReference": {"stack": "org/gitops-platform/us-1"}},
            ]
        }
    )
    assert settings.fleet.enabled
    assert [c.access for c in settings.fleet.clusters] == ["kubeconfig", "stackReference"]
    assert settings.fleet.clusters[1].stackReference is not None
    assert settings.fleet.clusters[1].stackReference.output == "kubeconfig"


@pytest.mark.parametrize("name", ["in-cluster", "dev", "prod"])
def test_a_reserved_name_is_refused(name: str) -> None:
    (problem,) = fleet_problems(spoke(name))
    assert f"{KEY}.clusters[0].name: '{name}' is reserved" in problem


@pytest.mark.parametrize("name", ["Spoke", "-a", "a_b", "a" * (MAX_CLUSTER_NAME + 1), ""])
def test_a_name_that_is_no_short_dns_label_is_refused(name: str) -> None:
    (problem,) = fleet_problems(spoke(name))
    assert f"{KEY}.clusters[0].name" in problem


def test_names_are_unique() -> None:
    (problem,) = fleet_problems(spoke("a"), spoke("b"), spoke("a"))
    assert "cluster names must be unique; a given twice" in problem


@pytest.mark.parametrize(
    "access",
    [
        {},
        {"kubeconfig": {"context": "x"}, "stackReference": {"stack": "s"}},
        {"kubeconfig": {"context": "x"}, "kwok": {}},
    ],
)
def test_exactly_one_way_to_reach_a_spoke(access: dict[str, Any]) -> None:
    (problem,) = fleet_problems({"name": "a", **access})
    assert "give exactly one of kubeconfig, stackReference, kwok" in problem


def test_a_kubeconfig_needs_its_context_and_a_stack_reference_a_stack_name() -> None:
    (problem,) = fleet_problems({"name": "a", "kubeconfig": {"path": "/k"}})
    assert f"{KEY}.clusters[0].kubeconfig.context" in problem
    (problem,) = fleet_problems({"name": "a", "stackReference": {"stack": "a b"}})
    assert f"{KEY}.clusters[0].stackReference.stack" in problem


@pytest.mark.parametrize(
    "key",
    [
        "platform.gitops/region",
        "platform.gitops/anything",
        "addons.platform.gitops/rollouts",
        "argocd.argoproj.io/secret-type",
        "app.kubernetes.io/managed-by",
    ],
)
@pytest.mark.parametrize("field", ["labels", "annotations"])
def test_the_platforms_keys_are_refused(field: str, key: str) -> None:
    fields: dict[str, Any] = {field: {key: "x"}}
    (problem,) = fleet_problems(spoke("spoke-a", **fields))
    assert f"{field}: {key!r} is the platform's or Argo CD's" in problem


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ({"bad key": "x"}, "labels.bad key"),
        ({"a/b/c": "x"}, "labels.a/b/c"),
        ({"k": "-x"}, "labels.k"),
        ({"k": "x" * 64}, "labels.k"),
        ({"Example.COM/k": "x"}, "labels.Example.COM/k"),
    ],
)
def test_labels_the_api_server_refuses_are_refused(labels: dict[str, str], field: str) -> None:
    (problem,) = fleet_problems(spoke(labels=labels))
    assert f"{KEY}.clusters[0].{field}" in problem


def test_an_addon_listed_twice_is_refused() -> None:
    (problem,) = fleet_problems(spoke(addons=["redis", "redis"]))
    assert "addons lists an add-on twice" in problem


def test_a_kwok_spoke_needs_the_local_controllers() -> None:
    existing = {"provider": "existing", "context": "hub"}
    (problem,) = fleet_problems({"name": "a", "kwok": {}}, cluster=existing)
    assert f"{KEY}.clusters[0].kwok: a kwok spoke needs cluster.provider: kwok" in problem
    assert minimal_settings(**LOCAL, fleet={"clusters": [{"name": "a", "kwok": {}}]})


def test_a_kwok_spokes_cluster_name_fits_a_label() -> None:
    long_hub = {"provider": "kwok", "controllers": "local", "name": "h" * 40}
    (problem,) = fleet_problems(
        {"name": "a" * 30, "kwok": {}}, cluster=long_hub, git={"mirror": True}
    )
    assert f"{KEY}.clusters[0].name: the spoke's kwok cluster {'h' * 40}-{'a' * 30}" in problem
    assert kwok_spoke_name("hub", "a") == "hub-a"


def test_the_cluster_secrets_labels_come_from_the_one_model() -> None:
    settings = minimal_settings(
        fleet={
            "clusters": [
                spoke(
                    "eu-1",
                    region="eu-west-1",
                    addons=["rollouts", "redis"],
                    labels={"tier": "gold"},
                    annotations={"example.com/owner": "payments"},
                )
            ]
        }
    )
    (eu,) = settings.fleet.clusters
    assert cluster_labels("dev", eu) == {
        "argocd.argoproj.io/secret-type": "cluster",
        "app.kubernetes.io/managed-by": "gitops-platform",
        "platform.gitops/environment": "dev",
        "platform.gitops/cluster": "eu-1",
        "platform.gitops/region": "eu-west-1",
        "addons.platform.gitops/rollouts": "true",
        "addons.platform.gitops/redis": "true",
        "tier": "gold",
    }
    assert cluster_annotations(eu) == {
        **constants.OWNED_ANNOTATIONS,
        "example.com/owner": "payments",
    }
    (params,) = generator_params(settings)
    assert params == {
        "name": "eu-1",
        "nameNormalized": "eu-1",
        "project": "",
        "metadata": {"labels": cluster_labels("dev", eu), "annotations": cluster_annotations(eu)},
    }


_KEY_CHARS = st.characters(codec="ascii", categories=("L", "N", "P", "S", "Z"))


@given(st.text(_KEY_CHARS, min_size=1, max_size=80))
def test_label_keys_and_values_follow_the_api_servers_rules(text: str) -> None:
    """The checks against a literal transcription of apimachinery's IsQualifiedName and
    IsValidLabelValue."""
    import re

    name = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
    label = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    prefix, _, last = text.rpartition("/")
    key_ok = (
        re.fullmatch(name, last) is not None
        and len(last) <= 63
        and ("/" not in text or (re.fullmatch(rf"{label}(\.{label})*", prefix) is not None))
        and len(prefix) <= 253
    )
    assert (label_key_problem(text) is None) == key_ok
    value_ok = len(text) <= 63 and re.fullmatch(name, text) is not None
    assert (label_value_problem(text) is None) == value_ok


def test_spokes_are_refused_where_admission_control_is_on() -> None:
    """The policies run on the hub only: a spoke's apps would escape them (prod needs them)."""
    from tests.unit.factories import PROD_ADMISSION

    problems = settings_problems(
        {**MINIMAL_STACK, "admission": PROD_ADMISSION, "fleet": {"clusters": [spoke()]}}, "prod"
    )
    assert [p for p in problems if f"{KEY}.clusters: spokes with admission.enabled" in p]
