"""The Cluster component and its providers.

A provider is one module with a ``connect(name, args, parent) -> ClusterConnection`` function
(``args``: the :class:`ClusterArgs`), registered in :data:`PROVIDERS` under the name users put
in ``gitops-platform:cluster.provider``. Adding a cloud is one new module and one line here.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_kubernetes as k8s

from infra.components.cluster import existing, kind, kwok
from infra.components.cluster.base import ClusterArgs, ClusterConnection

__all__ = ["PROVIDERS", "Cluster", "ClusterArgs", "ClusterConnection"]

Connect = Callable[[str, ClusterArgs, pulumi.Resource], ClusterConnection]

PROVIDERS: dict[str, Connect] = {
    "kind": kind.connect,
    "kwok": kwok.connect,
    "existing": existing.connect,
}


class Cluster(pulumi.ComponentResource):
    """A Kubernetes cluster (created or adopted) and a Kubernetes provider bound to it."""

    kubeconfig: pulumi.Output[str]
    """Kubeconfig of the cluster (secret)."""
    cluster_name: pulumi.Output[str]
    provider: k8s.Provider
    """The Kubernetes provider every in-cluster resource uses."""

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:Cluster", name, None, opts)
        connection = PROVIDERS[args["cluster"].provider](name, args, self)
        self.kubeconfig = pulumi.Output.secret(connection.kubeconfig)
        self.cluster_name = pulumi.Output.from_input(args["cluster_name"])
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=connection.kubeconfig,
            context=connection.context,
            cluster_identifier=connection.identifier,
            # Secret data changes update in place instead of delete-then-create, which would
            # wipe the keys Argo CD adds to its secrets.
            enable_secret_mutable=True,
            # Server-side apply (the default in provider v4) is required: the ApplicationSet
            # CRD is larger than the 256 KiB client-side apply annotation allows.
            enable_server_side_apply=True,
            # delete_unreachable stays unset (false): only a `refresh` run with
            # PULUMI_K8S_DELETE_UNREACHABLE=true forgets the objects of a lost cluster (the
            # disaster-recovery procedure, README); set here it would override that variable.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[connection.resource] if connection.resource else None,
            ),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "clusterName": self.cluster_name})
