"""Cluster add-ons installed next to Argo CD: Argo Rollouts and Sealed Secrets (pure).

Both come from their upstream charts, pinned (``rollouts.chart``, ``sealedSecrets.chart``), and
are registered through Chart v4 like Argo CD. Neither chart has Helm hooks (checked for
argo-rollouts 2.41.0 and sealed-secrets 2.18.5: no ``helm.sh/hook`` annotation anywhere), so
nothing has to be replaced for Chart v4, which runs none.

Choices that matter:

- **CRDs:** neither chart installs its CRDs; one ``ChartCRDs`` resource per chart owns them
  (:mod:`infra.specs.crds`) and never deletes them, so disabling an add-on or destroying the
  stack never deletes the Rollouts or SealedSecrets of every app.
- **Rollouts:** the dashboard is off in a cluster (it has no authentication of its own), on
  with local controllers (the local runtime serves it on loopback as that workload); prod
  runs two controller replicas (leader election, a PodDisruptionBudget) with resource
  requests, dev one.
- **Sealed Secrets:** ``kube-system`` and the controller name ``sealed-secrets-controller`` are
  what ``kubeseal`` (and ``platformctl seal``) look for by default, so neither needs flags. The
  controller keeps its sealing keys as Secrets in its own namespace; ``kube-system`` is never
  created or deleted by the stack, so the keys outlive a ``destroy``. One replica everywhere:
  the controller has no leader election (two would each generate keys).
- **Labels:** only the environment label is added (``platform.gitops/environment``); the charts
  already set ``app.kubernetes.io/managed-by`` and a second value for that key would render a
  duplicate YAML key.
"""

from __future__ import annotations

from typing import Any, Final

from infra import constants
from infra.settings import StackSettings
from infra.specs.argocd_install import platform_namespace
from infra.specs.crds import CRD_SWITCHES

__all__ = [
    "ROLLOUTS_CHART",
    "ROLLOUTS_CONTROLLER",
    "ROLLOUTS_CRDS",
    "ROLLOUTS_DASHBOARD",
    "SEALED_SECRETS_CHART",
    "SEALED_SECRETS_CONTROLLER",
    "SEALED_SECRETS_CRD",
    "SEALED_SECRETS_KEY_LABEL",
    "SEALED_SECRETS_KEY_PREFIX",
    "addon_namespace",
    "rollouts_values",
    "sealed_secrets_values",
]

ROLLOUTS_CHART: Final = constants.ROLLOUTS_CHART
"""Chart name in its repository, and the release name (so every object is ``argo-rollouts``)."""
ROLLOUTS_CONTROLLER: Final = "argo-rollouts"
"""Name of the controller Deployment."""
ROLLOUTS_DASHBOARD: Final = f"{ROLLOUTS_CONTROLLER}-dashboard"
"""Name of the chart's dashboard Deployment (and its ServiceAccount)."""
ROLLOUTS_CRDS: Final = (
    "rollouts.argoproj.io",
    "analysistemplates.argoproj.io",
    "clusteranalysistemplates.argoproj.io",
    "analysisruns.argoproj.io",
    "experiments.argoproj.io",
)

SEALED_SECRETS_CHART: Final = constants.SEALED_SECRETS_CHART
SEALED_SECRETS_CONTROLLER: Final = "sealed-secrets-controller"
"""Controller Deployment and Service name: ``kubeseal --controller-name``'s default."""
SEALED_SECRETS_CRD: Final = "sealedsecrets.bitnami.com"
SEALED_SECRETS_KEY_PREFIX: Final = "sealed-secrets-key"
"""The controller names its key Secrets ``sealed-secrets-key<suffix>``."""
SEALED_SECRETS_KEY_LABEL: Final = "sealedsecrets.bitnami.com/sealed-secrets-key"
"""Label of the controller's key Secrets (``active`` for the ones it seals with)."""


def _labels(settings: StackSettings) -> dict[str, str]:
    return {constants.LABEL_ENV: settings.environment}


def _prod(settings: StackSettings) -> bool:
    return settings.environment == constants.PROD_ENVIRONMENT


def addon_namespace(settings: StackSettings, namespace: str) -> dict[str, Any] | None:
    """The Namespace object an add-on creates, or ``None`` for a namespace every cluster has
    (``kube-system``...), which the stack must never own (its ``destroy`` would delete it)."""
    if namespace in constants.SHARED_NAMESPACES:
        return None
    return platform_namespace(namespace, settings.environment)


def _resources(cpu: str, memory: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


def rollouts_values(settings: StackSettings) -> dict[str, Any]:
    """Values for the argo-rollouts chart. Fully known at preview time."""
    prod = _prod(settings)
    controller: dict[str, Any] = {
        # Two replicas elect a leader (the chart adds --leader-elect above one replica).
        "replicas": 2 if prod else 1,
        "metrics": {"enabled": False},
    }
    if prod:
        controller["resources"] = _resources("100m", "256Mi")
        # One of the two may go: node drains proceed, the controller stays.
        controller["pdb"] = {"enabled": True, "minAvailable": 1}
    return {
        "fullnameOverride": ROLLOUTS_CONTROLLER,
        # The CRDs are not the chart's to install: ChartCRDs owns them (infra.specs.crds).
        **CRD_SWITCHES[ROLLOUTS_CHART].off,
        "clusterInstall": True,
        "global": {"deploymentLabels": _labels(settings)},
        "controller": controller,
        # No authentication of its own: off in a cluster (`kubectl argo rollouts dashboard`
        # is the way in). With local controllers the runtime serves it on loopback, as the
        # chart's dashboard workload, under the chart's dashboard ServiceAccount and RBAC.
        "dashboard": {"enabled": settings.local_controllers},
        # Notification secrets would be plain values here; none are configured.
        "notifications": {"secret": {"create": False}},
    }


def sealed_secrets_values(settings: StackSettings) -> dict[str, Any]:
    """Values for the sealed-secrets chart. Fully known at preview time."""
    values: dict[str, Any] = {
        # kubeseal's default --controller-name; the chart would otherwise use the release name.
        "fullnameOverride": SEALED_SECRETS_CONTROLLER,
        "secretName": SEALED_SECRETS_KEY_PREFIX,
        "commonLabels": _labels(settings),
        "updateStatus": True,
        # Authenticated users may fetch the public certificate through the API server's service
        # proxy (`platformctl seal --context`, `kubeseal --fetch-cert`): it is public by design.
        "rbac": {"serviceProxier": {"create": True, "bind": True}},
        "ingress": {"enabled": False},
        "metrics": {"serviceMonitor": {"enabled": False}, "dashboards": {"create": False}},
        "pdb": {"create": False},
    }
    if _prod(settings):
        values["resources"] = _resources("50m", "128Mi")
    return values
