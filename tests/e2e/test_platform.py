"""End to end: the real Pulumi engine, providers and a local kwok control plane.

Runs once with the dev and once with the prod stack file (only the cluster provider and the
chart source are overridden). Tests of one stack run in order and share its deployment; the
last one destroys it. The fixture's finalizer deletes the cluster whatever happened, so no
control-plane process outlives the run.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import bcrypt
import pytest
import yaml

from tests.e2e.harness import Project, changed_resources, secret_value

pytestmark = pytest.mark.e2e

NAMESPACE = "argocd"
GROUP, VERSION = "argoproj.io", "v1alpha1"


@pytest.fixture(scope="module", params=["dev", "prod"])
def project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    stack = request.param
    # prod is highly available: redis-ha's hard anti-affinity needs three nodes.
    project = Project.create(
        stack, tmp_path_factory.mktemp(f"e2e-{stack}"), nodes=3 if stack == "prod" else 1
    )
    yield project
    # Whatever happened: no cluster (and no control-plane process) is left behind.
    if project.cluster_name in project.clusters():
        project.kwokctl("delete", "cluster", check=False)
    print("\n".join(project.log))


def custom_objects(project: Project) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(project.api())


def live(project: Project, kind: str, name: str) -> dict[str, Any] | None:
    from kubernetes.client.exceptions import ApiException

    plural = {"AppProject": "appprojects", "ApplicationSet": "applicationsets"}[kind]
    try:
        return custom_objects(project).get_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, plural, name
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def rendered(project: Project) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(project.platformctl("render", "--stack", project.stack).stdout))


def test_fresh_stack_previews_then_creates_cluster_and_argocd(project: Project) -> None:
    preview = project.pulumi("preview", "--diff")
    assert "catalog-applicationset-web" in preview.stdout
    assert project.cluster_name not in project.clusters()

    project.up()
    assert project.cluster_name in project.clusters()

    from kubernetes import client

    apps = client.AppsV1Api(project.api())
    deployments = apps.list_namespaced_deployment(NAMESPACE).items
    names = {d.metadata.name for d in deployments}
    assert {"argocd-server", "argocd-repo-server", "argocd-applicationset-controller"} <= names
    for d in deployments:
        assert (d.status.available_replicas or 0) == d.spec.replicas, d.metadata.name
    statefulsets = {s.metadata.name: s for s in apps.list_namespaced_stateful_set(NAMESPACE).items}
    assert "argocd-application-controller" in statefulsets
    if project.stack == "prod":
        assert deployments and all(d.spec.replicas >= 1 for d in deployments)
        assert any("redis-ha" in name for name in statefulsets), sorted(statefulsets)
        server = next(d for d in deployments if d.metadata.name == "argocd-server")
        assert server.spec.replicas == 2


def test_objects_in_the_cluster_are_what_platformctl_renders(project: Project) -> None:
    # The API server accepts the render under strict field validation (the CRDs of the chart).
    render = project.root / "render.yaml"
    render.write_text(project.platformctl("render", "--stack", project.stack).stdout)
    kubeconfig = project.root / "check.kubeconfig"
    kubeconfig.write_text(project.output("kubeconfig", secret=True))
    try:
        project.run(
            [
                "kubectl",
                "--kubeconfig",
                str(kubeconfig),
                "apply",
                "--server-side",
                "--dry-run=server",
                "--validate=strict",
                "--field-manager=e2e-check",
                "--force-conflicts",
                "-f",
                str(render),
            ]
        )
    finally:
        kubeconfig.unlink()
    objects = rendered(project)
    assert [o["kind"] for o in objects].count("ApplicationSet") == 3
    for obj in objects:
        found = live(project, obj["kind"], obj["metadata"]["name"])
        assert found is not None, f"{obj['kind']}/{obj['metadata']['name']} missing"
        assert found["spec"] == obj["spec"], obj["metadata"]["name"]
        assert obj["metadata"]["labels"].items() <= found["metadata"]["labels"].items()
        assert obj["metadata"]["annotations"].items() <= found["metadata"]["annotations"].items()


def test_second_up_changes_nothing(project: Project) -> None:
    project.pulumi("preview", "--expect-no-changes")


def test_addons_are_installed(project: Project) -> None:
    """Argo Rollouts and Sealed Secrets (both stacks enable them): CRDs, controllers, the
    CRDs kept on destroy, and `platformctl seal` reaching the controller through the API."""
    from kubernetes import client

    api = project.api()
    crds = {
        c.metadata.name
        for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items
    }
    assert {"rollouts.argoproj.io", "analysistemplates.argoproj.io"} <= crds, sorted(crds)
    assert "sealedsecrets.bitnami.com" in crds

    rollouts_ns = project.output("rolloutsNamespace")
    sealed_ns = project.output("sealedSecretsNamespace")
    assert (rollouts_ns, sealed_ns) == ("argo-rollouts", "kube-system")
    apps = client.AppsV1Api(api)
    for namespace, name in (
        (rollouts_ns, "argo-rollouts"),
        (sealed_ns, "sealed-secrets-controller"),
    ):
        deployment = apps.read_namespaced_deployment(name, namespace)
        conditions = {c.type: c.status for c in deployment.status.conditions or []}
        assert conditions.get("Available") == "True", (name, conditions)
        assert (deployment.status.available_replicas or 0) == deployment.spec.replicas >= 1
    rollouts = apps.read_namespaced_deployment("argo-rollouts", rollouts_ns)
    assert rollouts.spec.replicas == (2 if project.stack == "prod" else 1)
    assert not [
        d.metadata.name
        for d in apps.list_namespaced_deployment(rollouts_ns).items
        if "dashboard" in d.metadata.name
    ]

    # The controller generates its key Secret on start-up. On kwok containers never run, so
    # it never does: the key is required only on a cluster that runs containers.
    keys = (
        client.CoreV1Api(api)
        .list_namespaced_secret(
            sealed_ns, label_selector="sealedsecrets.bitnami.com/sealed-secrets-key"
        )
        .items
    )
    if project.config("cluster")["provider"] != "kwok":
        assert keys, "the sealed-secrets controller created no key Secret"

    # Destroy and disable keep the CRDs (every app's Rollouts and SealedSecrets live in them).
    state = json.loads(project.pulumi("stack", "export").stdout)["deployment"]["resources"]
    retained = {
        r["inputs"]["metadata"]["name"]: r.get("retainOnDelete", False)
        for r in state
        if r["type"] == "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
    }
    for crd in (
        "rollouts.argoproj.io",
        "analysistemplates.argoproj.io",
        "sealedsecrets.bitnami.com",
    ):
        assert retained.get(crd) is True, (crd, retained)

    # `platformctl seal --context` finds the controller's Service and asks the API server's
    # proxy for /v1/cert.pem; the controller is not running here, so: a clear error, exit 1.
    kubeconfig = project.root / "seal.kubeconfig"
    kubeconfig.write_text(project.output("kubeconfig", secret=True))
    try:
        context = yaml.safe_load(kubeconfig.read_text())["current-context"]
        sealed = project.platformctl(
            "seal", "--app", "payments-api", "--env", project.stack, "--name", "db",
            "--from-literal", "a=b", "--kubeconfig", str(kubeconfig), "--context", context,
            check=False,
        )  # fmt: skip
    finally:
        kubeconfig.unlink()
    assert sealed.returncode == 1, sealed.stdout + sealed.stderr
    assert sealed.stderr.startswith("error: "), sealed.stderr
    assert "Traceback" not in sealed.stdout + sealed.stderr
    assert not list((project.root / "apps").rglob("sealed-*.yaml"))


def test_generated_rollouts_and_applications_are_accepted_by_the_api_server(
    project: Project,
) -> None:
    """What Argo CD would apply for blue/green and canary apps (the generated Rollout,
    Services and AnalysisTemplates with the app's overlay), and the Applications the
    ApplicationSets expand to, pass the API server's strict server-side dry run against the
    CRDs the stack installed. (Argo CD itself does not run on kwok: this is the check that
    stands in for its sync.)"""
    kubeconfig = project.root / "dry-run.kubeconfig"
    kubeconfig.write_text(project.output("kubeconfig", secret=True))
    kubectl = ["kubectl", "--kubeconfig", str(kubeconfig)]
    dry_run = [
        *kubectl,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "--field-manager=e2e-check",
        "-f",
    ]
    checked = []
    try:
        for app_file in sorted((project.root / "apps").glob("*/app.yaml")):
            definition = yaml.safe_load(app_file.read_text())
            strategy = (definition.get("strategy") or {}).get("type", "rolling")
            env = (definition.get("environments") or {}).get(project.stack)
            if strategy == "rolling" or env is None or env.get("enabled") is False:
                continue
            generated = app_file.parent / "generated" / project.stack
            manifests = project.run([*kubectl, "kustomize", str(generated)]).stdout
            namespace = definition["namespace"]
            project.run([*kubectl, "create", "namespace", namespace], check=False)
            rendered_file = project.root / f"{app_file.parent.name}.rendered.yaml"
            rendered_file.write_text(manifests)
            out = project.run([*dry_run, str(rendered_file), "--namespace", namespace]).stdout
            kinds = {line.split("/")[0] for line in out.splitlines() if "/" in line}
            assert {"rollout.argoproj.io", "analysistemplate.argoproj.io"} <= kinds, out
            checked.append(app_file.parent.name)
        applications = project.root / "applications.yaml"
        applications.write_text(project.platformctl("expand", "--stack", project.stack).stdout)
        out = project.run([*dry_run, str(applications)]).stdout
        assert out.count("application.argoproj.io/") == len(
            list(yaml.safe_load_all(applications.read_text()))
        )
    finally:
        kubeconfig.unlink()
    assert checked, "the example catalog has blue/green and canary apps in every stack"


def test_admin_password_is_stable_secret_and_verifiable(project: Project) -> None:
    password = project.output("adminPassword", secret=True)
    api = project.api()
    digest = secret_value(api, NAMESPACE, "argocd-secret", "admin.password")
    assert bcrypt.checkpw(password.encode(), digest.encode())
    assert secret_value(api, NAMESPACE, "argocd-secret", "admin.passwordMtime") == project.output(
        "adminPasswordMtime"
    )

    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as info:
        client.CoreV1Api(api).read_namespaced_secret("argocd-initial-admin-secret", NAMESPACE)
    assert info.value.status == 404

    exported = project.pulumi("stack", "export").stdout
    assert password not in exported
    assert project.output("adminPassword") == "[secret]"


def test_rotation_changes_only_what_it_must(project: Project) -> None:
    api = project.api()
    before = project.output("adminPassword", secret=True)
    secret_key = secret_value(api, NAMESPACE, "argocd-secret", "server.secretkey")
    mtime = project.output("adminPasswordMtime")
    time.sleep(1.1)  # the mtime has a one-second resolution

    project.set_config("adminPassword", {"rotation": "2"})
    changed = changed_resources(project.preview_json())
    assert set(changed) == {"argocd-admin-password", "argocd-argocd-secret"}, changed
    assert changed["argocd-argocd-secret"] == "update"  # in place, never delete-and-create
    project.up()

    after = project.output("adminPassword", secret=True)
    assert after != before
    api = project.api()
    assert bcrypt.checkpw(
        after.encode(), secret_value(api, NAMESPACE, "argocd-secret", "admin.password").encode()
    )
    assert secret_value(api, NAMESPACE, "argocd-secret", "server.secretkey") == secret_key
    assert project.output("adminPasswordMtime") != mtime
    project.pulumi("preview", "--expect-no-changes")


def test_drift_is_reported_and_reverted(project: Project) -> None:
    api = custom_objects(project)
    api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NAMESPACE,
        "applicationsets",
        "web",
        {"spec": {"syncPolicy": {"preserveResourcesOnDeletion": False}}},
    )
    api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "appprojects", "payments")

    drift = project.pulumi("preview", "--refresh", "--expect-no-changes", "--diff", check=False)
    assert drift.returncode != 0
    assert "catalog-applicationset-web" in drift.stdout
    assert "catalog-appproject-payments" in drift.stdout

    project.up("--refresh")
    assert live(project, "AppProject", "payments") is not None
    web = live(project, "ApplicationSet", "web")
    assert web is not None and web["spec"]["syncPolicy"]["preserveResourcesOnDeletion"] is True
    project.pulumi("preview", "--refresh", "--expect-no-changes")


def test_adding_and_removing_an_app_changes_exactly_its_applicationset(project: Project) -> None:
    new = project.root / "apps" / "hello-web-2"
    shutil.copytree(project.root / "apps" / "hello-web", new)
    changed = changed_resources(project.preview_json())
    assert changed == {"catalog-applicationset-web": "update"}, changed
    project.up()
    web = live(project, "ApplicationSet", "web")
    assert web is not None
    assert "hello-web-2" in [e["name"] for e in web["spec"]["generators"][0]["list"]["elements"]]

    shutil.rmtree(new)
    changed = changed_resources(project.preview_json())
    assert changed == {"catalog-applicationset-web": "update"}, changed
    project.up()
    project.pulumi("preview", "--expect-no-changes")


def test_invalid_app_fails_preview_and_up_and_changes_nothing(project: Project) -> None:
    before = {
        o["metadata"]["name"] + o["kind"]: live(project, o["kind"], o["metadata"]["name"])
        for o in rendered(project)
    }
    broken = project.root / "apps" / "broken"
    broken.mkdir()
    (broken / "app.yaml").write_text("team: web\nnamespace: web\ncolour: blue\n")
    try:
        preview = project.pulumi("preview", check=False)
        assert preview.returncode != 0
        assert "apps/broken/app.yaml: colour: unknown field (line 3)" in preview.stdout
        assert "Traceback" not in preview.stdout + preview.stderr
        up = project.up(check=False)
        assert up.returncode != 0
    finally:
        shutil.rmtree(broken)
    for key, obj in before.items():
        assert obj is not None
        after = live(project, obj["kind"], obj["metadata"]["name"])
        assert after is not None
        assert after["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"], key


def test_api_server_stopped_during_up_then_next_up_converges(project: Project) -> None:
    shutil.copytree(project.root / "apps" / "hello-web", project.root / "apps" / "hello-web-3")
    project.set_config("adminPassword", {"rotation": "3"})
    up = subprocess.Popen(
        ["pulumi", "up", "--yes", "--skip-preview", "--stack", project.stack, "--non-interactive"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(4)  # the program runs and the first steps start
    project.kwokctl("stop", "cluster")
    try:
        out, _ = up.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        up.send_signal(signal.SIGINT)  # what a user (or CI) does to a hung run
        out, _ = up.communicate(timeout=120)
    project.log.append(f"interrupted up rc={up.returncode}: {out[-1500:]}")
    project.kwokctl("start", "cluster")

    project.up("--refresh")
    project.pulumi("preview", "--refresh", "--expect-no-changes")
    password = project.output("adminPassword", secret=True)
    digest = secret_value(project.api(), NAMESPACE, "argocd-secret", "admin.password")
    assert bcrypt.checkpw(password.encode(), digest.encode())
    names = [
        o["metadata"]["name"]
        for o in custom_objects(project).list_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "applicationsets"
        )["items"]
    ]
    assert sorted(names) == ["data", "payments", "web"]  # nothing lost, nothing duplicated
    web = live(project, "ApplicationSet", "web")
    assert web is not None
    assert "hello-web-3" in [e["name"] for e in web["spec"]["generators"][0]["list"]["elements"]]
    shutil.rmtree(project.root / "apps" / "hello-web-3")
    project.up()


def test_break_glass_reset_seeds_a_new_password(project: Project) -> None:
    """platformctl admin-password reset against the real API server. Containers do not run on
    kwok, so this test plays argocd-server's part: when the restart annotation appears it
    writes argocd-initial-admin-secret, as Argo CD does on start-up with no admin password."""
    from kubernetes import client

    api = project.api()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    stop = threading.Event()

    def argocd_server() -> None:
        while not stop.is_set():
            d = apps.read_namespaced_deployment("argocd-server", NAMESPACE)
            annotations = d.spec.template.metadata.annotations or {}
            secret = core.read_namespaced_secret("argocd-secret", NAMESPACE)
            if "kubectl.kubernetes.io/restartedAt" in annotations and "admin.password" not in (
                secret.data or {}
            ):
                core.create_namespaced_secret(
                    NAMESPACE,
                    client.V1Secret(
                        metadata=client.V1ObjectMeta(name="argocd-initial-admin-secret"),
                        string_data={"password": "seeded-by-argocd-server"},
                    ),
                )
                return
            time.sleep(0.5)

    thread = threading.Thread(target=argocd_server, daemon=True)
    thread.start()
    kubeconfig = project.root / "reset.kubeconfig"
    kubeconfig.write_text(project.output("kubeconfig", secret=True))
    try:
        proc = project.platformctl(
            "admin-password",
            "reset",
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            NAMESPACE,
            "--timeout",
            "60",
        )
    finally:
        stop.set()
        kubeconfig.unlink()
    assert proc.stdout.strip() == "seeded-by-argocd-server"
    names = [s.metadata.name for s in core.list_namespaced_secret(NAMESPACE).items]
    assert "argocd-initial-admin-secret" not in names
    # On a stack-managed cluster the stack sees the reset as drift and puts its hash back.
    drift = project.pulumi("preview", "--refresh", "--expect-no-changes", check=False)
    assert drift.returncode != 0 and "argocd-argocd-secret" in drift.stdout
    project.up("--refresh")
    password = project.output("adminPassword", secret=True)
    assert bcrypt.checkpw(
        password.encode(), secret_value(api, NAMESPACE, "argocd-secret", "admin.password").encode()
    )


def test_destroy_removes_everything_and_the_cluster(project: Project) -> None:
    if project.config("argocd").get("protect"):
        refused = project.pulumi("destroy", "--yes", check=False)
        assert refused.returncode != 0 and "protect" in (refused.stdout + refused.stderr)
        argocd = project.config("argocd")
        argocd["protect"] = False
        project.set_config("argocd", argocd)
        project.up()
    project.pulumi("destroy", "--yes")
    assert project.cluster_name not in project.clusters()
    state = json.loads(project.pulumi("stack", "export").stdout)
    assert [
        r for r in state["deployment"].get("resources") or [] if r["type"] != "pulumi:pulumi:Stack"
    ] == []
