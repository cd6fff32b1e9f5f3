"""The pure builders: AppProjects, ApplicationSets, chart values, secrets, expansion."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from infra.catalog import load_catalog
from infra.errors import ValidationError
from infra.settings import StackSettings, load_stack_file
from infra.specs import argocd_objects, argocd_secret, chart_values, expand
from infra.specs.expand import TemplateError
from tests.support import REPO, copy_example_catalog, schema_errors
from tests.unit.factories import MINIMAL_STACK


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
    # Its own Namespaces by name: never another team's, argocd's or kube-system.
    assert web["clusterResourceWhitelist"] == [
        {"group": "", "kind": "Namespace", "name": "web"},
        {"group": "", "kind": "Namespace", "name": "web-experiments"},
    ]
    assert web["namespaceResourceBlacklist"] == [
        {"group": "", "kind": "ResourceQuota"},
        {"group": "", "kind": "LimitRange"},
        {"group": "argoproj.io", "kind": "AppProject"},
        {"group": "argoproj.io", "kind": "Application"},
        {"group": "argoproj.io", "kind": "ApplicationSet"},
    ]
    data = projects["data"]["spec"]
    # metrics-cache's chart is in this repository: no chart repository is trusted.
    assert data["sourceRepos"] == ["https://github.com/example-org/gitops-platform.git"]
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
    assert set(applications("prod")) == {
        "checkout-web",
        "hello-web",
        "metrics-cache",
        "payments-api",
    }
    assert set(applications("dev")) == {
        "checkout-web",
        "experiments",
        "hello-web",
        "metrics-cache",
        "payments-api",
    }


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
    # False flags are left out, as Argo CD leaves them out of the Applications it writes.
    assert dev["experiments"]["spec"]["syncPolicy"]["automated"] == {"selfHeal": True}
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
    # A rolling kustomize app (blueGreen/canary apps point at generated/: test_rollout.py).
    spec = applications("dev")["experiments"]["spec"]
    assert spec["source"]["path"] == "apps/experiments/overlays/dev"
    assert spec["source"]["kustomize"]["replicas"] == [{"name": "experiments", "count": 1}]


def test_a_chart_in_this_repo_is_one_source_with_relative_value_files() -> None:
    spec = applications("dev")["metrics-cache"]["spec"]
    assert spec["source"] == {
        "repoURL": "https://github.com/example-org/gitops-platform.git",
        "targetRevision": "dev",
        "path": "apps/metrics-cache/chart",
        "helm": {
            "releaseName": "metrics-cache",
            "valueFiles": ["../values/dev.yaml"],
            "parameters": [{"name": "replicaCount", "value": "1"}],
        },
    }


def test_an_external_chart_takes_values_from_this_repo(tmp_path: Path) -> None:
    root = copy_example_catalog(tmp_path)
    app_file = root / "apps" / "metrics-cache" / "app.yaml"
    app_file.write_text(
        app_file.read_text().replace(
            "  path: chart\n  replicasKey: replicaCount\n",
            "  repoURL: https://charts.bitnami.com/bitnami\n  chart: redis\n  version: 20.6.2\n"
            "  replicasKey: replica.replicaCount\n",
        )
    )
    objs = argocd_objects(load_catalog(root), load_stack_file(REPO, "dev"))
    apps = {
        a["metadata"]["name"]: a for o in objs if o["kind"] == "ApplicationSet" for a in expand(o)
    }
    chart, values = apps["metrics-cache"]["spec"]["sources"]
    assert chart["repoURL"] == "https://charts.bitnami.com/bitnami"
    assert chart["helm"]["valueFiles"] == ["$values/apps/metrics-cache/values/dev.yaml"]
    assert chart["helm"]["parameters"] == [{"name": "replica.replicaCount", "value": "1"}]
    assert values == {
        "repoURL": "https://github.com/example-org/gitops-platform.git",
        "targetRevision": "dev",
        "ref": "values",
    }
    data = by_kind(objs, "AppProject")["data"]["spec"]
    assert "https://charts.bitnami.com/bitnami" in data["sourceRepos"]


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
    dev = settings("dev")
    secret = argocd_secret(
        dev.argocd.namespace,
        dev.environment,
        password_hash="$2b$...",
        password_mtime="t",
        server_secret_key="k",
    )
    assert secret["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert set(secret["stringData"]) == {
        "admin.password",
        "admin.passwordMtime",
        "server.secretkey",
    }


def with_sync_and_notifications(stack: str) -> StackSettings:
    base = settings(stack)
    windows = [
        {"kind": "allow", "schedule": "0 22 * * 1-5", "duration": "2h", "manualSync": True},
        {"kind": "deny", "schedule": "0 0 24 12 *", "duration": "24h", "timeZone": "Europe/Berlin"},
    ]
    from infra.settings import NotificationsSettings, SyncWindow

    return base.model_copy(
        update={
            "sync": base.sync.model_copy(
                update={"windows": [SyncWindow.model_validate(w) for w in windows]}
            ),
            "notifications": NotificationsSettings(webhookURL="https://hooks.example.com/argo"),
        }
    )


def test_sync_windows_apply_to_every_project() -> None:
    objs = argocd_objects(load_catalog(REPO), with_sync_and_notifications("prod"))
    projects = by_kind(objs, "AppProject")
    assert set(projects) == {"data", "payments", "web"}
    for project in projects.values():
        assert project["spec"]["syncWindows"] == [
            {
                "kind": "allow",
                "schedule": "0 22 * * 1-5",
                "duration": "2h",
                "applications": ["*"],
                "manualSync": True,
                "timeZone": "UTC",
            },
            {
                "kind": "deny",
                "schedule": "0 0 24 12 *",
                "duration": "24h",
                "applications": ["*"],
                "manualSync": False,
                "timeZone": "Europe/Berlin",
            },
        ]
        assert schema_errors(project) == []
    # Without windows the field is absent (no empty list to diff against).
    assert all(
        "syncWindows" not in p["spec"] for p in by_kind(objects("prod"), "AppProject").values()
    )


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"kind": "sometimes", "schedule": "* * * * *", "duration": "1h"}, "kind"),
        ({"kind": "allow", "schedule": "every night", "duration": "1h"}, "schedule"),
        ({"kind": "allow", "schedule": "0 22 * *", "duration": "1h"}, "schedule"),
        ({"kind": "allow", "schedule": "0 22 * * *", "duration": "1 hour"}, "duration"),
        ({"kind": "allow", "schedule": "0 22 * * *"}, "duration"),
    ],
    ids=["kind", "schedule-words", "schedule-four-fields", "duration", "duration-missing"],
)
def test_bad_sync_window_names_the_key(window: dict[str, Any], field: str) -> None:
    from infra.settings import parse_settings

    values = {**MINIMAL_STACK, "sync": {"windows": [window]}}
    with pytest.raises(ValidationError) as info:
        parse_settings("prod", values, "Pulumi.prod.yaml")
    assert [p.field for p in info.value.problems] == [f"gitops-platform:sync.windows[0].{field}"]


def test_notifications_subscribe_every_application() -> None:
    configured = with_sync_and_notifications("dev")
    objs = argocd_objects(load_catalog(REPO), configured)
    subscriptions = {
        "notifications.argoproj.io/subscribe.on-sync-status-unknown.platform": "",
        "notifications.argoproj.io/subscribe.on-out-of-sync.platform": "",
        "notifications.argoproj.io/subscribe.on-health-degraded.platform": "",
        "notifications.argoproj.io/subscribe.on-sync-failed.platform": "",
    }
    for appset in by_kind(objs, "ApplicationSet").values():
        assert schema_errors(appset) == []
        for application in expand(appset):
            assert application["metadata"]["annotations"] == subscriptions
            assert schema_errors(application) == []
    # Off by default: no annotations, and the chart's notifications controller is disabled.
    for appset in by_kind(objects("dev"), "ApplicationSet").values():
        assert "annotations" not in appset["spec"]["template"]["metadata"]
    assert chart_values(settings("dev"))["notifications"] == {"enabled": False}


def test_notifications_chart_values() -> None:
    import yaml

    values = chart_values(with_sync_and_notifications("prod"))["notifications"]
    assert values["enabled"] is True
    # The URL lives in argocd-notifications-secret, the service config references it.
    assert values["secret"] == {
        "create": True,
        "items": {"platform-webhook-url": "https://hooks.example.com/argo"},
    }
    service = yaml.safe_load(values["notifiers"]["service.webhook.platform"])
    assert service["url"] == "$platform-webhook-url"
    triggers = {k: yaml.safe_load(v) for k, v in values["triggers"].items()}
    assert set(triggers) == {
        "trigger.on-sync-status-unknown",
        "trigger.on-out-of-sync",
        "trigger.on-health-degraded",
        "trigger.on-sync-failed",
    }
    assert triggers["trigger.on-health-degraded"][0]["when"] == (
        "app.status.health.status == 'Degraded'"
    )
    for name, (trigger,) in triggers.items():
        template = f"template.{trigger['send'][0]}"
        body = yaml.safe_load(values["templates"][template])["webhook"]["platform"]
        assert body["method"] == "POST"
        assert f'"event": "{name.removeprefix("trigger.")}"' in body["body"]


def test_app_ignore_differences_reach_the_application() -> None:
    spec = applications("prod")["metrics-cache"]["spec"]
    assert spec["ignoreDifferences"] == [
        {
            "group": "apps",
            "kind": "StatefulSet",
            "jqPathExpressions": [".spec.volumeClaimTemplates[]?.status"],
        }
    ]
    assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]


def test_every_application_retries_as_the_stack_says() -> None:
    from infra.settings import SyncRetry

    default = {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}
    for app in applications("prod").values():
        assert app["spec"]["syncPolicy"]["retry"] == default
    base = settings("dev")
    retry = SyncRetry.model_validate({"limit": 1, "duration": "2s", "maxDuration": "10s"})
    configured = base.model_copy(update={"sync": base.sync.model_copy(update={"retry": retry})})
    sets = [
        o for o in argocd_objects(load_catalog(REPO), configured) if o["kind"] == "ApplicationSet"
    ]
    apps = [a for s in sets for a in expand(s)]
    assert apps
    for app in apps:
        assert app["spec"]["syncPolicy"]["retry"] == {
            "limit": 1,
            "backoff": {"duration": "2s", "factor": 2, "maxDuration": "10s"},
        }
        assert schema_errors(app) == []


@pytest.mark.parametrize(
    ("retry", "field"),
    [
        ({"limit": -1}, "limit"),  # Argo CD's "retry forever": a failure never reported
        ({"limit": 21}, "limit"),
        ({"limit": "five"}, "limit"),
        ({"limit": True}, "limit"),
        ({"duration": "5 s"}, "duration"),
        ({"duration": "-5s"}, "duration"),
        ({"factor": 0}, "factor"),
        ({"factor": 1.5}, "factor"),
        ({"maxDuration": ""}, "maxDuration"),
        ({"limits": 3}, "limits"),
        ({"duration": "10m"}, "maxDuration"),  # the first wait past the longest (3m)
        ({"duration": "90s", "maxDuration": "1m"}, "maxDuration"),
    ],
    ids=["unlimited", "too-many", "words", "bool", "spaced", "negative", "factor-0",
         "factor-float", "empty-max", "unknown-key", "first-past-default-max",
         "first-past-max"],
)  # fmt: skip
def test_bad_sync_retry_names_the_key(retry: dict[str, Any], field: str) -> None:
    from infra.settings import parse_settings

    values = {**MINIMAL_STACK, "sync": {"retry": retry}}
    with pytest.raises(ValidationError) as info:
        parse_settings("prod", values, "Pulumi.prod.yaml")
    assert [p.field for p in info.value.problems] == [f"gitops-platform:sync.retry.{field}"]
