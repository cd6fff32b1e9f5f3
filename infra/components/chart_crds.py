"""One resource per chart owns that chart's CRDs (docs/design.md, "CRDs").

``ChartCRDs`` is a Pulumi dynamic resource whose inputs are small: the chart, its version and
``{crd name: digest}`` (:mod:`infra.specs.crds`), plus where the documents come from and the
cluster's kubeconfig, which its diff does not compare. ``create``/``update`` render the
documents again (:mod:`infra.chart_render`, cached), check they are the ones the preview saw,
and apply each server-side as the field manager ``gitops-platform-crds`` (force: the chart's
CRDs are the platform's), annotated with their digest, then wait until the API server reports
them Established. On the first apply it also drops the field managers of the per-CRD Pulumi
resources that owned them before, so a field a later chart version removes is really removed.

CRDs are never deleted: not by ``destroy`` (the resource is ``retainOnDelete``), not by
disabling an add-on, and not when a chart upgrade drops one (deleting a CRD deletes every
custom resource of it; the update warns instead). ``read`` (refresh) reports the digests the
live CRDs carry, so a CRD deleted behind the stack's back is applied again by the next ``up``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
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

from infra import constants
from infra.chart_render import load_crd_documents
from infra.errors import PlatformError
from infra.kube import APPLY_PATCH, JSON_PATCH, api_client
from infra.specs.crds import CrdSet, CrdSource, crd_changes, crd_set

__all__ = ["ChartCRDs", "CrdApplyError", "with_digest"]

ESTABLISHED_TIMEOUT = 120.0
LEGACY_MANAGER_PREFIX = "pulumi-kubernetes"
"""Field managers of the Pulumi Kubernetes provider (the per-CRD resources of before)."""


class CrdApplyError(PlatformError):
    """A chart's CRDs could not be applied; the message names the chart and the CRD."""


def with_digest(document: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """The document as applied: its digest in an annotation (what ``read`` reports)."""
    doc = dict(document)
    meta = dict(doc.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    annotations[constants.ANNOTATION_CRD_DIGEST] = digest
    meta["annotations"] = annotations
    doc["metadata"] = meta
    return doc


def _api(kubeconfig: str) -> Any:
    from kubernetes import client

    return client.ApiextensionsV1Api(api_client(kubeconfig))


def _reason(exc: Exception) -> str:
    body = getattr(exc, "body", None) or ""
    status = getattr(exc, "status", None)
    return f"{status} {body}".strip()[:400] if status else str(exc)[:400]


def _established(crd: Any) -> bool:
    conditions = (crd.status.conditions if crd.status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


class _CrdsProvider(ResourceProvider):
    """Inputs: ``chart``, ``version``, ``crds`` ({name: digest}), ``source``
    (:class:`CrdSource` as JSON), ``kubeconfig``."""

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        source = CrdSource.from_json(props["source"])
        documents = load_crd_documents(source)
        want: dict[str, str] = dict(props["crds"])
        got = dict(crd_set(source, documents).digests)
        label = f"chart {source.chart} {source.version}"
        if got != want:
            raise CrdApplyError(
                f"the CRDs of {label} are not the ones the preview showed "
                f"({crd_changes(want, got).summary()}): run `pulumi up` again"
            )
        api = _api(str(props["kubeconfig"]))
        for doc in documents:
            name = doc["metadata"]["name"]
            try:
                api.patch_custom_resource_definition(
                    name,
                    with_digest(doc, want[name]),
                    field_manager=constants.CRD_FIELD_MANAGER,
                    force=True,
                    _content_type=APPLY_PATCH,
                    _request_timeout=60,
                )
            except (ApiException, HTTPError, OSError) as exc:
                raise CrdApplyError(f"{label}: applying CRD {name}: {_reason(exc)}") from None
        for doc in documents:
            name = doc["metadata"]["name"]
            try:
                self._wait_established(api, name, label)
                self._drop_legacy_managers(api, name)
            except (ApiException, HTTPError, OSError) as exc:
                raise CrdApplyError(f"{label}: CRD {name}: {_reason(exc)}") from None
        return {**props, "crds": want}

    @staticmethod
    def _wait_established(api: Any, name: str, label: str) -> None:
        deadline = time.monotonic() + ESTABLISHED_TIMEOUT
        while True:
            crd = api.read_custom_resource_definition(name, _request_timeout=30)
            if _established(crd):
                return
            if time.monotonic() > deadline:
                raise CrdApplyError(
                    f"{label}: CRD {name} not Established after {ESTABLISHED_TIMEOUT:.0f}s"
                )
            time.sleep(0.5)

    @staticmethod
    def _drop_legacy_managers(api: Any, name: str, attempts: int = 5) -> None:
        """Forget the field managers of the Pulumi resources that owned the CRD before (they
        are gone from the stack), so ours is the only one the chart's fields belong to. The
        patch is conditional on the version read; a concurrent status update means: read
        again."""
        from kubernetes.client.exceptions import ApiException

        for attempt in range(attempts):
            crd = api.read_custom_resource_definition(name, _request_timeout=30)
            entries = crd.metadata.managed_fields or []
            kept = [e for e in entries if not (e.manager or "").startswith(LEGACY_MANAGER_PREFIX)]
            if len(kept) == len(entries):
                return
            serialize = api.api_client.sanitize_for_serialization
            version = crd.metadata.resource_version
            try:
                api.patch_custom_resource_definition(
                    name,
                    [
                        {"op": "test", "path": "/metadata/resourceVersion", "value": version},
                        {
                            "op": "replace",
                            "path": "/metadata/managedFields",
                            "value": serialize(kept),
                        },
                    ],
                    _content_type=JSON_PATCH,
                    _request_timeout=30,
                )
                return
            except ApiException as exc:
                if exc.status not in (409, 422) or attempt == attempts - 1:
                    raise
                time.sleep(0.2)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['chart']}-crds", outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Only what the CRDs are: where they were rendered and how the cluster is reached
        # (a path, a kubeconfig) change nothing in the cluster.
        changed = [k for k in ("chart", "version", "crds") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        removed = crd_changes(dict(olds.get("crds") or {}), dict(news["crds"])).removed
        outs = self._apply(news)
        if removed:
            # Deleting a CRD deletes every custom resource of it: that stays a person's call.
            pulumi.log.warn(
                f"chart {news['chart']} {news['version']} no longer ships "
                f"{', '.join(removed)}; left in the cluster (delete by hand once unused)"
            )
        return UpdateResult(outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        live: dict[str, str] = {}
        try:
            api = _api(str(props["kubeconfig"]))
            for name in props.get("crds") or {}:
                try:
                    crd = api.read_custom_resource_definition(name, _request_timeout=30)
                except ApiException as exc:
                    if exc.status == 404:
                        continue  # deleted behind the stack's back: the next up applies it
                    raise
                annotations = crd.metadata.annotations or {}
                live[name] = annotations.get(constants.ANNOTATION_CRD_DIGEST, "unknown")
        except (ApiException, HTTPError, OSError) as exc:
            if os.environ.get("PULUMI_K8S_DELETE_UNREACHABLE", "").lower() == "true":
                # The cluster is gone (disaster recovery): forget, as the provider does.
                return ReadResult(id_=None, outs={})
            raise CrdApplyError(
                f"chart {props.get('chart')}: reading its CRDs: {_reason(exc)}"
            ) from None
        refreshed = {**props, "crds": live}
        return ReadResult(id_=id_, outs=refreshed, inputs=refreshed)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Never deletes a CRD (the resource is retainOnDelete; this is the belt to it)."""


class ChartCRDs(Resource):
    """The CRDs of one chart, owned as one resource."""

    def __init__(
        self,
        name: str,
        crds: CrdSet,
        kubeconfig: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "chart": crds.source.chart,
            "version": crds.source.version,
            "crds": dict(crds.digests),
            "source": crds.source.to_json(),
            "kubeconfig": kubeconfig,
        }
        opts = pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"], retain_on_delete=True),
        )
        super().__init__(_CrdsProvider(), name, props, opts)
