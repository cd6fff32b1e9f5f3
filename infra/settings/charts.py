"""Where each chart the stack installs comes from (a section's ``chart:``): the pinned version
and repository, or a local archive. Pure."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from infra.settings.base import HttpsURL, SettingsModel

__all__ = [
    "DEFAULT_ADMISSION_CHART_REPOSITORY",
    "DEFAULT_ADMISSION_CHART_VERSION",
    "DEFAULT_CHART_REPOSITORY",
    "DEFAULT_CHART_VERSION",
    "DEFAULT_ROLLOUTS_CHART_VERSION",
    "DEFAULT_SEALED_SECRETS_CHART_REPOSITORY",
    "DEFAULT_SEALED_SECRETS_CHART_VERSION",
    "AdmissionChartSettings",
    "ChartSettings",
    "RolloutsChartSettings",
    "SealedSecretsChartSettings",
]

DEFAULT_CHART_VERSION = "10.1.1"
DEFAULT_CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
DEFAULT_ROLLOUTS_CHART_VERSION = "2.41.0"
"""argo-rollouts chart 2.41.0 = Argo Rollouts v1.9.0."""
DEFAULT_SEALED_SECRETS_CHART_VERSION = "2.18.5"
"""sealed-secrets chart 2.18.5 = Sealed Secrets controller 0.36.6."""
DEFAULT_SEALED_SECRETS_CHART_REPOSITORY = "https://bitnami-labs.github.io/sealed-secrets"
DEFAULT_ADMISSION_CHART_VERSION = "3.9.0"
"""kyverno chart 3.9.0 = Kyverno v1.19.0."""
DEFAULT_ADMISSION_CHART_REPOSITORY = "https://kyverno.github.io/kyverno/"

ChartVersion = Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]


class ChartSettings(SettingsModel):
    version: ChartVersion = DEFAULT_CHART_VERSION
    """argo-cd chart version, exact."""
    repository: HttpsURL = DEFAULT_CHART_REPOSITORY
    path: str | None = None
    """A local chart archive used instead of the repository (air-gapped installs, tests),
    relative to the project root, e.g. ``../shared/charts/argo-cd-10.1.1.tgz``."""


class RolloutsChartSettings(ChartSettings):
    version: ChartVersion = DEFAULT_ROLLOUTS_CHART_VERSION
    """argo-rollouts chart version, exact."""
    repository: HttpsURL = DEFAULT_CHART_REPOSITORY
    path: str | None = None
    """A local chart archive instead of the repository, relative to the project root, e.g.
    ``../shared/charts/argo-rollouts-2.41.0.tgz``."""


class SealedSecretsChartSettings(ChartSettings):
    version: ChartVersion = DEFAULT_SEALED_SECRETS_CHART_VERSION
    """sealed-secrets chart version, exact."""
    repository: HttpsURL = DEFAULT_SEALED_SECRETS_CHART_REPOSITORY
    path: str | None = None
    """A local chart archive instead of the repository, relative to the project root, e.g.
    ``../shared/charts/sealed-secrets-2.18.5.tgz``."""


class AdmissionChartSettings(ChartSettings):
    version: ChartVersion = DEFAULT_ADMISSION_CHART_VERSION
    """kyverno chart version, exact."""
    repository: HttpsURL = DEFAULT_ADMISSION_CHART_REPOSITORY
    path: str | None = None
    """A local chart archive instead of the repository, relative to the project root."""
