"""End to end: the committed `local-fleet` stack, one hub Argo CD and kwok spokes.

Pulumi.local-fleet.yaml as committed (only the hub cluster's name and chart archive paths
overridden): a kwok hub with Argo CD's real controllers as local processes, two kwok spokes
the stack creates, each registered as `argocd cluster add` would, and the catalog placed on
them by label. A third spoke is made outside the stack and reached by kubeconfig, as a real
spoke is: removing it from the stack leaves the cluster and its workloads. What is claimed is what the controllers report: the Applications' status as
the application controller writes it, and the objects on each spoke's own API server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from infra.settings.fleet import kwok_spoke_name
from tests.e2e.harness import GIT, Project, wait_for

pytestmark = pytest.mark.e2e

SPOKES = ("spoke-a", "spoke-b")
PLACED = ("experiments", "hello-web", "metrics-cache")
"""The catalog's apps that need no add-on: on every spoke. checkout-web and payments-api
(canary, blueGreen) are placed on spokes running Argo Rollouts, which no local spoke does."""
WORKLOADS = {"hello-web": ("web", "hello-web"), "experiments": ("web-experiments", "experiments")}
"""App -> (namespace, Deployment) of the plain workloads the tests look at on a spoke."""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project.create("local-fleet", tmp_path_factory.mktemp("e2e-fleet"), nodes=1)
    yield project
    project.teardown()
    print("\n".join(project.log))


def spoke_cluster(project: Project, spoke: str) -> str:
    return kwok_spoke_name(project.cluster_name, spoke)


def spoke_api(project: Project, spoke: str) -> Any:
    """A client of the spoke's own API server (its kwok admin kubeconfig)."""
    from kubernetes import config

    text = project.run(
        ["kwokctl", "--name", spoke_cluster(project, spoke), "get", "kubeconfig"]
    ).stdout
    return config.new_client_from_config_dict(yaml.safe_load(text))


def deployment(project: Project, spoke: str, app: str) -> Any:
    """The app's Deployment on ``spoke`` as its API server has it, or None."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    namespace, name = WORKLOADS[app]
    try:
        return client.AppsV1Api(spoke_api(project, spoke)).read_namespaced_deployment(
            name, namespace
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def settled(project: Project, names: set[str]) -> dict[str, tuple[str, str]] | None:
    """Sync and health of ``names`` once every one is Synced and Healthy, else None."""
    apps = project.applications()
    states = {
        name: (
            apps[name].get("status", {}).get("sync", {}).get("status", ""),
            apps[name].get("status", {}).get("health", {}).get("status", ""),
        )
        for name in names
        if name in apps
    }
    done = set(states) == names and all(s == ("Synced", "Healthy") for s in states.values())
    return states if done else None


def pairs(apps: tuple[str, ...], spokes: tuple[str, ...]) -> set[str]:
    return {f"{app}-{spoke}" for app in apps for spoke in spokes}


def set_spoke(project: Project, name: str, **fields: Any) -> None:
    """Change (or add) spoke ``name`` in the stack file's fleet.clusters, as a user edits it."""
    fleet = project.config("fleet")
    clusters = fleet["clusters"]
    for cluster in clusters:
        if cluster["name"] == name:
            cluster.update(fields)
            break
    else:
        clusters.append({"name": name, **fields})
    project.set_config("fleet", fleet)


def test_up_places_every_app_on_every_spoke_synced_and_healthy(project: Project) -> None:
    project.up()
    status = project.platformctl("status", "--stack", "local-fleet", "--wait", "300", check=False)
    lines = status.stdout.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("APPLICATION"))) + 1 :]
    table = table[: table.index("")] if "" in table else table
    rows = {line.split()[0]: line.split()[1:3] for line in table}
    assert set(rows) == pairs(PLACED, SPOKES), status.stdout
    for name, state in rows.items():
        assert state == ["Synced", "Healthy"], (name, status.stdout)
    assert status.returncode == 0, status.stderr
    # The workloads live on the spokes, not on the hub.
    for spoke in SPOKES:
        for app in WORKLOADS:
            live = deployment(project, spoke, app)
            assert live is not None and live.status.available_replicas, (spoke, app)
    assert project.live_image(*WORKLOADS["hello-web"]) is None


def test_each_spoke_is_registered_with_its_labels_and_a_secret_token(project: Project) -> None:
    from kubernetes import client

    listed = client.CoreV1Api(project.api()).list_namespaced_secret(
        "argocd", label_selector="argocd.argoproj.io/secret-type=cluster"
    )
    secrets: list[Any] = list(listed.items)
    by_name = {s.metadata.labels["platform.gitops/cluster"]: s for s in secrets}
    assert set(by_name) == set(SPOKES)
    assert by_name["spoke-a"].metadata.labels["platform.gitops/region"] == "local-a"
    assert by_name["spoke-a"].metadata.labels["platform.gitops/environment"] == "dev"
    # The token is in the hub's Secret, and only encrypted in the stack's state.
    state = project.pulumi("stack", "export").stdout
    config = json.loads(secret_text(by_name["spoke-b"].data["config"]))
    assert config["bearerToken"] and config["bearerToken"] not in state
    assert config["tlsClientConfig"]["caData"]
    # Re-applying with nothing changed changes nothing (no perpetual diff).
    project.pulumi("preview", "--expect-no-changes", "--diff")


def secret_text(data: str) -> str:
    import base64

    return base64.b64decode(data).decode()


def test_a_hand_edit_on_a_spoke_is_reverted_by_self_heal(project: Project) -> None:
    from kubernetes import client

    before = deployment(project, "spoke-b", "hello-web")
    namespace, name = WORKLOADS["hello-web"]
    client.AppsV1Api(spoke_api(project, "spoke-b")).patch_namespaced_deployment(
        name, namespace, {"spec": {"replicas": before.spec.replicas + 3}}
    )
    wait_for(
        "Argo CD to revert the hand edit on spoke-b",
        lambda: deployment(project, "spoke-b", "hello-web").spec.replicas == before.spec.replicas,
        timeout=180,
    )


def create_spoke_outside_the_stack(project: Project, spoke: str) -> dict[str, Any]:
    """A kwok cluster the stack does not create (as a real spoke: made elsewhere, reached by
    kubeconfig and context); its ``fleet.clusters`` access entry."""
    from infra.components.cluster.kwok import KwokProvider
    from infra.settings.cluster import DEFAULT_KUBERNETES_VERSION

    name = spoke_cluster(project, spoke)
    saved = dict(os.environ)
    os.environ.update({key: project.env[key] for key in ("PATH", "KWOK_WORKDIR")})
    try:
        provider = KwokProvider()
        provider.create_cluster(
            {"name": name, "kubernetesVersion": DEFAULT_KUBERNETES_VERSION, "nodes": 1}
        )
        kubeconfig = project.root.parent / f"{spoke}.kubeconfig"
        kubeconfig.write_text(provider.kubeconfig(name))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"kubeconfig": {"path": str(kubeconfig), "context": f"kwok-{name}"}}


def test_a_third_spoke_added_by_config_gets_its_applications(project: Project) -> None:
    access = create_spoke_outside_the_stack(project, "spoke-c")
    set_spoke(project, "spoke-c", **access, region="local-c", labels={"tier": "gold"})
    project.up()
    names = pairs(PLACED, ("spoke-c",))
    wait_for("spoke-c's Applications Synced and Healthy", lambda: settled(project, names), 300)
    assert deployment(project, "spoke-c", "hello-web") is not None


def test_a_label_change_moves_an_app_and_leaves_its_workload(project: Project) -> None:
    # hello-web now runs only on the gold tier: spoke-c.
    app_file = project.root / "apps" / "hello-web" / "app.yaml"
    definition = yaml.safe_load(app_file.read_text())
    definition["placement"] = {"clusterSelector": {"matchLabels": {"tier": "gold"}}}
    app_file.write_text(yaml.safe_dump(definition, sort_keys=False))
    project.run([*GIT, "commit", "--quiet", "-am", "hello-web: gold clusters only"])
    project.up()
    wait_for(
        "hello-web only on spoke-c",
        lambda: (
            {n for n in project.applications() if n.startswith("hello-web-")}
            == {"hello-web-spoke-c"}
        ),
        timeout=180,
    )
    # Its workloads on the clusters it left stay (preserveResourcesOnDeletion).
    assert deployment(project, "spoke-a", "hello-web") is not None
    # The label moves: gold is spoke-a now.
    set_spoke(project, "spoke-c", labels={})
    set_spoke(project, "spoke-a", labels={"tier": "gold"})
    project.up()
    wait_for(
        "hello-web moved to spoke-a",
        lambda: (
            settled(project, {"hello-web-spoke-a"})
            and "hello-web-spoke-c" not in project.applications()
        ),
        timeout=240,
    )
    assert deployment(project, "spoke-c", "hello-web") is not None


def _failure_text(app: dict[str, Any]) -> str:
    """What Argo CD reports wrong with an Application: its conditions', its last operation's
    and that operation's resources' messages (where a sync that cannot reach the cluster says
    so: "dial tcp ...: connect: connection refused")."""
    status = app.get("status", {})
    operation = status.get("operationState", {})
    messages = [c.get("message", "") for c in status.get("conditions", [])]
    messages.append(operation.get("message", ""))
    messages += [r.get("message", "") for r in operation.get("syncResult", {}).get("resources", [])]
    return " | ".join(m for m in messages if m)


def test_an_unreachable_spoke_is_reported_for_its_applications_only(project: Project) -> None:
    cluster = spoke_cluster(project, "spoke-c")
    project.run(["kwokctl", "--name", cluster, "stop", "cluster"], timeout=180)
    try:
        # A change every spoke of the app would sync.
        overlay = project.root / "apps" / "experiments" / "overlays" / "dev" / "kustomization.yaml"
        overlay.write_text(overlay.read_text().replace('newTag: "0.3.0"', 'newTag: "0.3.1"'))
        project.run([*GIT, "commit", "--quiet", "-am", "experiments 0.3.1"])
        project.up()
        head = project.run([*GIT, "rev-parse", "HEAD"]).stdout.strip()

        def synced_at_head(name: str) -> bool:
            app = project.applications()[name]
            sync = app.get("status", {}).get("sync", {})
            health = app.get("status", {}).get("health", {}).get("status")
            return (
                sync.get("status") == "Synced"
                and sync.get("revision") == head
                and (health == "Healthy")
            )

        # The other spokes keep syncing while spoke-c is down...
        wait_for(
            "experiments on spoke-a and spoke-b Synced at the new commit",
            lambda: all(synced_at_head(f"experiments-{s}") for s in SPOKES),
            timeout=240,
        )
        # ...and Argo CD reports spoke-c's Application, and only it, unable to reach it.
        wait_for(
            "experiments-spoke-c reported unable to reach its spoke",
            lambda: (
                "connection refused" in _failure_text(project.applications()["experiments-spoke-c"])
            ),
            timeout=300,
            detail=lambda: project.applications()["experiments-spoke-c"].get("status"),
        )
        for name, app in project.applications().items():
            if not name.endswith("-spoke-c"):
                assert "connection refused" not in _failure_text(app), name
    finally:
        project.run(["kwokctl", "--name", cluster, "start", "cluster"], timeout=180)


def test_removing_a_spoke_needs_allow_removal_and_keeps_its_workloads(project: Project) -> None:
    fleet = project.config("fleet")
    without_c = [c for c in fleet["clusters"] if c["name"] != "spoke-c"]
    project.set_config("fleet", {**fleet, "clusters": without_c})
    refused = project.pulumi("preview", check=False)
    assert refused.returncode != 0
    assert "spoke-c" in refused.stdout + refused.stderr
    # Allowed (and applied), then removed.
    project.set_config("fleet", fleet)
    set_spoke(project, "spoke-c", allowRemoval=True)
    project.up()
    project.set_config("fleet", {**project.config("fleet"), "clusters": without_c})
    project.up()
    wait_for(
        "spoke-c's Applications gone",
        lambda: not [n for n in project.applications() if n.endswith("-spoke-c")],
        timeout=180,
    )
    # Its workloads stay on the spoke.
    assert deployment(project, "spoke-c", "experiments") is not None
