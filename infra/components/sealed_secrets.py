"""The Sealed Secrets controller from the pinned sealed-secrets chart (Chart v4, like Argo CD).

The values are :func:`infra.specs.addons.sealed_secrets_values`. The chart has no Helm hooks.
Two things must survive a ``pulumi destroy`` (or ``sealedSecrets.enabled: false``), because
losing them loses every app's secrets:

- the SealedSecret CRD: deleting it deletes every SealedSecret, and the Secrets the controller
  made from them (they are owned by their SealedSecret) go with them. The chart ships it in
  ``crds/`` without ``helm.sh/resource-policy: keep``, so a transform marks it
  ``retainOnDelete`` here;
- the controller's sealing keys: Secrets the controller creates in its namespace (never in
  Pulumi state). In ``kube-system`` (the default) the stack never owns the namespace; any other
  namespace is created with ``retainOnDelete``.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.components.charts import AddonArgs, chart_source
from infra.components.rollouts import namespace_resource
from infra.specs.addons import SEALED_SECRETS_CHART, addon_namespace, sealed_secrets_values

__all__ = ["SealedSecrets", "retain_crds"]

CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def retain_crds(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Transform: every CustomResourceDefinition of the chart is ``retainOnDelete``."""
    if args.type_ != CRD_TYPE:
        return None
    return pulumi.ResourceTransformResult(
        props=args.props,
        opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )


class SealedSecrets(pulumi.ComponentResource):
    """The Sealed Secrets controller (``sealed-secrets-controller``) and its CRD."""

    namespace: pulumi.Output[str]
    chart: k8s.helm.v4.Chart

    def __init__(
        self, name: str, args: AddonArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:SealedSecrets", name, None, opts)
        settings = args["settings"]
        section = settings.sealedSecrets
        child = pulumi.ResourceOptions(parent=self, provider=args["provider"])

        depends_on: list[pulumi.Resource] = []
        ns_spec = addon_namespace(settings, section.namespace)
        if ns_spec is not None:
            # The controller's keys live there: a destroy must not take them along.
            keep = pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(retain_on_delete=True)
            )
            depends_on.append(namespace_resource(f"{name}-namespace", ns_spec, keep))

        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            name=SEALED_SECRETS_CHART,
            namespace=section.namespace,
            values=sealed_secrets_values(settings),
            **chart_source(section.chart, SEALED_SECRETS_CHART, args["project_root"]),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=depends_on, transforms=[retain_crds])
            ),
        )
        self.namespace = pulumi.Output.from_input(section.namespace)
        self.register_outputs({"namespace": self.namespace})
