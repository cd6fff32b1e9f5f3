"""The Sealed Secrets controller from the pinned sealed-secrets chart (Chart v4, like Argo CD).

The values are :func:`infra.specs.addons.sealed_secrets_values`. The chart has no Helm hooks.
Two things must survive a ``pulumi destroy`` (or ``sealedSecrets.enabled: false``), because
losing them loses every app's secrets:

- the SealedSecret CRD: deleting it deletes every SealedSecret, and the Secrets the controller
  made from them (they are owned by their SealedSecret) go with them. The chart ships it in
  ``crds/``, which the install skips; its ``ChartCRDs`` owns it and never deletes it;
- the controller's sealing keys: Secrets the controller creates in its namespace (never in
  Pulumi state). In ``kube-system`` (the default) the stack never owns the namespace; any other
  namespace is created with ``retainOnDelete``.
"""

from __future__ import annotations

from infra.components.charts import AddonSpec
from infra.specs.addons import SEALED_SECRETS_CHART

__all__ = ["SEALED_SECRETS"]

SEALED_SECRETS = AddonSpec(
    type_="gitops-platform:index:SealedSecrets",
    chart_name=SEALED_SECRETS_CHART,
    # The controller's keys live in its namespace: a destroy must not take them along.
    keep_namespace=True,
)
"""The Sealed Secrets controller (``sealed-secrets-controller``) and its CRD (``ChartAddon``)."""
