"""The supervisor's reads of the cluster: one LIST per workload kind and namespace each tick,
plain JSON, against an HTTP API server on loopback that records what it is asked.

(The supervisor against the real kube-apiserver is the e2e tier's: break-glass restarts,
scale to zero.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import constants
from infra.runtime.plan import Process, RuntimePlan, Workload
from infra.runtime.supervisor import Supervisor, workload_state


def _deployment(name: str, replicas: int = 1, restarted: str | None = None) -> dict[str, Any]:
    annotations = {constants.ANNOTATION_RESTARTED_AT: restarted} if restarted else {}
    return {
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"metadata": {"annotations": annotations}}},
    }


class _Api(ThreadingHTTPServer):
    objects: dict[str, Any]
    asked: list[str]
    issued: int


class _Handler(BaseHTTPRequestHandler):
    server: _Api

    def do_GET(self) -> None:
        self.server.asked.append(self.path)
        found = self.server.objects.get(self.path)
        body = json.dumps(found if found is not None else {"kind": "Status", "code": 404})
        self.send_response(200 if found is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self) -> None:
        """The TokenRequest API: a token per request for a ServiceAccount that exists."""
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length))
        self.server.asked.append(f"POST {self.path}")
        account = self.path.removesuffix("/token")
        found = account in self.server.objects
        self.server.issued += 1
        body = json.dumps(
            {**request, "status": {"token": f"token-{self.server.issued}"}}
            if found
            else {"kind": "Status", "code": 404}
        )
        self.send_response(201 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[_Api]:
    server = _Api(("127.0.0.1", 0), _Handler)
    server.objects, server.asked, server.issued = {}, [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _supervisor(api: _Api, tmp_path: Path, workloads: list[Workload]) -> Supervisor:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {"server": f"http://127.0.0.1:{api.server_address[1]}"},
                    }
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    processes = [Process(w.name, ["true"], {}, w) for w in workloads]
    plan = RuntimePlan(str(tmp_path), str(kubeconfig), "argocd", processes, ("argocd", "r", "k"))
    return Supervisor(plan)


DEPLOYMENTS = "/apis/apps/v1/namespaces/argocd/deployments"
STATEFULSETS = "/apis/apps/v1/namespaces/argocd/statefulsets"


def test_one_list_per_kind_and_namespace_gives_every_workload_its_state(
    api: _Api, tmp_path: Path
) -> None:
    server = Workload("Deployment", "argocd", "argocd-server")
    repo = Workload("Deployment", "argocd", "argocd-repo-server")
    later = Workload("Deployment", "argocd", "argocd-dex-server")
    controller = Workload("StatefulSet", "argocd", "argocd-application-controller")
    elsewhere = Workload("Deployment", "rollouts", "argo-rollouts")
    api.objects[DEPLOYMENTS] = {
        "items": [
            _deployment("argocd-server", restarted="t1"),
            _deployment("argocd-repo-server", 0),
        ]
    }
    api.objects[STATEFULSETS] = {"items": [_deployment("argocd-application-controller")]}
    supervisor = _supervisor(api, tmp_path, [server, repo, later, controller, elsewhere])

    states = supervisor.workload_states()

    assert states == {
        server: (None, "t1"),
        repo: ("scaled-to-zero", None),
        later: ("no workload", None),  # not created (yet), deleted or disabled: no pod runs
        controller: (None, None),
        elsewhere: ("no workload", None),  # its namespace is not there (404)
    }
    assert sorted(api.asked) == sorted(
        [DEPLOYMENTS, STATEFULSETS, "/apis/apps/v1/namespaces/rollouts/deployments"]
    )


def test_an_unreachable_api_leaves_the_processes_as_they_are(tmp_path: Path, api: _Api) -> None:
    supervisor = _supervisor(api, tmp_path, [Workload("Deployment", "argocd", "argocd-server")])
    api.shutdown()
    api.server_close()
    assert supervisor.workload_states() == {}


def test_read_returns_the_object_as_json_and_none_when_absent(api: _Api, tmp_path: Path) -> None:
    api.objects["/api/v1/namespaces/argocd/secrets/argocd-redis"] = {"data": {"auth": "cGFzcw=="}}
    supervisor = _supervisor(api, tmp_path, [])
    assert supervisor._read("Secret", "argocd", "argocd-redis") == {"data": {"auth": "cGFzcw=="}}
    assert supervisor._read("ConfigMap", "argocd", "missing") is None


def test_workload_state_of_a_template_without_annotations() -> None:
    assert workload_state({"spec": {"template": {}}}) == (True, None)
    assert workload_state({"spec": {"replicas": 0, "template": {"metadata": {}}}}) == (False, None)


def test_a_process_runs_only_while_its_workload_exists_and_its_env_resolves(
    api: _Api, tmp_path: Path
) -> None:
    """The kubelet's rules, tick by tick: no workload, no process; a missing env key that is
    not optional keeps it from starting, with the reason in its state and its log; once the
    key exists it starts."""
    supervisor = _supervisor(api, tmp_path, [Workload("Deployment", "argocd", "argocd-server")])
    supervisor.logs.mkdir(parents=True)
    (child,) = supervisor.children
    child.process = Process(child.process.name, ["sleep", "60"], {}, child.process.workload)
    try:
        supervisor.tick()
        assert (child.state, child.popen) == ("no workload", None)

        server = _deployment("argocd-server")
        server["spec"]["template"]["spec"] = {
            "containers": [
                {
                    "name": "server",
                    "env": [
                        {
                            "name": "TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}},
                        }
                    ],
                }
            ]
        }
        api.objects[DEPLOYMENTS] = {"items": [server]}
        api.objects[f"{DEPLOYMENTS}/argocd-server"] = server
        supervisor.tick()
        assert child.popen is None
        assert child.state.startswith("cannot start: env TOKEN: Secret argocd/creds has no key")
        log = (supervisor.logs / "argocd-server.log").read_text()
        assert "has no key 'token' (not optional)" in log

        api.objects["/api/v1/namespaces/argocd/secrets/creds"] = {"data": {"token": "dA=="}}
        child.next_start = 0.0
        supervisor.tick()
        assert child.state == "running" and child.popen is not None

        del api.objects[DEPLOYMENTS]  # the workload is gone (its namespace too: 404)
        supervisor.tick()
        assert (child.state, child.popen) == ("no workload", None)
    finally:
        supervisor.stop(child, "stopped")


def test_a_process_gets_its_pod_templates_service_account_token_never_the_admin_kubeconfig(
    api: _Api, tmp_path: Path
) -> None:
    """As the kubelet mounts a pod's token: the ServiceAccount its template names must exist;
    the process's kubeconfig holds that account's token (by file) and nothing of the cluster's
    admin credentials; past 80% of its life the token is replaced in place."""
    supervisor = _supervisor(api, tmp_path, [Workload("Deployment", "argocd", "argocd-server")])
    supervisor.logs.mkdir(parents=True)
    (child,) = supervisor.children
    own = tmp_path / "identities" / "argocd-server.kubeconfig"
    child.process = Process(
        child.process.name, ["sleep", "60"], {}, child.process.workload, kubeconfig=str(own)
    )
    server = _deployment("argocd-server")
    server["spec"]["template"]["spec"] = {
        "serviceAccountName": "argocd-server",
        "containers": [{"name": "server"}],
    }
    api.objects[DEPLOYMENTS] = {"items": [server]}
    api.objects[f"{DEPLOYMENTS}/argocd-server"] = server
    account = "/api/v1/namespaces/argocd/serviceaccounts/argocd-server"
    try:
        supervisor.tick()
        assert child.popen is None
        assert child.state == "cannot start: ServiceAccount argocd/argocd-server does not exist"

        api.objects[account] = {"metadata": {"name": "argocd-server"}}
        child.next_start = 0.0
        supervisor.tick()
        assert child.state == "running"
        assert f"POST {account}/token" in api.asked
        kubeconfig = json.dumps(yaml.safe_load(own.read_text()))
        token = tmp_path / "identities" / "argocd-server.token"
        assert token.read_text() == "token-2"
        assert str(token) in kubeconfig and '"t"' not in kubeconfig  # not the admin's token
        assert child.identity is not None
        assert child.identity.username == "system:serviceaccount:argocd:argocd-server"
        supervisor.write_status()
        status = json.loads((tmp_path / "status.json").read_text())
        assert status["processes"]["argocd-server"]["identity"] == child.identity.username

        pid = child.popen.pid if child.popen else None
        child.token_issued -= 0.8 * child.token_seconds  # its life 80% gone
        supervisor.tick()
        assert token.read_text() == "token-3"
        assert child.popen is not None and child.popen.pid == pid  # no restart needed
    finally:
        supervisor.stop(child, "stopped")
