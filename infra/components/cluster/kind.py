"""kind: a Kubernetes cluster in Docker containers, created and deleted by the kind CLI."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pulumi

from infra.components.cluster.base import ClusterArgs, ClusterConnection
from infra.components.cluster.local import LocalClusterProvider, connect_local, run, which
from infra.settings import KindCluster

__all__ = ["KindProvider", "connect", "kind_config"]

_HINT = (
    "install kind (https://kind.sigs.k8s.io) and Docker, or use the Docker-free "
    "`kwok` provider (see README: 'Trying it without Docker')"
)


def kind_config(nodes: int) -> str:
    """kind's cluster config: one control plane, ``nodes - 1`` workers (pure)."""
    lines = [
        "kind: Cluster",
        "apiVersion: kind.x-k8s.io/v1alpha4",
        "nodes:",
        "  - role: control-plane",
    ]
    lines += ["  - role: worker"] * (nodes - 1)
    return "\n".join(lines) + "\n"


class KindProvider(LocalClusterProvider):
    replace_on = ("nodes", "nodeImage")

    def create_cluster(self, props: dict[str, Any]) -> None:
        kind = which("kind", _HINT)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "kind.yaml"
            config.write_text(kind_config(int(props["nodes"])))
            run(
                [
                    kind,
                    "create",
                    "cluster",
                    "--name",
                    str(props["name"]),
                    "--image",
                    str(props["nodeImage"]),
                    "--config",
                    str(config),
                    "--kubeconfig",
                    str(Path(tmp) / "kubeconfig"),
                    "--wait",
                    "5m",
                ],
                timeout=900,
            )

    def kubeconfig(self, name: str) -> str:
        return run([which("kind", _HINT), "get", "kubeconfig", "--name", name])

    def exists(self, name: str) -> bool:
        return name in run([which("kind", _HINT), "get", "clusters"]).split()

    def delete_cluster(self, name: str) -> None:
        run([which("kind", _HINT), "delete", "cluster", "--name", name], timeout=300)


def connect(name: str, args: ClusterArgs, parent: pulumi.Resource) -> ClusterConnection:
    cluster = args["cluster"]
    assert isinstance(cluster, KindCluster)
    props = {"nodes": cluster.nodes, "nodeImage": cluster.nodeImage}
    return connect_local(name, args, parent, KindProvider(), props)
