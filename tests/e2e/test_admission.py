"""End to end: only signed images from trusted registries reach prod, as the real Kyverno
admits and denies them.

One prod-config stack on a kwok cluster with every controller real and local: Argo CD, and
Kyverno v1.19.0 (the local runtime runs the admission controller built from its module; the
CRDs of the same version; the ClusterPolicies the stack declares). Images live in a real OCI
registry on 127.0.0.1 (``crane registry serve``), built without Docker (``crane append``) and
signed with the real ``cosign`` and a test key (no transparency log: Rekor cannot be reached
here, so the stack's signer says ``transparencyLog: false``): the harness sets this up for
any stack file that enables admission (:class:`tests.e2e.registry.SignedImages`). The stack's
catalog is ``hello-web`` alone.

Every assertion reads what Kyverno or Argo CD reports: the API server's refusal carrying
Kyverno's message, the Pod's image as Kyverno rewrote it, the Application's operation state.
Tests run in order and share the deployment; the last one destroys it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from tests.e2e.harness import GIT, Project, identity, name_of, wait_for
from tests.e2e.registry import CosignKey, SignedImages
from tests.support import REPO

pytestmark = pytest.mark.e2e

APP, NAMESPACE = "hello-web", "web"
MANIFEST = Path("apps") / APP / "manifests" / "deployment.yaml"
CATALOG_IMAGE = "ghcr.io/example-org/hello-web:1.0.0"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    work = tmp_path_factory.mktemp("e2e-admission")
    # Pulumi.prod.yaml enables admission: the harness moves the catalog's images to its
    # loopback registry and trusts its test key (tests/e2e/registry.py).
    project = Project.create("prod", work, nodes=3)
    assert project.images is not None, "Pulumi.prod.yaml enables admission"
    apps = project.root / "apps"
    for folder in apps.iterdir():
        if folder.is_dir() and folder.name != APP:
            shutil.rmtree(folder)
    project.publish(CATALOG_IMAGE)
    project.platformctl("generate")
    project.commit_and_push("hello-web alone")
    # Protection of Argo CD is the platform suite's subject; here it would only block the destroy.
    project.set_config("argocd", {**project.config("argocd"), "protect": False})
    yield project
    project.teardown()
    print("\n".join(project.log))


@pytest.fixture(scope="module")
def images(project: Project) -> SignedImages:
    assert project.images is not None
    return project.images


@pytest.fixture(scope="module")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> CosignKey:
    """A key the stack does not trust."""
    return CosignKey.generate(tmp_path_factory.mktemp("e2e-admission-key") / "other")


def core(project: Project) -> Any:
    from kubernetes import client

    return client.CoreV1Api(project.api())


def apps_api(project: Project) -> Any:
    from kubernetes import client

    return client.AppsV1Api(project.api())


def pod(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def deployment(name: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod(name, image)["spec"]},
        },
    }


def rollout(name: str, image: str) -> dict[str, Any]:
    """An Argo Rollout with its own pod template (the generated ones use `workloadRef`)."""
    obj = deployment(name, image)
    obj["apiVersion"], obj["kind"] = "argoproj.io/v1alpha1", "Rollout"
    obj["spec"]["strategy"] = {"canary": {"steps": [{"pause": {}}]}}
    return obj


def create(project: Project, obj: dict[str, Any], namespace: str = NAMESPACE) -> Any:
    if obj["kind"] == "Pod":
        return core(project).create_namespaced_pod(namespace, obj)
    if obj["kind"] == "Rollout":
        from kubernetes import client

        created = client.CustomObjectsApi(project.api()).create_namespaced_custom_object(
            "argoproj.io", "v1alpha1", namespace, "rollouts", obj
        )
        name = cast(dict[str, Any], created)["metadata"]["name"]  # custom objects: plain JSON
        return SimpleNamespace(metadata=SimpleNamespace(name=name))
    return apps_api(project).create_namespaced_deployment(namespace, obj)


def denied(project: Project, obj: dict[str, Any], namespace: str = NAMESPACE) -> str:
    """The API server's refusal of ``obj`` (Kyverno's message), or fail when admitted."""
    from kubernetes.client.exceptions import ApiException

    try:
        create(project, obj, namespace)
    except ApiException as exc:
        assert exc.status in (400, 403, 500), exc  # 500: a webhook that cannot be called
        return str(exc.body)
    raise AssertionError(f"{obj['kind']} {obj['metadata']['name']} was admitted")


def app_status(project: Project) -> dict[str, Any]:
    status: dict[str, Any] = project.applications().get(APP, {}).get("status") or {}
    return status


# -- tests ----------------------------------------------------------------------------------


def test_up_runs_kyverno_and_its_policies_are_ready(project: Project) -> None:
    from kubernetes import client

    project.up()
    assert project.output("admissionNamespace") == "kyverno"
    custom = client.CustomObjectsApi(project.api())

    def ready() -> list[str]:
        listed = custom.list_cluster_custom_object("kyverno.io", "v1", "clusterpolicies")
        items = cast(dict[str, Any], listed)["items"]  # custom objects: plain JSON
        return sorted(
            p["metadata"]["name"]
            for p in items
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )

    names = wait_for("both ClusterPolicies Ready", lambda: len(ready()) == 2 and ready(), 120)
    assert names == ["platform-signed-images", "platform-signed-images-debug"]
    hooks = client.AdmissionregistrationV1Api(project.api())

    def resource_webhooks() -> list[Any]:
        found = hooks.list_validating_webhook_configuration().items
        return [
            w
            for cfg in found
            if name_of(cfg) == "kyverno-resource-validating-webhook-cfg"
            for w in cfg.webhooks or []
        ]

    webhooks = wait_for("Kyverno's resource webhooks", resource_webhooks, 120)
    for webhook in webhooks:
        assert webhook.client_config.url.startswith("https://127.0.0.1:")
        # The platform's namespaces are never sent to Kyverno (it may be down).
        [expression] = webhook.namespace_selector.match_expressions
        assert expression.operator == "NotIn"
        assert {"kube-system", "argocd", "kyverno"} <= set(expression.values)

    # Kyverno acts as the chart's admission-controller ServiceAccount, under the chart's RBAC
    # (rendered from the same version's chart), never as the cluster's admin: what registered
    # the webhooks above and reports the policies Ready is that identity.
    status = json.loads(project.runtime.status.read_text())["processes"]["kyverno"]
    assert status["identity"] == "system:serviceaccount:kyverno:kyverno-admission-controller"
    argv = Path(f"/proc/{status['pid']}/cmdline").read_bytes().decode().split("\0")
    used = argv[argv.index("--kubeconfig") + 1]
    assert Path(used).resolve() != project.runtime.kubeconfig.resolve()
    from kubernetes import config

    assert identity(config.new_client_from_config(config_file=used)) == status["identity"]


def test_a_signed_image_syncs_in_prod_and_its_pods_are_pinned_to_the_digest(
    project: Project, images: SignedImages
) -> None:
    signed = images.ref(APP, "1.0.0")
    digest = images.digest(signed)
    project.login(project.output("adminPassword", secret=True))
    project.argocd("app", "sync", APP, "--timeout", "180")
    wait_for(
        "hello-web Synced and Healthy",
        lambda: (
            (
                (app_status(project).get("sync") or {}).get("status"),
                (app_status(project).get("health") or {}).get("status"),
            )
            == ("Synced", "Healthy")
        ),
        timeout=240,
        detail=lambda: app_status(project).get("operationState"),
    )
    # The Deployment is as git says (no drift for Argo CD); what runs is the verified digest.
    assert project.live_image(NAMESPACE, APP) == signed

    def pods() -> list[str]:
        items = (
            core(project)
            .list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/name=hello-web")
            .items
        )
        return [c.image for p in items for c in p.spec.containers]

    running = wait_for("hello-web's pods", lambda: len(pods()) >= 2 and pods(), 120)
    assert set(running) == {f"{signed}@{digest}"}


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "Rollout"])
def test_unsigned_other_key_untrusted_and_moved_tags_are_denied(
    project: Project, images: SignedImages, other_key: CosignKey, kind: str
) -> None:
    make = {"Pod": pod, "Deployment": deployment, "Rollout": rollout}[kind]
    prefix = kind.lower()

    unsigned = images.ref("unsigned", prefix)
    images.push(unsigned)
    message = denied(project, make(f"{prefix}-unsigned", unsigned))
    assert "failed to verify image" in message and "no signatures found" in message, message

    other = images.ref("other-key", prefix)
    images.publish(other, other_key)
    message = denied(project, make(f"{prefix}-other-key", other))
    assert "failed to verify image" in message and "no matching signatures" in message, message

    # Signed by the right key but outside the trusted prefix (another org, same registry),
    # and an image from Docker Hub.
    for name, image in (
        ("elsewhere", f"{images.registry.host}/other-org/app:{prefix}"),
        ("docker-hub", "nginx:1.25"),
    ):
        if name == "elsewhere":
            images.publish(image)
        message = denied(project, make(f"{prefix}-{name}", image))
        assert "every image must come from a trusted registry" in message, message

    # A verified tag moved to unsigned content: checked again (no tag-keyed cache).
    moving = images.ref("moving", prefix)
    images.publish(moving)
    admitted = create(project, make(f"{prefix}-moving-1", moving))
    assert admitted.metadata.name == f"{prefix}-moving-1"
    images.push(moving)  # the same tag, new unsigned content
    message = denied(project, make(f"{prefix}-moving-2", moving))
    assert "no signatures found" in message, message


def test_a_debug_container_with_an_unsigned_image_is_denied(
    project: Project, images: SignedImages
) -> None:
    from kubernetes.client.exceptions import ApiException

    signed = images.ref("debuggee", "1")
    images.publish(signed)
    create(project, pod("debuggee", signed))
    unsigned = images.ref("debugger", "1")
    images.push(unsigned)
    patch = {
        "spec": {"ephemeralContainers": [{"name": "debug", "image": unsigned}]},
    }
    with pytest.raises(ApiException) as info:
        core(project).patch_namespaced_pod_ephemeralcontainers("debuggee", NAMESPACE, patch)
    assert "platform-signed-images-debug" in str(info.value.body), info.value.body


def test_the_platform_namespaces_are_not_checked(project: Project, images: SignedImages) -> None:
    unsigned = images.ref("unsigned-platform", "1")
    images.push(unsigned)
    created = create(project, pod("unsigned-tool", unsigned), namespace="kube-system")
    assert created.spec.containers[0].image == unsigned
    core(project).delete_namespaced_pod("unsigned-tool", "kube-system")


def test_a_prod_sync_of_an_unsigned_image_fails_and_argo_cd_reports_it(
    project: Project, images: SignedImages
) -> None:
    signed = images.ref(APP, "1.0.0")
    unsigned = images.ref(APP, "2.0.0")
    images.push(unsigned)
    manifest = project.root / MANIFEST
    manifest.write_text(manifest.read_text().replace(signed, unsigned))
    project.commit_and_push("hello-web: 2.0.0 (never signed)")
    wait_for(
        "hello-web OutOfSync on the new commit",
        lambda: (app_status(project).get("sync") or {}).get("status") == "OutOfSync",
        detail=lambda: app_status(project).get("sync"),
    )
    # The Applications retry a failed sync 5 times over minutes; a human's sync here asks for
    # one retry, so the operation ends (Failed) within seconds. Same failure either way.
    sync = project.argocd(
        "app", "sync", APP, "--retry-limit", "1", "--retry-backoff-duration", "2s",
        "--timeout", "120", check=False,
    )  # fmt: skip
    assert sync.returncode != 0, sync.stdout
    assert "no signatures found" in sync.stdout + sync.stderr, sync.stdout + sync.stderr
    operation = wait_for(
        "the failed sync in the Application's status",
        lambda: (
            (state := app_status(project).get("operationState") or {}).get("phase")
            in ("Failed", "Error")
            and state
        ),
        timeout=240,
        detail=lambda: app_status(project).get("operationState"),
    )
    results = (operation.get("syncResult") or {}).get("resources") or []
    messages = " ".join([operation.get("message", "")] + [r.get("message", "") for r in results])
    assert "platform-signed-images" in messages and "no signatures found" in messages, operation
    # Nothing changed: the signed version still runs.
    assert project.live_image(NAMESPACE, APP) == signed
    assert (app_status(project).get("sync") or {}).get("status") == "OutOfSync"


def _pods(project: Project) -> list[str]:
    items = (
        core(project)
        .list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/name=hello-web")
        .items
    )
    return [c.image for p in items if not p.metadata.deletion_timestamp for c in p.spec.containers]


def test_the_delivery_path_handoff_to_dev_promotion_to_prod_and_the_signed_digest_runs(
    project: Project, images: SignedImages
) -> None:
    """The whole path on the real tools: CI's handoff exactly as app-delivery.yml runs it
    (`bump --stack dev --tag T --digest D --push`) lands on dev's branch; `promote --from dev
    --to prod --push` checks the signature with the real cosign against the registry and
    pushes the promotion branch; its merge moves prod's branch; Argo CD reports OutOfSync and
    changes nothing until a person syncs; Kyverno admits the signed digest and the pods run
    `tag@digest`. An unsigned image is refused at the promotion, before prod's branch moves."""
    remote = project.remote
    assert remote is not None
    # dev's stack file (the handoff reads its environment and branch) and dev's branch.
    shutil.copy(REPO / "Pulumi.dev.yaml", project.root / "Pulumi.dev.yaml")
    project.run([*GIT, "push", "--quiet", "origin", "HEAD:refs/heads/dev"])
    tag = "1.1.0"
    ref = images.ref(APP, tag)
    digest = images.publish(ref)  # built, pushed, signed by the pipeline's key
    project.platformctl("bump", "--app", APP, "--stack", "dev", "--tag", tag,
                        "--digest", digest, "--repo", str(project.root), "--push")  # fmt: skip
    manifest = f"apps/{APP}/manifests/deployment.yaml"
    on_dev = project.run(["git", "-C", str(remote), "show", f"dev:{manifest}"]).stdout
    assert f"{ref}@{digest}" in on_dev
    prod_before = project.run(["git", "-C", str(remote), "rev-parse", "prod"]).stdout.strip()

    promoted = json.loads(project.platformctl(
        "promote", "--app", APP, "--from", "dev", "--to", "prod", "--push", "--json"
    ).stdout)  # fmt: skip
    assert promoted["changed"] and promoted["pushed"] and promoted["digest"] == digest
    assert promoted["signature"]["status"] == "verified", promoted["signature"]
    assert promoted["signature"]["digest"] == digest
    # The promotion is a branch to review; prod's branch has not moved.
    assert project.run(["git", "-C", str(remote), "rev-parse", "prod"]).stdout.strip() == (
        prod_before
    )
    # The merge (the approval, a fast-forward) moves prod's branch: a push, on which the
    # repository host calls Argo CD's webhook.
    project.run([*GIT, "fetch", "--quiet", "origin", promoted["branch"]])
    project.run([*GIT, "merge", "--quiet", "--ff-only", "FETCH_HEAD"])
    project.run(["git", "push", "--quiet", "origin", "HEAD:refs/heads/prod"])
    wait_for(
        "hello-web OutOfSync after the merge",
        lambda: (app_status(project).get("sync") or {}).get("status") == "OutOfSync",
        timeout=180,
    )
    assert f"{ref}@{digest}" not in set(_pods(project))  # nothing changed by itself
    project.argocd("app", "sync", APP, "--timeout", "180")
    wait_for(
        "hello-web Synced and Healthy at the promoted digest",
        lambda: (
            (
                (app_status(project).get("sync") or {}).get("status"),
                (app_status(project).get("health") or {}).get("status"),
                project.live_image(NAMESPACE, APP),
            )
            == ("Synced", "Healthy", f"{ref}@{digest}")
        ),
        timeout=240,
        detail=lambda: app_status(project).get("operationState"),
    )
    wait_for("the pods at tag@digest",
             lambda: set(_pods(project)) == {f"{ref}@{digest}"}, 120)  # fmt: skip

    # An image the pipeline did not sign is refused by the promotion itself.
    unsigned_tag = "1.2.0"
    unsigned = images.push(images.ref(APP, unsigned_tag))
    project.platformctl("bump", "--app", APP, "--stack", "dev", "--tag", unsigned_tag,
                        "--digest", unsigned, "--push")  # fmt: skip
    refused = project.platformctl(
        "promote", "--app", APP, "--from", "dev", "--to", "prod", "--push", check=False
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "signature" in (refused.stdout + refused.stderr).lower()
    branches = project.run(["git", "-C", str(remote), "branch", "--list", "promote/*"]).stdout
    assert unsigned_tag not in branches


def kyverno_webhooks(project: Project) -> list[str]:
    from kubernetes import client

    hooks = client.AdmissionregistrationV1Api(project.api())
    selector = "webhook.kyverno.io/managed-by=kyverno"
    validating = hooks.list_validating_webhook_configuration(label_selector=selector).items
    mutating = hooks.list_mutating_webhook_configuration(label_selector=selector).items
    return sorted([*map(name_of, validating), *map(name_of, mutating)])


def test_a_stopped_kyverno_fails_closed_for_apps_but_not_the_platform(
    project: Project, images: SignedImages
) -> None:
    """Killed behind the stack's back: its webhooks stay and refuse app Pods (fail closed),
    while the platform's namespaces keep working; the next `up` brings it back."""
    signed = images.ref(APP, "1.0.0")
    project.stop_runtime()
    assert kyverno_webhooks(project)
    message = denied(project, pod("while-kyverno-is-down", signed))
    assert "failed calling webhook" in message, message
    created = create(project, pod("platform-tool", signed), namespace="kube-system")
    assert created.metadata.name == "platform-tool"
    core(project).delete_namespaced_pod("platform-tool", "kube-system")
    project.up()
    admitted = wait_for(
        "Kyverno back: a signed Pod admitted",
        lambda: _try_create(project, pod("after-restart", signed)),
        timeout=120,
    )
    assert admitted.spec.containers[0].image.startswith(f"{signed}@sha256:")


def _try_create(project: Project, obj: dict[str, Any]) -> Any:
    from kubernetes.client.exceptions import ApiException

    try:
        return create(project, obj)
    except ApiException:
        return None


def test_removing_the_runtime_removes_kyvernos_webhooks(project: Project) -> None:
    """`destroy` (here: of the runtime and what depends on it, the cluster kept to look at):
    the policies go, Kyverno stops, and its webhook configurations go with it, so nothing is
    left failing closed."""
    state = json.loads(project.pulumi("stack", "export").stdout)
    [processes] = [
        r["urn"]
        for r in state["deployment"]["resources"]
        if r["urn"].endswith("::argocd-runtime-processes")
    ]
    project.pulumi(
        "destroy", "--yes", "--skip-preview", "--target", processes, "--target-dependents"
    )
    assert kyverno_webhooks(project) == []
    unsigned = pod("unchecked", "127.0.0.1:1/example-org/anything:1")
    assert create(project, unsigned).metadata.name == "unchecked"


def test_destroy_removes_kyverno_and_the_cluster(project: Project) -> None:
    project.pulumi("destroy", "--yes", "--skip-preview")
    assert project.cluster_name not in project.clusters()
