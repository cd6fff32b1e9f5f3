"""The local runtime as Pulumi resources: Argo CD's controllers as processes on this machine.

For a kwok cluster (``cluster.controllers: local``) the chart's pods are fakes, so the stack
runs the real controllers itself. What runs and how lives in :mod:`infra.runtime`; the two
dynamic resources here only call it:

- the processes: ``create`` starts the runtime (:func:`infra.runtime.launch.start`: free
  127.0.0.1 ports, the plan and a kubeconfig in ``.gitops-local/<cluster>/``, the supervisor,
  a wait until every process serves); ``delete`` (``destroy``) stops it and every process;
  ``diff`` reports a supervisor that is no longer running (a reboot, a kill), so the next
  ``up`` starts it again on the same ports when they are free.
- the git mirror (``git.mirror: true``, :mod:`infra.runtime.mirror`): a bare repository in
  the same folder that every ``up`` fills with the checkout's committed ``HEAD`` as the
  tracked branch.

Pulumi pickles each provider by reference (its module and class name), so the provider
process imports this module and the functions it calls: they stay module-level functions.

Logs: ``.gitops-local/<cluster>/logs/<process>.log``; state: ``status.json`` beside them.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from infra.runtime.kyverno import remove_kyverno_webhooks
from infra.runtime.launch import Webhook, remove_state, start
from infra.runtime.mirror import fill_mirror, mirror_head
from infra.runtime.plan import RuntimeSettings
from infra.runtime.supervisor import stop_supervisor, supervisor_alive

__all__ = ["LocalRuntime", "LocalRuntimeArgs"]


class _ProcessesProvider(ResourceProvider):
    """Inputs: ``settings`` (RuntimeSettings as a dict), ``kubeconfig``, ``root``, ``webhook``
    (``git.mirror``: secret, repo_url, branch; else None)."""

    @staticmethod
    def _start(props: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        webhook = props.get("webhook")
        started = start(
            RuntimeSettings.from_inputs(props["settings"]),
            str(props["kubeconfig"]),
            str(props["root"]),
            previous,
            Webhook(str(webhook["secret"]), str(webhook["repo_url"]), str(webhook["branch"]))
            if webhook
            else None,
        )
        return {**props, **asdict(started)}

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
            warning = remove_kyverno_webhooks(str(props["kubeconfig"]))
            if warning:
                pulumi.log.warn(warning)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._stop(olds)
        return UpdateResult(outs=self._start(news, olds.get("ports")))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._stop(props)
        remove_state(Path(props["settings"]["directory"]))


class _Processes(Resource):
    server: pulumi.Output[str]
    logs: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig", "webhook"])
        )
        super().__init__(_ProcessesProvider(), name, {**props, "server": None, "logs": None}, opts)


class _MirrorProvider(ResourceProvider):
    """Inputs: ``path`` (bare repository), ``branch``, ``commit``, ``root`` (the checkout)."""

    @staticmethod
    def _fill(props: dict[str, Any]) -> dict[str, Any]:
        fill_mirror(
            Path(str(props["path"])),
            str(props["branch"]),
            str(props["commit"]),
            Path(str(props["root"])),
        )
        return dict(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=str(props["path"]), outs=self._fill(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("path", "branch", "commit") if olds.get(k) != news.get(k)]
        if (
            not changed
            and mirror_head(Path(str(news["path"])), str(news["branch"])) != news["commit"]
        ):
            changed.append("commit")  # the mirror was removed or moved: fill it again
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._fill(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        shutil.rmtree(str(props["path"]), ignore_errors=True)


class _Mirror(Resource):
    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(_MirrorProvider(), name, props, opts)


@dataclass(frozen=True)
class MirrorSpec:
    """``git.mirror``: the bare repository the runtime serves, and what fills it."""

    path: str
    """The bare repository (``.gitops-local/<cluster>/repo.git``)."""
    branch: str
    """The branch the stack tracks, set to ``commit``."""
    commit: str
    """The checkout's HEAD."""
    repo_url: str
    """The URL Argo CD clones it by (its push events name it)."""


class LocalRuntimeArgs(TypedDict):
    runtime: RuntimeSettings
    """What the processes need of the stack's settings (:meth:`RuntimeSettings.of`)."""
    root: str
    """The project's folder: the supervisor imports ``infra`` from it."""
    kubeconfig: pulumi.Input[str]
    """The cluster's kubeconfig (secret)."""
    mirror: MirrorSpec | None
    """The git mirror to fill, with ``git.mirror`` (None otherwise)."""
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
        mirror = args["mirror"]
        child = pulumi.ResourceOptions(parent=self)
        depends: list[pulumi.Resource] = []
        if mirror is not None:
            depends.append(
                _Mirror(
                    f"{name}-git-mirror",
                    {
                        "path": mirror.path,
                        "branch": mirror.branch,
                        "commit": mirror.commit,
                        "root": args["root"],
                    },
                    child,
                )
            )
        processes = _Processes(
            f"{name}-processes",
            {
                "settings": asdict(args["runtime"]),
                "kubeconfig": args["kubeconfig"],
                "root": str(Path(args["root"]).resolve()),
                "webhook": {
                    "secret": args["webhook_secret"],
                    "repo_url": mirror.repo_url,
                    "branch": mirror.branch,
                }
                if mirror is not None
                else None,
            },
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends)),
        )
        self.server = processes.server
        self.logs = processes.logs
        self.register_outputs({"server": self.server, "logs": self.logs})
