"""End to end: Argo Rollouts, Sealed Secrets and Argo CD notifications, as their real
controllers act on what the stack declares.

One dev-config stack on a kwok cluster, its controllers running as local processes (the
local runtime): Argo CD, the Rollouts controller, the Sealed Secrets controller, the
notifications controller. Every change reaches the cluster as a commit Argo CD syncs; every
assertion reads what a controller reports (Rollout and AnalysisRun status, Service selectors
Rollouts sets, the Secret the Sealed Secrets controller writes, the webhook the notifications
controller POSTs).

Two things stand in for what kwok has not: kwok runs no containers, so the new version of an
app is an HTTP server this test runs on 127.0.0.1 (the runtime's service proxy routes the
Rollouts controller's checks for ``<service>.<namespace>.svc.cluster.local`` to it), and the
webhook receiver is another. kwok marks a Job's pod Succeeded (its ``pod-complete`` stage):
the smoke-job metric runs as a real Job that the controller waits for, but no CRUD check
executes. Without a mesh or ingress, a canary weight is a replica ratio (asserted as such).

Tests run in order and share the deployment; the last one destroys it.
"""

from __future__ import annotations

import base64
import json
import re
import select
import socketserver
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium.webdriver.chrome.webdriver import WebDriver

from infra.runtime.service_proxy import expose
from infra.specs.addons import SEALED_SECRETS_KEY_LABEL
from tests.e2e.browser import promote_on_dashboard, rollout_shown, screenshot, wait_until
from tests.e2e.harness import Project, identity, metadata, name_of, wait_for

pytestmark = pytest.mark.e2e

GROUP, VERSION = "argoproj.io", "v1alpha1"
SHOP = "payments"  # namespace of the canary (checkout-web) and blue/green (payments-api) apps
CANARY, BLUE_GREEN = "checkout-web", "payments-api"
# The example canary waits 30 s and 2 min between steps; the test's copy walks the same kinds
# of steps faster: 50% of the replicas, a pause, the checks, then a human promotes.
CANARY_STEPS = [
    {"setWeight": 50},
    {"pause": {"duration": "5s"}},
    {"analysis": {}},
    {"pause": {}},
]
ANALYSIS_TIMEOUT = 240
STATUS_FIELDS = ("phase", "message", "currentStepIndex", "abort", "pauseConditions", "stableRS",
                 "currentPodHash", "conditions")  # fmt: skip


# -- servers the test runs on 127.0.0.1 -------------------------------------------------------


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """``handler`` served on a free 127.0.0.1 port, in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class AppServer:
    """The new version of an app (kwok runs no containers): answers each path with the status
    ``statuses`` says (200 by default) and records what it was asked."""

    statuses: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, host
    server: ThreadingHTTPServer | None = None

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_port}"

    def start(self) -> AppServer:
        owner = self

        class Handler(_Quiet):
            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                owner.requests.append((self.command, path, self.headers.get("Host", "")))
                status = owner.statuses.get(path, 200)
                body = json.dumps({"path": path, "status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

        self.server = _serve(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Receiver:
    """A webhook receiver: every JSON body Argo CD's notifications controller POSTs."""

    events: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/argocd"

    def start(self) -> Receiver:
        owner = self

        class Handler(_Quiet):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    owner.events.append(json.loads(body))
                except ValueError:
                    owner.events.append({"unparsed": body.decode(errors="replace")})
                self.send_response(204)
                self.end_headers()

        self.server = _serve(Handler)
        return self

    def received(self, app: str, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("app") == app and e.get("event") == event]


# -- the stack ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    assert r.server is not None
    r.server.shutdown()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Project]:
    project = Project.create("dev", tmp_path_factory.mktemp("e2e-controllers"), nodes=1)
    project.set_config("notifications", {"webhookURL": receiver.url})
    # One quick retry: a sync that cannot succeed is reported failed in seconds, not after
    # the default five retries' 2.5 minutes of backoff (sync.retry, README).
    sync = project.config("sync")
    project.set_config("sync", {**sync, "retry": {"limit": 1, "duration": "2s"}})
    definition = project.root / "apps" / CANARY / "app.yaml"
    document = yaml.safe_load(definition.read_text())
    document["strategy"]["steps"] = CANARY_STEPS
    definition.write_text(yaml.safe_dump(document, sort_keys=False))
    project.platformctl("generate")
    project.commit_and_push("checkout-web: shorter canary steps for the test")
    yield project
    project.teardown()
    print("\n".join(project.log))


def kubeconfig_file(project: Project) -> Path:
    path = project.root.parent / "controllers.kubeconfig"
    if not path.exists():
        path.write_text(project.output("kubeconfig", secret=True))
        path.chmod(0o600)
    return path


def custom(project: Project) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(project.api())


def core(project: Project) -> Any:
    from kubernetes import client

    return client.CoreV1Api(project.api())


def rollout(project: Project, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = custom(project).get_namespaced_custom_object(
        GROUP, VERSION, SHOP, "rollouts", name
    )
    return obj


def rollout_status(project: Project, name: str) -> dict[str, Any]:
    return rollout(project, name).get("status") or {}


def analysis_runs(project: Project, name: str, pod_hash: str) -> list[dict[str, Any]]:
    """The AnalysisRuns the controller started for revision ``pod_hash`` of rollout ``name``."""
    items = custom(project).list_namespaced_custom_object(GROUP, VERSION, SHOP, "analysisruns")[
        "items"
    ]
    return [
        run
        for run in items
        if any(o.get("name") == name for o in run["metadata"].get("ownerReferences") or [])
        and run["metadata"].get("labels", {}).get("rollouts-pod-template-hash") == pod_hash
    ]


def replica_sets(project: Project, app: str) -> dict[str | None, Any]:
    """pod-template hash -> ReplicaSet, for the ReplicaSets of rollout ``app``."""
    from kubernetes import client

    items = client.AppsV1Api(project.api()).list_namespaced_replica_set(SHOP).items
    return {
        (metadata(rs).labels or {}).get("rollouts-pod-template-hash"): rs
        for rs in items
        if any(o.name == app for o in metadata(rs).owner_references or [])
    }


def selector_hash(project: Project, service: str) -> str | None:
    selector = core(project).read_namespaced_service(service, SHOP).spec.selector or {}
    value = selector.get("rollouts-pod-template-hash")
    return str(value) if value else None


def set_tag(project: Project, app: str, tag: str) -> None:
    """The handoff's one-line change: the dev overlay's image tag, committed and pushed."""
    overlay = project.root / "apps" / app / "overlays" / "dev" / "kustomization.yaml"
    text, count = re.subn(r'newTag: "?[^"\n]*"?', f'newTag: "{tag}"', overlay.read_text())
    assert count == 1, overlay
    overlay.write_text(text)
    project.commit_and_push(f"{app}: {tag} in dev")


def app_status(project: Project, name: str) -> tuple[str, str]:
    status = project.applications().get(name, {}).get("status") or {}
    return (
        (status.get("sync") or {}).get("status", ""),
        (status.get("health") or {}).get("status", ""),
    )


def promote(project: Project, name: str) -> None:
    """`kubectl argo rollouts promote`, the real plugin."""
    project.run(
        ["kubectl-argo-rollouts", "promote", name, "-n", SHOP,
         "--kubeconfig", str(kubeconfig_file(project))],
    )  # fmt: skip


def dashboard(project: Project, name: str) -> str:
    """The rollout's page on the Rollouts dashboard the local runtime serves."""
    plan = json.loads(project.runtime.plan.read_text())
    return f"http://127.0.0.1:{plan['ports']['rollouts-dashboard']}/rollouts/rollout/{SHOP}/{name}"


def wait_rollout(project: Project, name: str, what: str, probe: Any, timeout: float = 240) -> Any:
    return wait_for(
        f"{name}: {what}",
        lambda: probe(rollout_status(project, name)),
        timeout=timeout,
        detail=lambda: {
            k: v for k, v in rollout_status(project, name).items() if k in STATUS_FIELDS
        },
    )


def analysis_phase(project: Project, name: str, pod_hash: str) -> str | None:
    runs = analysis_runs(project, name, pod_hash)
    return (runs[-1].get("status") or {}).get("phase") if runs else None


# -- tests ----------------------------------------------------------------------------------


def test_up_runs_every_controller_and_every_app_goes_synced_and_healthy(
    project: Project,
) -> None:
    project.up()
    status = json.loads(project.runtime.status.read_text())
    running = {n for n, p in status["processes"].items() if p["state"] == "running"}
    assert {"rollouts-controller", "sealed-secrets-controller", "notifications-controller",
            "service-proxy"} <= running, status  # fmt: skip
    apps = {CANARY, BLUE_GREEN, "hello-web"}
    wait_for(
        "every app Synced and Healthy",
        lambda: all(app_status(project, a) == ("Synced", "Healthy") for a in apps),
        timeout=300,
        detail=lambda: {a: app_status(project, a) for a in apps},
    )
    # The Sealed Secrets controller generated its sealing key in its namespace.
    keys = core(project).list_namespaced_secret(
        "kube-system", label_selector=f"{SEALED_SECRETS_KEY_LABEL}=active"
    )
    assert len(keys.items) == 1


def secret_data(project: Project, namespace: str, name: str) -> dict[str, str] | None:
    from kubernetes.client.exceptions import ApiException

    try:
        secret = core(project).read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def test_a_sealed_secret_from_platformctl_seal_is_unsealed_by_the_controller(
    project: Project,
) -> None:
    values = {"username": "shop", "password": "s3cr3t-\u00e9-\n-value"}
    (project.root.parent / "password.txt").write_text(values["password"])
    # No --cert: seal asks the stack's local controller for its certificate.
    project.platformctl(
        "seal", "--app", CANARY, "--env", "dev", "--name", "checkout-db",
        "--from-literal", f"username={values['username']}",
        "--from-file", f"password={project.root.parent / 'password.txt'}",
    )  # fmt: skip
    sealed_file = project.root / "apps" / CANARY / "overlays" / "dev" / "sealed-checkout-db.yaml"
    assert "s3cr3t" not in sealed_file.read_text()
    project.commit_and_push("checkout-web: sealed database credentials")
    unsealed = wait_for(
        "the controller's Secret payments/checkout-db",
        lambda: secret_data(project, SHOP, "checkout-db"),
        timeout=180,
    )
    assert unsealed == values
    sealed = custom(project).get_namespaced_custom_object(
        "bitnami.com", "v1alpha1", SHOP, "sealedsecrets", "checkout-db"
    )
    conditions = {c["type"]: c for c in (sealed.get("status") or {}).get("conditions") or []}
    assert conditions["Synced"]["status"] == "True", conditions

    # kubeseal, with the controller's private key, decrypts our encryption to the same bytes.
    key = (
        core(project)
        .list_namespaced_secret("kube-system", label_selector=f"{SEALED_SECRETS_KEY_LABEL}=active")
        .items[0]
    )
    key_file = project.root.parent / "sealing-key.pem"
    key_file.write_bytes(base64.b64decode(key.data["tls.key"]))
    key_file.chmod(0o600)
    recovered = project.run(
        ["kubeseal", "--recovery-unseal", "--recovery-private-key", str(key_file), "-o", "json"],
        input_text=sealed_file.read_text(),
    )
    data = json.loads(recovered.stdout)["data"]
    assert {k: base64.b64decode(v).decode() for k, v in data.items()} == values
    key_file.unlink()


def _host_address() -> str:
    """This machine's non-loopback IPv4 address (the API server refuses to proxy to loopback).
    Connecting a UDP socket sends nothing: it only picks the route's source address."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        address = str(probe.getsockname()[0])
    assert not address.startswith("127."), "no non-loopback address on this machine"
    return address


class _Forwarder(socketserver.ThreadingTCPServer):
    """The pod network kwok does not have: connections to ``(address, port)`` go on to
    ``target`` (the local controller); each certificate request that passes is counted (the
    API server keeps its connection to an endpoint open between requests)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: str, target: tuple[str, int]) -> None:
        self.target, self.requests = target, 0
        super().__init__((address, 0), _Pipe)


class _Pipe(socketserver.BaseRequestHandler):
    server: _Forwarder

    def handle(self) -> None:
        import socket

        with socket.create_connection(self.server.target, timeout=10) as upstream:
            sockets = [self.request, upstream]
            while True:
                ready, _, _ = select.select(sockets, [], [], 10)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is self.request:
                        self.server.requests += data.count(b"GET /v1/cert.pem ")
                    (upstream if sock is self.request else self.request).sendall(data)


def test_seal_with_a_context_fetches_the_certificate_through_the_api_servers_service_proxy(
    project: Project,
) -> None:
    """`seal --context` asks the API server for the controller's certificate through the
    service proxy (`services/http:<name>:http/proxy/v1/cert.pem`), as `kubeseal --fetch-cert`
    does: the real API server, the real client, the real controller. kwok has no pod network,
    so the one stand-in is the endpoint: a Pod whose IP is this machine's address, where a
    forwarder leads to the local controller; a Service of our own names it (the chart's keeps
    its fake pod)."""
    plan = json.loads(project.runtime.plan.read_text())
    controller = ("127.0.0.1", int(plan["ports"]["sealed-secrets"]))
    address = _host_address()
    forwarder = _Forwarder(address, controller)
    threading.Thread(target=forwarder.serve_forever, daemon=True).start()
    name, port = "sealed-secrets-e2e", int(forwarder.server_address[1])
    api = core(project)
    # The API server proxies only to a Pod's own IP: a Pod kwok runs, whose IP is then this
    # machine's address (the pod network kwok does not have), behind a Service of our own.
    node = api.list_node().items[0].metadata.name
    api.create_namespaced_pod("kube-system", {
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "e2e/none:1"}]},
    })  # fmt: skip
    wait_for(f"kwok running pod {name}",
             lambda: api.read_namespaced_pod(name, "kube-system").status.phase == "Running")  # fmt: skip
    api.patch_namespaced_pod_status(name, "kube-system", [  # a JSON patch: replace, not merge
        {"op": "replace", "path": "/status/podIP", "value": address},
        {"op": "replace", "path": "/status/podIPs", "value": [{"ip": address}]},
    ])  # fmt: skip
    api.create_namespaced_service("kube-system", {
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": port}]},
    })  # fmt: skip
    target = {"kind": "Pod", "namespace": "kube-system", "name": name}
    api.create_namespaced_endpoints("kube-system", {
        "metadata": {"name": name},
        "subsets": [{"addresses": [{"ip": address, "targetRef": target}],
                     "ports": [{"name": "http", "port": port}]}],
    })  # fmt: skip
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{controller[1]}/v1/cert.pem") as answer:
            served = answer.read().decode()
        context = yaml.safe_load(kubeconfig_file(project).read_text())["current-context"]
        where = ["--kubeconfig", str(kubeconfig_file(project)), "--controller-name", name]
        fetched = project.run(["kubeseal", "--fetch-cert", *where, "--context", context,
                               "--controller-namespace", "kube-system"])  # fmt: skip
        assert fetched.stdout == served  # kubeseal's way, the same certificate
        assert forwarder.requests == 1  # kubeseal's, through the API server
        before = forwarder.requests
        project.platformctl(
            "seal", "--app", CANARY, "--env", "dev", "--name", "checkout-api-key",
            "--from-literal", "token=through-the-proxy", "--context", context, *where,
        )  # fmt: skip
        assert forwarder.requests == before + 1  # the API server proxied our request
        project.commit_and_push("checkout-web: an API key sealed with the cluster's certificate")
        unsealed = wait_for(
            "the controller's Secret payments/checkout-api-key",
            lambda: secret_data(project, SHOP, "checkout-api-key"),
            timeout=180,
        )
        assert unsealed == {"token": "through-the-proxy"}
    finally:
        forwarder.shutdown()
        api.delete_namespaced_service(name, "kube-system")
        api.delete_namespaced_pod(name, "kube-system")


@pytest.mark.parametrize(
    ("namespace", "name"), [(SHOP, "checkout-db-copy"), ("web", "checkout-db")]
)
def test_a_sealed_secret_moved_to_another_name_or_namespace_is_refused_by_the_controller(
    project: Project, namespace: str, name: str
) -> None:
    sealed_file = project.root / "apps" / CANARY / "overlays" / "dev" / "sealed-checkout-db.yaml"
    document = yaml.safe_load(sealed_file.read_text())
    document["metadata"] = {"name": name, "namespace": namespace}
    document["spec"]["template"]["metadata"] = {"name": name, "namespace": namespace}
    custom(project).create_namespaced_custom_object(
        "bitnami.com", "v1alpha1", namespace, "sealedsecrets", document
    )

    def refused() -> str | None:
        obj = custom(project).get_namespaced_custom_object(
            "bitnami.com", "v1alpha1", namespace, "sealedsecrets", name
        )
        for condition in (obj.get("status") or {}).get("conditions") or []:
            if condition["type"] == "Synced" and condition["status"] == "False":
                return str(condition.get("message", ""))
        return None

    message = wait_for(f"the controller refusing {namespace}/{name}", refused, timeout=120)
    assert "decrypt" in message.lower(), message
    assert secret_data(project, namespace, name) is None


def selected_hashes(project: Project) -> dict[str, str | None]:
    """The ``rollouts-pod-template-hash`` each canary Service selects (set by the controller)."""
    found = {}
    for role in ("canary", "stable"):
        selector = core(project).read_namespaced_service(f"{CANARY}-{role}", SHOP).spec.selector
        found[role] = (selector or {}).get("rollouts-pod-template-hash")
    return found


def test_a_canary_walks_its_steps_with_its_checks_then_waits_for_promotion(
    project: Project, browser: WebDriver
) -> None:
    new_version = AppServer().start()
    try:
        expose(project.runtime_dir, f"{CANARY}-canary", SHOP, 8080, new_version.address)
        stable = rollout_status(project, CANARY)["stableRS"]
        set_tag(project, CANARY, "3.0.0")
        current = wait_rollout(
            project, CANARY, "a new revision",
            lambda s: s.get("currentPodHash") not in (None, stable) and s["currentPodHash"],
        )  # fmt: skip
        # setWeight 50 of 2 replicas: one pod of each version (no mesh: a replica ratio).
        wait_for(
            "one canary and one stable replica",
            lambda: (
                (rs := replica_sets(project, CANARY)).get(current) is not None
                and rs[current].spec.replicas == 1
                and rs[stable].spec.replicas == 1
            ),
            timeout=120,
        )
        wait_for("the canary Service at the new pods, the stable one at the old",
                 lambda: selected_hashes(project) == {"canary": current, "stable": stable},
                 timeout=60, detail=lambda: selected_hashes(project))  # fmt: skip
        # The checks ran as an AnalysisRun against the new version, then the last step waits.
        wait_rollout(
            project, CANARY, "paused at the last step for a human",
            lambda s: s.get("currentStepIndex") == len(CANARY_STEPS) - 1
            and any(c.get("reason") == "CanaryPauseStep" for c in s.get("pauseConditions") or []),
            timeout=ANALYSIS_TIMEOUT,
        )  # fmt: skip
        assert analysis_phase(project, CANARY, current) == "Successful"
        # The Services are the controller's to point: the canary one at the new pods, the
        # stable one still at the old (the pod-template-hash it set in each selector).
        assert selected_hashes(project) == {"canary": current, "stable": stable}
        asked = {(m, p) for m, p, _ in new_version.requests}
        assert {("GET", "/healthz"), ("GET", "/cart")} <= asked, new_version.requests
        hosts = {h for _, _, h in new_version.requests}
        assert hosts == {f"{CANARY}-canary.{SHOP}.svc.cluster.local:8080"}, hosts
        assert rollout_status(project, CANARY)["stableRS"] == stable

        # A person promotes it on the Rollouts dashboard, where it shows paused at that step.
        browser.get(dashboard(project, CANARY))
        paused = ("paused", f"{len(CANARY_STEPS) - 1}/{len(CANARY_STEPS)}")  # Summary: "3/4"
        wait_until(browser, "the dashboard showing the canary paused at its step",
                   lambda d: rollout_shown(d) == paused)  # fmt: skip
        screenshot(browser, "rollouts-canary-paused")
        promote_on_dashboard(browser)
        wait_rollout(
            project, CANARY, "the new revision stable and Healthy",
            lambda s: s.get("stableRS") == current and s.get("phase") == "Healthy",
        )  # fmt: skip
        wait_for("both Services at the promoted pods",
                 lambda: selected_hashes(project) == {"canary": current, "stable": current},
                 timeout=60, detail=lambda: selected_hashes(project))  # fmt: skip
        wait_until(browser, "the dashboard showing the rollout healthy",
                   lambda d: rollout_shown(d)[0] == "healthy")  # fmt: skip
        template = replica_sets(project, CANARY)[current].spec.template.spec
        assert template.containers[0].image.endswith(":3.0.0")
        wait_for(
            "Argo CD reporting checkout-web Synced and Healthy",
            lambda: app_status(project, CANARY) == ("Synced", "Healthy"),
            timeout=120,
            detail=lambda: app_status(project, CANARY),
        )
    finally:
        new_version.stop()


def test_a_canary_whose_check_fails_is_aborted_and_the_stable_version_stays(
    project: Project, receiver: Receiver
) -> None:
    broken = AppServer(statuses={"/cart": 500}).start()
    try:
        expose(project.runtime_dir, f"{CANARY}-canary", SHOP, 8080, broken.address)
        stable = rollout_status(project, CANARY)["stableRS"]
        set_tag(project, CANARY, "3.0.1")
        current = wait_rollout(
            project, CANARY, "a new revision",
            lambda s: s.get("currentPodHash") not in (None, stable) and s["currentPodHash"],
        )  # fmt: skip
        status = wait_rollout(
            project, CANARY, "aborted by the failing check",
            lambda s: s if s.get("abort") and s.get("phase") == "Degraded" else None,
            timeout=ANALYSIS_TIMEOUT,
        )  # fmt: skip
        assert analysis_phase(project, CANARY, current) in ("Failed", "Error")
        assert ("GET", "/cart") in {(m, p) for m, p, _ in broken.requests}
        assert status["stableRS"] == stable
        wait_for(
            "the canary scaled away, the stable version at full size",
            lambda: (
                (rs := replica_sets(project, CANARY))[current].spec.replicas == 0
                and rs[stable].spec.replicas == 2
            ),
            timeout=120,
        )
        wait_for(
            "Argo CD reporting checkout-web Degraded",
            lambda: app_status(project, CANARY)[1] == "Degraded",
            timeout=120,
            detail=lambda: app_status(project, CANARY),
        )
        # The notifications controller told the webhook, naming the Application.
        event = wait_for(
            "the on-health-degraded webhook for checkout-web",
            lambda: receiver.received(CANARY, "on-health-degraded"),
            timeout=120,
            detail=lambda: receiver.events,
        )[0]
        assert event["health"] == "Degraded" and event["namespace"] == SHOP
    finally:
        broken.stop()
    # Back to the stable version in git: Rollouts recognises it and the app is Healthy again.
    set_tag(project, CANARY, "3.0.0")
    wait_rollout(
        project, CANARY, "Healthy on the stable version again",
        lambda s: s.get("phase") == "Healthy" and s.get("currentPodHash") == stable,
    )  # fmt: skip


def test_blue_green_previews_checks_and_switches_only_when_promoted(project: Project) -> None:
    new_version = AppServer().start()
    try:
        expose(project.runtime_dir, f"{BLUE_GREEN}-preview", SHOP, 8000, new_version.address)
        active = selector_hash(project, BLUE_GREEN)
        assert active is not None and active == rollout_status(project, BLUE_GREEN)["stableRS"]
        set_tag(project, BLUE_GREEN, "2.0.0")
        current = wait_rollout(
            project, BLUE_GREEN, "a new revision",
            lambda s: s.get("currentPodHash") not in (None, active) and s["currentPodHash"],
        )  # fmt: skip
        wait_for(
            "the preview Service on the new ReplicaSet",
            lambda: selector_hash(project, f"{BLUE_GREEN}-preview") == current,
            timeout=120,
        )
        wait_for(
            "the pre-promotion analysis Successful",
            lambda: analysis_phase(project, BLUE_GREEN, current) == "Successful",
            timeout=ANALYSIS_TIMEOUT,
            detail=lambda: analysis_runs(project, BLUE_GREEN, current),
        )
        assert {("GET", "/healthz"), ("GET", "/items")} <= {
            (m, p) for m, p, _ in new_version.requests
        }
        # The smoke job ran as a Job the controller waited for (kwok completed its pod).
        run = analysis_runs(project, BLUE_GREEN, current)[-1]
        results = {r["name"]: r for r in run["status"]["metricResults"]}
        assert results["smoke-job"]["phase"] == "Successful", results
        # autoPromotionEnabled: false: checks passed, the active Service still on the old one.
        wait_rollout(
            project, BLUE_GREEN, "paused for promotion",
            lambda s: any(c.get("reason") == "BlueGreenPause"
                          for c in s.get("pauseConditions") or []),
        )  # fmt: skip
        assert selector_hash(project, BLUE_GREEN) == active

        promote(project, BLUE_GREEN)
        wait_for(
            "the active Service switched to the new version",
            lambda: selector_hash(project, BLUE_GREEN) == current,
            timeout=120,
        )
        wait_rollout(
            project, BLUE_GREEN, "Healthy on the new version",
            lambda s: s.get("phase") == "Healthy" and s.get("stableRS") == current,
        )  # fmt: skip
    finally:
        new_version.stop()


def test_blue_green_whose_check_fails_never_switches_the_active_service(
    project: Project,
) -> None:
    broken = AppServer(statuses={"/items": 503}).start()
    try:
        expose(project.runtime_dir, f"{BLUE_GREEN}-preview", SHOP, 8000, broken.address)
        active = selector_hash(project, BLUE_GREEN)
        set_tag(project, BLUE_GREEN, "2.0.1")
        current = wait_rollout(
            project, BLUE_GREEN, "a new revision",
            lambda s: s.get("currentPodHash") not in (None, active) and s["currentPodHash"],
        )  # fmt: skip
        wait_rollout(
            project, BLUE_GREEN, "aborted by the failing check",
            lambda s: s.get("abort") and s.get("phase") == "Degraded",
            timeout=ANALYSIS_TIMEOUT,
        )  # fmt: skip
        assert analysis_phase(project, BLUE_GREEN, current) in ("Failed", "Error")
        assert selector_hash(project, BLUE_GREEN) == active
        assert rollout_status(project, BLUE_GREEN)["stableRS"] == active
    finally:
        broken.stop()
    set_tag(project, BLUE_GREEN, "2.0.0")
    wait_rollout(
        project, BLUE_GREEN, "Healthy on the active version again",
        lambda s: s.get("phase") == "Healthy" and s.get("currentPodHash") == active,
    )  # fmt: skip


BROKEN_MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: Not_A_Valid_Name
data:
  a: b
"""


def test_a_commit_the_api_server_refuses_is_notified_out_of_sync_then_sync_failed(
    project: Project, receiver: Receiver
) -> None:
    broken = project.root / "apps" / "hello-web" / "manifests" / "broken.yaml"
    broken.write_text(BROKEN_MANIFEST)
    project.commit_and_push("hello-web: a ConfigMap the API server refuses")
    event = wait_for(
        "the on-out-of-sync webhook for hello-web",
        lambda: receiver.received("hello-web", "on-out-of-sync"),
        timeout=180,
        detail=lambda: receiver.events,
    )[0]
    assert event["sync"] == "OutOfSync" and event["project"]
    # Automated sync retries as the stack says (once, after 2 s); then the sync has failed.
    event = wait_for(
        "the on-sync-failed webhook for hello-web",
        lambda: receiver.received("hello-web", "on-sync-failed"),
        timeout=240,
        every=5,
        detail=lambda: [e.get("event") for e in receiver.events],
    )[0]
    assert event["app"] == "hello-web"
    # Argo CD retried exactly as the stack's sync.retry says, then gave up.
    operation = project.applications()["hello-web"]["status"]["operationState"]
    assert operation["phase"] in ("Failed", "Error"), operation
    assert operation.get("retryCount") == 1, operation
    broken.unlink()
    project.commit_and_push("hello-web: drop the broken ConfigMap")
    wait_for(
        "hello-web Synced again",
        lambda: app_status(project, "hello-web")[0] == "Synced",
        timeout=240,
        detail=lambda: app_status(project, "hello-web"),
    )


def test_an_unsigned_image_is_admitted_in_dev(project: Project) -> None:
    """dev does not enforce signatures (admission is prod's): no Kyverno, no webhook, and the
    image test_admission.py sees denied in prod runs here."""
    from kubernetes import client

    hooks = client.AdmissionregistrationV1Api(project.api())
    names = [name_of(c) for c in hooks.list_validating_webhook_configuration().items]
    names += [name_of(c) for c in hooks.list_mutating_webhook_configuration().items]
    assert not [name for name in names if "kyverno" in name]
    image = "127.0.0.1:5000/example-org/unsigned:dev"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "unsigned-in-dev"},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }
    created = core(project).create_namespaced_pod("web", pod)
    assert created.spec.containers[0].image == image  # admitted as written, no digest pin
    core(project).delete_namespaced_pod("unsigned-in-dev", "web")


IDENTITIES = {
    "repo-server": "argocd:argocd-repo-server",
    "application-controller": "argocd:argocd-application-controller",
    "applicationset-controller": "argocd:argocd-applicationset-controller",
    "server": "argocd:argocd-server",
    "notifications-controller": "argocd:argocd-notifications-controller",
    "rollouts-controller": "argo-rollouts:argo-rollouts",
    "rollouts-dashboard": "argo-rollouts:argo-rollouts-dashboard",
    "sealed-secrets-controller": "kube-system:sealed-secrets-controller",
}
"""Each process of the runtime -> the ServiceAccount its chart's pod template names."""


def _process_kubeconfig(pid: int) -> str:
    """The kubeconfig a running process uses: its ``--kubeconfig`` flag, else ``KUBECONFIG``."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    if "--kubeconfig" in argv:
        return argv[argv.index("--kubeconfig") + 1]
    environ = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return next(e.split("=", 1)[1] for e in environ if e.startswith("KUBECONFIG="))


def _as(kubeconfig: str) -> Any:
    from kubernetes import config

    return config.new_client_from_config(config_file=kubeconfig)


def test_every_controller_acts_as_its_charts_service_account_and_rbac_decides(
    project: Project,
) -> None:
    """No process of the runtime holds the cluster's admin credentials: each one's kubeconfig
    (the file the running process was given) authenticates, as the API server itself reports
    (SelfSubjectReview), as the ServiceAccount its workload's pod template names; the charts'
    RBAC decides what it may do: an action the chart does not grant is refused."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    status = json.loads(project.runtime.status.read_text())["processes"]
    admin = (project.runtime_dir / "kubeconfig").resolve()
    seen = {}
    for name, process in status.items():
        if name not in IDENTITIES:
            assert process["identity"] is None, name  # redis, the git server, the proxy
            continue
        assert process["state"] == "running", (name, process)
        used = Path(_process_kubeconfig(process["pid"])).resolve()
        assert used != admin, name
        assert "client-key" not in used.read_text(), name
        seen[name] = identity(_as(str(used)))
        assert process["identity"] == seen[name]
    assert seen == {n: f"system:serviceaccount:{who}" for n, who in IDENTITIES.items()}

    # What the charts do not grant is refused: Argo CD's server may not make itself an admin
    # of the cluster, the Rollouts dashboard may not read Argo CD's Secrets.
    server = _as(_process_kubeconfig(status["server"]["pid"]))
    binding = {
        "metadata": {"name": "e2e-escalation"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "argocd-server", "namespace": "argocd"}],
    }  # fmt: skip
    with pytest.raises(ApiException) as refused:
        client.RbacAuthorizationV1Api(server).create_cluster_role_binding(
            client.V1ClusterRoleBinding.model_validate(binding)
        )
    assert refused.value.status == 403
    assert "system:serviceaccount:argocd:argocd-server" in str(refused.value.body)
    dashboard = _as(_process_kubeconfig(status["rollouts-dashboard"]["pid"]))
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(dashboard).list_namespaced_secret("argocd")
    assert refused.value.status == 403


def test_a_controller_runs_only_as_the_kubelet_would_run_its_pod(project: Project) -> None:
    """The supervisor follows the kubelet on the real API server: a pod template that needs a
    Secret key that is not there (not optional) keeps the process from starting, with the
    reason in the runtime's status, `platformctl status` and the process's log; once the key
    exists it runs; scaled to 0 it stops; back to 1 it runs again."""
    from kubernetes import client

    apps = client.AppsV1Api(project.api())
    name, process = "argocd-notifications-controller", "notifications-controller"
    status_file = project.runtime.status

    def state() -> str:
        return str(json.loads(status_file.read_text())["processes"][process]["state"])

    needs = {"name": "E2E_TOKEN", "valueFrom": {"secretKeyRef": {"name": "e2e-extra", "key": "t"}}}
    deployment = apps.read_namespaced_deployment(name, "argocd")
    assert deployment.spec is not None and deployment.spec.template.spec is not None
    has_env = bool(deployment.spec.template.spec.containers[0].env)
    meta = deployment.spec.template.metadata
    has_annotations = bool(meta and meta.annotations)
    patch = [
        {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": needs}
        if has_env
        else {"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [needs]},
        {
            "op": "add",
            "path": "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt",
            "value": "e2e-missing-key",
        }
        if has_annotations
        else {
            "op": "add",
            "path": "/spec/template/metadata/annotations",
            "value": {"kubectl.kubernetes.io/restartedAt": "e2e-missing-key"},
        },
    ]
    apps.patch_namespaced_deployment(name, "argocd", patch)  # a JSON patch (a list)
    wait_for("the process refused a start", lambda: state().startswith("cannot start"), timeout=60)
    assert "env E2E_TOKEN: Secret argocd/e2e-extra has no key 't' (not optional)" in state()
    shown = project.platformctl("status", "--stack", project.stack, check=False).stdout
    assert f"Process:     {process}: cannot start: env E2E_TOKEN" in shown
    log = project.runtime.log(process).read_text()
    assert "has no key 't' (not optional)" in log

    core(project).create_namespaced_secret(
        "argocd", {"metadata": {"name": "e2e-extra"}, "stringData": {"t": "x"}}
    )
    wait_for("the process running with its key", lambda: state() == "running", timeout=60)

    apps.patch_namespaced_deployment_scale(name, "argocd", {"spec": {"replicas": 0}})
    wait_for("the process stopped at 0 replicas", lambda: state() == "scaled-to-zero", timeout=60)
    apps.patch_namespaced_deployment_scale(name, "argocd", {"spec": {"replicas": 1}})
    wait_for("the process running again", lambda: state() == "running", timeout=60)


def test_destroy_stops_every_controller(project: Project) -> None:
    project.pulumi("destroy", "--yes", "--skip-preview")
    assert project.cluster_name not in project.clusters()
    assert not project.runtime.plan.exists()
