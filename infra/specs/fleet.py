"""What the hub knows of each spoke (pure): its cluster Secret's labels and annotations, from
the one typed model of ``fleet.clusters``, and the parameters Argo CD's cluster generator
gives the ApplicationSets for it.

Both the Pulumi program (the Secret it writes) and ``platformctl expand``/the PR plan (the
generator they evaluate) call these, so the labels a placement selects on are the labels the
Secret carries.
"""

from __future__ import annotations

from typing import Any

from infra import constants
from infra.settings import SpokeCluster, StackSettings

__all__ = ["cluster_annotations", "cluster_labels", "generator_params"]


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
