"""What every cluster provider is given (the cluster section and what follows from the stack)
and what it returns: how to reach the cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import pulumi

from infra.settings import ClusterSettings

__all__ = ["ClusterArgs", "ClusterConnection"]


class ClusterArgs(TypedDict):
    cluster: ClusterSettings
    """The stack's ``cluster`` section (its ``provider`` chooses the module)."""
    cluster_name: str
    """The cluster's name: ``cluster.name``, or ``gitops-<stack>``."""
    protect: bool
    """``argocd.protect``: a stack that protects its Argo CD install protects a cluster it
    creates too."""
    stack_file: str
    """``Pulumi.<stack>.yaml``, named in the problems a provider reports."""


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
