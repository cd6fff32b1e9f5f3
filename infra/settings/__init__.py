"""Stack settings: one typed object, read from stack config and validated before anything else.

The keys live in ``Pulumi.<stack>.yaml`` under the project namespace (``gitops-platform:``).
Both the Pulumi program (through the engine's config) and ``platformctl`` (by reading the stack
file) call :func:`parse_settings`, so they agree on every default. Every key and its default is
documented in the README's "Stack configuration" section; a unit test keeps the two in step.
By responsibility:

- :mod:`~infra.settings.base`: the strict base model and the field types sections share;
- one module per section: :mod:`~infra.settings.cluster`, :mod:`~infra.settings.charts` (where
  each chart comes from), :mod:`~infra.settings.argocd` (``argocd``, ``adminPassword``,
  ``notifications``), :mod:`~infra.settings.addons` (``rollouts``, ``sealedSecrets``),
  :mod:`~infra.settings.admission`, :mod:`~infra.settings.git` (``git``, ``webhook``),
  :mod:`~infra.settings.sync`, :mod:`~infra.settings.fleet` (the spokes) and
  :mod:`~infra.settings.catalog` (the catalog folder's check);
- :mod:`~infra.settings.stack`: :class:`StackSettings`, every section together, and what
  follows from them;
- :mod:`~infra.settings.checks`: the checks across sections;
- :mod:`~infra.settings.loader`: :func:`parse_settings`, from the engine's config or from the
  stack file.

This module is the package's interface: the rest of the code imports from ``infra.settings``.
"""

from __future__ import annotations

from infra.settings.addons import (
    DEFAULT_SEALED_SECRETS_NAMESPACE,
    RolloutsSettings,
    SealedSecretsSettings,
)
from infra.settings.admission import AdmissionSettings, SignerSettings, is_loopback_registry
from infra.settings.argocd import AdminPasswordSettings, ArgoCDSettings, NotificationsSettings
from infra.settings.catalog import catalog_folder_problem
from infra.settings.charts import (
    DEFAULT_CHART_VERSION,
    DEFAULT_ROLLOUTS_CHART_VERSION,
    DEFAULT_SEALED_SECRETS_CHART_VERSION,
    ChartSettings,
)
from infra.settings.cluster import (
    DEFAULT_KUBERNETES_VERSION,
    ClusterSettings,
    ExistingCluster,
    KindCluster,
    KwokCluster,
)
from infra.settings.fleet import FleetSettings, SpokeCluster
from infra.settings.git import WebhookSettings
from infra.settings.loader import load_stack_file, parse_settings, settings_from_engine
from infra.settings.stack import KNOWN_KEYS, StackSettings
from infra.settings.sync import SyncRetry, SyncWindow

__all__ = [
    "DEFAULT_CHART_VERSION",
    "DEFAULT_KUBERNETES_VERSION",
    "DEFAULT_ROLLOUTS_CHART_VERSION",
    "DEFAULT_SEALED_SECRETS_CHART_VERSION",
    "DEFAULT_SEALED_SECRETS_NAMESPACE",
    "KNOWN_KEYS",
    "AdminPasswordSettings",
    "AdmissionSettings",
    "ArgoCDSettings",
    "ChartSettings",
    "ClusterSettings",
    "ExistingCluster",
    "FleetSettings",
    "KindCluster",
    "KwokCluster",
    "NotificationsSettings",
    "RolloutsSettings",
    "SealedSecretsSettings",
    "SignerSettings",
    "SpokeCluster",
    "StackSettings",
    "SyncRetry",
    "SyncWindow",
    "WebhookSettings",
    "catalog_folder_problem",
    "is_loopback_registry",
    "load_stack_file",
    "parse_settings",
    "settings_from_engine",
]
