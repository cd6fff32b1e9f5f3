"""The pure builders: AppProjects, ApplicationSets, chart values, secrets, expansion."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.catalog import load_catalog
from infra.errors import ValidationError
from infra.settings import StackSettings, load_stack_file
from infra.specs import argocd_objects, argocd_secret, chart_values, expand
from infra.specs.expand import TemplateError
from tests.support import REPO, schema_errors


def objects(stack: str) -> list[dict[str, Any]]:
    return argocd_objects(load_catalog(REPO), load_stack_file(REPO, stack))


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def applications(stack: str) -> dict[str, dict[str, Any]]:
    apps = [a for o in objects(stack) if o["kind"] == "ApplicationSet" for a in expand(o)]
    return {a["metadata"]["name"]: a for a in apps}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_objects_validate_strictly_against_the_chart_crds(stack: str) -> None:
    objs = objects(stack)
    assert [o["kind"] for o in objs] == ["AppProject"] * 3 + ["ApplicationSet"] * 3
    errors = [e for o in objs for e in schema_errors(o)]
    errors += [e for a in applications(stack).values() for e in schema_errors(a)]
    assert errors == []


def test_strict_schema_check_catches_unknown_fields() -> None:
    appset = copy.deepcopy(by_kind(objects("dev"), "ApplicationSet")["web"])
    appset["spec"]["template"]["spec"]["destination"]["cluster"] = "typo"
    assert any(
        "Additional properties are not allowed ('cluster'" in e for e in schema_errors(appset)
    )


def test_projects_are_least_privilege() -> None:
    projects = by_kind(objects("dev"), "AppProject")
    web = projects["web"]["spec"]
    assert web["sourceRepos"] == ["https://github.com/example-org/gitops-platform.git"]
    assert [d["namespace"] for d in web["destinations"]] == ["web", "web-experiments"]
    assert web["clusterResourceWhitelist"] == []
    data = projects["data"]["spec"]
    assert "https://charts.bitnami.com/bitnami" in data["sourceRepos"]
    for project in projects.values():
        namespaces = {d["namespace"] for d in project["spec"]["destinations"]}
        assert not namespaces & {"argocd", "kube-system", "*"}
        assert all(
            d["server"] == "https://kubernetes.default.svc" for d in project["spec"]["destinations"]
        )


def test_prod_only_gets_prod_enabled_apps_and_namespaces() -> None:
    prod = objects("prod")
    web = by_kind(prod, "AppProject")["web"]["spec"]
    assert [d["namespace"] for d in web["destinations"]] == ["web"]
    assert set(applications("prod")) == {"hello-web", "metrics-cache", "payments-api"}
    assert set(applications("dev")) == {"experiments", "hello-web", "metrics-cache", "payments-api"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_application_tracks_its_stack_branch(stack: str) -> None:
    for app in applications(stack).values():
        spec = app["spec"]
        sources = spec.get("sources") or [spec["source"]]
        revisions = {s["targetRevision"] for s in sources if "chart" not in s}
        assert revisions == {stack}, app["metadata"]["name"]
        assert app["metadata"]["labels"]["platform.gitops/environment"] == stack


def test_sync_policy_per_environment_and_override() -> None:
    dev, prod = applications("dev"), applications("prod")
    assert dev["payments-api"]["spec"]["syncPolicy"]["automated"] == {
        "prune": True,
        "selfHeal": True,
    }
    # experiments overrides prune for dev only.
    assert dev["experiments"]["spec"]["syncPolicy"]["automated"] == {
        "prune": False,
        "selfHeal": True,
    }
    assert all("automated" not in a["spec"]["syncPolicy"] for a in prod.values())


def test_applicationset_guards() -> None:
    dev = by_kind(objects("dev"), "ApplicationSet")["web"]["spec"]
    prod = by_kind(objects("prod"), "ApplicationSet")["web"]["spec"]
    assert dev["goTemplate"] is True and dev["goTemplateOptions"] == ["missingkey=error"]
    assert dev["syncPolicy"] == {"preserveResourcesOnDeletion": True}
    assert prod["syncPolicy"] == {
        "preserveResourcesOnDeletion": True,
        "applicationsSync": "create-update",
    }
    # The project is a literal, never templated from an element.
    assert dev["template"]["spec"]["project"] == "web"
    assert "{{" not in dev["template"]["spec"]["project"]


def test_kustomize_overlay_path_and_replicas() -> None:
    spec = applications("prod")["payments-api"]["spec"]
    assert spec["source"]["path"] == "apps/payments-api/overlays/prod"
    assert spec["source"]["kustomize"]["replicas"] == [{"name": "payments-api", "count": 3}]


def test_helm_app_takes_values_from_this_repo() -> None:
    spec = applications("dev")["metrics-cache"]["spec"]
    chart, values = spec["sources"]
    assert chart["helm"]["valueFiles"] == ["$values/apps/metrics-cache/values/dev.yaml"]
    assert chart["helm"]["parameters"] == [{"name": "replica.replicaCount", "value": "1"}]
    assert values == {
        "repoURL": "https://github.com/example-org/gitops-platform.git",
        "targetRevision": "dev",
        "ref": "values",
    }


def test_emptied_catalog_is_refused(tmp_path: Any) -> None:
    (tmp_path / "apps").mkdir()
    settings = load_stack_file(REPO, "dev")
    with pytest.raises(ValidationError, match="no app is enabled for environment 'dev'; refusing"):
        argocd_objects(load_catalog(tmp_path), settings)
    allowed = settings.model_copy(
        update={"catalog": settings.catalog.model_copy(update={"allowEmpty": True})}
    )
    assert argocd_objects(load_catalog(tmp_path), allowed) == []


def test_expand_refuses_missing_keys_and_unknown_actions() -> None:
    appset = copy.deepcopy(by_kind(objects("dev"), "ApplicationSet")["web"])
    del appset["spec"]["generators"][0]["list"]["elements"][0]["namespace"]
    with pytest.raises(TemplateError, match='no entry for key "namespace"'):
        expand(appset)
    appset = copy.deepcopy(by_kind(objects("dev"), "ApplicationSet")["web"])
    appset["spec"]["template"]["metadata"]["name"] = "{{ .name | upper }}"
    with pytest.raises(TemplateError, match="unsupported template action"):
        expand(appset)


def settings(stack: str) -> StackSettings:
    return load_stack_file(REPO, stack)


def test_chart_values_per_environment() -> None:
    dev, prod = chart_values(settings("dev")), chart_values(settings("prod"))
    assert dev["redis"] == {"enabled": True} and dev["redis-ha"] == {"enabled": False}
    assert prod["redis"] == {"enabled": False} and prod["redis-ha"]["enabled"] is True
    assert dev["server"] == {"replicas": 1}
    assert prod["server"]["replicas"] == 2 and prod["server"]["pdb"]["enabled"] is True
    assert prod["repoServer"]["resources"]["requests"]["memory"] == "512Mi"
    for values in (dev, prod):
        assert values["configs"]["secret"]["createSecret"] is False
        assert values["redisSecretInit"]["enabled"] is False
        assert (
            values["configs"]["params"]["applicationsetcontroller.enable.policy.override"] is True
        )


def test_argocd_secret_is_labelled_for_argocd() -> None:
    secret = argocd_secret(
        settings("dev"), password_hash="$2b$...", password_mtime="t", server_secret_key="k"
    )
    assert secret["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert set(secret["stringData"]) == {
        "admin.password",
        "admin.passwordMtime",
        "server.secretkey",
    }
