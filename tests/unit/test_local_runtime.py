"""The local runtime's pure parts: settings it needs, its process plan, env resolution."""

from __future__ import annotations

import base64
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from infra.errors import PlatformError, ValidationError
from infra.runtime.plan import BINARIES, PORTS, RuntimePlan, RuntimeSettings, runtime_plan
from infra.runtime.supervisor import MissingEnv, resolve_env
from infra.settings import StackSettings, load_stack_file, parse_settings
from infra.specs import chart_values
from tests.support import REPO
from tests.unit.factories import MINIMAL_STACK, certificate, ec_pem, minimal_settings

GIT = MINIMAL_STACK["git"]


def parse(cluster: dict[str, object], git: dict[str, object], **more: object) -> StackSettings:
    return minimal_settings("dev", root=REPO, cluster=cluster, git=git, **more)


def test_the_local_stack_mirrors_the_checkout_into_its_runtime_folder() -> None:
    settings = load_stack_file(REPO, "local")
    assert settings.environment == "dev" and settings.branch == "dev"
    assert settings.local_controllers
    assert settings.mirror_path == REPO / ".gitops-local" / "gitops-local" / "repo.git"
    # Served over HTTP by the runtime's git server: what Argo CD's webhook handler can match.
    assert settings.repo_url == "http://127.0.0.1:18418/repo.git"
    # Polling is the fallback everywhere: the mirror calls the webhook after each push.
    for stack in ("local", "dev", "prod"):
        values = chart_values(load_stack_file(REPO, stack))
        assert values["configs"]["cm"]["timeout.reconciliation"] == "180s"


@pytest.mark.parametrize(
    ("cluster", "git", "message"),
    [
        (
            {"provider": "kwok"},
            {"mirror": True, "repoURL": "https://example.com/r.git"},
            "gitops-platform:git.repoURL: must be unset with `mirror: true`",
        ),
        ({"provider": "kind"}, {"mirror": True}, "gitops-platform:git.mirror: needs a kwok"),
        (
            {"provider": "kwok", "controllers": "none"},
            {"mirror": True},
            "gitops-platform:git.mirror: needs a kwok",
        ),
        (
            {"provider": "kind"},
            {"repoURL": "file:///srv/repo.git"},
            "gitops-platform:git.repoURL: a file:// URL needs a kwok",
        ),
        (
            {"provider": "kind"},
            {"repoURL": "http://127.0.0.1:8418/repo.git"},
            "gitops-platform:git.repoURL: a plain http://127.0.0.1 URL needs a kwok",
        ),
        (
            {"provider": "kwok"},
            {"repoURL": "http://git.example.com/repo.git"},
            "gitops-platform:git.repoURL: must be an https://, ssh:// or git@host: URL",
        ),
        (
            {"provider": "kwok"},
            {"mirror": True, "mirrorPort": 80},
            "gitops-platform:git.mirrorPort: Input should be greater than or equal to 1024",
        ),
        ({"provider": "kwok"}, {}, "gitops-platform:git.repoURL: required key is missing"),
        ({"provider": "kwok", "controllers": "all"}, GIT, "gitops-platform:cluster.controllers"),
    ],
)
def test_where_the_repository_lives_must_fit_where_argocd_runs(
    cluster: dict[str, object], git: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse(cluster, git)
    assert f"Pulumi.dev.yaml: {message}" in str(info.value)


@pytest.mark.parametrize(
    "url", ["file:///srv/repo.git", "http://127.0.0.1:8418/repo.git", "http://localhost/r.git"]
)
def test_a_repository_on_this_machine_is_fine_for_local_controllers(url: str) -> None:
    settings = parse({"provider": "kwok"}, {"repoURL": url})
    assert settings.repo_url == url


def test_the_mirror_is_served_on_its_port() -> None:
    settings = parse({"provider": "kwok"}, {"mirror": True, "mirrorPort": 20001})
    assert settings.repo_url == "http://127.0.0.1:20001/repo.git"


def plan(rollouts: str | None = "argo-rollouts", sealed: str | None = "kube-system") -> RuntimePlan:
    binaries = {
        b: f"/opt/bin/{b}"
        for b in (
            "argocd",
            "redis-server",
            "helm",
            "kustomize",
            "git",
            "rollouts-controller",
            "kubectl-argo-rollouts",
            "sealed-secrets-controller",
            "python",
        )
    }
    ports = {name: 20000 + i for i, name in enumerate(PORTS)}
    args = ("--update-status", "--key-prefix", "sealed-secrets-key") if sealed else ()
    return runtime_plan(
        RuntimeSettings("/rt/c1", "argocd", rollouts, sealed, args), binaries, ports
    )


def test_every_listener_binds_the_loopback_on_its_own_port() -> None:
    p = plan()
    names = [x.name for x in p.processes]
    assert names == [
        "redis",
        "repo-server",
        "application-controller",
        "applicationset-controller",
        "server",
        "notifications-controller",
        "rollouts-controller",
        "rollouts-dashboard",
        "service-proxy",
        "sealed-secrets-controller",
    ]
    for process in p.processes:
        argv = process.argv
        for i, arg in enumerate(argv):
            if arg in ("--address", "--metrics-address"):
                assert argv[i + 1] == "127.0.0.1", (process.name, arg)
            if arg.endswith("-addr"):
                assert argv[i + 1].startswith("127.0.0.1:"), (process.name, arg)
        for key, value in process.env.items():
            if key.endswith("LISTEN_ADDRESS"):
                assert value == "127.0.0.1", (process.name, key)
    assert len(set(p.ports.values())) == len(PORTS)
    server = next(x for x in p.processes if x.name == "server")
    assert "--insecure" in server.argv and "--disable-auth" not in " ".join(server.argv)
    assert server.env["ARGOCD_BINARY_NAME"] == "argocd-server"
    assert server.env["KUBECONFIG"] == "/rt/c1/identities/server.kubeconfig"
    assert server.env["ARGOCD_FAKE_IN_CLUSTER"] == "true"
    # The HA chart enables leader election for its two replicas; one local process cannot.
    appset = next(x for x in p.processes if x.name == "applicationset-controller")
    assert appset.env["ARGOCD_APPLICATIONSET_CONTROLLER_ENABLE_LEADER_ELECTION"] == "false"


def test_each_process_follows_the_workload_it_stands_for() -> None:
    p = plan()
    followed = {x.name: x.workload for x in p.processes}
    assert followed["redis"] is None
    assert followed["server"] is not None and followed["server"].name == "argocd-server"
    controller = followed["application-controller"]
    assert controller is not None and controller.kind == "StatefulSet"
    rollouts = followed["rollouts-controller"]
    assert rollouts is not None and (rollouts.namespace, rollouts.name) == (
        "argo-rollouts",
        "argo-rollouts",
    )
    assert "rollouts-controller" not in [x.name for x in plan(None).processes]
    sealed = followed["sealed-secrets-controller"]
    assert sealed is not None and (sealed.namespace, sealed.name) == (
        "kube-system",
        "sealed-secrets-controller",
    )
    assert "sealed-secrets-controller" not in [x.name for x in plan(sealed=None).processes]
    assert p.to_json() == type(p).from_json(p.to_json()).to_json()


def test_no_process_is_given_the_clusters_kubeconfig() -> None:
    """Each process that talks to the API server has a kubeconfig of its own (its
    ServiceAccount's token, written by the supervisor); the cluster's admin kubeconfig is the
    supervisor's alone. Those that never call the API server get none."""
    p = plan()
    for process in p.processes:
        named = [process.env.get("KUBECONFIG")]
        named += [a for i, a in enumerate(process.argv) if process.argv[i - 1] == "--kubeconfig"]
        assert p.kubeconfig not in named, process.name
        if process.kubeconfig is None:
            assert named == [None], process.name
            continue
        assert process.kubeconfig == f"/rt/c1/identities/{process.name}.kubeconfig"
        assert set(named) - {None} == {process.kubeconfig}, process.name
        # Whose token: the pod template's ServiceAccount, so it follows a workload.
        assert process.workload is not None or process.service_account, process.name
    without = {x.name for x in p.processes if x.kubeconfig is None}
    assert without == {"redis", "service-proxy"}
    dashboard = next(x for x in p.processes if x.name == "rollouts-dashboard").workload
    assert dashboard is not None and dashboard.name == "argo-rollouts-dashboard"


def test_container_env_is_resolved_as_the_kubelet_does() -> None:
    container = {
        "env": [
            {"name": "PLAIN", "value": "x"},
            {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
            {
                "name": "OPTIONAL",
                "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nope", "optional": True}},
            },
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "argocd-redis", "key": "auth"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {
                "name": "GONE",
                "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k", "optional": True}},
            },
        ]
    }
    config_maps = {"cm": {"k": "v"}}
    secrets = {"argocd-redis": {"auth": base64.b64encode(b"s3cret").decode()}}
    env = resolve_env(container, "argocd", config_maps.get, secrets.get)
    assert env == {"PLAIN": "x", "FROM_CM": "v", "PW": "s3cret", "NS": "argocd"}


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        (
            {"configMapKeyRef": {"name": "cm", "key": "nope"}},
            "ConfigMap argocd/cm has no key 'nope'",
        ),
        ({"configMapKeyRef": {"name": "absent", "key": "k"}}, "ConfigMap argocd/absent has no key"),
        ({"secretKeyRef": {"name": "argocd-redis", "key": "x"}}, "Secret argocd/argocd-redis"),
        (
            {"secretKeyRef": {"name": "absent", "key": "k", "optional": False}},
            "Secret argocd/absent",
        ),
    ],
)
def test_a_missing_key_that_is_not_optional_keeps_the_container_from_starting(
    ref: dict[str, Any], words: str
) -> None:
    container = {"env": [{"name": "NEEDED", "valueFrom": ref}]}
    config_maps = {"cm": {"k": "v"}}
    secrets = {"argocd-redis": {"auth": base64.b64encode(b"s3cret").decode()}}
    with pytest.raises(MissingEnv, match=f"env NEEDED: {re.escape(words)}"):
        resolve_env(container, "argocd", config_maps.get, secrets.get)


def test_local_dir_is_under_the_project_root(tmp_path: Path) -> None:
    settings = parse_settings(
        "try", {"environment": "dev", "cluster": {"provider": "kwok", "name": "c9"}, "git": GIT},
        "Pulumi.try.yaml", tmp_path,
    )  # fmt: skip
    assert settings.local_dir == tmp_path.resolve() / ".gitops-local" / "c9"


def test_status_waits_for_every_app_but_not_for_one_that_keeps_failing() -> None:
    from infra.runtime.status import AppStatus, wait_settled

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ok = AppStatus("a", "Synced", "Healthy", "abc")
    pending = AppStatus("b", "OutOfSync", "Missing", "")
    failing = AppStatus("c", "Unknown", "Healthy", "", error="ComparisonError: no repo")
    rounds = iter([[pending], [pending], [ok]])
    assert wait_settled(
        lambda: next(rounds), 600, expected=1, sleep=sleep, clock=lambda: now[0]
    ) == [ok]
    # Fewer Applications than the catalog expects: keep waiting until the timeout.
    now[0] = 0.0
    assert wait_settled(lambda: [ok], 30, expected=2, sleep=sleep, clock=lambda: now[0]) == [ok]
    assert now[0] >= 30
    # An app that reports an error for 30 s stops the wait early, well before the timeout.
    now[0] = 0.0
    out = wait_settled(lambda: [ok, failing], 600, expected=2, sleep=sleep, clock=lambda: now[0])
    assert out == [ok, failing] and 30 <= now[0] < 60


def test_status_fails_on_a_missing_or_unsettled_app_and_lists_idle_processes() -> None:
    from infra.runtime.status import AppStatus, RuntimeInfo, not_running, require_settled

    ok = AppStatus("a", "Synced", "Healthy", "abc")
    pending = AppStatus("b", "OutOfSync", "Missing", "")
    require_settled([ok], expected=1)
    with pytest.raises(PlatformError, match=r"^1 Applications, the catalog expects 2$"):
        require_settled([ok], expected=2)
    with pytest.raises(PlatformError, match=r"^not Synced and Healthy: b$"):
        require_settled([ok, pending], expected=2)
    info = RuntimeInfo(
        server="127.0.0.1:1",
        kubeconfig="kubeconfig",
        namespace="argocd",
        logs="logs",
        processes={"x": {"state": "running"}, "y": {"state": "scaled to 0"}, "z": None},
    )
    assert not_running(info) == ["y: scaled to 0"]


def test_the_sealed_secrets_controller_runs_with_the_charts_flags_on_loopback() -> None:
    settings = load_stack_file(REPO, "dev")
    runtime = RuntimeSettings.of(settings)
    assert runtime.sealed_secrets_namespace == settings.sealedSecrets.namespace
    assert runtime.sealed_secrets_args == ("--update-status", "--key-prefix", "sealed-secrets-key")
    assert "sealed-secrets-controller" in runtime.binaries
    process = next(x for x in plan().processes if x.name == "sealed-secrets-controller")
    argv = process.argv
    assert argv[argv.index("--listen-addr") + 1].startswith("127.0.0.1:")
    assert argv[argv.index("--listen-metrics-addr") + 1].startswith("127.0.0.1:")
    # Outside a cluster the (patched) controller reads $KUBECONFIG (its own identity's); its keys
    # go to its namespace.
    assert process.env["KUBECONFIG"] == process.kubeconfig
    assert process.env["POD_NAMESPACE"] == "kube-system"


def test_the_web_uis_are_served_on_loopback_from_the_binaries() -> None:
    p = plan()
    server = next(x for x in p.processes if x.name == "server")
    # The UI is embedded; the extra-assets folder is the runtime's, never the host's /shared/app.
    assert server.argv[server.argv.index("--staticassets") + 1] == "/rt/c1/data/static"
    dashboard = next(x for x in p.processes if x.name == "rollouts-dashboard")
    assert dashboard.argv[:2] == ["/opt/bin/kubectl-argo-rollouts", "dashboard"]
    assert dashboard.argv[dashboard.argv.index("--port") + 1] == str(p.ports["rollouts-dashboard"])
    assert dashboard.env["ARGO_ROLLOUTS_LISTEN_ADDRESS"] == "127.0.0.1"
    assert dashboard.ready_port == p.ports["rollouts-dashboard"]
    assert "rollouts-dashboard" not in [x.name for x in plan(None).processes]
    assert "kubectl-argo-rollouts" in RuntimeSettings("/rt", "argocd", "argo-rollouts").binaries
    assert "kubectl-argo-rollouts" not in RuntimeSettings("/rt", "argocd", None).binaries


def test_the_rollouts_controller_reaches_services_through_the_service_proxy() -> None:
    p = plan()
    rollouts = next(x for x in p.processes if x.name == "rollouts-controller")
    assert rollouts.env["HTTP_PROXY"] == f"http://127.0.0.1:{p.ports['service-proxy']}"
    proxy = next(x for x in p.processes if x.name == "service-proxy")
    assert proxy.argv[1:3] == ["-m", "infra.runtime.service_proxy"]
    assert proxy.ready_port == p.ports["service-proxy"]
    assert "service-proxy" not in [x.name for x in plan(None).processes]


def test_kyverno_runs_on_loopback_with_webhooks_by_url_only_when_admission_is_on() -> None:
    binaries = {b: f"/opt/bin/{b}" for b in (*BINARIES, "kyverno", "python")}
    ports = {name: 20000 + i for i, name in enumerate(PORTS)}
    runtime = RuntimeSettings(
        "/rt/c1",
        "argocd",
        None,
        admission_namespace="policy",
        admission_insecure_registry=True,
    )
    assert "kyverno" in runtime.binaries
    p = runtime_plan(runtime, binaries, ports)
    kyverno = next(x for x in p.processes if x.name == "kyverno")
    port = ports["kyverno-webhook"]
    assert kyverno.ready_port == port and kyverno.workload is None
    assert kyverno.ready_path == "/health/readiness"
    argv = kyverno.argv
    assert argv[0] == "/opt/bin/kyverno"
    # Webhooks registered as https://127.0.0.1:<port>/..., served on loopback only.
    assert f"--serverIP=127.0.0.1:{port}" in argv
    assert "--webhookServerHost=127.0.0.1" in argv and f"--webhookServerPort={port}" in argv
    assert "--caSecretName=kyverno-svc.policy.svc.kyverno-tls-ca" in argv
    assert "--disableMetrics" in argv and "--controllerRuntimeMetricsAddress=0" in argv
    assert "--allowInsecureRegistry" in argv
    assert kyverno.env["KYVERNO_NAMESPACE"] == "policy"
    assert kyverno.env["INIT_CONFIG"] == "kyverno"
    assert kyverno.env["TUF_ROOT"].startswith("/rt/c1/data/")
    # No workload here (no chart on kwok): the chart's ServiceAccount, by name.
    assert kyverno.service_account == "policy/kyverno-admission-controller"
    assert kyverno.env["KYVERNO_SERVICEACCOUNT_NAME"] == "kyverno-admission-controller"
    assert argv[argv.index("--kubeconfig") + 1] == "/rt/c1/identities/kyverno.kubeconfig"
    remote = RuntimeSettings("/rt/c1", "argocd", None, admission_namespace="policy")
    remote_kyverno = next(
        x for x in runtime_plan(remote, binaries, ports).processes if x.name == "kyverno"
    )
    assert "--allowInsecureRegistry" not in remote_kyverno.argv
    names = [
        x.name
        for x in runtime_plan(RuntimeSettings("/rt/c1", "argocd", None), binaries, ports).processes
    ]
    assert "kyverno" not in names


def test_runtime_settings_of_a_stack_with_admission() -> None:
    def of(registries: list[str]) -> RuntimeSettings:
        admission = {
            "enabled": True,
            "namespace": "policy",
            "trustedRegistries": registries,
            "signer": {"publicKey": ec_pem()},
        }
        return RuntimeSettings.of(
            parse({"provider": "kwok"}, {"mirror": True}, admission=admission)
        )

    assert of(["127.0.0.1:5000/x"]).admission_namespace == "policy"
    assert of(["127.0.0.1:5000/x"]).admission_insecure_registry is True
    assert of(["ghcr.io/x"]).admission_insecure_registry is False
    assert RuntimeSettings.of(load_stack_file(REPO, "dev")).admission_namespace is None


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cert_file, key_file = tmp / "tls.crt", tmp / "tls.key"
    cert_file.write_bytes(certificate(key, common_name="127.0.0.1", days=1))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_readiness_over_tls_is_the_answer_not_the_open_port(tmp_path: Path) -> None:
    """Kyverno accepts connections before it serves its certificate and registers its
    webhooks: ready only when its readiness path answers 200 over TLS."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from infra.runtime.plan import Process
    from infra.runtime.readiness import ready

    state = {"code": 503}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state["code"] if self.path == "/health/readiness" else 404)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        process = Process("kyverno", [], {}, None, ready_port=port, ready_path="/health/readiness")
        assert not ready(process)  # listening, answering 503
        state["code"] = 200
        assert ready(process)
        # Without a path, an open port is enough; a closed one never is.
        assert ready(Process("redis", [], {}, None, ready_port=port))
    finally:
        server.shutdown()
        server.server_close()
    assert not ready(process)


def test_the_mirror_is_served_by_a_git_server_on_its_fixed_port() -> None:
    settings = load_stack_file(REPO, "local")
    runtime = RuntimeSettings.of(settings)
    assert runtime.mirror_port == 18418
    binaries = {b: f"/opt/bin/{b}" for b in (*runtime.binaries, "python")}
    ports = {name: 20000 + i for i, name in enumerate(PORTS)}
    p = runtime_plan(runtime, binaries, ports)
    server = next(x for x in p.processes if x.name == "git-server")
    assert server.argv == [
        "/opt/bin/python", "-m", "infra.runtime.git_http",
        "--root", str(settings.local_dir), "--port", "18418",
    ]  # fmt: skip
    assert server.ready_port == 18418 and server.workload is None
    # The mirror folder it serves is the one `up` fills, at the path of the stack's repoURL.
    assert settings.mirror_path.parent == settings.local_dir
    assert settings.repo_url.endswith(f":18418/{settings.mirror_path.name}")
    # Without the mirror there is no git server.
    dev_like = RuntimeSettings.of(parse({"provider": "kwok"}, {"repoURL": "file:///r.git"}))
    assert dev_like.mirror_port is None
    plain = runtime_plan(dev_like, binaries, ports)
    assert "git-server" not in [x.name for x in plain.processes]


def test_the_chosen_ports_never_take_the_mirror_port() -> None:
    from infra.runtime.launch import choose_ports

    mirror = choose_ports(None)["server"]  # a port the free-port search just returned
    # The previous run's server port is the mirror port now: it is not kept.
    again = choose_ports({"server": mirror}, reserved=(mirror,))
    assert mirror not in again.values()
    assert len(set(again.values())) == len(again)


def test_a_taken_mirror_port_is_one_line_naming_the_setting() -> None:
    import socket

    from infra.runtime.launch import RuntimeStartError, require_free

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(RuntimeStartError) as info:
            require_free(port, "gitops-platform:git.mirrorPort")
    message = str(info.value)
    assert f"127.0.0.1:{port} is taken" in message and "git.mirrorPort" in message
    assert "\n" not in message
    require_free(port, "gitops-platform:git.mirrorPort")  # free again: no error


@pytest.mark.parametrize("stack", ["local", "local-fleet"])
def test_runtime_settings_come_back_from_the_engine_as_they_went_in(stack: str) -> None:
    import json

    sent = RuntimeSettings.of(load_stack_file(REPO, stack))
    # What the engine hands a dynamic provider: JSON numbers as floats, tuples as lists, and
    # no key of a None value (local-fleet runs no Rollouts: its namespace is None).
    received = json.loads(json.dumps(asdict(sent)), parse_int=float)
    received = {key: value for key, value in received.items() if value is not None}
    assert isinstance(received["mirror_port"], float)
    back = RuntimeSettings.from_inputs(received)
    assert back == sent
    assert isinstance(back.mirror_port, int)


def test_the_mirror_follows_the_checkouts_committed_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.runtime.mirror import fill_mirror, head_commit, mirror_head
    from tests.unit.gitrepo import git, isolate_git

    isolate_git(monkeypatch, tmp_path)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    assert head_commit(checkout) is None  # not a checkout yet
    git(checkout, "init", "--quiet")
    assert head_commit(checkout) is None  # no commit yet
    git(checkout, "commit", "--quiet", "--allow-empty", "-m", "one")
    first = head_commit(checkout)
    assert first is not None and first == git(checkout, "rev-parse", "HEAD").strip()

    mirror = tmp_path / "local" / "repo.git"
    assert mirror_head(mirror, "main") is None  # not there: filled on the next `up`
    fill_mirror(mirror, "main", first, checkout)
    assert mirror_head(mirror, "main") == first
    assert (mirror / "hooks" / "post-receive").is_file()

    # A commit that is not a descendant (amended): the mirror follows it all the same.
    git(checkout, "commit", "--quiet", "--amend", "--allow-empty", "-m", "one, again")
    second = head_commit(checkout)
    assert second is not None and second != first
    fill_mirror(mirror, "main", second, checkout)
    assert mirror_head(mirror, "main") == second
    assert mirror_head(mirror, "other") is None
