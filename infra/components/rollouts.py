"""Argo Rollouts: its namespace and the pinned argo-rollouts chart (Chart v4, like Argo CD).

The values are :func:`infra.specs.addons.rollouts_values`. The chart has no Helm hooks, so
Chart v4 (which runs none) installs all of it. Its CRDs carry ``helm.sh/resource-policy: keep``
(``keepCRDs``), which Chart v4 turns into ``retainOnDelete``: disabling the add-on or destroying
the stack leaves the CRDs, and with them every app's Rollouts, in the cluster.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.components.charts import AddonArgs, addon_chart
from infra.specs.addons import ROLLOUTS_CHART, rollouts_values

__all__ = ["Rollouts"]


class Rollouts(pulumi.ComponentResource):
    """The Argo Rollouts controller and CRDs from the pinned chart."""

    namespace: pulumi.Output[str]
    chart: k8s.helm.v4.Chart

    def __init__(
        self, name: str, args: AddonArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:Rollouts", name, None, opts)
        section = args["settings"].rollouts
        self.chart = addon_chart(
            self,
            name,
            args,
            chart=section.chart,
            chart_name=ROLLOUTS_CHART,
            namespace=section.namespace,
            values=rollouts_values(args["settings"]),
        )
        self.namespace = pulumi.Output.from_input(section.namespace)
        self.register_outputs({"namespace": self.namespace})
