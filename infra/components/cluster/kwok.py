"""kwok: a Docker-free Kubernetes control plane of local processes with fake nodes.

``kwokctl create cluster --runtime binary`` starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok-controller as processes bound to 127.0.0.1;
kwok fakes nodes on which scheduled pods go Running. Every binary path is given explicitly
(from ``make toolchain``, found on PATH): kwokctl would otherwise try to download them.

kwokctl picks its components' ports by scanning down from 32767 for one that is free at that
moment, so two clusters created at once pick the same ports, and one component of one of them
fails to bind. Creations on this machine therefore take turns (:func:`creating_alone`).
"""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi

from infra.components.cluster.base import ClusterArgs, ClusterConnection
from infra.components.cluster.local import LocalClusterProvider, connect_local, run, which
from infra.settings import KwokCluster

__all__ = ["KwokProvider", "connect"]

_HINT = "run `make toolchain` and put its bin directory on PATH (the Makefile does)"
_BINARIES = {
    "--etcd-binary": "etcd",
    "--kube-apiserver-binary": "kube-apiserver",
    "--kube-controller-manager-binary": "kube-controller-manager",
    "--kube-scheduler-binary": "kube-scheduler",
    "--kwok-controller-binary": "kwok",
}

_CONFIG = """\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: {version}
"""


CREATE_LOCK = Path(tempfile.gettempdir()) / "gitops-platform-kwokctl.lock"
"""Held while a kwok cluster is created: its ports are chosen and bound."""


@contextlib.contextmanager
def creating_alone(lock: Path = CREATE_LOCK) -> Iterator[None]:
    """One kwok cluster creation at a time on this machine (stacks and test runs alike):
    kwokctl's port choice is only safe while no other creation is choosing."""
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class KwokProvider(LocalClusterProvider):
    replace_on = ("kubernetesVersion",)

    def _kwokctl(self) -> str:
        return which("kwokctl", _HINT)

    def create_cluster(self, props: dict[str, Any]) -> None:
        name = str(props["name"])
        argv = [self._kwokctl()]
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "kwokctl.yaml"
            config.write_text(_CONFIG.format(version=props["kubernetesVersion"]))
            argv += ["--config", str(config), "create", "cluster", "--name", name]
            argv += ["--runtime", "binary", "--wait", "3m"]
            argv += ["--kubeconfig", str(Path(tmp) / "kubeconfig")]
            for flag, binary in _BINARIES.items():
                argv += [flag, which(binary, _HINT)]
            with creating_alone():
                run(argv, timeout=400)
        self.resize(props)

    def resize(self, props: dict[str, Any]) -> None:
        run(
            [
                self._kwokctl(),
                "--name",
                str(props["name"]),
                "scale",
                "node",
                "--replicas",
                str(int(props["nodes"])),
            ],
            timeout=120,
        )

    def kubeconfig(self, name: str) -> str:
        return run([self._kwokctl(), "--name", name, "get", "kubeconfig"])

    def exists(self, name: str) -> bool:
        out = run([self._kwokctl(), "get", "clusters"])
        return name in out.split()

    def delete_cluster(self, name: str) -> None:
        run([self._kwokctl(), "--name", name, "delete", "cluster"], timeout=180)


def connect(name: str, args: ClusterArgs, parent: pulumi.Resource) -> ClusterConnection:
    cluster = args["cluster"]
    assert isinstance(cluster, KwokCluster)
    props = {"nodes": cluster.nodes, "kubernetesVersion": cluster.kubernetesVersion}
    return connect_local(name, args, parent, KwokProvider(), props)
