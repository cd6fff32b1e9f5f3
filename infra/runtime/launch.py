"""Starting the local runtime: its folder, free ports, binaries, the supervisor, readiness.

:func:`start` picks free 127.0.0.1 ports (the previous ones where still free), writes the plan
and a kubeconfig into the runtime's folder (``.gitops-local/<cluster>/``, readable by its owner
only), starts the supervisor (:mod:`infra.runtime.supervisor`) in a session of its own, so that
it outlives the caller, and waits until every process serves (:mod:`infra.runtime.readiness`).
:func:`remove_state` removes what holds credentials once it is stopped. The Pulumi resource
(:mod:`infra.components.local_runtime`) calls these on ``up`` and ``destroy``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra import atomic, constants
from infra.errors import PlatformError
from infra.runtime.folder import RuntimeFolder
from infra.runtime.git_hook import write_config
from infra.runtime.plan import PORTS, RuntimePlan, RuntimeSettings, runtime_plan
from infra.runtime.readiness import idle_processes, ready
from infra.runtime.supervisor import MODULE as SUPERVISOR_MODULE
from infra.runtime.supervisor import stop_supervisor
from infra.yamlio import dump_all, load_document

__all__ = [
    "READY_TIMEOUT",
    "RuntimeStartError",
    "Started",
    "Webhook",
    "choose_ports",
    "find_binaries",
    "free_port",
    "kubeconfig_for",
    "remove_state",
    "require_free",
    "start",
    "wait_ready",
]

READY_TIMEOUT: Final = 240.0
"""Seconds every process has to serve after the supervisor starts."""
PRIVATE: Final = 0o600
"""The mode of the files that hold credentials (the kubeconfig, the plan's redis secret)."""


class RuntimeStartError(PlatformError):
    """The local runtime could not start; the message names the process and its log."""


@dataclass(frozen=True)
class Webhook:
    """``git.mirror``: where the mirror's post-receive hook sends its push events (argocd-server's
    GitHub webhook), signed with ``secret``."""

    secret: str
    repo_url: str
    branch: str


@dataclass(frozen=True)
class Started:
    """A runtime that serves: its supervisor's pid, the ports chosen, argocd-server's address
    and the folder of the logs."""

    pid: int
    ports: dict[str, int]
    server: str
    logs: str


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it is free on 127.0.0.1, else any free port."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = s.getsockname()[1]
            return port
    raise RuntimeStartError("no free port on 127.0.0.1")


def choose_ports(
    previous: Mapping[str, Any] | None, reserved: tuple[int, ...] = ()
) -> dict[str, int]:
    """A free port per name, the previous one where still free (state returns numbers as
    floats); never one of ``reserved`` (the fixed ports of the stack settings)."""
    chosen: dict[str, int] = {}
    for name in PORTS:
        old = (previous or {}).get(name)
        port = free_port(int(old) if old else None)
        while port in chosen.values() or port in reserved:
            port = free_port()
        chosen[name] = port
    return chosen


def require_free(port: int, setting: str) -> None:
    """A fixed port of the settings must be free when the runtime starts (its readiness is
    a connection: another program on it would pass for the runtime's own)."""
    if free_port(port) != port:
        raise RuntimeStartError(
            f"127.0.0.1:{port} is taken by another program ({setting}): stop it, or set "
            f"another port with `pulumi config set --path {setting} <port>`"
        )


def find_binaries(names: tuple[str, ...]) -> dict[str, str]:
    """The path of each binary on PATH; one error naming every missing one."""
    found = {name: shutil.which(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise RuntimeStartError(
            f"the local runtime needs {', '.join(missing)} on PATH: run `make toolchain` and "
            "use the Makefile targets (they put its bin directory on PATH)"
        )
    return {name: str(path) for name, path in found.items()}


def kubeconfig_for(kubeconfig: str, namespace: str) -> str:
    """The cluster's kubeconfig with Argo CD's namespace as the context namespace: out of
    cluster, Argo CD's processes take their namespace from it."""
    document = load_document(kubeconfig, "kubeconfig")
    for context in document.get("contexts") or []:
        context.setdefault("context", {})["namespace"] = namespace
    return dump_all([document])


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` of a log, for an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _spawn_supervisor(folder: RuntimeFolder, root: str) -> subprocess.Popen[bytes]:
    """``python -m infra.runtime.supervisor plan.json`` in the project ``root``, detached."""
    env = {**os.environ, "PYTHONPATH": root}
    with open(folder.log("supervisor"), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", SUPERVISOR_MODULE, str(folder.plan)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this provider and the engine
        )


def start(
    settings: RuntimeSettings,
    kubeconfig: str,
    root: str,
    previous_ports: Mapping[str, Any] | None,
    webhook: Webhook | None,
) -> Started:
    """Start the runtime ``settings`` describe against the cluster of ``kubeconfig`` and wait
    until it serves; ``root`` is the project (the supervisor imports ``infra`` from it)."""
    folder = RuntimeFolder(Path(settings.directory))
    folder.logs.mkdir(parents=True, exist_ok=True)
    folder.path.chmod(0o700)
    # python: the service proxy runs as `python -m` in the project (the supervisor's cwd).
    binaries = {**find_binaries(settings.binaries), "python": sys.executable}
    reserved: tuple[int, ...] = ()
    if settings.mirror_port is not None:
        require_free(settings.mirror_port, f"{constants.PROJECT}:git.mirrorPort")
        reserved = (settings.mirror_port,)
    plan = runtime_plan(settings, binaries, choose_ports(previous_ports, reserved))
    own_kubeconfig = kubeconfig_for(kubeconfig, plan.namespace)
    atomic.write_atomically(Path(plan.kubeconfig), own_kubeconfig.encode(), PRIVATE)
    atomic.write_atomically(folder.plan, json.dumps(plan.to_json(), indent=2).encode(), PRIVATE)
    folder.status.unlink(missing_ok=True)
    proc = _spawn_supervisor(folder, root)
    folder.pid.write_text(f"{proc.pid}\n")
    wait_ready(plan, proc)
    if webhook is not None:
        # The mirror's post-receive hook reads it: every push to the mirror (each `up`,
        # the handoff) reaches argocd-server as a signed GitHub push event.
        write_config(
            folder.hook_config,
            url=f"http://127.0.0.1:{plan.ports['server']}/api/webhook",
            secret=webhook.secret,
            repo_url=webhook.repo_url,
            default_branch=webhook.branch,
        )
    return Started(
        pid=proc.pid,
        ports=plan.ports,
        server=f"127.0.0.1:{plan.ports['server']}",
        logs=str(folder.logs),
    )


def wait_ready(plan: RuntimePlan, proc: subprocess.Popen[bytes]) -> None:
    """Return once every process of ``plan`` serves (or is idle); stop the supervisor and
    raise, with the log's tail, when it exits or :data:`READY_TIMEOUT` runs out."""
    folder = RuntimeFolder(Path(plan.directory))
    deadline = time.monotonic() + READY_TIMEOUT
    pending = [p for p in plan.processes if p.ready_port is not None]
    while pending and time.monotonic() < deadline:
        if proc.poll() is not None:
            log = folder.log("supervisor")
            raise RuntimeStartError(f"the supervisor exited {proc.returncode}:\n{tail(log)}")
        idle = idle_processes(folder)
        pending = [p for p in pending if p.name not in idle and not ready(p)]
        if pending:
            time.sleep(0.5)
    if pending:
        stop_supervisor(proc.pid, plan.directory)
        first = pending[0]
        log = folder.log(first.name)
        raise RuntimeStartError(
            f"{', '.join(p.name for p in pending)} not serving after {READY_TIMEOUT:.0f}s; "
            f"{log}:\n{tail(log)}"
        )


def remove_state(directory: Path) -> None:
    """Once the runtime is stopped: what holds credentials (the kubeconfig, redis' password,
    the processes' tokens) and the state go; the logs stay for a post-mortem."""
    folder = RuntimeFolder(directory)
    for path in folder.credentials_and_state:
        path.unlink(missing_ok=True)
    shutil.rmtree(folder.data, ignore_errors=True)
    shutil.rmtree(folder.identities, ignore_errors=True)
