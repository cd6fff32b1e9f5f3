"""The sections about Argo CD itself: ``argocd`` (its install), ``adminPassword`` and
``notifications``. Pure."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from infra import constants
from infra.catalog.kube_names import DnsLabel
from infra.catalog.strict import checked
from infra.catalog.urls import url_credential_problem
from infra.settings.base import SettingsModel
from infra.settings.charts import ChartSettings

__all__ = ["AdminPasswordSettings", "ArgoCDSettings", "NotificationsSettings"]


class ArgoCDSettings(SettingsModel):
    namespace: DnsLabel = constants.ARGOCD_NAMESPACE_DEFAULT
    chart: ChartSettings = ChartSettings()
    ha: bool = False
    """Highly available install: redis-ha, 2+ replicas, PodDisruptionBudgets, requests."""
    protect: bool = False
    """Mark the namespace and chart `protect` so `pulumi destroy` refuses to remove them."""


class AdminPasswordSettings(SettingsModel):
    rotation: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "1"
    """Change this value (any string) to rotate the admin password on the next `pulumi up`."""


class NotificationsSettings(SettingsModel):
    """Argo CD notifications: enabled when ``webhookURL`` is set."""

    webhookURL: (
        Annotated[
            str,
            StringConstraints(pattern=r"^https?://\S+$", max_length=2048),
            checked(url_credential_problem),
        ]
        | None
    ) = None
    """Where Argo CD POSTs a JSON message when an Application goes OutOfSync/Unknown, degraded,
    or fails to sync."""
