"""What every cluster provider returns: how to reach the cluster."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

__all__ = ["ClusterConnection"]


@dataclass(frozen=True)
class ClusterConnection:
    kubeconfig: pulumi.Output[str]
    """Kubeconfig text (a secret output)."""
    context: str | None
    """Context to select in it; None: its current context."""
    identifier: str
    """Stable identity for the Kubernetes provider's ``cluster_identifier``: the provider (and
    so every Kubernetes resource) is replaced only when this changes, not whenever the
    kubeconfig text does (a recreated kind cluster has new certificates)."""
    resource: pulumi.Resource | None = None
    """The resource that creates the cluster, if the stack creates it."""
