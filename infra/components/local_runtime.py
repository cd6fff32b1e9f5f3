"""The local runtime as Pulumi resources: Argo CD's controllers as processes on this machine.

For a kwok cluster (``cluster.controllers: local``) the chart's pods are fakes, so the stack
runs the real controllers itself (see :mod:`infra.runtime`):

- ``LocalArgoCDProcesses`` (dynamic resource): ``create`` picks free 127.0.0.1 ports, writes the
  plan and a kubeconfig into ``.gitops-local/<cluster>/``, starts the supervisor and waits
  until every process serves; ``delete`` (``destroy``) stops it and every process; ``diff``
  reports a supervisor that is no longer running (a reboot, a kill), so the next ``up``
  starts it again on the same ports when they are free.
- ``LocalGitMirror`` (dynamic resource, ``git.mirror: true``): a bare repository in the same
  folder that every ``up`` fills with the checkout's committed ``HEAD`` as the tracked branch.

Logs: ``.gitops-local/<cluster>/logs/<process>.log``; state: ``status.json`` beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypedDict

import pulumi
import yaml
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from infra import constants
from infra.kube import api_client
from infra.runtime.git_hook import install_hook, write_config
from infra.runtime.identity import IDENTITIES
from infra.runtime.plan import (
    HOOK_CONFIG,
    PORTS,
    Process,
    RuntimePlan,
    RuntimeSettings,
    runtime_plan,
)
from infra.runtime.supervisor import IDLE_STATES, stop_supervisor, supervisor_alive
from infra.runtime.supervisor import MODULE as SUPERVISOR_MODULE
from infra.settings import StackSettings

__all__ = ["LocalRuntime", "LocalRuntimeArgs", "RuntimeError_", "head_commit"]

READY_TIMEOUT = 240.0


class RuntimeError_(Exception):
    """The local runtime could not start; the message names the process and its log."""


def _free_port(preferred: int | None = None) -> int:
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = s.getsockname()[1]
            return port
    raise RuntimeError_("no free port on 127.0.0.1")


def _ports(previous: dict[str, Any] | None, reserved: tuple[int, ...] = ()) -> dict[str, int]:
    """A free port per name, the previous one where still free (state returns numbers as
    floats); never one of ``reserved`` (the fixed ports of the stack settings)."""
    chosen: dict[str, int] = {}
    for name in PORTS:
        old = (previous or {}).get(name)
        port = _free_port(int(old) if old else None)
        while port in chosen.values() or port in reserved:
            port = _free_port()
        chosen[name] = port
    return chosen


def _require_free(port: int, setting: str) -> None:
    """A fixed port of the settings must be free when the runtime starts (its readiness is
    a connection: another program on it would pass for the runtime's own)."""
    if _free_port(port) != port:
        raise RuntimeError_(
            f"127.0.0.1:{port} is taken by another program ({setting}): stop it, or set "
            f"another port with `pulumi config set --path {setting} <port>`"
        )


def _binaries(names: tuple[str, ...]) -> dict[str, str]:
    found = {name: shutil.which(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise RuntimeError_(
            f"the local runtime needs {', '.join(missing)} on PATH: run `make toolchain` and "
            "use the Makefile targets (they put its bin directory on PATH)"
        )
    return {name: str(path) for name, path in found.items()}


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _idle_processes(directory: Path) -> set[str]:
    """The processes the supervisor reports as not meant to run (their workload is absent or
    scaled to 0): nothing to wait for."""
    try:
        status = json.loads((directory / "status.json").read_text())
    except (OSError, ValueError):
        return set()
    processes = status.get("processes") if isinstance(status, dict) else None
    return {
        name
        for name, info in (processes or {}).items()
        if isinstance(info, dict) and info.get("state") in IDLE_STATES
    }


def _ready(process: Process) -> bool:
    """The process's readiness: its port accepts connections, and its ``ready_path`` (HTTPS,
    a self-signed certificate: not verified, this is liveness, not trust) answers 200."""
    port = process.ready_port or 0
    if not _port_open(port):
        return False
    if process.ready_path is None:
        return True
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{port}{process.ready_path}"
    # No proxy from the environment: this is the loopback.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _kubeconfig_for(kubeconfig: str, namespace: str) -> str:
    """The cluster's kubeconfig with Argo CD's namespace as the context namespace: out of
    cluster, Argo CD's processes take their namespace from it."""
    document = yaml.safe_load(kubeconfig)
    for context in document.get("contexts") or []:
        context.setdefault("context", {})["namespace"] = namespace
    return yaml.safe_dump(document)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


KYVERNO_WEBHOOKS = "webhook.kyverno.io/managed-by=kyverno"
"""The label of every webhook configuration Kyverno registers."""


def _remove_kyverno_webhooks(kubeconfig: str) -> None:
    """Kyverno's webhooks fail closed and outlive it: once it is stopped they would refuse
    every Pod in the apps' namespaces. A real cluster's chart removes them when its Deployment
    goes; here the runtime does, right after stopping the process (the next start registers
    them again). An unreachable cluster (being destroyed) has nothing left to refuse."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        api = client.AdmissionregistrationV1Api(api_client(kubeconfig))
        for delete in (
            api.delete_collection_validating_webhook_configuration,
            api.delete_collection_mutating_webhook_configuration,
        ):
            delete(label_selector=KYVERNO_WEBHOOKS, _request_timeout=30)
    except (ApiException, HTTPError, OSError) as exc:
        pulumi.log.warn(f"could not remove Kyverno's webhook configurations: {exc}")


def runtime_settings(fields: dict[str, Any]) -> RuntimeSettings:
    """The RuntimeSettings a resource's inputs hold, back from the engine: lists come back as
    lists, numbers as floats."""
    values = dict(fields)
    values["sealed_secrets_args"] = tuple(values.get("sealed_secrets_args") or ())
    if values.get("mirror_port") is not None:
        values["mirror_port"] = int(values["mirror_port"])
    return RuntimeSettings(**values)


class _ProcessesProvider(ResourceProvider):
    """Inputs: ``settings`` (RuntimeSettings as a dict), ``kubeconfig``, ``root``."""

    def _start(self, props: dict[str, Any], previous: dict[str, int] | None) -> dict[str, Any]:
        settings = runtime_settings(props["settings"])
        directory = Path(settings.directory)
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        # python: the service proxy runs as `python -m` in the project (the supervisor's cwd).
        binaries = {**_binaries(settings.binaries), "python": sys.executable}
        reserved: tuple[int, ...] = ()
        if settings.mirror_port is not None:
            _require_free(settings.mirror_port, f"{constants.PROJECT}:git.mirrorPort")
            reserved = (settings.mirror_port,)
        plan = runtime_plan(settings, binaries, _ports(previous, reserved))
        _write_private(Path(plan.kubeconfig), _kubeconfig_for(props["kubeconfig"], plan.namespace))
        plan_file = directory / "plan.json"
        _write_private(plan_file, json.dumps(plan.to_json(), indent=2))
        (directory / "status.json").unlink(missing_ok=True)
        root = str(props["root"])
        env = {**os.environ, "PYTHONPATH": root}
        with open(directory / "logs" / "supervisor.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", SUPERVISOR_MODULE, str(plan_file)],
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this provider and the engine
            )
        (directory / "supervisor.pid").write_text(f"{proc.pid}\n")
        self._wait_ready(plan, proc)
        webhook = props.get("webhook")
        if webhook:
            # The mirror's post-receive hook reads it: every push to the mirror (each `up`,
            # the handoff) reaches argocd-server as a signed GitHub push event.
            write_config(
                directory / HOOK_CONFIG,
                url=f"http://127.0.0.1:{plan.ports['server']}/api/webhook",
                secret=str(webhook["secret"]),
                repo_url=str(webhook["repo_url"]),
                default_branch=str(webhook["branch"]),
            )
        return {
            **props,
            "pid": proc.pid,
            "ports": plan.ports,
            "server": f"127.0.0.1:{plan.ports['server']}",
            "logs": str(directory / "logs"),
        }

    def _wait_ready(self, plan: RuntimePlan, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        pending = [p for p in plan.processes if p.ready_port is not None]
        while pending and time.monotonic() < deadline:
            if proc.poll() is not None:
                log = Path(plan.directory) / "logs" / "supervisor.log"
                raise RuntimeError_(f"the supervisor exited {proc.returncode}:\n{_tail(log)}")
            idle = _idle_processes(Path(plan.directory))
            pending = [p for p in pending if p.name not in idle and not _ready(p)]
            if pending:
                time.sleep(0.5)
        if pending:
            stop_supervisor(proc.pid, plan.directory)
            first = pending[0]
            log = Path(plan.directory) / "logs" / f"{first.name}.log"
            raise RuntimeError_(
                f"{', '.join(p.name for p in pending)} not serving after {READY_TIMEOUT:.0f}s; "
                f"{log}:\n{_tail(log)}"
            )

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._start(props, None)
        return CreateResult(id_=props["settings"]["directory"], outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [
            k for k in ("settings", "kubeconfig", "root", "webhook") if olds.get(k) != news.get(k)
        ]
        pid = int(olds.get("pid") or 0)
        if not supervisor_alive(pid, str(olds.get("settings", {}).get("directory", "-"))):
            changed.append("pid")  # stopped behind the stack's back: start it again
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=True)

    @staticmethod
    def _stop(props: dict[str, Any]) -> None:
        stop_supervisor(int(props.get("pid") or 0), str(props["settings"]["directory"]))
        if props["settings"].get("admission_namespace"):
            _remove_kyverno_webhooks(str(props["kubeconfig"]))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._stop(olds)
        return UpdateResult(outs=self._start(news, olds.get("ports")))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        directory = Path(props["settings"]["directory"])
        self._stop(props)
        # What holds credentials (the kubeconfig, redis' password, the processes' tokens) and
        # the state go with it; the logs stay for a post-mortem.
        for name in (
            "kubeconfig",
            "redis.conf",
            "plan.json",
            "status.json",
            "supervisor.pid",
            HOOK_CONFIG,
        ):
            (directory / name).unlink(missing_ok=True)
        shutil.rmtree(directory / "data", ignore_errors=True)
        shutil.rmtree(directory / IDENTITIES, ignore_errors=True)


class _Processes(Resource):
    server: pulumi.Output[str]
    logs: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig", "webhook"])
        )
        super().__init__(_ProcessesProvider(), name, {**props, "server": None, "logs": None}, opts)


def _git(*args: str, cwd: str | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError_(f"`git {' '.join(args)}` exited {proc.returncode}: {proc.stderr}")
    return proc.stdout.strip()


def head_commit(root: Path) -> str | None:
    """The checkout's committed HEAD, or None when the root is no git checkout with a commit."""
    proc = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


class _MirrorProvider(ResourceProvider):
    """Inputs: ``path`` (bare repository), ``branch``, ``commit``, ``root`` (the checkout)."""

    def _fill(self, props: dict[str, Any]) -> dict[str, Any]:
        path, branch, commit = str(props["path"]), str(props["branch"]), str(props["commit"])
        if not (Path(path) / "HEAD").is_file():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _git("init", "--quiet", "--bare", f"--initial-branch={branch}", path)
        # As a repository host calls its webhook: after each push (nothing is sent before
        # the runtime has written the hook's configuration, on the first `up`).
        install_hook(Path(path), Path(path).parent / HOOK_CONFIG, Path(str(props["root"])))
        # The mirror follows the checkout: a forced update is what it is for.
        _git("push", "--quiet", "--force", path, f"{commit}:refs/heads/{branch}", cwd=props["root"])
        return dict(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=str(props["path"]), outs=self._fill(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("path", "branch", "commit") if olds.get(k) != news.get(k)]
        path = Path(str(news["path"]))
        if not changed:
            head = subprocess.run(
                ["git", "--git-dir", str(path), "rev-parse", f"refs/heads/{news['branch']}"],
                capture_output=True,
                text=True,
                check=False,
            )
            if head.stdout.strip() != news["commit"]:
                changed.append("commit")  # the mirror was removed or moved: fill it again
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._fill(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        shutil.rmtree(str(props["path"]), ignore_errors=True)


class _Mirror(Resource):
    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(_MirrorProvider(), name, props, opts)


class LocalRuntimeArgs(TypedDict):
    settings: StackSettings
    """Validated settings of a stack with ``local_controllers``."""
    kubeconfig: pulumi.Input[str]
    """The cluster's kubeconfig (secret)."""
    commit: str | None
    """The checkout's HEAD for ``git.mirror`` (None otherwise)."""
    webhook_secret: pulumi.Input[str] | None
    """``git.mirror``: the secret the mirror signs its push events with (argocd-secret's
    ``webhook.github.secret``)."""


class LocalRuntime(pulumi.ComponentResource):
    """Argo CD's (and Rollouts') controllers as local processes, and the git mirror."""

    server: pulumi.Output[str]
    """``127.0.0.1:<port>`` of argocd-server (plain HTTP/gRPC; ``argocd --plaintext``)."""
    logs: pulumi.Output[str]
    """Folder of the processes' logs."""

    def __init__(
        self, name: str, args: LocalRuntimeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:LocalRuntime", name, None, opts)
        settings = args["settings"]
        child = pulumi.ResourceOptions(parent=self)
        depends: list[pulumi.Resource] = []
        if settings.git.mirror:
            assert args["commit"] is not None
            depends.append(
                _Mirror(
                    f"{name}-git-mirror",
                    {
                        "path": str(settings.mirror_path),
                        "branch": settings.branch,
                        "commit": args["commit"],
                        "root": settings.root,
                    },
                    child,
                )
            )
        processes = _Processes(
            f"{name}-processes",
            {
                "settings": asdict(RuntimeSettings.of(settings)),
                "kubeconfig": args["kubeconfig"],
                "root": str(Path(settings.root).resolve()),
                "webhook": {
                    "secret": args["webhook_secret"],
                    "repo_url": settings.repo_url,
                    "branch": settings.branch,
                }
                if settings.git.mirror
                else None,
            },
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends)),
        )
        self.server = processes.server
        self.logs = processes.logs
        self.register_outputs({"server": self.server, "logs": self.logs})
