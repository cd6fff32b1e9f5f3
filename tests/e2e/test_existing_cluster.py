"""End to end: `provider: existing`, the path a platform team takes to production.

A cluster created outside Pulumi (`kwokctl`, standing for someone else's cluster: the stack
never creates or deletes it), and a stack named unlike its environment, `prod-eu`: the
committed prod stack file's configuration, environment prod, its own branch `prod-eu`, the
cluster reached by a kubeconfig file and a context. `up`, a preview with nothing to do, prod's
policies, a drift check and `destroy`, which removes what the stack made and leaves the cluster.

No local runtime: on an existing cluster Argo CD runs in the cluster, and kwok runs no
containers, so nothing here syncs (prod syncs by hand anyway). What is proven is the stack's
side: every object applied as prod declares it, on the branch the stack tracks. Charts come
from local archives (no chart repository is reachable here); Kyverno's from the chart of the
Kyverno the toolchain built, packaged without the dependencies it does not carry (turned off).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.chart_render import carried_chart
from infra.components.admission import kyverno_chart_folder
from infra.components.cluster.kwok import creating_alone
from infra.settings import DEFAULT_KUBERNETES_VERSION
from tests.e2e.harness import Project, wait_for
from tests.e2e.test_policy import POLICY_PACK, violations
from tests.support import REPO

pytestmark = pytest.mark.e2e

STACK = "prod-eu"
GROUP, VERSION, NAMESPACE = "argoproj.io", "v1alpha1", "argocd"
KWOKCTL_CONFIG = f"""\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: {DEFAULT_KUBERNETES_VERSION}
"""
CONTROL_PLANE = {
    "--etcd-binary": "etcd",
    "--kube-apiserver-binary": "kube-apiserver",
    "--kube-controller-manager-binary": "kube-controller-manager",
    "--kube-scheduler-binary": "kube-scheduler",
    "--kwok-controller-binary": "kwok",
}


def create_cluster_outside_pulumi(project: Project, workdir: Path, nodes: int) -> Path:
    """A kwok cluster made with kwokctl by hand (the toolchain's control plane), as a cluster
    someone else runs; its kubeconfig written to a file of its own."""
    config = workdir / "kwokctl.yaml"
    config.write_text(KWOKCTL_CONFIG)
    binaries: list[str] = []
    for flag, name in CONTROL_PLANE.items():
        found = shutil.which(name, path=project.env["PATH"])
        assert found, f"{name} not on the toolchain's PATH: run `make toolchain`"
        binaries += [flag, found]
    with creating_alone():  # kwokctl picks its ports by scanning: one creation at a time
        project.kwokctl("--config", str(config), "create", "cluster", "--runtime", "binary",
                        "--wait", "3m", *binaries)  # fmt: skip
    project.kwokctl("scale", "node", "--replicas", str(nodes))
    kubeconfig = workdir / "prod-eu.kubeconfig"
    kubeconfig.write_text(project.kwokctl("get", "kubeconfig").stdout)
    kubeconfig.chmod(0o600)
    return kubeconfig


def kyverno_archive(project: Project, workdir: Path) -> Path:
    """The kyverno chart of the built Kyverno (3.9.0), packaged as a local archive."""
    out = workdir / "charts"
    out.mkdir()
    chart = carried_chart(kyverno_chart_folder(shutil.which("kyverno", path=project.env["PATH"])),
                          workdir)  # fmt: skip
    project.run(["helm", "package", str(chart), "--destination", str(out)])
    (archive,) = out.glob("kyverno-*.tgz")
    return archive


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    workdir = tmp_path_factory.mktemp("e2e-prod-eu")
    project = Project.create(
        STACK,
        workdir,
        nodes=3,
        source="prod",
        overrides={"environment": "prod", "git": {"branch": STACK}},
    )
    try:
        kubeconfig = create_cluster_outside_pulumi(project, workdir, nodes=3)
        context = yaml.safe_load(kubeconfig.read_text())["current-context"]
        project.set_config(
            "cluster", {"provider": "existing", "kubeconfig": str(kubeconfig), "context": context}
        )
        # Argo CD in that cluster would clone the repository from its host: the committed
        # prod file's URL (a plain http://127.0.0.1 one is for local controllers only).
        committed = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"]
        repo_url = committed["gitops-platform:git"]["repoURL"]
        project.set_config("git", {**project.config("git"), "repoURL": repo_url})
        admission = project.config("admission")
        admission["chart"]["path"] = str(kyverno_archive(project, workdir))
        project.set_config("admission", admission)
        yield project
    finally:
        project.teardown()  # the cluster goes with the test, never with the stack
        print("\n".join(project.log))


def custom(project: Project) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(project.api())


def applicationsets(project: Project) -> list[dict[str, Any]]:
    found = custom(project).list_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "applicationsets"
    )
    return list(found["items"])


def test_up_installs_prod_on_the_existing_cluster_tracking_its_own_branch(
    project: Project,
) -> None:
    from kubernetes import client

    project.up()
    assert project.output("environment") == "prod"
    assert project.output("branch") == STACK
    assert project.cluster_name in project.clusters()
    repo_url = project.config("git")["repoURL"]
    sets = applicationsets(project)
    assert sets, "no ApplicationSet"
    for appset in sets:
        name = appset["metadata"]["name"]
        assert appset["metadata"]["labels"]["platform.gitops/environment"] == "prod", name
        # The ApplicationSet never deletes an Application (prod's create-update).
        assert appset["spec"]["syncPolicy"]["applicationsSync"] == "create-update", name
        for element in appset["spec"]["generators"][0]["list"]["elements"]:
            spec = element["patch"]["spec"]  # what each app's Application gets
            sources = spec.get("sources") or [spec["source"]]
            ours = [s for s in sources if s["repoURL"] == repo_url]
            assert ours and {s["targetRevision"] for s in ours} == {STACK}, element
            # prod is continuous delivery: a person syncs.
            assert "automated" not in spec["syncPolicy"], element
    # prod's admission: the chart's Kyverno and the platform's ClusterPolicies.
    apps = client.AppsV1Api(project.api())
    assert apps.read_namespaced_deployment("kyverno-admission-controller", "kyverno")
    policies = custom(project).list_cluster_custom_object("kyverno.io", "v1", "clusterpolicies")
    assert {p["metadata"]["name"] for p in policies["items"]} >= {"platform-signed-images"}
    assert apps.read_namespaced_deployment("argocd-server", NAMESPACE)


def test_a_second_preview_has_nothing_to_do(project: Project) -> None:
    project.pulumi("preview", "--expect-no-changes")
    project.pulumi("preview", "--refresh", "--expect-no-changes")


def test_prods_policies_hold_a_stack_named_unlike_its_environment(project: Project) -> None:
    """The pack keys on the environment (the labels the program writes), not the stack name."""

    def preview() -> subprocess.CompletedProcess[str]:
        return project.pulumi("preview", "--policy-pack", str(POLICY_PACK), check=False)

    argocd = project.config("argocd")
    project.set_config("argocd", {**argocd, "protect": False})
    try:
        refused = preview()
        assert refused.returncode != 0
        assert ("mandatory", "prod-protects-argocd-stack", "argocd-namespace") in violations(
            refused.stdout
        ), refused.stdout[-4000:]
        assert f"on stack '{STACK}' (environment prod)" in refused.stdout
    finally:
        project.set_config("argocd", argocd)
    passed = preview()
    assert passed.returncode == 0, passed.stdout[-4000:]
    assert violations(passed.stdout) == set()


def test_drift_on_the_existing_cluster_is_reported_and_reverted(project: Project) -> None:
    api = custom(project)
    name = applicationsets(project)[0]["metadata"]["name"]
    api.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "applicationsets", name,
        {"spec": {"syncPolicy": {"applicationsSync": "sync"}}},
    )  # fmt: skip
    drift = project.pulumi("preview", "--refresh", "--expect-no-changes", "--diff", check=False)
    assert drift.returncode != 0
    assert f"catalog-applicationset-{name}" in drift.stdout

    project.up("--refresh")
    live = api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "applicationsets", name)
    assert live["spec"]["syncPolicy"]["applicationsSync"] == "create-update"
    project.pulumi("preview", "--refresh", "--expect-no-changes")


def test_destroy_removes_what_the_stack_made_and_leaves_the_cluster(project: Project) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    refused = project.pulumi("destroy", "--yes", check=False)
    assert refused.returncode != 0 and "protect" in (refused.stdout + refused.stderr)
    # A person takes the protection off, deliberately (README, "Tear down"), then destroys.
    project.set_config("argocd", {**project.config("argocd"), "protect": False})
    project.up()
    project.pulumi("destroy", "--yes")

    state = json.loads(project.pulumi("stack", "export").stdout)
    resources = state["deployment"].get("resources") or []
    assert [r["urn"] for r in resources if r["type"] != "pulumi:pulumi:Stack"] == []
    # The cluster is someone else's: still there, still answering.
    assert project.cluster_name in project.clusters()
    kubeconfig = Path(project.config("cluster")["kubeconfig"]).read_text()
    from kubernetes import config

    api = client.CoreV1Api(config.new_client_from_config_dict(yaml.safe_load(kubeconfig)))
    assert api.read_namespace("kube-system")

    def gone(namespace: str) -> bool:
        try:
            api.read_namespace(namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    for namespace in (NAMESPACE, "kyverno", "argo-rollouts"):
        wait_for(f"namespace {namespace} deleted", lambda n=namespace: gone(n), timeout=180)
