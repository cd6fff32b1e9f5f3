"""The whole of a stack's settings: one section per config key, and what follows from them
(the branch, the repository URL Argo CD clones, the local runtime's folder...). Pure."""

from __future__ import annotations

from pathlib import Path

from infra import constants
from infra.settings.addons import RolloutsSettings, SealedSecretsSettings
from infra.settings.admission import AdmissionSettings
from infra.settings.argocd import AdminPasswordSettings, ArgoCDSettings, NotificationsSettings
from infra.settings.base import SettingsModel
from infra.settings.catalog import CatalogSettings
from infra.settings.cluster import ClusterSettings, KwokCluster
from infra.settings.fleet import FleetSettings
from infra.settings.git import GitSettings, WebhookSettings
from infra.settings.sync import SyncSettings

__all__ = ["KNOWN_KEYS", "StackSettings"]


class StackSettings(SettingsModel):
    stack: str
    root: str = "."
    """The project root (the folder of Pulumi.yaml); not a config key."""
    environment: constants.Environment
    """The catalog environment the stack deploys; default: the stack name."""
    cluster: ClusterSettings
    argocd: ArgoCDSettings = ArgoCDSettings()
    git: GitSettings
    sync: SyncSettings = SyncSettings()
    adminPassword: AdminPasswordSettings = AdminPasswordSettings()
    catalog: CatalogSettings = CatalogSettings()
    rollouts: RolloutsSettings = RolloutsSettings()
    sealedSecrets: SealedSecretsSettings = SealedSecretsSettings()
    notifications: NotificationsSettings = NotificationsSettings()
    admission: AdmissionSettings = AdmissionSettings()
    webhook: WebhookSettings = WebhookSettings()
    fleet: FleetSettings = FleetSettings()

    @property
    def branch(self) -> str:
        return self.git.branch or self.environment

    @property
    def local_controllers(self) -> bool:
        """Argo CD's controllers run as local processes (kwok, ``controllers: local``)."""
        return isinstance(self.cluster, KwokCluster) and self.cluster.controllers == "local"

    @property
    def local_dir(self) -> Path:
        """Folder of the local runtime of this stack's cluster."""
        return Path(self.root).resolve() / constants.LOCAL_DIR / self.cluster_name

    @property
    def mirror_path(self) -> Path:
        return self.local_dir / constants.MIRROR_REPOSITORY

    @property
    def repo_url(self) -> str:
        """The URL Argo CD clones: ``git.repoURL``, or the local mirror's (served over HTTP on
        loopback by the local runtime)."""
        if self.git.mirror:
            return f"http://127.0.0.1:{self.git.mirrorPort}/{constants.MIRROR_REPOSITORY}"
        assert self.git.repoURL is not None  # parse_settings guarantees it
        return self.git.repoURL

    @property
    def platform_namespaces(self) -> frozenset[str]:
        """Namespaces the platform itself uses in this stack: apps may not deploy there."""
        names = {self.argocd.namespace}
        if self.rollouts.enabled:
            names.add(self.rollouts.namespace)
        if self.sealedSecrets.enabled:
            names.add(self.sealedSecrets.namespace)
        if self.admission.enabled:
            names.add(self.admission.namespace)
        return frozenset(names)

    @property
    def chart_archives(self) -> dict[str, str]:
        """``gitops-platform:<section>.chart.path`` -> path, for every chart the stack installs
        from a local archive."""
        charts = {"argocd": self.argocd.chart}
        if self.rollouts.enabled:
            charts["rollouts"] = self.rollouts.chart
        if self.sealedSecrets.enabled:
            charts["sealedSecrets"] = self.sealedSecrets.chart
        if self.admission.enabled and not self.local_controllers:
            # On kwok no chart is installed (the local runtime runs Kyverno).
            charts["admission"] = self.admission.chart
        return {
            f"{constants.PROJECT}:{section}.chart.path": chart.path
            for section, chart in charts.items()
            if chart.path
        }

    @property
    def cluster_name(self) -> str:
        name = getattr(self.cluster, "name", None)
        return name or f"gitops-{self.stack}"


KNOWN_KEYS = tuple(key for key in StackSettings.model_fields if key not in ("stack", "root"))
"""The config keys of the project (``gitops-platform:<key>``): every field but ``stack`` and
``root``, which come from the engine."""
