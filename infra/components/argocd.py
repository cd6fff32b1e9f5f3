"""The Argo CD install: namespace, the secrets the program owns, the pinned chart.

Chart v4 (``helm.v4.Chart``) rather than ``helm.v3.Release``: Chart v4 renders client-side and
registers every chart object as its own resource, so ``pulumi preview`` shows a per-object
diff, ``depends_on`` the chart waits for every object (the Deployments before the stack reports
success), and policies see each object. The chart's CRDs are the exception: one ``ChartCRDs``
resource owns them (infra.components.chart_crds), created before the chart. What it does
not do is run Helm hooks; argo-cd 10.x has one (``redis-secret-init``), disabled in the values
and replaced by the ``argocd-redis`` Secret created here. ``helm list`` does not see the
release; ``pulumi stack`` is where it lives.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from infra import constants
from infra.components.chart_crds import ChartCRDs
from infra.components.charts import chart_source
from infra.components.generated_secret import GeneratedSecret
from infra.settings import AdminPasswordSettings, ArgoCDSettings, WebhookSettings
from infra.specs import argocd_secret, platform_namespace, redis_secret
from infra.specs.argocd_install import webhook_secrets
from infra.specs.crds import CrdSet

__all__ = ["ArgoCD", "ArgoCDArgs"]


class ArgoCDArgs(TypedDict):
    argocd: ArgoCDSettings
    """The stack's ``argocd`` section: the namespace, the chart, ``protect``."""
    environment: str
    """The environment the stack deploys (a label of every object)."""
    admin_password: AdminPasswordSettings
    """The stack's ``adminPassword`` section: changing its ``rotation`` generates a new admin
    password."""
    webhook: WebhookSettings
    """The stack's ``webhook`` section: the git hosts' secrets, written into ``argocd-secret``."""
    values: dict[str, Any]
    """The chart's values (:func:`infra.specs.chart_values`)."""
    provider: k8s.Provider
    """Kubernetes provider of the target cluster."""
    project_root: str
    """Directory of Pulumi.yaml; a local chart path is resolved against it."""
    crds: CrdSet
    """The chart's CRDs (:func:`infra.chart_render.load_crd_set`), owned by one resource."""
    kubeconfig: pulumi.Input[str]
    """The cluster's kubeconfig (secret), for the CRD owner."""


def _meta(obj: dict[str, Any]) -> k8s.meta.v1.ObjectMetaArgs:
    m = obj["metadata"]
    return k8s.meta.v1.ObjectMetaArgs(
        name=m["name"],
        namespace=m.get("namespace"),
        labels=m.get("labels"),
        annotations=m.get("annotations"),
    )


def _protect_component(name: str, protect: bool) -> pulumi.ResourceTransform:
    """Chart v4 is a component the provider registers itself (Construct), and that
    registration drops the program's ``protect``: put it back (seen with the policy pack's
    prod-protects-argocd check; the engine log shows ``protect=<nil>`` without this)."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ == "kubernetes:helm.sh/v4:Chart" and args.name == name and protect:
            return pulumi.ResourceTransformResult(
                props=args.props,
                opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True)),
            )
        return None

    return transform


class ArgoCD(pulumi.ComponentResource):
    """Argo CD from its Helm chart, with a stable, rotatable admin password."""

    namespace: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    """The admin password (secret)."""
    admin_password_mtime: pulumi.Output[str]
    github_webhook_secret: pulumi.Output[str]
    """The GitHub key of ``argocd-secret`` (secret): what the local git mirror signs its push
    events with."""
    chart: k8s.helm.v4.Chart
    crds: ChartCRDs

    def __init__(
        self, name: str, args: ArgoCDArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:ArgoCD", name, None, opts)
        argocd, environment = args["argocd"], args["environment"]
        protect = argocd.protect
        child = pulumi.ResourceOptions(parent=self, provider=args["provider"])

        ns_spec = platform_namespace(argocd.namespace, environment)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=_meta(ns_spec),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=protect)),
        )

        generated = pulumi.ResourceOptions(parent=self)
        admin = GeneratedSecret(
            f"{name}-admin-password",
            {"length": 24, "bcrypt": True, "rotation": args["admin_password"].rotation},
            generated,
        )
        secret_key = GeneratedSecret(
            f"{name}-server-secretkey", {"length": 48, "bcrypt": False, "rotation": "1"}, generated
        )
        redis_password = GeneratedSecret(
            f"{name}-redis-password", {"length": 32, "bcrypt": False, "rotation": "1"}, generated
        )

        # Every git host's webhook key is set: those of the stack's `webhook` section, and
        # for the others this value nobody is given (an empty key accepts any call).
        webhook_lock = GeneratedSecret(
            f"{name}-webhook-secret", {"length": 40, "bcrypt": False, "rotation": "1"}, generated
        )
        webhook = {
            key: pulumi.Output.secret(value)
            for key, value in webhook_secrets(args["webhook"], webhook_lock.value).items()
        }
        self.github_webhook_secret = webhook[constants.ARGOCD_WEBHOOK_GITHUB_SECRET]

        in_namespace = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[namespace])
        )
        secret_spec = argocd_secret(
            argocd.namespace,
            environment,
            password_hash=admin.bcrypt_hash,
            password_mtime=admin.created_at,
            server_secret_key=secret_key.value,
            webhook=webhook,
        )
        argocd_secret_resource = k8s.core.v1.Secret(
            f"{name}-argocd-secret",
            metadata=_meta(secret_spec),
            type=secret_spec["type"],
            string_data=secret_spec["stringData"],
            opts=in_namespace,
        )
        redis_spec = redis_secret(argocd.namespace, environment, password=redis_password.value)
        redis_secret_resource = k8s.core.v1.Secret(
            f"{name}-redis-secret",
            metadata=_meta(redis_spec),
            type=redis_spec["type"],
            string_data=redis_spec["stringData"],
            opts=in_namespace,
        )

        # The CRDs first (the controllers watch them), owned by one resource.
        self.crds = ChartCRDs(
            f"{name}-crds",
            args["crds"],
            args["kubeconfig"],
            pulumi.ResourceOptions(parent=self, protect=protect),
        )
        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            name=constants.ARGOCD_RELEASE,
            namespace=argocd.namespace,
            values=args["values"],
            skip_crds=True,
            **chart_source(argocd.chart, constants.ARGOCD_CHART, args["project_root"]),
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    depends_on=[
                        namespace,
                        argocd_secret_resource,
                        redis_secret_resource,
                        self.crds,
                    ],
                    protect=protect,
                    transforms=[_protect_component(f"{name}-chart", protect)],
                ),
            ),
        )
        self.namespace = namespace.metadata.name
        self.admin_password = pulumi.Output.secret(admin.value)
        self.admin_password_mtime = admin.created_at
        self.register_outputs(
            {
                "namespace": self.namespace,
                "adminPassword": self.admin_password,
                "adminPasswordMtime": self.admin_password_mtime,
            }
        )
