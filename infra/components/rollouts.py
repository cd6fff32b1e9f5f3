"""Argo Rollouts: its namespace and the pinned argo-rollouts chart (Chart v4, like Argo CD).

The values are :func:`infra.specs.addons.rollouts_values`. The chart has no Helm hooks, so
Chart v4 (which runs none) installs all of it but its CRDs, which a ``ChartCRDs`` resource owns
and never deletes: disabling the add-on or destroying the stack leaves the CRDs, and with them
every app's Rollouts, in the cluster.
"""

from __future__ import annotations

from infra.components.charts import AddonSpec
from infra.specs.addons import ROLLOUTS_CHART

__all__ = ["ROLLOUTS"]

ROLLOUTS = AddonSpec(
    type_="gitops-platform:index:Rollouts",
    chart_name=ROLLOUTS_CHART,
)
"""The Argo Rollouts controller and CRDs from the pinned chart (``ChartAddon``)."""
