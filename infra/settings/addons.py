"""The ``rollouts`` and ``sealedSecrets`` sections: the chart add-ons a stack may install next
to Argo CD (admission has its own module). Pure."""

from __future__ import annotations

from infra import constants
from infra.catalog.kube_names import DnsLabel
from infra.settings.base import SettingsModel
from infra.settings.charts import RolloutsChartSettings, SealedSecretsChartSettings

__all__ = [
    "DEFAULT_ROLLOUTS_NAMESPACE",
    "DEFAULT_SEALED_SECRETS_NAMESPACE",
    "RolloutsSettings",
    "SealedSecretsSettings",
]

DEFAULT_ROLLOUTS_NAMESPACE = "argo-rollouts"
DEFAULT_SEALED_SECRETS_NAMESPACE = constants.KUBE_SYSTEM_NAMESPACE
"""kubeseal's default ``--controller-namespace`` (see infra/specs/addons.py)."""


class RolloutsSettings(SettingsModel):
    """Argo Rollouts (the controller and its CRDs), installed when ``enabled``."""

    enabled: bool = False
    namespace: DnsLabel = DEFAULT_ROLLOUTS_NAMESPACE
    chart: RolloutsChartSettings = RolloutsChartSettings()


class SealedSecretsSettings(SettingsModel):
    """The Sealed Secrets controller, installed when ``enabled``."""

    enabled: bool = False
    namespace: DnsLabel = DEFAULT_SEALED_SECRETS_NAMESPACE
    """Where the controller and its sealing keys live; ``kube-system`` is where ``kubeseal``
    looks by default."""
    chart: SealedSecretsChartSettings = SealedSecretsChartSettings()
