"""Pure builders of every Kubernetes / Argo CD object the platform declares (dicts out)."""

from infra.specs.argocd_install import argocd_namespace, argocd_secret, chart_values, redis_secret
from infra.specs.catalog_objects import application_set, argocd_objects, project
from infra.specs.expand import expand

__all__ = [
    "application_set",
    "argocd_namespace",
    "argocd_objects",
    "argocd_secret",
    "chart_values",
    "expand",
    "project",
    "redis_secret",
]
