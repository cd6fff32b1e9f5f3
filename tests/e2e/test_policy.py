"""End to end: the real engine runs the policy pack (policy/) through our Python language host.

Previews only, of fresh stacks: a preview creates no cluster, so each test takes seconds. What
a fresh preview registers: the program's own resources (namespace, secrets, the Chart v4
component, AppProjects, ApplicationSets); the chart's children appear once the cluster exists,
so the image policy is covered by the unit tier (tests/unit/test_policies.py).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import Project
from tests.support import REPO

pytestmark = pytest.mark.e2e

POLICY_PACK = REPO / "policy"

# `- [mandatory]  prod-protects-argocd  (kubernetes:core/v1:Namespace: argocd-namespace)`
VIOLATION = re.compile(r"- \[(\w+)\]\s+([\w-]+)\s+\(([^:]+:[^:]+:[^:]+): ([^)]+)\)")


def preview(project: Project) -> subprocess.CompletedProcess[str]:
    return project.pulumi("preview", "--policy-pack", str(POLICY_PACK), check=False, timeout=600)


def violations(output: str) -> set[tuple[str, str, str]]:
    """(enforcement level, policy, resource name) of every violation a preview printed."""
    return {(level, policy, name) for level, policy, _, name in VIOLATION.findall(output)}


def test_dev_preview_passes_every_policy(tmp_path: Path) -> None:
    project = Project.create("dev", tmp_path, nodes=1)
    result = preview(project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # The pack really ran (loaded through the language host's RunPlugin) and passed.
    assert re.search(r"✅ gitops-platform@v0\.1\.0 \(local: .*/policy\)", result.stdout)
    assert violations(result.stdout) == set()
    # dev prunes automatically (Pulumi.dev.yaml sync.prune: true): allowed outside prod.
    assert "catalog-applicationset-web" in result.stdout
    assert project.cluster_name not in project.clusters()


def test_prod_argocd_without_protect_is_blocked(tmp_path: Path) -> None:
    project = Project.create("prod", tmp_path, nodes=1)
    protected = preview(project)
    assert ("mandatory", "prod-protects-argocd", "argocd-namespace") not in violations(
        protected.stdout
    ), protected.stdout[-4000:]

    argocd = project.config("argocd")
    argocd["protect"] = False
    project.set_config("argocd", argocd)
    result = preview(project)
    assert result.returncode != 0
    # A fresh stack: no output is known before its cluster exists, so the stack policy cannot
    # learn the environment; the resource policy reads the namespace's own label and blocks.
    assert ("mandatory", "prod-protects-argocd", "argocd-namespace") in violations(result.stdout)
    assert (
        "resource 'argocd-namespace' is not protected on stack 'prod' (environment prod)"
    ) in result.stdout
    assert "set gitops-platform:argocd.protect: true in Pulumi.prod.yaml" in result.stdout


def test_prod_app_that_auto_prunes_is_blocked(tmp_path: Path) -> None:
    project = Project.create("prod", tmp_path, nodes=1)
    assert ("mandatory", "prod-no-auto-prune", "catalog-applicationset-web") not in violations(
        preview(project).stdout
    )

    app = project.root / "apps" / "hello-web" / "app.yaml"
    definition = yaml.safe_load(app.read_text())
    definition["environments"]["prod"]["sync"] = {"automated": True, "prune": True}
    app.write_text(yaml.safe_dump(definition, sort_keys=False))
    result = preview(project)
    assert result.returncode != 0
    assert ("mandatory", "prod-no-auto-prune", "catalog-applicationset-web") in violations(
        result.stdout
    ), result.stdout[-4000:]
    assert (
        "spec.generators[0].list.elements[0](hello-web).patch.spec.syncPolicy.automated.prune "
        "is true on stack 'prod' (environment prod)"
    ) in result.stdout
    # Only the app that prunes: the other teams' ApplicationSets pass.
    assert {
        name for _, policy, name in violations(result.stdout) if policy == "prod-no-auto-prune"
    } == {"catalog-applicationset-web"}


def test_prod_without_admission_is_refused_before_any_resource(tmp_path: Path) -> None:
    """The real engine: a prod stack that turns admission off stops at its settings (the pack's
    `prod-enforces-admission` is the second line, for a program changed to skip it)."""
    project = Project.create("prod", tmp_path, nodes=1)
    admission = project.config("admission")
    admission["enabled"] = False
    project.set_config("admission", admission)
    result = preview(project)
    assert result.returncode != 0
    assert (
        "Pulumi.prod.yaml: gitops-platform:admission.enabled: must be true for a stack "
        "deploying prod"
    ) in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert project.cluster_name not in project.clusters()
    project.teardown()
