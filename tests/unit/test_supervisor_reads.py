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

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[_Api]:
    server = _Api(("127.0.0.1", 0), _Handler)
    server.objects, server.asked = {}, []
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
