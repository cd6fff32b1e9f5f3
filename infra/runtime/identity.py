"""The identity each local runtime process talks to the API server with: its ServiceAccount.

In a cluster the kubelet mounts a pod's ServiceAccount token (the TokenRequest API, about an
hour, refreshed at 80% of its life) and client-go reads it as the in-cluster config. Out of
cluster the supervisor does the same: for a process that talks to the API server it asks the
TokenRequest API for a token of the ServiceAccount its pod template names
(``serviceAccountName``, else ``default``), writes it to ``<dir>/identities/<process>.token``
and gives the process a kubeconfig of its own, ``<dir>/identities/<process>.kubeconfig``: the
cluster's address and CA, and that token by ``tokenFile`` (client-go reads the file again as
it changes, as it does a projected token). The API server's RBAC decides what the process
may do, as in a cluster; no process gets the cluster's admin credentials.

Pure functions here; the supervisor (:mod:`infra.runtime.supervisor`) does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra.yamlio import dump_all, load_strict

__all__ = [
    "TOKEN_SECONDS",
    "Identity",
    "identity_kubeconfig",
    "service_account_of",
    "token_request",
]

TOKEN_SECONDS: Final = 3607
"""A token's requested life: the kubelet's default for a projected ServiceAccount token."""
REFRESH_AT: Final = 0.8
"""The share of a token's life after which it is replaced (the kubelet's rule)."""


@dataclass(frozen=True)
class Identity:
    """A ServiceAccount a process acts as."""

    namespace: str
    name: str

    @property
    def username(self) -> str:
        """The user name the API server gives its tokens (what RBAC subjects match)."""
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @staticmethod
    def parse(text: str) -> Identity:
        namespace, _, name = text.partition("/")
        return Identity(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def service_account_of(workload: dict[str, Any]) -> Identity:
    """The ServiceAccount a Deployment's or StatefulSet's pods run as (``default`` when the
    template names none, as the API server's ServiceAccount admission sets it)."""
    spec = workload["spec"]["template"].get("spec") or {}
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    return Identity(workload["metadata"]["namespace"], str(name))


def token_request(seconds: int = TOKEN_SECONDS) -> dict[str, Any]:
    """The body of a ``serviceaccounts/token`` request (POST to the ServiceAccount's
    ``/token`` subresource). Bound to no object, like a token a process is handed."""
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": seconds},
    }


def refresh_due(issued: float, seconds: float, now: float) -> bool:
    """A token issued at ``issued`` for ``seconds`` is replaced once 80% of its life passed."""
    return now >= issued + REFRESH_AT * seconds


def identity_kubeconfig(admin_kubeconfig: str, token_file: Path, namespace: str) -> str:
    """A kubeconfig for one process: the admin kubeconfig's current cluster (address, CA,
    TLS server name) and nothing of its user: the token file is the credential. Its context
    namespace is ``namespace`` (Argo CD's processes take theirs from it out of cluster)."""
    loaded = load_strict(admin_kubeconfig, "kubeconfig")
    document = loaded.data
    if loaded.problems or not isinstance(document, dict):
        raise ValueError("the cluster's kubeconfig is not a mapping")
    contexts = {c["name"]: c.get("context") or {} for c in document.get("contexts") or []}
    current = contexts.get(document.get("current-context", ""))
    if current is None:
        raise ValueError("the cluster's kubeconfig has no current context")
    clusters = {c["name"]: c.get("cluster") or {} for c in document.get("clusters") or []}
    cluster = clusters.get(current.get("cluster", ""))
    if cluster is None:
        raise ValueError(f"the cluster's kubeconfig has no cluster {current.get('cluster')!r}")
    return dump_all(
        [
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "cluster", "cluster": cluster}],
                "users": [{"name": "service-account", "user": {"tokenFile": str(token_file)}}],
                "contexts": [
                    {
                        "name": "service-account",
                        "context": {
                            "cluster": "cluster",
                            "user": "service-account",
                            "namespace": namespace,
                        },
                    }
                ],
                "current-context": "service-account",
            }
        ]
    )
