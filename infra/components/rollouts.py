"""Argo Rollouts: its namespace and the pinned argo-rollouts chart (Chart v4, like Argo CD).

The values are :func:`infra.specs.addons.rollouts_values`. The chart has no Helm hooks, so
Chart v4 (which runs none) installs all of it. Its CRDs carry ``helm.sh/resource-policy: keep``
(``keepCRDs``), which Chart v4 turns into ``retainOnDelete``: disabling the add-on or destroying
the stack leaves the CRDs, and with them every app's Rollouts, in the cluster.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.components.charts import AddonArgs, chart_source
from infra.specs.addons import ROLLOUTS_CHART, addon_namespace, rollouts_values

__all__ = ["Rollouts", "namespace_resource"]


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


class Rollouts(pulumi.ComponentResource):
    """The Argo Rollouts controller and CRDs from the pinned chart."""

    namespace: pulumi.Output[str]
    chart: k8s.helm.v4.Chart

    def __init__(
        self, name: str, args: AddonArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:Rollouts", name, None, opts)
        settings = args["settings"]
        section = settings.rollouts
        child = pulumi.ResourceOptions(parent=self, provider=args["provider"])

        depends_on: list[pulumi.Resource] = []
        ns_spec = addon_namespace(settings, section.namespace)
        if ns_spec is not None:
            depends_on.append(namespace_resource(f"{name}-namespace", ns_spec, child))

        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            name=ROLLOUTS_CHART,
            namespace=section.namespace,
            values=rollouts_values(settings),
            **chart_source(section.chart, ROLLOUTS_CHART, args["project_root"]),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends_on)),
        )
        self.namespace = pulumi.Output.from_input(section.namespace)
        self.register_outputs({"namespace": self.namespace})
