"""What the hub knows of each spoke (pure): its cluster Secret's labels and annotations, from
the one typed model of ``fleet.clusters``, and the parameters Argo CD's cluster generator
gives the ApplicationSets for it; what the program creates on a spoke (``argocd cluster
add``'s ServiceAccount, RBAC and token), where the spoke's API server is (read from its
kubeconfig) and the hub's cluster Secret.

Both the Pulumi program (the Secret it writes) and ``platformctl expand``/the PR plan (the
generator they evaluate) call these, so the labels a placement selects on are the labels the
Secret carries.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

from infra import constants
from infra.bounded import read_text_file
from infra.errors import Problem, ValidationError, redact_url, shown
from infra.settings import SpokeCluster, StackSettings
from infra.specs.expand import applications
from infra.yamlio import dump_all, load_document

__all__ = [
    "CA_FILE_MAX_BYTES",
    "SpokeEndpoint",
    "cluster_annotations",
    "cluster_labels",
    "cluster_secret",
    "cluster_secret_metadata",
    "cluster_secret_name",
    "generated_applications",
    "generator_params",
    "kubeconfig_endpoint",
    "kubeconfig_with_absolute_paths",
    "spoke_identity_objects",
]

CA_FILE_MAX_BYTES: Final = 1024 * 1024
"""A kubeconfig's ``certificate-authority`` file larger than this is refused unread."""


def cluster_labels(environment: str, spoke: SpokeCluster) -> dict[str, str]:
    """The spoke's cluster Secret labels: Argo CD's secret type, the platform's (managed-by,
    environment, cluster, region, one per add-on), then the spoke's own ``labels``."""
    labels = {
        constants.ARGOCD_SECRET_TYPE_LABEL: constants.ARGOCD_CLUSTER_SECRET_TYPE,
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
        constants.LABEL_ENV: environment,
        constants.LABEL_CLUSTER: spoke.name,
    }
    if spoke.region is not None:
        labels[constants.LABEL_REGION] = spoke.region
    for addon in spoke.addons:
        labels[f"{constants.ADDON_LABEL_PREFIX}{addon}"] = "true"
    labels.update(spoke.labels)
    return labels


def cluster_annotations(spoke: SpokeCluster) -> dict[str, str]:
    """The spoke's cluster Secret annotations: the platform's ownership marker, then the
    spoke's own ``annotations``."""
    return {**constants.OWNED_ANNOTATIONS, **spoke.annotations}


def generator_params(settings: StackSettings) -> list[dict[str, Any]]:
    """What Argo CD's cluster generator (goTemplate) yields per spoke Secret, in config order:
    ``name``, ``nameNormalized``, ``project`` and ``metadata.labels``/``annotations``. Not
    ``server``: it is known only once the spoke is reached, and the templates address a
    spoke by name."""
    return [
        {
            "name": spoke.name,
            "nameNormalized": spoke.name,
            "project": "",
            "metadata": {
                "labels": cluster_labels(settings.environment, spoke),
                "annotations": cluster_annotations(spoke),
            },
        }
        for spoke in settings.fleet.clusters
    ]


# -- on the spoke: what `argocd cluster add` creates -------------------------------------------

_RBAC_API: Final = "rbac.authorization.k8s.io"


def _spoke_metadata(name: str, namespaced: bool) -> dict[str, Any]:
    return {
        "name": name,
        **({"namespace": constants.KUBE_SYSTEM_NAMESPACE} if namespaced else {}),
        "labels": {constants.LABEL_MANAGED_BY: constants.MANAGED_BY},
        "annotations": dict(constants.OWNED_ANNOTATIONS),
    }


def spoke_identity_objects() -> list[dict[str, Any]]:
    """What ``argocd cluster add`` creates on a spoke (Argo CD's ``util/clusterauth``), in the
    order they are needed: the ServiceAccount ``argocd-manager`` in kube-system, the
    ClusterRole ``argocd-manager-role`` (every verb on every resource and non-resource URL:
    Argo CD manages the whole cluster), its binding, and the ``kubernetes.io/
    service-account-token`` Secret whose token the cluster's token controller fills in."""
    account = constants.ARGOCD_MANAGER_SERVICE_ACCOUNT
    token = _spoke_metadata(constants.ARGOCD_MANAGER_TOKEN_SECRET, namespaced=True)
    token["annotations"][constants.ANNOTATION_SERVICE_ACCOUNT_NAME] = account
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _spoke_metadata(account, namespaced=True),
        },
        {
            "apiVersion": f"{_RBAC_API}/v1",
            "kind": "ClusterRole",
            "metadata": _spoke_metadata(constants.ARGOCD_MANAGER_CLUSTER_ROLE, namespaced=False),
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        },
        {
            "apiVersion": f"{_RBAC_API}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _spoke_metadata(
                constants.ARGOCD_MANAGER_CLUSTER_ROLE_BINDING, namespaced=False
            ),
            "roleRef": {
                "apiGroup": _RBAC_API,
                "kind": "ClusterRole",
                "name": constants.ARGOCD_MANAGER_CLUSTER_ROLE,
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": account,
                    "namespace": constants.KUBE_SYSTEM_NAMESPACE,
                }
            ],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": token,
            "type": constants.SERVICE_ACCOUNT_TOKEN_TYPE,
        },
    ]


# -- the spoke's API server, from its kubeconfig -----------------------------------------------


@dataclass(frozen=True)
class SpokeEndpoint:
    """Where Argo CD reaches a spoke: its API server and how to trust it."""

    server: str
    ca_data: str | None
    """The certificate authority's PEM, base64 (as ``certificate-authority-data``); ``None``:
    the system's roots (or no TLS: a loopback ``http://`` server)."""
    insecure: bool = False
    """The kubeconfig says ``insecure-skip-tls-verify: true``."""


def _named(entries: object, name: str) -> dict[str, Any] | None:
    """The entry called ``name`` of a kubeconfig list (``contexts``, ``clusters``)."""
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def _names(entries: object) -> str:
    found = [
        str(e["name"])
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict) and isinstance(e.get("name"), str)
    ]
    return shown(", ".join(found)) if found else "none"


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _server_problem(server: str) -> str | None:
    """Why Argo CD may not use ``server``, or ``None``: https, or plain http on loopback (a
    local kwok spoke); no credentials in the URL."""
    try:
        parts = urlsplit(server)
        host = parts.hostname
        _ = parts.port  # raises for a port that is not a number
    except ValueError:
        return "is not a URL"
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return "carries credentials, a query or a fragment"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and _loopback(host):
        return None
    return "is not an https:// URL (plain http:// only on loopback, as a local kwok spoke's)"


def _pem(raw: bytes) -> bool:
    return b"-----BEGIN CERTIFICATE-----" in raw


def kubeconfig_endpoint(
    text: object,
    context: str | None,
    file: str,
    field: str,
    *,
    source: str = "the kubeconfig",
    base: Path | None = None,
) -> SpokeEndpoint:
    """The API server of ``context`` (``None``: the current context) in the kubeconfig
    ``text``, and its certificate authority: ``certificate-authority-data``, or the
    ``certificate-authority`` file (a relative path is read from ``base``, the kubeconfig's
    folder; without one, only an absolute path). Anything unusable raises a
    :class:`ValidationError` with one :class:`Problem` (``file``, ``field``) whose message
    names the kubeconfig as ``source``; no message holds a credential or the text."""

    def fail(message: str) -> NoReturn:
        raise ValidationError([Problem(file, field, f"{source} {message}")])

    if not isinstance(text, str) or not text.strip():
        fail("is empty or missing (no kubeconfig text)")
    try:
        document = load_document(text, source)
    except ValidationError as exc:
        line = next((p.line for p in exc.problems if p.line), None)
        fail("is not valid YAML" + (f" (line {line})" if line else ""))
    if not isinstance(document, dict):
        fail("is not a kubeconfig (a mapping of contexts, clusters and users)")
    if context is None:
        current = document.get("current-context")
        if not isinstance(current, str) or not current:
            fail("has no current-context: name the context to use")
        context = current
    entry = _named(document.get("contexts"), context)
    if entry is None:
        fail(f"has no context {context!r} (it has: {_names(document.get('contexts'))})")
    body = entry.get("context")
    cluster = body.get("cluster") if isinstance(body, dict) else None
    if not isinstance(cluster, str) or not cluster:
        fail(f"has a context {context!r} that names no cluster")
    found = _named(document.get("clusters"), cluster)
    if found is None:
        fail(f"has no cluster {cluster!r}, which its context {context!r} names")
    details = found.get("cluster")
    details = details if isinstance(details, dict) else {}
    where = f"(cluster {cluster!r})"
    server = details.get("server")
    if not isinstance(server, str) or not server:
        fail(f"{where} has no server")
    problem = _server_problem(server)
    if problem is not None:
        fail(f"{where}: server {redact_url(server)!r} {problem}")
    insecure = details.get("insecure-skip-tls-verify", False)
    if not isinstance(insecure, bool):
        fail(f"{where}: insecure-skip-tls-verify is not true or false")

    def fail_ca(message: str) -> NoReturn:
        fail(f"{where}: {message}")

    ca_data = _ca_data(details, base, fail_ca)
    if insecure and ca_data is not None:
        fail(
            f"{where} has both insecure-skip-tls-verify and a certificate authority, which "
            "kubectl refuses too: keep one"
        )
    return SpokeEndpoint(server=server, ca_data=ca_data, insecure=insecure)


def _ca_data(
    details: dict[str, Any], base: Path | None, fail: Callable[[str], NoReturn]
) -> str | None:
    """The cluster's certificate authority as base64 PEM: its ``certificate-authority-data``
    (which wins, as in kubectl), else its ``certificate-authority`` file, else ``None``."""
    data = details.get("certificate-authority-data")
    if data is not None:
        try:
            raw = base64.b64decode(data, validate=True) if isinstance(data, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if not _pem(raw):
            fail("certificate-authority-data is not a base64 PEM certificate")
        return base64.b64encode(raw).decode("ascii")
    path = details.get("certificate-authority")
    if path is None:
        return None
    if not isinstance(path, str) or not path:
        fail("certificate-authority is not a file path")
    ca_file = Path(path)
    if not ca_file.is_absolute():
        if base is None:
            fail(
                f"certificate-authority {shown(path)!r} is a relative path and this kubeconfig "
                "has no folder to read it from: use an absolute path or "
                "certificate-authority-data"
            )
        ca_file = base / ca_file
    read = read_text_file(ca_file, str(ca_file), CA_FILE_MAX_BYTES)
    if isinstance(read, Problem):
        fail(f"certificate-authority {shown(str(ca_file))}: {read.message}")
    if not _pem(read.encode()):
        fail(f"certificate-authority {shown(str(ca_file))} is not a PEM certificate")
    return base64.b64encode(read.encode()).decode("ascii")


_PATH_FIELDS: Final = {
    "clusters": ("cluster", ("certificate-authority",)),
    "users": ("user", ("client-certificate", "client-key", "tokenFile")),
}
"""The file paths of a kubeconfig that kubectl reads relative to the kubeconfig's folder."""


def kubeconfig_with_absolute_paths(text: str, folder: Path) -> str:
    """The kubeconfig ``text`` (already checked) with its relative file paths made absolute
    against ``folder``, as kubectl resolves them: the spoke's Kubernetes provider gets the
    text, not the file, so it has no folder of its own. Returned as it was when it has none."""
    document = load_document(text, "kubeconfig")
    changed = False
    for section, (key, fields) in _PATH_FIELDS.items():
        for entry in document.get(section) or []:
            body = entry.get(key) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for field in fields:
                path = body.get(field)
                if isinstance(path, str) and path and not Path(path).is_absolute():
                    body[field] = str(folder / path)
                    changed = True
    return dump_all([document]) if changed else text


# -- on the hub: the cluster Secret ------------------------------------------------------------


def cluster_secret_name(spoke: str) -> str:
    """The hub's cluster Secret of the spoke named ``spoke``: ``cluster-<spoke>``."""
    return f"{constants.CLUSTER_SECRET_PREFIX}{spoke}"


def cluster_secret_metadata(
    namespace: str, environment: str, spoke: SpokeCluster
) -> dict[str, Any]:
    """The cluster Secret's metadata, known before the spoke is reached (what a preview
    shows): in Argo CD's ``namespace``, labels and annotations from the one model."""
    return {
        "name": cluster_secret_name(spoke.name),
        "namespace": namespace,
        "labels": cluster_labels(environment, spoke),
        "annotations": cluster_annotations(spoke),
    }


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def cluster_secret(
    namespace: str,
    environment: str,
    spoke: SpokeCluster,
    endpoint: SpokeEndpoint,
    token: str,
) -> dict[str, Any]:
    """Argo CD's declarative cluster Secret of ``spoke`` (Argo CD docs, "Declarative setup",
    Clusters): ``name``, ``server`` and ``config`` (the bearer token and TLS settings, JSON)
    in ``data``, base64, as the API server stores them: written as ``stringData`` they would
    differ from what is read back, a diff on every run. Same inputs, same bytes."""
    tls: dict[str, Any] = {}
    if endpoint.ca_data is not None:
        tls["caData"] = endpoint.ca_data
    tls["insecure"] = endpoint.insecure
    config = json.dumps({"bearerToken": token, "tlsClientConfig": tls}, separators=(",", ":"))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": cluster_secret_metadata(namespace, environment, spoke),
        "type": "Opaque",
        "data": {
            "name": _base64(spoke.name),
            "server": _base64(endpoint.server),
            "config": _base64(config),
        },
    }


def generated_applications(
    objects: list[dict[str, Any]], settings: StackSettings
) -> list[dict[str, Any]]:
    """Every Application the stack's ApplicationSets (``objects``) generate, one per (app,
    cluster) with spokes: what Argo CD will list, and what `platformctl status` waits for."""
    return applications(objects, generator_params(settings))
