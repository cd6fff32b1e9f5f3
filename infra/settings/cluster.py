"""The ``cluster`` section: which Kubernetes cluster the stack deploys to, and whether the stack
creates it (kind, kwok) or adopts it (existing). Pure."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from infra.catalog.kube_names import DnsLabel
from infra.settings.base import SettingsModel

__all__ = [
    "DEFAULT_KIND_NODE_IMAGE",
    "DEFAULT_KUBERNETES_VERSION",
    "ClusterSettings",
    "ExistingCluster",
    "KindCluster",
    "KwokCluster",
]

DEFAULT_KUBERNETES_VERSION = "v1.34.3"
DEFAULT_KIND_NODE_IMAGE = "kindest/node:v1.34.3"

KubeVersion = Annotated[str, StringConstraints(pattern=r"^v1\.\d+\.\d+$")]

NodeImage = Annotated[
    str,
    StringConstraints(
        max_length=400,
        pattern=r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
        r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$",
    ),
]
"""An image reference: repository, then a tag and/or a digest."""


class KindCluster(SettingsModel):
    """A kind cluster the stack creates and deletes (needs Docker and the kind CLI)."""

    provider: Literal["kind"]
    name: DnsLabel | None = None
    """Cluster name; default ``gitops-<stack>``."""
    nodes: Annotated[int, Field(ge=1, le=10)] = 1
    """Number of nodes (one control plane, the rest workers)."""
    nodeImage: NodeImage = DEFAULT_KIND_NODE_IMAGE
    """kind node image, pinned (it sets the Kubernetes version)."""


class KwokCluster(SettingsModel):
    """A Docker-free control plane of local processes (kwokctl --runtime binary) with fake
    nodes; the stack creates and deletes it. Binaries come from ``make toolchain``."""

    provider: Literal["kwok"]
    name: DnsLabel | None = None
    """Cluster name; default ``gitops-<stack>``."""
    nodes: Annotated[int, Field(ge=1, le=50)] = 1
    """Number of fake nodes."""
    kubernetesVersion: KubeVersion = DEFAULT_KUBERNETES_VERSION
    controllers: Literal["local", "none"] = "local"
    """``local``: Argo CD's controllers (and Argo Rollouts' when enabled) run as local
    processes against the cluster, so Argo CD really syncs (the chart's pods are fakes on
    kwok); ``none``: nothing reconciles the Argo CD objects."""


class ExistingCluster(SettingsModel):
    """A cluster this stack adopts but does not create: reached by kubeconfig and context."""

    provider: Literal["existing"]
    kubeconfig: str = "~/.kube/config"
    """Path of the kubeconfig file (``~`` expanded)."""
    context: Annotated[str, StringConstraints(min_length=1)]
    """Context to use; required so a stack never deploys to whatever is current."""


ClusterSettings = Annotated[
    KindCluster | KwokCluster | ExistingCluster, Field(discriminator="provider")
]
