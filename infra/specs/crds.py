"""The charts' CRDs as one small fact per chart: which documents, and a digest of each.

No chart installs its own CRDs (each is a Pulumi resource of its own then, and the engine diffs
every one in full on every preview: 2.8 MB of the local stack's 3.5 MB state). Instead one
resource per chart owns them (:mod:`infra.components.chart_crds`), and its inputs are what this
module computes: the chart, its version and ``{crd name: digest}``. A no-op preview compares
those strings; an upgrade whose CRDs changed previews as that resource updating, naming the CRDs
added, changed and removed.

Pure: documents in, digests and changes out. Rendering a chart's CRDs (helm) lives in
:mod:`infra.chart_render`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from infra import constants

__all__ = [
    "CRD_API_VERSION",
    "CRD_KIND",
    "CRD_SWITCHES",
    "CrdChanges",
    "CrdSet",
    "CrdSource",
    "CrdSwitch",
    "crd_changes",
    "crd_digest",
    "crd_documents",
    "crd_set",
    "without_crds",
]

CRD_KIND: Final = "CustomResourceDefinition"
CRD_API_VERSION: Final = "apiextensions.k8s.io/v1"


@dataclass(frozen=True)
class CrdSwitch:
    """How a chart's values turn its CRD templates on (to render them for their owner) and off
    (for the chart install, which then renders none)."""

    on: Mapping[str, Any]
    off: Mapping[str, Any]


CRD_SWITCHES: Final[Mapping[str, CrdSwitch]] = {
    # argo-cd: templates/crds/, annotated helm.sh/resource-policy: keep (as they always were).
    constants.ARGOCD_CHART: CrdSwitch(
        on={"crds": {"install": True, "keep": True}}, off={"crds": {"install": False}}
    ),
    # argo-rollouts: templates/crds/.
    constants.ROLLOUTS_CHART: CrdSwitch(
        on={"installCRDs": True, "keepCRDs": True}, off={"installCRDs": False}
    ),
    # sealed-secrets: crds/ (plain files, no switch; Chart v4 skip_crds leaves them out).
    constants.SEALED_SECRETS_CHART: CrdSwitch(on={}, off={}),
    # kyverno: charts/crds, switched by crds.install.
    constants.KYVERNO_CHART: CrdSwitch(
        on={"crds": {"install": True}}, off={"crds": {"install": False}}
    ),
}
"""Per chart name. A chart missing here cannot be installed (the program looks it up)."""


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(old, value)
        else:
            out[key] = value
    return out


def without_crds(chart: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` for installing ``chart`` with its CRD templates off."""
    return _merge(values, CRD_SWITCHES[chart].off)


@dataclass(frozen=True)
class CrdSource:
    """Where a chart's CRDs come from: the chart (a repository and version, or a local
    archive), rendered with ``values`` (the switch's ``on``), or plain files (Kyverno's CRDs
    beside the binary the toolchain built, on kwok)."""

    chart: str
    version: str
    release: str
    namespace: str
    repository: str | None = None
    archive: str | None = None
    """Absolute path of a local chart archive."""
    files: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    kube_version: str = ""
    """The cluster's Kubernetes version (``helm template --kube-version``: charts check it)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "chart": self.chart,
            "version": self.version,
            "release": self.release,
            "namespace": self.namespace,
            "repository": self.repository,
            "archive": self.archive,
            "files": list(self.files),
            "values": dict(self.values),
            "kube_version": self.kube_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CrdSource:
        return cls(
            chart=str(data["chart"]),
            version=str(data["version"]),
            release=str(data["release"]),
            namespace=str(data["namespace"]),
            repository=data.get("repository") or None,
            archive=data.get("archive") or None,
            files=tuple(str(f) for f in data.get("files") or ()),
            values=dict(data.get("values") or {}),
            kube_version=str(data.get("kube_version") or ""),
        )


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def crd_digest(document: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the document's canonical JSON (key order and layout do not count)."""
    return "sha256:" + hashlib.sha256(_canonical(document)).hexdigest()


def crd_documents(documents: Iterable[Any]) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions among rendered documents, by name; anything else (and
    empty documents) is left out. A CRD without a name, or two of one name, is a ValueError."""
    found: dict[str, dict[str, Any]] = {}
    for doc in documents:
        if not isinstance(doc, dict) or doc.get("kind") != CRD_KIND:
            continue
        name = (doc.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a CustomResourceDefinition without metadata.name")
        if name in found:
            raise ValueError(f"CustomResourceDefinition {name} is defined twice")
        found[name] = doc
    return [found[name] for name in sorted(found)]


@dataclass(frozen=True)
class CrdSet:
    """A chart's CRDs: the source they were rendered from and ``{name: digest}``."""

    source: CrdSource
    digests: Mapping[str, str]

    @property
    def names(self) -> list[str]:
        return sorted(self.digests)


def crd_set(source: CrdSource, documents: Iterable[Mapping[str, Any]]) -> CrdSet:
    return CrdSet(source, {d["metadata"]["name"]: crd_digest(d) for d in documents})


@dataclass(frozen=True)
class CrdChanges:
    added: list[str]
    changed: list[str]
    removed: list[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
            )
            if names
        ]
        return "; ".join(parts) or "no change"


def crd_changes(old: Mapping[str, str], new: Mapping[str, str]) -> CrdChanges:
    """Which CRDs (by name) a move from ``old`` to ``new`` digests adds, changes, removes."""
    return CrdChanges(
        added=sorted(set(new) - set(old)),
        changed=sorted(n for n in set(old) & set(new) if old[n] != new[n]),
        removed=sorted(set(old) - set(new)),
    )
