"""What the plan tells helm about the cluster, and which files a render reads (no tools)."""

from __future__ import annotations

from pathlib import Path

from infra.delivery.render_app import input_files, object_key, target_cluster
from infra.settings import load_stack_file
from tests.support import REPO
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
