"""What the plan tells helm about the cluster, which files a render reads, and the example
catalog rendered with the toolchain's kustomize and helm (required, never skipped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.delivery.plan import Revision, load_side
from infra.delivery.render_app import (
    TargetCluster,
    input_files,
    object_key,
    render_application,
    target_cluster,
)
from infra.settings import load_stack_file
from tests.support import REPO, copy_example_catalog
from tests.unit.gitrepo import write_files


def test_the_cluster_version_and_api_come_from_the_stack() -> None:
    dev = target_cluster(load_stack_file(REPO, "dev"))
    assert (dev.kube_version, dev.assumed) == ("v1.34.3", False)  # the kind node image's tag
    assert "policy/v1/PodDisruptionBudget" in dev.api_versions and "apps/v1" in dev.api_versions
    assert "argoproj.io/v1alpha1/Rollout" in dev.api_versions  # rollouts.enabled
    assert "kyverno.io/v1" not in dev.api_versions  # dev: no admission
    prod = target_cluster(load_stack_file(REPO, "prod"))
    assert prod.assumed, "an existing cluster's version is not in the stack file"
    assert "kyverno.io/v1/ClusterPolicy" in prod.api_versions


def test_inputs_follow_kustomize_references_out_of_the_app(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "apps/a/overlays/dev/kustomization.yaml": "resources: [../../base]\n"
            "patches:\n  - path: ../../../../patches/replicas.yaml\n"
            "configMapGenerator:\n  - name: c\n    files: [conf=settings.ini]\n",
            "apps/a/overlays/dev/settings.ini": "x=1\n",
            "apps/a/base/kustomization.yaml": "components: [../../../shared/labels]\n",
            "shared/labels/kustomization.yaml": "kind: Component\n",
            "shared/labels/extra.yaml": "a: b\n",
            "shared/unrelated/x.yaml": "a: b\n",
            "patches/replicas.yaml": "x: y\n",
        },
    )
    app = {
        "metadata": {"name": "a"},
        "spec": {"source": {"repoURL": "r", "path": "apps/a/overlays/dev"}},
    }
    assert input_files(app, tmp_path, "r") == [
        "apps/a/base/kustomization.yaml",
        "apps/a/overlays/dev/kustomization.yaml",
        "apps/a/overlays/dev/settings.ini",
        "patches/replicas.yaml",
        "shared/labels/extra.yaml",
        "shared/labels/kustomization.yaml",
    ]


def test_external_chart_inputs_are_its_values_files(tmp_path: Path) -> None:
    app = {
        "metadata": {"name": "cache"},
        "spec": {
            "sources": [
                {
                    "repoURL": "https://charts.example.invalid",
                    "chart": "redis",
                    "helm": {"valueFiles": ["$values/apps/cache/values/dev.yaml"]},
                },
                {"repoURL": "r", "ref": "values"},
            ]
        },
    }
    assert input_files(app, tmp_path, "r") == ["apps/cache/values/dev.yaml"]


def test_object_key() -> None:
    assert object_key({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}) == (
        "v1/Service//s"
    )


# -- with the toolchain's kustomize and helm -----------------------------------------------------


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("stack", "cache_replicas"), [("dev", 1), ("prod", 3)])
def test_every_example_app_renders_and_the_checkout_is_left_as_it_was(
    tmp_path: Path, tools: None, stack: str, cache_replicas: int
) -> None:
    checkout = copy_example_catalog(tmp_path)
    revision = Revision("head", "HEAD", "0" * 40, checkout)
    side = load_side(revision, stack, checkout)
    assert side.settings is not None
    before = _files(checkout)
    target = target_cluster(side.settings)
    renders = {
        app["metadata"]["name"]: {
            object_key(o): o
            for o in render_application(app, checkout, side.settings.repo_url, target)
        }
        for app in side.applications.values()
    }
    assert _files(checkout) == before, "a render leaves the checkout as committed"
    cache = renders["metrics-cache"]["apps/v1/StatefulSet//metrics-cache"]
    assert cache["spec"]["replicas"] == cache_replicas  # the Application's helm parameter
    image = cache["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/example-org/mirror/bitnami/redis:7.4.1"  # values/<env>.yaml
    assert set(renders["hello-web"]) == {
        "apps/v1/Deployment//hello-web",
        "v1/Service//hello-web",
    }
    for app in ("checkout-web", "payments-api"):
        kinds = {key.split("/")[2] for key in renders[app]}
        assert {"Rollout", "Deployment", "AnalysisTemplate"} <= kinds, (app, kinds)
    assert ("experiments" in renders) == (stack == "dev")  # enabled in dev only


def test_kustomize_replicas_are_set_for_the_build_only(tmp_path: Path, tools: None) -> None:
    write_files(
        tmp_path,
        {
            "apps/a/kustomization.yaml": "resources:\n  - deployment.yaml\n",
            "apps/a/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            "  name: web\nspec:\n  replicas: 1\n",
        },
    )
    committed = (tmp_path / "apps/a/kustomization.yaml").read_bytes()
    source = {"repoURL": "r", "path": "apps/a"}
    target = TargetCluster("v1.34.3", ())

    def replicas(kustomize: dict[str, object]) -> object:
        app = {"metadata": {"name": "a"}, "spec": {"source": {**source, **kustomize}}}
        (deployment,) = render_application(app, tmp_path, "r", target)
        return deployment["spec"]["replicas"]

    assert replicas({"kustomize": {"replicas": [{"name": "web", "count": 3}]}}) == 3
    assert (tmp_path / "apps/a/kustomization.yaml").read_bytes() == committed
    assert replicas({}) == 1, "another Application of the folder sees it as committed"
