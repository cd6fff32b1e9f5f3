"""End to end: the real Pulumi engine, providers and a local kwok control plane.

The suite of one stack file: ``test_platform_dev.py`` and ``test_platform_prod.py`` each run
it, with their ``STACK`` (only the cluster provider and the chart source are overridden), as
two modules so the two clusters run side by side on two test workers (``make test``:
pytest-xdist, one module per worker at a time). A test of what no stack setting changes (the
runtime's supervisor, the engine, the admin password's mechanics) runs on one stack only
(:func:`only_on`): the same code twice is minutes of CI for nothing. Tests of one stack run in
order and share its deployment; the last one destroys it. The fixture's finalizer deletes the
cluster whatever happened, so no control-plane process outlives the run.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from infra import constants
from tests.e2e.browser import (
    page_text,
    screenshot,
    signed_in,
    sync_in_ui,
    sync_status_shown,
    wait_until,
)
from tests.e2e.harness import (
    LogWatch,
    Project,
    changed_resources,
    metadata,
    name_of,
    secret_value,
    wait_for,
)

pytestmark = pytest.mark.e2e

NAMESPACE = "argocd"
GROUP, VERSION = "argoproj.io", "v1alpha1"
STRICT_DRY_RUN = (
    "apply", "--server-side", "--dry-run=server", "--validate=strict",
    "--field-manager=e2e-check", "--force-conflicts", "-f",
)  # fmt: skip
"""`kubectl` arguments: the API server's strict server-side dry run of a file."""
HELLO_WEB = "ghcr.io/example-org/hello-web:{}"
"""The catalog's image (``project.image`` spells it as the project copy does)."""


STACKS = ("dev", "prod")
"""The stacks a module runs the suite on (test_platform_<stack>.py)."""
ONE_STACK: dict[str, str] = {}
"""Test name -> the one stack it runs on."""


def only_on(stack: str) -> Any:
    """Run the decorated test on ``stack`` only (a stack no module runs would drop the test
    from both, silently: refused)."""
    if stack not in STACKS:
        raise ValueError(f"only_on({stack!r}): the suite runs on {', '.join(STACKS)}")

    def mark(test: Any) -> Any:
        ONE_STACK[test.__name__] = stack
        return test

    return mark


def suite(stack: str) -> dict[str, Any]:
    """What a stack's test module takes into its namespace: the ``project`` fixture, the e2e
    mark and the tests that run on ``stack``, in the suite's order."""
    return {
        name: value
        for name, value in globals().items()
        if name in ("project", "pytestmark")
        or (name.startswith("test_") and ONE_STACK.get(name, stack) == stack)
    }


@pytest.fixture(scope="module")
def project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    stack = request.module.STACK
    # prod is highly available: redis-ha's hard anti-affinity needs three nodes.
    project = Project.create(
        stack, tmp_path_factory.mktemp(f"e2e-{stack}"), nodes=3 if stack == "prod" else 1
    )
    # prod admits only signed images (admission): the one app the tests sync, signed.
    project.publish(HELLO_WEB.format("1.0.0"))
    yield project
    project.teardown()
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
    names = {name_of(d) for d in deployments}
    assert {"argocd-server", "argocd-repo-server", "argocd-applicationset-controller"} <= names
    replicas: dict[str, int] = {}
    for d in deployments:
        assert d.spec is not None and d.spec.replicas is not None, name_of(d)
        assert d.status is not None, name_of(d)
        assert (d.status.available_replicas or 0) == d.spec.replicas, name_of(d)
        replicas[name_of(d)] = d.spec.replicas
    statefulsets = {name_of(s): s for s in apps.list_namespaced_stateful_set(NAMESPACE).items}
    assert "argocd-application-controller" in statefulsets
    if project.stack == "prod":
        assert deployments and all(count >= 1 for count in replicas.values())
        assert any("redis-ha" in name for name in statefulsets), sorted(statefulsets)
        assert replicas["argocd-server"] == 2


def test_objects_in_the_cluster_are_what_platformctl_renders(project: Project) -> None:
    # The API server accepts the render under strict field validation (the CRDs of the chart).
    render = project.root / "render.yaml"
    render.write_text(project.platformctl("render", "--stack", project.stack).stdout)
    kubeconfig = project.root / "check.kubeconfig"
    kubeconfig.write_text(project.output("kubeconfig", secret=True))
    try:
        project.run(["kubectl", "--kubeconfig", str(kubeconfig), *STRICT_DRY_RUN, str(render)])
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


def predicted_applications(project: Project) -> dict[str, dict[str, Any]]:
    out = project.platformctl("expand", "--stack", project.stack).stdout
    return {a["metadata"]["name"]: a for a in yaml.safe_load_all(out)}


def live_image(project: Project, namespace: str, name: str) -> str | None:
    return project.live_image(namespace, name)


def wait_synced_and_healthy(project: Project, apps: set[str], what: str) -> None:
    wait_for(
        what,
        lambda: all(statuses(project).get(a) == ("Synced", "Healthy") for a in apps),
        timeout=300,
        detail=lambda: statuses(project),
    )


REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"


def reconciled_again(project: Project, name: str) -> None:
    """Ask Argo CD to compare ``name`` with git and the cluster again, and wait until the
    application controller reports it has: the refresh request cleared and a
    ``status.reconciledAt`` no older than the request."""
    requested = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    project.refresh(name)

    def done() -> bool:
        app = project.applications()[name]
        annotations = app["metadata"].get("annotations") or {}
        reconciled = (app.get("status") or {}).get("reconciledAt") or ""
        return REFRESH_ANNOTATION not in annotations and reconciled >= requested

    wait_for(
        f"{name} reconciled again",
        done,
        timeout=120,
        detail=lambda: (project.applications()[name].get("status") or {}).get("reconciledAt"),
    )


def operation(project: Project, name: str) -> Any:
    """The Application's sync operation, running or finished (None: never synced)."""
    app = project.applications()[name]
    return app.get("operation") or (app.get("status") or {}).get("operationState")


def statuses(project: Project) -> dict[str, tuple[str, str]]:
    return {
        name: (
            (a.get("status") or {}).get("sync", {}).get("status", "-"),
            (a.get("status") or {}).get("health", {}).get("status", "-"),
        )
        for name, a in project.applications().items()
    }


def test_applicationset_controller_generates_what_expand_predicts(project: Project) -> None:
    """The real ApplicationSet controller's Applications, field by field, are the ones
    `platformctl expand` predicts."""
    predicted = predicted_applications(project)
    generated = wait_for(
        f"the Applications {sorted(predicted)}",
        lambda: (apps := project.applications()) and set(apps) == set(predicted) and apps,
    )
    differing = {
        name: (generated[name]["spec"], app["spec"])
        for name, app in predicted.items()
        if generated[name]["spec"] != app["spec"]
    }
    assert not differing, json.dumps(differing, indent=1)[:6000]
    for name, app in predicted.items():
        live_app = generated[name]
        assert app["metadata"]["labels"].items() <= live_app["metadata"]["labels"].items()
        assert live_app["spec"]["project"] == app["spec"]["project"]
        revisions = [s["targetRevision"] for s in live_app["spec"].get("sources") or []]
        revisions += (
            [live_app["spec"]["source"]["targetRevision"]] if "source" in live_app["spec"] else []
        )
        assert project.branch in revisions, (name, revisions)


def test_argocd_syncs_as_the_environment_says(project: Project) -> None:
    """dev: every app goes Synced and Healthy by itself (kustomize, directory, a Helm chart,
    blue/green and canary Rollouts). prod: nothing is applied until a human syncs; every
    Application stays OutOfSync."""
    apps = set(predicted_applications(project))
    name = "hello-web"
    if project.stack == "dev":
        wait_synced_and_healthy(project, apps, "every app Synced and Healthy")
        assert live_image(project, "web", "hello-web") == project.image(HELLO_WEB.format("1.0.0"))
    else:
        wait_for(
            "every Application compared and OutOfSync",
            lambda: all(statuses(project).get(a, ("-",))[0] == "OutOfSync" for a in apps),
            detail=lambda: statuses(project),
        )
        for app in apps:  # compared once more, as Argo CD reports it: still nothing applied
            reconciled_again(project, app)
        assert all(statuses(project)[a][0] == "OutOfSync" for a in apps)
        assert not any(operation(project, a) for a in apps)
        assert live_image(project, "web", "hello-web") is None
        project.login(project.output("adminPassword", secret=True))
        project.argocd("app", "sync", name, "--timeout", "120")
        wait_for("hello-web Synced", lambda: statuses(project)[name][0] == "Synced")
        assert live_image(project, "web", "hello-web") == project.image(HELLO_WEB.format("1.0.0"))


def test_a_bump_commit_reaches_the_cluster(
    project: Project, request: pytest.FixtureRequest
) -> None:
    """The handoff: `platformctl bump --push` on the stack's branch. dev applies it by itself;
    prod shows OutOfSync (in the web UI too) and changes nothing live until a person clicks
    SYNC, then SYNCHRONIZE, in Argo CD's web UI."""
    name = "hello-web"
    project.platformctl(
        "bump", "--app", "hello-web", "--env", project.stack, "--tag", "1.0.1", "--push"
    )
    new = project.image(HELLO_WEB.format("1.0.1"))
    project.publish(new)
    if project.stack == "dev":
        wait_for("the bumped image live", lambda: live_image(project, "web", "hello-web") == new)
    else:
        wait_for("hello-web OutOfSync", lambda: statuses(project)[name][0] == "OutOfSync")
        reconciled_again(project, name)
        assert statuses(project)[name][0] == "OutOfSync"
        assert live_image(project, "web", "hello-web") == project.image(HELLO_WEB.format("1.0.0"))
        browser = request.getfixturevalue("browser")
        base = f"http://{project.output('argocdServer')}"
        signed_in(browser, base, project.output("adminPassword", secret=True))
        browser.get(f"{base}/applications/argocd/{name}")
        wait_until(
            browser, "the app page saying OutOfSync", lambda d: sync_status_shown(d) == "OutOfSync"
        )
        screenshot(browser, "prod-out-of-sync")
        sync_in_ui(browser, base, name)
        wait_for("the bumped image live", lambda: live_image(project, "web", "hello-web") == new)
        wait_for("hello-web Synced", lambda: statuses(project)[name][0] == "Synced")
        wait_until(
            browser, "the app page saying Synced", lambda d: sync_status_shown(d) == "Synced"
        )
        # The sync is the click's: Argo CD records who started it (the CLI would say the same
        # user; nothing else here starts an operation on prod).
        initiated = project.applications()[name]["status"]["operationState"]["operation"]
        assert initiated.get("initiatedBy", {}).get("username") == "admin", initiated


def test_only_a_signed_webhook_call_refreshes_and_only_the_branch_s_applications(
    project: Project,
) -> None:
    """Argo CD's git webhook, as the stack configures it (``webhook.githubSecret`` in
    argocd-secret, every other host locked): unsigned, wrongly signed or tampered calls and
    other hosts' unauthenticated calls are refused and refresh nothing; a signed push of
    another branch refreshes nothing; the signed push of the stack's branch refreshes exactly
    the Applications that track it. Proven by what argocd-server answers and logs."""
    from infra.delivery.git import Git
    from infra.delivery.push_event import (
        PushEvent,
        deliver,
        github_event,
        gitlab_event,
        push_payload,
    )

    repo_url = project.config("git")["repoURL"]
    tracking = {
        name
        for name, app in predicted_applications(project).items()
        if any(
            s.get("repoURL") == repo_url and s.get("targetRevision") == project.branch
            for s in [*(app["spec"].get("sources") or []), app["spec"].get("source") or {}]
        )
    }
    assert "hello-web" in tracking
    log = LogWatch(project.server_log())
    before = project.run(["git", "rev-parse", "HEAD"]).stdout.strip()
    with project.webhook_paused():  # the push alone tells Argo CD nothing
        (project.root / "apps" / "hello-web" / "NOTES.md").write_text("rendered nowhere\n")
        project.commit_and_push("hello-web: a note")
    after = project.run(["git", "rev-parse", "HEAD"]).stdout.strip()
    assert project.remote is not None
    remote = Git(project.remote)

    def payload(branch: str) -> dict[str, Any]:
        return push_payload(
            remote, ref=f"refs/heads/{branch}", before=before, after=after,
            repo_url=repo_url, default_branch=project.branch,
        )  # fmt: skip

    url = project.webhook_url()
    signed = github_event(payload(project.branch), project.webhook_secret)
    unsigned = {k: v for k, v in signed.headers.items() if k != "X-Hub-Signature-256"}
    tampered = signed.body.replace(after.encode(), before.encode())
    assert tampered != signed.body
    refused = {
        "unsigned": PushEvent("github", signed.body, unsigned),
        "signed with another secret": github_event(payload(project.branch), "x" * 40),
        "altered after signing": PushEvent("github", tampered, signed.headers),
        "GitLab, no token": gitlab_event(payload(project.branch), ""),
        "GitLab, a guessed token": gitlab_event(payload(project.branch), "x" * 40),
        "Gogs, unsigned": PushEvent("gogs", signed.body, {"X-Gogs-Event": "push"}),
        "Bitbucket Server, unsigned": PushEvent(
            "bitbucketserver", signed.body, {"X-Event-Key": "repo:refs_changed"}
        ),
        "Bitbucket Cloud, another hook's UUID": PushEvent(
            "bitbucket", b"{}", {"X-Hook-UUID": str(uuid.uuid4()), "X-Event-Key": "repo:push"}
        ),
        "Azure DevOps, no credentials": PushEvent(
            # A push event it would parse: only the missing credentials refuse it.
            "azuredevops",
            b'{"eventType": "git.push"}',
            {"X-Vss-Activityid": str(uuid.uuid4())},
        ),
    }
    # Each refused for its secret (the go-playground parsers' words), not for its shape: with
    # a host's key empty the same call would be accepted.
    reasons = {
        "unsigned": "missing X-Hub-Signature-256 Header",
        "signed with another secret": "HMAC verification failed",
        "altered after signing": "HMAC verification failed",
        "GitLab, no token": "X-Gitlab-Token validation failed",
        "GitLab, a guessed token": "X-Gitlab-Token validation failed",
        "Gogs, unsigned": "missing X-Gogs-Signature Header",
        "Bitbucket Server, unsigned": "missing X-Hub-Signature Header",
        "Bitbucket Cloud, another hook's UUID": "UUID verification failed",
        "Azure DevOps, no credentials": "basic auth verification failed",
    }
    answers = {what: deliver(url, event) for what, event in refused.items()}
    assert answers == {
        what: (400, f"Webhook processing failed: {reason}") for what, reason in reasons.items()
    }

    elsewhere = github_event(payload("elsewhere"), project.webhook_secret)
    assert deliver(url, elsewhere)[0] == 200
    log.wait("the push of another branch handled", r"Received push event .*revision: elsewhere")
    assert deliver(url, signed)[0] == 200
    wait_for(
        "every Application of the branch at the pushed commit",
        lambda: all(after in revisions(project, name) for name in tracking),
        timeout=120,
        every=0.5,
        detail=lambda: {name: revisions(project, name) for name in tracking},
    )
    refreshed = re.findall(r"refreshing app '([^']+)' from webhook", log.text())
    assert sorted(refreshed) == sorted(tracking), refreshed


def revisions(project: Project, name: str) -> list[str]:
    """The revisions Argo CD last compared ``name`` at (one per source)."""
    sync = (project.applications()[name].get("status") or {}).get("sync") or {}
    return [sync["revision"]] if sync.get("revision") else list(sync.get("revisions") or [])


def test_drift_in_a_synced_app_is_reverted_in_dev_and_reported_in_prod(project: Project) -> None:
    from kubernetes import client

    name = "hello-web"
    apps_api = client.AppsV1Api(project.api())
    # A hand edit admission lets through (signed): drift is Argo CD's to report or revert.
    hand_edited = project.image(HELLO_WEB.format("hand-edited"))
    project.publish(hand_edited)
    apps_api.patch_namespaced_deployment(
        "hello-web", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": hand_edited}
        ]}}}},
    )  # fmt: skip
    new = project.image(HELLO_WEB.format("1.0.1"))
    if project.stack == "dev":
        wait_for("selfHeal to revert", lambda: live_image(project, "web", "hello-web") == new)
    else:
        wait_for("the drift reported", lambda: statuses(project)[name][0] == "OutOfSync")
        assert live_image(project, "web", "hello-web").endswith(":hand-edited")  # type: ignore[union-attr]
        project.argocd("app", "sync", name, "--timeout", "120")
        assert live_image(project, "web", "hello-web") == new


def test_a_manifest_removed_from_git_is_pruned_in_dev(project: Project) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    name = "hello-web"
    core = client.CoreV1Api(project.api())
    assert core.read_namespaced_service("hello-web", "web") is not None
    (project.root / "apps" / "hello-web" / "manifests" / "service.yaml").unlink()
    project.commit_and_push("hello-web: drop the Service")

    def gone() -> bool:
        try:
            core.read_namespaced_service("hello-web", "web")
        except ApiException as exc:
            return exc.status == 404
        return False

    if project.stack == "dev":
        wait_for("the Service pruned", gone)
    else:
        # prod never prunes by itself: the Service is reported, not deleted.
        wait_for("hello-web OutOfSync", lambda: statuses(project)[name][0] == "OutOfSync")
        assert not gone()
    project.run(["git", "checkout", "HEAD~1", "--", "apps/hello-web/manifests/service.yaml"])
    project.commit_and_push("hello-web: the Service again")


@only_on("dev")
def test_a_team_cannot_take_over_another_teams_namespace(project: Project) -> None:
    """The AppProject, as the real application controller enforces it: a team's manifests
    that claim another team's Namespace (which auto-sync with prune could later delete) fail
    to sync, and that namespace does not change. Proven by what Argo CD reports and by the
    live object. (Objects in another namespace were refused before: the destinations.)"""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(project.api())
    name = "hello-web"
    folder = project.root / "apps" / name / "manifests"
    (folder / "takeover.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: data\n  labels: {taken-over-by: web}\n"
    )
    project.commit_and_push("hello-web: claim the data namespace")
    head = project.run(["git", "rev-parse", "HEAD"]).stdout.strip()

    def refused() -> bool:
        app = project.applications()[name]
        status = app.get("status") or {}
        compared = (status.get("sync") or {}).get("revision")
        return compared == head and "is not permitted in project" in json.dumps(status)

    wait_for(
        "Argo CD to refuse the sync",
        refused,
        timeout=180,
        detail=lambda: (project.applications()[name].get("status") or {}).get("operationState"),
    )
    try:  # team data's namespace: untouched (or, where data has no app yet, not created)
        labels = metadata(core.read_namespace("data")).labels or {}
    except ApiException as exc:
        assert exc.status == 404
        labels = {}
    assert "taken-over-by" not in labels
    (folder / "takeover.yaml").unlink()
    project.commit_and_push("hello-web: no takeover")
    head = project.run(["git", "rev-parse", "HEAD"]).stdout.strip()
    # The refused sync is still being retried (sync.retry: up to five times, minutes of
    # backoff) for the old revision; a person stops it, as the UI's Terminate does.
    project.login(project.output("adminPassword", secret=True))
    project.argocd("app", "terminate-op", name, check=False)

    def settled_at_head() -> bool:
        status = project.applications()[name].get("status") or {}
        phase = (status.get("operationState") or {}).get("phase")
        compared = status.get("sync") or {}
        return phase not in ("Running", "Terminating") and compared == {
            **compared,
            "status": "Synced",
            "revision": head,
        }

    wait_for(
        "hello-web compared Synced at the new head, no operation running",
        settled_at_head,
        timeout=240,
        detail=lambda: (project.applications()[name].get("status") or {}).get("operationState"),
    )
    wait_synced_and_healthy(project, {name}, "hello-web Synced and Healthy again")


@only_on("dev")
def test_the_cluster_scoped_kinds_validate_knows_are_the_api_servers(project: Project) -> None:
    """`validate` judges cluster-scoped kinds by a list (it runs without a cluster): every
    kind of it that the API server serves must be reported cluster-scoped by its discovery,
    and every kind the platform knows that discovery reports cluster-scoped is on it."""
    from kubernetes import client

    api = project.api()
    served: dict[tuple[str, str], bool] = {}
    for resource in client.CoreV1Api(api).get_api_resources().resources:
        if "/" not in resource.name:
            served[("", resource.kind)] = resource.namespaced
    for group in client.ApisApi(api).get_api_versions().groups:
        for version in group.versions:
            request = api.param_serialize(
                "GET",
                f"/apis/{version.group_version}",
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = api.call_api(*request)
            response.read()
            listed = json.loads(response.data)
            for resource in listed["resources"]:
                if "/" not in resource["name"]:
                    served[(group.name, resource["kind"])] = resource["namespaced"]
    apis = [constants.KUBERNETES_API, *constants.ADDON_API.values()]
    known = {
        (group_version.rpartition("/")[0], kind)
        for api_map in apis
        for group_version, kinds in api_map.items()
        for kind in kinds
    }
    judged = known & served.keys()
    assert len(judged) > 40, sorted(judged)
    wrong = sorted(k for k in judged if (k in constants.CLUSTER_SCOPED_KINDS) == served[k])
    assert wrong == [], "scope differs from the API server's discovery"
    assert constants.CLUSTER_SCOPED_KINDS - known <= {("", "Node")}
    assert served[("", "Node")] is False


def _window_refuses(project: Project) -> bool:
    """A manual sync of hello-web is refused by a sync window (the real argocd-server's
    answer; it sees a changed AppProject a moment after `up`)."""
    tried = project.argocd("app", "sync", "hello-web", "--timeout", "60", check=False)
    return (
        tried.returncode != 0 and "blocked by sync window" in (tried.stdout + tried.stderr).lower()
    )


def _sync_runs(project: Project) -> bool:
    """A manual sync of hello-web runs to its end."""
    tried = project.argocd("app", "sync", "hello-web", "--timeout", "120", check=False)
    return tried.returncode == 0


def test_a_deny_window_blocks_syncs_unless_manual_sync_is_allowed(
    project: Project, request: pytest.FixtureRequest
) -> None:
    """`sync.windows` reaches every AppProject; the real argocd-server refuses a manual sync
    inside a deny window, and allows it when the window says `manualSync: true`."""
    sync = project.config("sync")
    window = {"kind": "deny", "schedule": "* * * * *", "duration": "1h", "manualSync": False}
    project.set_config("sync", {**sync, "windows": [window]})
    project.up()
    project.login(project.output("adminPassword", secret=True))
    wait_for("argocd-server to refuse a sync inside the window", lambda: _window_refuses(project),
             timeout=60)  # fmt: skip
    if project.stack == "prod":  # where a person syncs by hand, in the web UI
        browser = request.getfixturevalue("browser")
        base = f"http://{project.output('argocdServer')}"
        signed_in(browser, base, project.output("adminPassword", secret=True))
        sync_in_ui(browser, base, "hello-web")
        wait_until(
            browser,
            "the UI's refusal",
            lambda d: (
                "Unable to sync" in page_text(d)
                and "blocked by sync window" in page_text(d).lower()
            ),
        )
        screenshot(browser, "prod-sync-window-refused")

    project.set_config("sync", {**sync, "windows": [{**window, "manualSync": True}]})
    project.up()
    wait_for("argocd-server to see the new window", lambda: _sync_runs(project), timeout=60)
    project.set_config("sync", sync)
    project.up()


@only_on("prod")  # maintenance windows are prod's: a person syncs, inside the window
def test_an_allow_window_lets_a_sync_through_only_inside_it(project: Project) -> None:
    """`kind: allow`: outside the window the real argocd-server refuses a manual sync (the
    window does not say `manualSync`); with the window open now, the same sync runs."""
    sync = project.config("sync")
    hour = (datetime.now(UTC).hour + 12) % 24  # half a day from now: closed for this test
    closed = {"kind": "allow", "schedule": f"0 {hour} * * *", "duration": "1h"}
    project.set_config("sync", {**sync, "windows": [closed]})
    project.up()
    project.login(project.output("adminPassword", secret=True))
    wait_for("argocd-server to refuse a sync outside the window",
             lambda: _window_refuses(project), timeout=60)  # fmt: skip

    project.set_config("sync", {**sync, "windows": [{**closed, "schedule": "* * * * *"}]})
    project.up()
    wait_for("a sync inside the open window", lambda: _sync_runs(project), timeout=60)
    project.set_config("sync", sync)
    project.up()


def test_removing_an_app_keeps_its_application_or_its_workloads(project: Project) -> None:
    """prod (`applicationsSync: create-update`): an app removed from the catalog keeps its
    Application. dev (`sync`): the Application goes, its workloads stay
    (`preserveResourcesOnDeletion`). Put back, it is generated again."""

    app_dir = project.root / "apps" / "checkout-web"
    parked = project.root.parent / "checkout-web.parked"
    shutil.move(app_dir, parked)
    appsets = LogWatch(Path(project.output("runtimeLogs")) / "applicationset-controller.log")
    try:
        project.up()
        web = live(project, "ApplicationSet", "payments")
        assert web is not None
        elements = [e["name"] for e in web["spec"]["generators"][0]["list"]["elements"]]
        assert "checkout-web" not in elements
        if project.stack == "dev":
            wait_for(
                "the Application removed", lambda: "checkout-web" not in project.applications()
            )
            rollout = custom_objects(project).get_namespaced_custom_object(
                GROUP, VERSION, "payments", "rollouts", "checkout-web"
            )
            assert rollout["metadata"]["name"] == "checkout-web"  # the workload stays
        else:
            # The controller's log says what it generated from the list it was given.
            appsets.wait(
                "the ApplicationSet controller to generate the new list",
                rf"generated {len(elements)} applications.*applicationset={NAMESPACE}/payments\b",
            )
            assert "checkout-web" in project.applications()  # create-update keeps it
    finally:
        shutil.move(parked, app_dir)
    project.up()
    wait_for("the Application back", lambda: "checkout-web" in project.applications())


def test_a_deleted_applicationset_keeps_the_workloads(project: Project) -> None:
    name = "hello-web"
    custom_objects(project).delete_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "applicationsets", "web"
    )
    wait_for("its Applications gone", lambda: name not in project.applications())
    assert live_image(project, "web", "hello-web") is not None  # the Deployment stays
    project.up("--refresh")
    wait_for("the Applications back", lambda: name in project.applications())
    if project.stack == "dev":
        wait_for("hello-web Synced", lambda: statuses(project).get(name) == ("Synced", "Healthy"))


def test_an_emptied_catalog_is_refused_before_anything_changes(project: Project) -> None:
    apps = project.root / "apps"
    parked = project.root.parent / "apps.parked"
    shutil.move(apps, parked)
    apps.mkdir()
    shutil.copy(parked / "README.md", apps / "README.md")
    # Applications carry no status subresource: compare their specs, not generations.
    before = {n: a["spec"] for n, a in project.applications().items()}
    try:
        preview = project.pulumi("preview", check=False)
        assert preview.returncode != 0
        assert "refusing to remove every Application" in preview.stdout
        assert project.up(check=False).returncode != 0
    finally:
        shutil.rmtree(apps)
        shutil.move(parked, apps)
    after = {n: a["spec"] for n, a in project.applications().items()}
    assert after == before


def test_addons_are_installed(project: Project) -> None:
    """Argo Rollouts and Sealed Secrets (both stacks enable them): CRDs, controllers, the
    CRDs kept on destroy, and `platformctl seal` reaching the controller through the API."""
    from kubernetes import client

    api = project.api()
    crds = {
        name_of(c) for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items
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
        assert deployment.status is not None and deployment.spec is not None, name
        conditions = {c.type: c.status for c in deployment.status.conditions or []}
        assert conditions.get("Available") == "True", (name, conditions)
        ready, wanted = deployment.status.available_replicas or 0, deployment.spec.replicas
        assert wanted is not None and ready == wanted >= 1, (name, ready, wanted)
    rollouts = apps.read_namespaced_deployment("argo-rollouts", rollouts_ns)
    assert rollouts.spec is not None
    assert rollouts.spec.replicas == (2 if project.stack == "prod" else 1)
    # The dashboard: the chart's own Deployment only where the local runtime serves it (on
    # loopback, under the chart's dashboard RBAC); a real cluster's values turn it off.
    dashboards = [
        name_of(d)
        for d in apps.list_namespaced_deployment(rollouts_ns).items
        if "dashboard" in name_of(d)
    ]
    assert dashboards == ["argo-rollouts-dashboard"], dashboards

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

    # Destroy and disable keep the CRDs (every app's Rollouts and SealedSecrets live in them):
    # no CRD is a resource of its own; one retained owner per chart holds them.
    state = json.loads(project.pulumi("stack", "export").stdout)["deployment"]["resources"]
    assert not [r for r in state if r["type"].endswith(":CustomResourceDefinition")]
    owners = {
        r["outputs"]["chart"]: r
        for r in state
        if r["type"] == "pulumi-python:dynamic:Resource" and r["urn"].endswith("-crds")
    }
    for chart, names in (
        ("argo-rollouts", {"rollouts.argoproj.io", "analysistemplates.argoproj.io"}),
        ("sealed-secrets", {"sealedsecrets.bitnami.com"}),
    ):
        assert owners[chart].get("retainOnDelete") is True, chart
        assert names <= set(owners[chart]["outputs"]["crds"]), (chart, owners[chart]["outputs"])
    for crd in client.ApiextensionsV1Api(api).list_custom_resource_definition().items:
        if name_of(crd) in crds and crd.spec.group in ("argoproj.io", "bitnami.com"):
            managers = {m.manager for m in metadata(crd).managed_fields or []}
            assert "gitops-platform-crds" in managers, (name_of(crd), managers)

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
    """The generated Rollout, Services and AnalysisTemplates of blue/green and canary apps
    (which Argo CD has synced by now, see above) and the predicted Applications pass the API
    server's strict server-side dry run against the CRDs the stack installed: no field is
    unknown to the schema. (--force-conflicts: the Rollouts controller owns the Services'
    selectors once it runs.)"""
    kubeconfig = project.root / "dry-run.kubeconfig"
    kubeconfig.write_text(project.output("kubeconfig", secret=True))
    kubectl = ["kubectl", "--kubeconfig", str(kubeconfig)]
    dry_run = [*kubectl, *STRICT_DRY_RUN]
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
            # The dry run passes admission too (prod): its images must be signed.
            for ref in sorted(set(re.findall(r'image: "?([^"\s]+)', manifests))):
                project.publish(ref)
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


@only_on("dev")  # the rotation is the program's, the same in every stack
def test_rotation_changes_only_what_it_must(project: Project) -> None:
    api = project.api()
    before = project.output("adminPassword", secret=True)
    secret_key = secret_value(api, NAMESPACE, "argocd-secret", "server.secretkey")
    mtime = project.output("adminPasswordMtime")
    # The mtime is RFC 3339 to the second: the rotation must happen in a later second.
    since = datetime.fromisoformat(mtime.replace("Z", "+00:00")).timestamp()
    wait_for("the clock a second past the mtime", lambda: time.time() >= since + 1, 5, 0.1)

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
    # The real argocd-server agrees: the new password logs in, the old one no longer does.
    wait_for("the new password to log in",
             lambda: project.login(after, check=False).returncode == 0, timeout=60)  # fmt: skip
    refused = project.login(before, check=False)
    assert refused.returncode != 0 and "Invalid username or password" in refused.stderr


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
        # Argo CD's controllers write status; the stack's part (spec, generation) is untouched.
        assert after["metadata"]["generation"] == obj["metadata"]["generation"], key
        assert after["spec"] == obj["spec"], key


@only_on("dev")  # the engine's and the provider's
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
    assert up.stdout is not None
    started = []  # what the engine printed until its first step started
    for line in up.stdout:
        started.append(line)
        if re.search(r"\b(creating|updating|deleting)\b", line):
            break
    project.kwokctl("stop", "cluster")
    try:
        rest, _ = up.communicate(timeout=240)
        out = "".join(started) + rest
    except subprocess.TimeoutExpired:
        up.send_signal(signal.SIGINT)  # what a user (or CI) does to a hung run
        rest, _ = up.communicate(timeout=120)
        out = "".join(started) + rest
    project.log.append(f"interrupted up rc={up.returncode}: {out[-1500:]}")
    assert up.returncode != 0, out[-1500:]  # the engine reports the update as failed (1)
    # The state records the update as unfinished: a replaced resource still to delete (the
    # admin password's original: replacements delete last), an operation left pending, or
    # the web ApplicationSet still without hello-web-3.
    deployment = json.loads(project.pulumi("stack", "export").stdout)["deployment"]
    resources = deployment.get("resources") or []
    left = [r["urn"] for r in resources if r.get("delete")]
    left += [op["resource"]["urn"] for op in deployment.get("pending_operations") or []]
    web_state = [r for r in resources if r["urn"].endswith("::catalog-applicationset-web")]
    assert left or "hello-web-3" not in json.dumps(web_state), out[-1500:]
    project.log.append(f"left by the interrupted up: {left}")
    project.kwokctl("start", "cluster")
    # Interrupted mid-update: part of what it was to change is still to do (seen here: the
    # web ApplicationSet without hello-web-3, the replaced admin password's original still
    # to delete).
    unfinished = project.pulumi("preview", "--refresh", "--expect-no-changes", check=False)
    assert unfinished.returncode != 0, unfinished.stdout[-1500:]

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


@only_on(
    "prod"
)  # prod is where the reset is used; the runtime restarts argocd-server the same way in dev
def test_break_glass_reset_seeds_a_new_password(project: Project) -> None:
    """platformctl admin-password reset against the real argocd-server: the runtime restarts
    the process when the reset restarts its Deployment, and argocd-server itself seeds
    argocd-initial-admin-secret; the seeded password logs in."""
    from kubernetes import client

    api = project.api()
    core = client.CoreV1Api(api)
    kubeconfig = project.root / "reset.kubeconfig"
    kubeconfig.write_text(project.output("kubeconfig", secret=True))
    try:
        proc = project.platformctl(
            "admin-password", "reset", "--kubeconfig", str(kubeconfig),
            "--namespace", NAMESPACE, "--timeout", "180",
        )  # fmt: skip
    finally:
        kubeconfig.unlink()
    seeded = proc.stdout.strip()
    assert len(seeded) >= 16, proc.stdout
    names = [name_of(s) for s in core.list_namespaced_secret(NAMESPACE).items]
    assert "argocd-initial-admin-secret" not in names
    wait_for("the restarted argocd-server to accept the seeded password",
             lambda: project.login(seeded, check=False).returncode == 0, timeout=120)  # fmt: skip
    # On a stack-managed cluster the stack sees the reset as drift and puts its hash back.
    drift = project.pulumi("preview", "--refresh", "--expect-no-changes", check=False)
    assert drift.returncode != 0 and "argocd-argocd-secret" in drift.stdout
    project.up("--refresh")
    password = project.output("adminPassword", secret=True)
    assert bcrypt.checkpw(
        password.encode(), secret_value(api, NAMESPACE, "argocd-secret", "admin.password").encode()
    )
    wait_for("the stack's password to log in again",
             lambda: project.login(password, check=False).returncode == 0, timeout=60)  # fmt: skip


@only_on("dev")  # the runtime's supervisor
def test_a_dead_controller_comes_back(project: Project) -> None:
    """The supervisor restarts a process that dies; a stopped runtime is started by `up`."""
    import os

    status_file = project.runtime.status
    before = json.loads(status_file.read_text())["processes"]["application-controller"]
    os.kill(before["pid"], signal.SIGKILL)
    wait_for(
        "the controller restarted",
        lambda: (
            (p := json.loads(status_file.read_text())["processes"]["application-controller"])
            and p["pid"] not in (None, before["pid"])
            and p["restarts"] == before["restarts"] + 1
        ),
        timeout=60,
    )
    supervisor = json.loads(status_file.read_text())["pid"]
    os.kill(supervisor, signal.SIGTERM)
    wait_for("the runtime stopped", lambda: not os.path.exists(f"/proc/{supervisor}"), timeout=60)
    preview = project.pulumi("preview", "--expect-no-changes", check=False)
    assert preview.returncode != 0 and "argocd-runtime-processes" in preview.stdout
    project.up()
    project.login(project.output("adminPassword", secret=True))
    project.pulumi("preview", "--expect-no-changes")


def test_disaster_recovery_from_git(project: Project) -> None:
    """The cluster is lost; `pulumi refresh` (forgetting what was on it) and `up` rebuild it
    from git: the same Applications come back as Argo CD reports them, and a second `up`
    changes nothing."""
    catalog = set(predicted_applications(project))
    # prod's create-update kept the Applications of apps earlier tests removed; a rebuilt
    # cluster has exactly the catalog's.
    assert catalog <= set(project.applications())
    project.kwokctl("delete", "cluster")
    project.env["PULUMI_K8S_DELETE_UNREACHABLE"] = "true"
    try:
        project.pulumi("refresh", "--yes", "--skip-preview")
    finally:
        del project.env["PULUMI_K8S_DELETE_UNREACHABLE"]
    project.up()
    assert project.cluster_name in project.clusters()
    wait_for(
        "the catalog's Applications",
        lambda: set(project.applications()) == catalog,
        detail=lambda: sorted(project.applications()),
    )
    if project.stack == "dev":
        wait_synced_and_healthy(project, catalog, "every app Synced and Healthy again")
    project.pulumi("preview", "--expect-no-changes")


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
