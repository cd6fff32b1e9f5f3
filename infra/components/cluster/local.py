"""A cluster made of local processes or containers, created and deleted by a CLI.

Shared by the ``kind`` and ``kwok`` providers: a Pulumi dynamic resource whose ``create`` runs
the CLI's create command and captures the kubeconfig (a secret output), whose ``read`` checks
the cluster still exists (so ``pulumi refresh`` notices a cluster deleted behind its back), and
whose ``delete`` removes it. Subclasses say which commands to run.
"""

from __future__ import annotations

import shutil
import subprocess
from abc import abstractmethod
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from infra.components.cluster.base import ClusterArgs, ClusterConnection
from infra.errors import PlatformError

__all__ = [
    "ClusterCommandError",
    "LocalClusterProvider",
    "LocalClusterResource",
    "connect_local",
    "run",
    "which",
]


class ClusterCommandError(PlatformError):
    """A cluster CLI failed; the message names the command and its output."""


def which(binary: str, hint: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise ClusterCommandError(f"`{binary}` not found on PATH: {hint}")
    return path


def run(argv: list[str], *, timeout: int = 600, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ClusterCommandError(f"`{' '.join(argv[:4])} ...` timed out after {timeout}s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise ClusterCommandError(f"`{' '.join(argv[:4])} ...` exited {proc.returncode}:\n{tail}")
    return proc.stdout


class LocalClusterProvider(ResourceProvider):
    """Template for CLI-managed clusters. Inputs are plain settings; ``name`` is the id."""

    replace_on: tuple[str, ...] = ()

    @abstractmethod
    def create_cluster(self, props: dict[str, Any]) -> None: ...

    @abstractmethod
    def kubeconfig(self, name: str) -> str: ...

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def delete_cluster(self, name: str) -> None: ...

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = str(props["name"])
        if self.exists(name):
            raise ClusterCommandError(
                f"a cluster named {name!r} already exists and this stack does not own it; "
                "delete it or choose another gitops-platform:cluster.name"
            )
        try:
            self.create_cluster(props)
        except Exception:
            # Nothing half-made is left behind: a failed create removes what it started.
            if self.exists(name):
                self.delete_cluster(name)
            raise
        return CreateResult(id_=name, outs={**props, "kubeconfig": self.kubeconfig(name)})

    def resize(self, props: dict[str, Any]) -> None:
        """Apply an in-place change (e.g. the node count); default: nothing to do."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in news if k != "kubeconfig" and olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in ("name", *self.replace_on)]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self.resize(news)
        return UpdateResult(outs={**news, "kubeconfig": self.kubeconfig(id_)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not self.exists(id_):
            return ReadResult(id_=None, outs={})  # gone: the next `up` recreates it
        return ReadResult(id_=id_, outs={**props, "kubeconfig": self.kubeconfig(id_)})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        if self.exists(id_):
            self.delete_cluster(id_)


class LocalClusterResource(Resource):
    kubeconfig: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(
        self,
        provider: LocalClusterProvider,
        name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"])
        )
        super().__init__(provider, name, {**props, "kubeconfig": None}, opts)


def connect_local(
    name: str,
    args: ClusterArgs,
    parent: pulumi.Resource,
    provider: LocalClusterProvider,
    props: dict[str, Any],
) -> ClusterConnection:
    """The connection to a CLI-made cluster (``cluster.provider``: kind or kwok): the resource
    ``<name>-<provider>`` with the cluster's name and ``props`` as inputs."""
    kind = args["cluster"].provider
    resource = LocalClusterResource(
        provider,
        f"{name}-{kind}",
        {"name": args["cluster_name"], **props},
        # A stack that protects its Argo CD install protects the cluster under it too.
        pulumi.ResourceOptions(parent=parent, protect=args["protect"]),
    )
    return ClusterConnection(
        kubeconfig=resource.kubeconfig,
        context=None,
        identifier=f"{kind}:{args['cluster_name']}",
        resource=resource,
    )
