"""What the local runtime is doing: where argocd-server listens and every Application's status.

Read from the runtime's folder (``plan.json``, ``status.json``, its kubeconfig) and from the
Applications Argo CD itself updates: the statuses printed are Argo CD's, not predictions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.errors import PlatformError
from infra.kube import api_client
from infra.runtime.folder import RuntimeFolder
from infra.runtime.supervisor import supervisor_alive
from infra.settings import StackSettings

__all__ = [
    "AppStatus",
    "RuntimeInfo",
    "application_statuses",
    "not_running",
    "require_settled",
    "runtime_info",
    "wait_settled",
]


STUCK_SECONDS = 30.0


class RuntimeNotRunning(PlatformError):
    """The stack has no running local runtime."""


@dataclass(frozen=True)
class RuntimeInfo:
    server: str
    kubeconfig: str
    namespace: str
    logs: str
    processes: dict[str, Any]
    ports: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AppStatus:
    name: str
    sync: str
    health: str
    revision: str
    error: str = ""
    """The first error condition Argo CD reports (e.g. ComparisonError), if any."""

    @property
    def settled(self) -> bool:
        return self.sync == "Synced" and self.health == "Healthy"


def runtime_info(settings: StackSettings) -> RuntimeInfo:
    directory = settings.local_dir
    folder = RuntimeFolder(directory)
    hint = f"`make up STACK={settings.stack}` starts it"
    if not settings.local_controllers:
        raise RuntimeNotRunning(
            f"stack {settings.stack!r} runs no local Argo CD (cluster.provider kwok with "
            "controllers: local does)"
        )
    try:
        plan = json.loads(folder.plan.read_text())
        status = json.loads(folder.status.read_text())
    except (OSError, ValueError):
        raise RuntimeNotRunning(f"no local runtime in {directory}; {hint}") from None
    if not supervisor_alive(int(status.get("pid") or 0), str(directory)):
        raise RuntimeNotRunning(f"the local runtime in {directory} is stopped; {hint}")
    return RuntimeInfo(
        server=f"127.0.0.1:{plan['ports']['server']}",
        kubeconfig=plan["kubeconfig"],
        namespace=plan["namespace"],
        logs=str(folder.logs),
        processes=status.get("processes", {}),
        ports={k: int(v) for k, v in plan.get("ports", {}).items()},
    )


def _status(app: dict[str, Any]) -> AppStatus:
    status = app.get("status") or {}
    errors = [
        f"{c.get('type')}: {c.get('message', '')}"
        for c in status.get("conditions") or []
        if str(c.get("type", "")).endswith("Error")
    ]
    return AppStatus(
        error=errors[0] if errors else "",
        name=app["metadata"]["name"],
        sync=(status.get("sync") or {}).get("status", "Unknown"),
        health=(status.get("health") or {}).get("status", "Unknown"),
        revision=((status.get("sync") or {}).get("revision") or "")[:12],
    )


def application_statuses(info: RuntimeInfo) -> list[AppStatus]:
    from kubernetes import client

    api = api_client(Path(info.kubeconfig))
    listed: Any = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "argoproj.io", "v1alpha1", info.namespace, "applications"
    )
    items: list[dict[str, Any]] = listed["items"]
    return sorted((_status(a) for a in items), key=lambda s: s.name)


def wait_settled(
    fetch: Callable[[], list[AppStatus]],
    timeout: float,
    *,
    expected: int = 0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[AppStatus]:
    """Statuses once every Application (at least ``expected`` of them) is Synced and Healthy,
    or once those that are not have reported an error for ``STUCK_SECONDS`` (Argo CD retries,
    but waiting longer shows nothing new), or the last ones seen when ``timeout`` runs out."""
    deadline = clock() + timeout
    erring_since: float | None = None
    while True:
        statuses = fetch()
        unsettled = [s for s in statuses if not s.settled]
        complete = len(statuses) >= expected
        now = clock()
        if complete and unsettled and all(s.error for s in unsettled):
            erring_since = now if erring_since is None else erring_since
        else:
            erring_since = None
        stuck = erring_since is not None and now - erring_since >= STUCK_SECONDS
        if (complete and not unsettled) or stuck or now >= deadline:
            return statuses
        sleep(3)


def not_running(info: RuntimeInfo) -> list[str]:
    """``name: state`` of each process the supervisor reports as not running (the kubelet's
    reasons: no workload, scaled to 0, a missing env key, exited)."""
    out = []
    for name, process in sorted(info.processes.items()):
        state = process.get("state") if isinstance(process, dict) else None
        if state and state != "running":
            out.append(f"{name}: {state}")
    return out


def require_settled(statuses: list[AppStatus], expected: int) -> None:
    """Raise :class:`PlatformError` unless the catalog's ``expected`` Applications all exist and
    are Synced and Healthy."""
    if len(statuses) < expected:
        raise PlatformError(f"{len(statuses)} Applications, the catalog expects {expected}")
    unsettled = [s.name for s in statuses if not s.settled]
    if unsettled:
        raise PlatformError(f"not Synced and Healthy: {', '.join(unsettled)}")
