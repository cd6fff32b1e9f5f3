"""What every chart install shares: where the chart comes from, the add-on args, and the
add-on install itself (its namespace, then its pinned chart)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from infra.components.chart_crds import ChartCRDs
from infra.settings import AdmissionSettings, ChartSettings, RolloutsSettings, SealedSecretsSettings
from infra.specs.crds import CrdSet

__all__ = [
    "AddonArgs",
    "AddonSection",
    "AddonSpec",
    "ChartAddon",
    "addon_chart",
    "chart_source",
    "namespace_resource",
]


def chart_source(chart: ChartSettings, name: str, project_root: str) -> dict[str, Any]:
    """Chart v4 arguments naming a chart: the pinned repository and version, or a local
    archive (``chart.path``, resolved against the project root)."""
    if chart.path:
        path = Path(chart.path)
        resolved = path if path.is_absolute() else Path(project_root) / path
        return {"chart": str(resolved.resolve())}
    return {
        "chart": name,
        "version": chart.version,
        "repository_opts": k8s.helm.v4.RepositoryOptsArgs(repo=chart.repository),
    }


AddonSection = RolloutsSettings | SealedSecretsSettings | AdmissionSettings
"""An add-on's settings section: its ``chart`` and ``namespace`` are what an install uses."""


class AddonArgs(TypedDict):
    section: AddonSection
    """The add-on's section of the stack settings."""
    namespace_spec: dict[str, Any] | None
    """The add-on's Namespace (:func:`infra.specs.addons.addon_namespace`); None for one every
    cluster has (``kube-system``...), which the stack never owns."""
    provider: k8s.Provider
    """Kubernetes provider of the target cluster."""
    project_root: str
    """Directory of Pulumi.yaml; a local chart path is resolved against it."""
    kubeconfig: pulumi.Input[str]
    """The cluster's kubeconfig (secret): the CRD owner applies the chart's CRDs with it."""


def namespace_resource(
    name: str, spec: dict[str, Any], opts: pulumi.ResourceOptions
) -> k8s.core.v1.Namespace:
    meta = spec["metadata"]
    return k8s.core.v1.Namespace(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=meta["name"], labels=meta["labels"], annotations=meta["annotations"]
        ),
        opts=opts,
    )


def addon_chart(
    parent: pulumi.ComponentResource,
    name: str,
    args: AddonArgs,
    *,
    chart_name: str,
    values: dict[str, Any],
    crds: CrdSet,
    keep_namespace: bool = False,
    transforms: Sequence[pulumi.ResourceTransform] = (),
) -> k8s.helm.v4.Chart:
    """An add-on's namespace (unless every cluster has it: ``kube-system``...; kept on delete
    when ``keep_namespace``), its CRDs (one ``ChartCRDs``) and its chart (Chart v4, without
    its CRDs) in it, children of ``parent``."""
    child = pulumi.ResourceOptions(parent=parent, provider=args["provider"])
    depends_on: list[pulumi.Resource] = [
        ChartCRDs(f"{name}-crds", crds, args["kubeconfig"], pulumi.ResourceOptions(parent=parent))
    ]
    ns_spec = args["namespace_spec"]
    if ns_spec is not None:
        ns_opts = child
        if keep_namespace:
            ns_opts = pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(retain_on_delete=True)
            )
        depends_on.append(namespace_resource(f"{name}-namespace", ns_spec, ns_opts))
    section = args["section"]
    return k8s.helm.v4.Chart(
        f"{name}-chart",
        name=chart_name,
        namespace=section.namespace,
        values=values,
        skip_crds=True,
        **chart_source(section.chart, chart_name, args["project_root"]),
        opts=pulumi.ResourceOptions.merge(
            child,
            pulumi.ResourceOptions(depends_on=depends_on, transforms=list(transforms) or None),
        ),
    )


@dataclass(frozen=True)
class AddonSpec:
    """What distinguishes one chart add-on from another."""

    type_: str
    """The component's type token (``gitops-platform:index:<Name>``)."""
    chart_name: str
    keep_namespace: bool = False
    transforms: tuple[pulumi.ResourceTransform, ...] = ()


class ChartAddon(pulumi.ComponentResource):
    """A cluster add-on installed next to Argo CD: its namespace and its pinned chart."""

    namespace: pulumi.Output[str]
    chart: k8s.helm.v4.Chart

    def __init__(
        self,
        name: str,
        spec: AddonSpec,
        args: AddonArgs,
        values: dict[str, Any],
        crds: CrdSet,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``values``: the chart's values (its CRD templates off:
        :func:`infra.specs.crds.without_crds`)."""
        super().__init__(spec.type_, name, None, opts)
        self.chart = addon_chart(
            self,
            name,
            args,
            chart_name=spec.chart_name,
            values=values,
            crds=crds,
            keep_namespace=spec.keep_namespace,
            transforms=spec.transforms,
        )
        self.namespace = pulumi.Output.from_input(args["section"].namespace)
        self.register_outputs({"namespace": self.namespace})
