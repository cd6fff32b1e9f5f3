"""The add-ons' settings and chart values (Argo Rollouts, Sealed Secrets), against the charts."""

from __future__ import annotations

import io
import tarfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings import load_stack_file
from infra.specs.addons import (
    ROLLOUTS_CONTROLLER,
    SEALED_SECRETS_CONTROLLER,
    addon_namespace,
    rollouts_values,
    sealed_secrets_values,
)
from tests.support import REPO, ROLLOUTS_CHART, SEALED_SECRETS_CHART
from tests.unit.factories import MINIMAL_STACK, minimal_settings, settings_problems


def _archive(path: Path) -> dict[str, str]:
    assert path.is_file(), f"{path} missing: the charts in ../shared/charts are required"
    out = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            raw = tar.extractfile(member) if member.isfile() else None
            if raw is not None:
                out[member.name] = io.TextIOWrapper(raw, "utf-8").read()
    return out


@cache
def chart_files(path: Path) -> dict[str, str]:
    return _archive(path)


def chart_defaults(path: Path) -> dict[str, Any]:
    files = chart_files(path)
    name = next(n for n in files if n.count("/") == 1 and n.endswith("/values.yaml"))
    return yaml.safe_load(files[name])


# Values whose content is free-form in the chart (maps of labels, resource requirements).
FREE_FORM = {"deploymentLabels", "commonLabels", "resources"}


def unknown_keys(ours: dict[str, Any], defaults: dict[str, Any], prefix: str = "") -> list[str]:
    """Keys we set that the chart's values.yaml does not have: a typo is silently ignored by
    Helm, so the chart's defaults are the schema."""
    out = []
    for key, value in ours.items():
        path = f"{prefix}{key}"
        if key not in defaults:
            out.append(path)
        elif isinstance(value, dict) and key not in FREE_FORM:
            if not isinstance(defaults[key], dict):
                out.append(path)
            else:
                out += unknown_keys(value, defaults[key], f"{path}.")
    return out


# -- settings ----------------------------------------------------------------------------------


def test_addons_are_off_by_default_with_pinned_charts() -> None:
    s = minimal_settings()
    assert not s.rollouts.enabled and not s.sealedSecrets.enabled
    assert s.rollouts.namespace == "argo-rollouts"
    assert s.rollouts.chart.version == "2.41.0"
    assert s.rollouts.chart.repository == "https://argoproj.github.io/argo-helm"
    assert s.sealedSecrets.namespace == "kube-system"
    assert s.sealedSecrets.chart.version == "2.18.5"
    assert s.sealedSecrets.chart.repository == "https://bitnami-labs.github.io/sealed-secrets"
    assert s.rollouts.chart.path is None and s.sealedSecrets.chart.path is None


def test_both_stacks_enable_both_addons() -> None:
    for stack in ("dev", "prod"):
        s = load_stack_file(REPO, stack)
        assert s.rollouts.enabled and s.sealedSecrets.enabled, stack
        assert s.rollouts.chart.version == "2.41.0" and s.sealedSecrets.chart.version == "2.18.5"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"rollouts": {"enabled": "yes"}},
            "Pulumi.dev.yaml: gitops-platform:rollouts.enabled: Input should be a valid boolean",
        ),
        (
            {"rollouts": {"chart": {"version": "2.x"}}},
            "Pulumi.dev.yaml: gitops-platform:rollouts.chart.version: String should match pattern",
        ),
        (
            {"sealedSecrets": {"chart": {"repository": "http://insecure"}}},
            "Pulumi.dev.yaml: gitops-platform:sealedSecrets.chart.repository: String should match",
        ),
        (
            {"sealedSecrets": {"namespace": "Kube_System"}},
            "Pulumi.dev.yaml: gitops-platform:sealedSecrets.namespace: String should match pattern",
        ),
        (
            {"sealedSecrets": {"replicas": 2}},
            "Pulumi.dev.yaml: gitops-platform:sealedSecrets.replicas: unknown key",
        ),
        (
            {"rollouts": {"enabled": True, "namespace": "argocd"}},
            "Pulumi.dev.yaml: gitops-platform:rollouts.namespace: 'argocd' is already the "
            "namespace of argocd.namespace; give each its own",
        ),
        (
            {
                "rollouts": {"enabled": True, "namespace": "platform"},
                "sealedSecrets": {"enabled": True, "namespace": "platform"},
            },
            "Pulumi.dev.yaml: gitops-platform:sealedSecrets.namespace: 'platform' is already the "
            "namespace of rollouts.namespace; give each its own",
        ),
    ],
    ids=[
        "bool",
        "version",
        "https-only",
        "dns-label",
        "unknown-key",
        "argocd-ns",
        "shared-ns",
    ],
)
def test_bad_addon_settings(values: dict[str, Any], expected: str) -> None:
    found = settings_problems({**MINIMAL_STACK, **values})
    assert any(m.startswith(expected) for m in found), found


def test_a_disabled_addon_or_a_cluster_namespace_may_be_shared() -> None:
    s = minimal_settings(
        rollouts={"namespace": "argocd"},
        sealedSecrets={"enabled": True, "namespace": "kube-system"},
    )
    assert s.rollouts.namespace == "argocd"
    s = minimal_settings(
        rollouts={"enabled": True, "namespace": "kube-system"},
        sealedSecrets={"enabled": True},
    )
    assert s.rollouts.namespace == s.sealedSecrets.namespace == "kube-system"


# -- namespaces --------------------------------------------------------------------------------


def test_addon_namespace_is_created_unless_every_cluster_has_it() -> None:
    s = minimal_settings("prod")
    ns = addon_namespace(s, "argo-rollouts")
    assert ns is not None
    assert ns["metadata"]["name"] == "argo-rollouts"
    assert ns["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "gitops-platform",
        "platform.gitops/environment": "prod",
    }
    assert ns["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
    for shared in ("kube-system", "kube-public", "default"):
        assert addon_namespace(s, shared) is None


# -- Argo Rollouts values ------------------------------------------------------------------------


def test_rollouts_values_dev() -> None:
    values = rollouts_values(minimal_settings("dev"))
    assert values["controller"]["replicas"] == 1
    assert "pdb" not in values["controller"] and "resources" not in values["controller"]
    # Served by the local runtime on loopback as the chart's dashboard workload (its RBAC);
    # never in a cluster (no authentication of its own).
    assert values["dashboard"] == {"enabled": True}
    real = rollouts_values(minimal_settings("dev", cluster={"provider": "kind"}))
    assert real["dashboard"] == {"enabled": False}
    kwok_only = rollouts_values(
        minimal_settings("dev", cluster={"provider": "kwok", "controllers": "none"})
    )
    assert kwok_only["dashboard"] == {"enabled": False}
    assert values["installCRDs"] is False, "the CRDs are owned by ChartCRDs, not the chart"
    assert values["fullnameOverride"] == ROLLOUTS_CONTROLLER
    assert values["global"]["deploymentLabels"] == {"platform.gitops/environment": "dev"}


def test_rollouts_values_prod_has_two_replicas_and_a_pdb() -> None:
    values = rollouts_values(minimal_settings("prod"))
    controller = values["controller"]
    assert controller["replicas"] == 2
    assert controller["pdb"] == {"enabled": True, "minAvailable": 1}
    assert controller["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert values["dashboard"] == {"enabled": True}  # kwok with local controllers


def test_sealed_secrets_values() -> None:
    dev = sealed_secrets_values(minimal_settings("dev"))
    prod = sealed_secrets_values(minimal_settings("prod"))
    for values in (dev, prod):
        assert values["fullnameOverride"] == SEALED_SECRETS_CONTROLLER
        assert values["secretName"] == "sealed-secrets-key"
        assert values["rbac"]["serviceProxier"] == {"create": True, "bind": True}
        assert values["ingress"] == {"enabled": False}
    assert "resources" not in dev
    assert prod["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    assert dev["commonLabels"] == {"platform.gitops/environment": "dev"}


def test_values_are_plain_data() -> None:
    """Chart v4 registers nothing when a value is unknown: the values are plain data."""
    for env in ("dev", "prod"):
        for values in (
            rollouts_values(minimal_settings(env)),
            sealed_secrets_values(minimal_settings(env)),
        ):
            assert yaml.safe_load(yaml.safe_dump(values)) == values


# -- against the real charts ---------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_value_we_set_is_a_value_of_the_chart(env: str) -> None:
    s = minimal_settings(env)
    assert unknown_keys(rollouts_values(s), chart_defaults(ROLLOUTS_CHART)) == []
    assert unknown_keys(sealed_secrets_values(s), chart_defaults(SEALED_SECRETS_CHART)) == []


@pytest.mark.parametrize("archive", [ROLLOUTS_CHART, SEALED_SECRETS_CHART], ids=lambda p: p.name)
def test_the_charts_have_no_helm_hooks(archive: Path) -> None:
    """Chart v4 runs no Helm hooks: a hook in a future chart version would silently not run."""
    hooks = [name for name, text in chart_files(archive).items() if "helm.sh/hook" in text]
    assert hooks == []


def test_the_pinned_versions_are_the_archives() -> None:
    s = minimal_settings()
    for archive, version in (
        (ROLLOUTS_CHART, s.rollouts.chart.version),
        (SEALED_SECRETS_CHART, s.sealedSecrets.chart.version),
    ):
        files = chart_files(archive)
        chart = yaml.safe_load(next(t for n, t in files.items() if n.endswith("/Chart.yaml")))
        assert chart["version"] == version


def test_rollouts_crds_are_annotated_keep() -> None:
    files = chart_files(ROLLOUTS_CHART)
    crds = [t for n, t in files.items() if "/templates/crds/" in n]
    assert len(crds) == 5
    for text in crds:
        assert "{{- if .Values.keepCRDs }}" in text and '"helm.sh/resource-policy": keep' in text
