"""Pure builders of every Kubernetes / Argo CD object the platform declares (dicts out)."""

from infra.specs.admission import (
    admission_policies,
    app_namespaces,
    excluded_namespaces,
    kyverno_config_overrides,
)
from infra.specs.argocd_install import argocd_secret, chart_values, platform_namespace, redis_secret
from infra.specs.catalog_objects import application_set, argocd_objects, project
from infra.specs.expand import applications, expand

__all__ = [
    "admission_policies",
    "app_namespaces",
    "application_set",
    "applications",
    "argocd_objects",
    "argocd_secret",
    "chart_values",
    "excluded_namespaces",
    "expand",
    "kyverno_config_overrides",
    "platform_namespace",
    "project",
    "redis_secret",
]
