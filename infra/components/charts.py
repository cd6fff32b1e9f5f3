"""What every chart install shares: where the chart comes from, the add-on args, and the
add-on install itself (its namespace, then its pinned chart)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from infra.components.chart_crds import ChartCRDs
from infra.settings import ChartSettings, StackSettings
from infra.specs.addons import addon_namespace
from infra.specs.crds import CrdSet

__all__ = [
    "AddonArgs",
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


class AddonArgs(TypedDict):
    settings: StackSettings
    """Validated stack settings (the add-on's section and the environment are used)."""
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
    chart: ChartSettings,
    chart_name: str,
    namespace: str,
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
    ns_spec = addon_namespace(args["settings"], namespace)
    if ns_spec is not None:
        ns_opts = child
        if keep_namespace:
            ns_opts = pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(retain_on_delete=True)
            )
        depends_on.append(namespace_resource(f"{name}-namespace", ns_spec, ns_opts))
    return k8s.helm.v4.Chart(
        f"{name}-chart",
        name=chart_name,
        namespace=namespace,
        values=values,
        skip_crds=True,
        **chart_source(chart, chart_name, args["project_root"]),
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
    section: Callable[[StackSettings], Any]
    """The add-on's settings section (``chart``, ``namespace``)."""
    values: Callable[[StackSettings], dict[str, Any]]
    """The chart's values (its CRD templates off: :func:`infra.specs.crds.without_crds`)."""
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
        crds: CrdSet,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(spec.type_, name, None, opts)
        section = spec.section(args["settings"])
        self.chart = addon_chart(
            self,
            name,
            args,
            chart=section.chart,
            chart_name=spec.chart_name,
            namespace=section.namespace,
            values=spec.values(args["settings"]),
            crds=crds,
            keep_namespace=spec.keep_namespace,
            transforms=spec.transforms,
        )
        self.namespace = pulumi.Output.from_input(section.namespace)
        self.register_outputs({"namespace": self.namespace})
