"""The local runtime's supervisor: runs a :class:`~infra.runtime.plan.RuntimePlan`.

``python -m infra.runtime.supervisor <plan.json>`` runs detached (its own session), started by
the Pulumi resource. It

- starts redis (password from the ``argocd-redis`` Secret) and every Argo CD process, each
  with its workload's container environment resolved from the cluster and the plan's local
  settings on top, output appended to ``<dir>/logs/<name>.log``;
- restarts a process that exits (backoff 1 s doubling to 30 s);
- follows each process's workload as the kubelet follows its pods: a process runs only while
  its workload exists with replicas > 0 (absent or scaled to 0 stops it), a changed
  ``kubectl.kubernetes.io/restartedAt`` (``kubectl rollout restart``) restarts it, and a
  missing ConfigMap or Secret key its container's env needs (not ``optional``) keeps it from
  starting (the kubelet's ``CreateContainerConfigError``), with the reason in its state and
  its log;
- gives each process that talks to the API server its ServiceAccount's identity, never the
  cluster's admin credentials: a token from the TokenRequest API for the ServiceAccount its
  workload's pod template names, in a kubeconfig of its own, refreshed at 80% of its life
  (:mod:`infra.runtime.identity`); the API server's RBAC decides what it may do;
- writes ``<dir>/status.json`` (pid, state, restarts and identity of each process) every few
  seconds;
- on SIGTERM or SIGINT stops every process (SIGTERM, then SIGKILL after 10 s) and exits.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra import atomic, constants
from infra.errors import PlatformError
from infra.kube import api_client, get_json, post_json
from infra.runtime import identity
from infra.runtime.folder import RuntimeFolder
from infra.runtime.identity import Identity
from infra.runtime.plan import Process, RuntimePlan, Workload

__all__ = [
    "IDLE_STATES",
    "MissingEnv",
    "NoIdentity",
    "main",
    "resolve_env",
    "stop_supervisor",
    "supervisor_alive",
    "workload_state",
]

MODULE = "infra.runtime.supervisor"
"""How the supervisor is started (``python -m MODULE plan.json``) and recognised."""
RESTARTED_AT = constants.ANNOTATION_RESTARTED_AT
POLL_SECONDS = 2.0
MAX_BACKOFF = 30.0
_COLLECTIONS: Final = {
    "Deployment": "/apis/apps/v1/namespaces/{namespace}/deployments",
    "StatefulSet": "/apis/apps/v1/namespaces/{namespace}/statefulsets",
    "ConfigMap": "/api/v1/namespaces/{namespace}/configmaps",
    "Secret": "/api/v1/namespaces/{namespace}/secrets",
}
"""The API paths of the kinds the supervisor reads."""
NO_WORKLOAD: Final = "no workload"
SCALED_TO_ZERO: Final = "scaled-to-zero"
IDLE_STATES: Final = frozenset({NO_WORKLOAD, SCALED_TO_ZERO})
"""States of a process that is not meant to run now (nothing to wait for)."""


class MissingEnv(PlatformError):
    """A ConfigMap or Secret key a container's env needs is missing (not ``optional``)."""


class NoIdentity(PlatformError):
    """The ServiceAccount a process runs as cannot give a token (it does not exist yet): the
    API server would not admit its pod either."""


def resolve_env(
    container: dict[str, Any], namespace: str, config_maps: Any, secrets: Any
) -> dict[str, str]:
    """A container's ``env`` as the kubelet resolves it: plain values, ConfigMap and Secret
    keys, the pod's namespace. A missing key (or object) marked ``optional`` is left out; one
    that is not raises :class:`MissingEnv`, as the kubelet refuses to start the container.
    ``config_maps`` and ``secrets`` are callables ``(name) -> dict | None`` returning the
    object's data."""
    out: dict[str, str] = {}
    for entry in container.get("env") or []:
        name = entry["name"]
        if "value" in entry:
            out[name] = str(entry["value"] or "")
            continue
        source = entry.get("valueFrom") or {}
        for field, kind, read in (
            ("configMapKeyRef", "ConfigMap", config_maps),
            ("secretKeyRef", "Secret", secrets),
        ):
            if field not in source:
                continue
            ref = source[field]
            data = read(ref["name"]) or {}
            if ref["key"] in data:
                value = data[ref["key"]]
                out[name] = base64.b64decode(value).decode() if kind == "Secret" else value
            elif not ref.get("optional"):
                raise MissingEnv(
                    f"env {name}: {kind} {namespace}/{ref['name']} has no key {ref['key']!r} "
                    "(not optional): the kubelet would not start this container either"
                )
        if "fieldRef" in source and source["fieldRef"].get("fieldPath") == "metadata.namespace":
            out[name] = namespace
    return out


def workload_state(obj: dict[str, Any]) -> tuple[bool, str | None]:
    """(wanted, restartedAt) of a Deployment or StatefulSet: scaled to 0 is not wanted; the
    pod template's ``kubectl.kubernetes.io/restartedAt`` (``kubectl rollout restart``)."""
    replicas = obj["spec"].get("replicas", 1)
    annotations = obj["spec"]["template"].get("metadata", {}).get("annotations") or {}
    return (replicas != 0, annotations.get(RESTARTED_AT))


def _idle(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    wanted, restarted_at = workload_state(obj)
    return (None if wanted else SCALED_TO_ZERO, restarted_at)


@dataclass
class Child:
    process: Process
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    backoff: float = 1.0
    restarted_at: str | None = None
    wanted: bool = True
    state: str = "starting"
    identity: Identity | None = None
    token_issued: float = 0.0
    token_seconds: float = 0.0


class Supervisor:
    def __init__(self, plan: RuntimePlan) -> None:
        self.plan = plan
        self.dir = Path(plan.directory)
        self.folder = RuntimeFolder(self.dir)
        self.logs = self.folder.logs
        self.children = [Child(p) for p in plan.processes]
        self.stopping = False
        self._api: Any = None

    # -- the cluster --------------------------------------------------------------------

    def api(self) -> Any:
        if self._api is None:
            self._api = api_client(Path(self.plan.kubeconfig).read_text())
        return self._api

    def _read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return get_json(self.api(), f"{_COLLECTIONS[kind].format(namespace=namespace)}/{name}")

    def workload_states(self) -> dict[Workload, tuple[str | None, str | None]]:
        """(why it must not run, or ``None``; restartedAt) of every workload that can be read
        now: one LIST per kind and namespace. A workload that does not exist (not created yet,
        deleted, disabled in the chart's values) must not run, as no pod of it would."""
        workloads = [c.process.workload for c in self.children if c.process.workload]
        listed: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, namespace in sorted({(w.kind, w.namespace) for w in workloads}):
            try:
                found = get_json(self.api(), _COLLECTIONS[kind].format(namespace=namespace))
            except Exception:
                continue  # the cluster is unreachable: leave these processes as they are
            items = (found or {}).get("items", [])
            listed[(kind, namespace)] = {item["metadata"]["name"]: item for item in items}
        return {
            w: (NO_WORKLOAD, None) if (obj := by_name.get(w.name)) is None else _idle(obj)
            for w in workloads
            if (by_name := listed.get((w.kind, w.namespace))) is not None
        }

    def workload_pod(self, workload: Workload) -> tuple[dict[str, str], Identity | None]:
        """The environment and the ServiceAccount a pod of ``workload`` would get now."""
        obj = self._read(workload.kind, workload.namespace, workload.name)
        if obj is None:
            return {}, None
        obj.setdefault("metadata", {}).setdefault("namespace", workload.namespace)
        account = identity.service_account_of(obj)
        containers = obj["spec"]["template"]["spec"].get("containers") or []
        if not containers:
            return {}, account

        def data(kind: str) -> Any:
            return lambda name: (self._read(kind, workload.namespace, name) or {}).get("data")

        env = resolve_env(containers[0], workload.namespace, data("ConfigMap"), data("Secret"))
        return env, account

    def issue_token(self, child: Child, account: Identity) -> None:
        """A fresh token of ``account`` in the process's token file (its kubeconfig names the
        file: the process reads the new token without a restart)."""
        kubeconfig = child.process.kubeconfig
        assert kubeconfig is not None
        path = f"/api/v1/namespaces/{account.namespace}/serviceaccounts/{account.name}/token"
        answer = post_json(self.api(), path, identity.token_request())
        if answer is None:
            raise NoIdentity(f"ServiceAccount {account} does not exist")
        self.folder.identities.mkdir(mode=0o700, parents=True, exist_ok=True)
        token_file = self.folder.token(child.process.name)
        # Whole or not at all, never readable by others: client-go reads it at any moment.
        atomic.write_atomically(token_file, answer["status"]["token"].encode(), mode=0o600)
        seconds = float(answer["spec"].get("expirationSeconds") or identity.TOKEN_SECONDS)
        child.identity, child.token_issued, child.token_seconds = account, time.time(), seconds
        own = identity.identity_kubeconfig(
            Path(self.plan.kubeconfig).read_text(), token_file, self.plan.namespace
        )
        atomic.write_atomically(Path(kubeconfig), own.encode(), mode=0o600)

    def refresh_tokens(self) -> None:
        """Replace the tokens past 80% of their life, as the kubelet does a projected token."""
        now = time.time()
        for child in self.children:
            account = child.identity
            if account is None or child.popen is None:
                continue
            if identity.refresh_due(child.token_issued, child.token_seconds, now):
                try:
                    self.issue_token(child, account)
                except Exception as exc:  # tried again next tick; the old token still works
                    self.log(child, f"could not refresh the token of {account}: {exc}")

    # -- processes ----------------------------------------------------------------------

    def write_redis_conf(self) -> None:
        namespace, name, key = self.plan.redis_secret
        secret = self._read("Secret", namespace, name)
        if secret is None or key not in (secret.get("data") or {}):
            raise MissingEnv(f"secret {namespace}/{name} has no key {key!r}")
        password = base64.b64decode(secret["data"][key]).decode()
        data = self.folder.data / "redis"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.folder.redis_conf
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(
                f"bind 127.0.0.1\nport {self.plan.ports['redis']}\nrequirepass {password}\n"
                f'save ""\nappendonly no\ndir {data}\nprotected-mode yes\n'
            )

    def log(self, child: Child, line: str) -> None:
        """One line in the process's log, as the kubelet records an event."""
        with open(self.logs / f"{child.process.name}.log", "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n".encode())

    def start(self, child: Child) -> None:
        p = child.process
        env, account = self.workload_pod(p.workload) if p.workload else ({}, None)
        if p.kubeconfig is not None:
            if account is None and p.service_account is not None:
                account = Identity.parse(p.service_account)
            if account is None:
                raise NoIdentity(f"the workload of {p.name} names no ServiceAccount yet")
            self.issue_token(child, account)
        env.update(p.env)
        for key in ("HOME", "ARGOCD_TLS_DATA_PATH", "ARGOCD_SSH_DATA_PATH", "ARGOCD_GNUPGHOME"):
            if key in env:
                Path(env[key]).mkdir(parents=True, exist_ok=True, mode=0o700)
        log = open(self.logs / f"{p.name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {p.name}\n".encode())
        log.flush()
        child.popen = subprocess.Popen(
            p.argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        child.state = "running"

    def stop(self, child: Child, state: str) -> None:
        popen = child.popen
        if popen is not None and popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        child.popen = None
        child.state = state

    def tick(self) -> None:
        now = time.monotonic()
        self.refresh_tokens()
        states = self.workload_states()
        for child in self.children:
            workload = child.process.workload
            if workload is not None:
                observed = states.get(workload)
                if observed is not None:
                    idle, restarted_at = observed
                    if idle is not None:
                        self.stop(child, idle)
                    child.wanted = idle is None
                    if child.wanted and restarted_at != child.restarted_at:
                        if child.restarted_at is not None or child.popen is not None:
                            self.stop(child, "restarting")
                            child.next_start = 0.0
                        child.restarted_at = restarted_at
            if not child.wanted:
                continue
            popen = child.popen
            if popen is not None and popen.poll() is not None:
                child.popen = None
                child.state = f"exited {popen.returncode}"
                child.restarts += 1
                child.next_start = now + child.backoff
                child.backoff = min(child.backoff * 2, MAX_BACKOFF)
            if child.popen is None and now >= child.next_start:
                try:
                    self.start(child)
                except (MissingEnv, NoIdentity) as exc:  # until the key (or account) exists
                    if child.state != f"cannot start: {exc}"[:300]:
                        self.log(child, f"cannot start: {exc}")
                    child.state = f"cannot start: {exc}"[:300]
                    child.next_start = now + POLL_SECONDS
                except Exception as exc:  # the cluster is unreachable: try again later
                    child.state = f"cannot start: {exc}"[:300]
                    child.next_start = now + child.backoff
            elif child.popen is not None and child.backoff > 1 and child.restarts:
                child.backoff = max(1.0, child.backoff / 2)  # calms down while it stays up

    def write_status(self) -> None:
        status = {
            "pid": os.getpid(),
            "time": time.time(),
            "processes": {
                c.process.name: {
                    "pid": c.popen.pid if c.popen else None,
                    "state": c.state,
                    "restarts": c.restarts,
                    "port": c.process.ready_port,
                    "identity": c.identity.username if c.identity else None,
                }
                for c in self.children
            },
        }
        atomic.write_atomically(self.folder.status, json.dumps(status, indent=2).encode())

    def run(self) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)

        def on_signal(_sig: int, _frame: Any) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not self.stopping:
            try:
                self.write_redis_conf()
                break
            except Exception as exc:
                print(f"waiting for the redis password: {exc}", file=sys.stderr, flush=True)
                time.sleep(POLL_SECONDS)
        while not self.stopping:
            self.tick()
            self.write_status()
            deadline = time.monotonic() + POLL_SECONDS
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.2)
        for child in reversed(self.children):
            self.stop(child, "stopped")
        self.write_status()
        return 0


def supervisor_alive(pid: int, directory: str) -> bool:
    """``pid`` is the supervisor of the runtime in ``directory`` (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [a.decode(errors="replace") for a in cmdline]
    return MODULE in args and any(a.startswith(directory) for a in args)


def stop_supervisor(pid: int, directory: str, timeout: float = 40.0) -> None:
    """SIGTERM the supervisor (it stops its processes), then SIGKILL its process group."""
    if not supervisor_alive(pid, directory):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and supervisor_alive(pid, directory):
        time.sleep(0.3)
    if supervisor_alive(pid, directory):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.runtime.supervisor <plan.json>", file=sys.stderr)
        return 2
    plan = RuntimePlan.from_json(json.loads(Path(argv[0]).read_text()))
    return Supervisor(plan).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
