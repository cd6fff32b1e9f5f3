"""Admission control with Kyverno: only signed images from trusted registries reach the apps'
namespaces (pure: settings and catalog in, plain dicts out). See docs/admission.md.

Two ClusterPolicies (Kyverno v1.19.0, ``kyverno.io/v1``), scoped to exactly the namespaces of
the apps enabled in the stack's environment, never to the platform's own:

- :data:`ADMISSION_POLICY` matches Pods; Kyverno's autogen (left at its default) adds the same
  rules for Deployments, StatefulSets, Jobs... so a bad image is refused when the Deployment is
  applied, not only when its ReplicaSet fails to create Pods. Two rules:

  - ``verify-signatures`` (``verifyImages``): every image under a trusted registry must carry a
    signature by the configured signer, is verified by digest and pinned to it
    (``mutateDigest``), and is checked on every admission (``useCache: false``: Kyverno's cache
    is keyed by tag, so a tag moved to unsigned content would pass).
  - ``trusted-registries`` (``validate``): every container, init container and ephemeral
    container image must be under a trusted registry. ``verifyImages`` ignores images that do
    not match its ``imageReferences``, so without this rule any other registry would pass. The
    check is on the image string as written: ``nginx:1.25`` (Docker Hub, no host) never starts
    with a trusted prefix and is refused.

- :data:`ADMISSION_DEBUG_POLICY` matches ``Pod/ephemeralcontainers`` (``kubectl debug``): the
  subresource is not sent to the Pod rules, and autogen must be off for it.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Final

from infra import constants
from infra.catalog import Catalog
from infra.settings import StackSettings
from infra.specs.crds import CRD_SWITCHES

__all__ = [
    "ADMISSION_DEBUG_POLICY",
    "ADMISSION_POLICY",
    "KYVERNO_API_VERSION",
    "KYVERNO_CONFIGMAP",
    "KYVERNO_IDENTITY_TEMPLATES",
    "REGISTRY_RULE",
    "REKOR_URL",
    "VERIFY_RULE",
    "WEBHOOK_TIMEOUT_SECONDS",
    "admission_policies",
    "app_namespaces",
    "excluded_namespaces",
    "kyverno_config_overrides",
    "kyverno_configmap",
    "kyverno_identity_values",
    "kyverno_values",
]

KYVERNO_API_VERSION: Final = "kyverno.io/v1"
ADMISSION_POLICY: Final = "platform-signed-images"
"""The ClusterPolicy of Pods (and, by autogen, of their controllers)."""
ADMISSION_DEBUG_POLICY: Final = "platform-signed-images-debug"
"""The ClusterPolicy of ephemeral containers (``Pod/ephemeralcontainers``, autogen off)."""
VERIFY_RULE: Final = "verify-signatures"
"""Pods: verified by digest, pinned to it."""
VERIFY_WORKLOADS_RULE: Final = "verify-workload-signatures"
"""Pod controllers: verified as written, not rewritten (git stays Argo CD's desired state)."""
REGISTRY_RULE: Final = "trusted-registries"
REGISTRY_WORKLOADS_RULE: Final = "trusted-registries-workloads"
REGISTRY_CRONJOBS_RULE: Final = "trusted-registries-cronjobs"
REKOR_URL: Final = "https://rekor.sigstore.dev"
"""The public Sigstore transparency log (keyless signatures are logged there)."""
KYVERNO_CONFIGMAP: Final = "kyverno"
"""Kyverno's ConfigMap (in the admission namespace); :func:`kyverno_config_overrides`."""
WEBHOOK_TIMEOUT_SECONDS: Final = 15
"""Per admission request: verification fetches signatures from the registry (Kyverno's
default is 10 s, its maximum 30)."""
AUTOGEN_ANNOTATION: Final = "pod-policies.kyverno.io/autogen-controllers"


def excluded_namespaces(settings: StackSettings) -> list[str]:
    """Namespaces no policy of the platform may apply to, and that Kyverno's webhooks never
    see: the control plane's, Argo CD's, Kyverno's own and the add-ons'. With Kyverno stopped,
    its (fail-closed) webhooks then still let the platform itself run and repair it."""
    names = set(constants.CONTROL_PLANE_NAMESPACES) | set(settings.platform_namespaces)
    names |= {settings.admission.namespace, constants.ARGOCD_NAMESPACE_DEFAULT}
    return sorted(names)


def app_namespaces(settings: StackSettings, catalog: Catalog) -> list[str]:
    """The namespaces of the apps enabled in the stack's environment, sorted (a platform
    namespace never: the catalog refuses apps there, and it would be excluded anyway)."""
    excluded = set(excluded_namespaces(settings))
    return sorted(
        {app.definition.namespace for app in catalog.enabled_in(settings.environment)} - excluded
    )


def _metadata(settings: StackSettings, name: str, **annotations: str) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {
            constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
            constants.LABEL_ENV: settings.environment,
        },
        "annotations": {
            **constants.OWNED_ANNOTATIONS,
            "policies.kyverno.io/title": "Signed images from trusted registries",
            "policies.kyverno.io/description": (
                "Apps may run only images under the stack's trusted registries, signed by its "
                "signer, pinned to their digest (gitops-platform docs/admission.md)."
            ),
            **annotations,
        },
    }


def _attestor(settings: StackSettings) -> dict[str, Any]:
    signer = settings.admission.signer
    assert signer is not None  # parse_settings requires it when enabled
    if signer.keyless is not None:
        entry: dict[str, Any] = {
            "keyless": {
                "issuer": signer.keyless.issuer,
                "subject": signer.keyless.subject,
                "rekor": {"url": REKOR_URL},
            }
        }
    else:
        assert signer.publicKey is not None
        keys: dict[str, Any] = {"publicKeys": signer.publicKey}
        if not signer.transparencyLog:
            # Signed where Rekor is unreachable (`cosign sign --tlog-upload=false`): key only.
            keys["rekor"] = {"ignoreTlog": True}
            keys["ctlog"] = {"ignoreSCT": True}
        entry = {"keys": keys}
    return {"count": 1, "entries": [entry]}


WORKLOAD_KINDS: Final = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job")
"""Pod controllers whose pod template is ``spec.template`` (Kyverno extracts their images)."""
ROLLOUT_KIND: Final = "argoproj.io/v1alpha1/Rollout"
"""Argo Rollouts' workload (``spec.template`` too); matched only when Rollouts is installed:
Kyverno refuses a policy naming a kind the API server does not serve."""


def _rollout_extractors() -> dict[str, Any]:
    """Kyverno knows where the images of Pods and of the core Pod controllers are; a Rollout's
    (``spec.template.spec``, as a Deployment's) must be named, or none is verified (the real
    Kyverno admitted an unsigned Rollout without this)."""
    return {
        "Rollout": [
            {
                "name": lists,
                "path": f"/spec/template/spec/{lists}/*",
                "value": "image",
                "key": "name",
            }
            for lists in constants.CONTAINER_LISTS
        ]
    }


def _verify_rule(
    settings: StackSettings,
    name: str,
    scope: dict[str, Any],
    *,
    pin: bool,
    rollouts: bool = False,
) -> dict[str, Any]:
    """``pin``: verify by digest and rewrite the image to it (Pods: what runs is what was
    verified). A workload is verified as written and left as written: it is Argo CD's desired
    state, and a rewritten image would be reported as drift from git."""
    admission = settings.admission
    verify: dict[str, Any] = {
        "imageReferences": [f"{r}/*" for r in admission.trustedRegistries],
        "failureAction": "Enforce",
        "mutateDigest": pin,
        "verifyDigest": pin,
        "required": pin,
        # The cache is keyed by tag: a tag moved to unsigned content would be admitted.
        "useCache": False,
        "attestors": [_attestor(settings)],
    }
    if admission.insecure_registries:
        # A loopback registry (127.0.0.1, localhost) speaks plain HTTP; never a remote one.
        verify["imageRegistryCredentials"] = {"allowInsecureRegistry": True}
    rule: dict[str, Any] = {"name": name, **copy.deepcopy(scope), "verifyImages": [verify]}
    if rollouts:
        rule["imageExtractors"] = _rollout_extractors()
    return rule


def _registry_rule(
    settings: StackSettings,
    name: str,
    scope: dict[str, Any],
    lists: tuple[str, ...],
    pod_spec_path: tuple[str, ...],
) -> dict[str, Any]:
    registries = settings.admission.trustedRegistries
    allowed = " | ".join(f"{r}/*" for r in registries)
    pattern: dict[str, Any] = {
        # `=(...)`: checked when present; `containers` is required in a Pod.
        (name if name == "containers" else f"=({name})"): [{"image": allowed}]
        for name in lists
    }
    for key in reversed(pod_spec_path):
        pattern = {key: pattern}
    return {
        "name": name,
        **copy.deepcopy(scope),
        "validate": {
            "failureAction": "Enforce",
            "message": (
                "every image must come from a trusted registry, written in full (host first): "
                + ", ".join(f"{r}/..." for r in registries)
            ),
            "pattern": pattern,
        },
    }


def _policy(
    settings: StackSettings,
    name: str,
    rules: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": KYVERNO_API_VERSION,
        "kind": "ClusterPolicy",
        # Autogen off: the workload rules below are written out (Kyverno's autogen would pin
        # workloads to digests too, and knows no Rollout).
        "metadata": _metadata(settings, name, **{AUTOGEN_ANNOTATION: "none"}),
        "spec": {
            # Admission only: verifyImages cannot run in background scans.
            "background": False,
            "webhookConfiguration": {
                "failurePolicy": "Fail",
                "timeoutSeconds": WEBHOOK_TIMEOUT_SECONDS,
            },
            "rules": rules,
        },
    }


def admission_policies(settings: StackSettings, catalog: Catalog) -> list[dict[str, Any]]:
    """The ClusterPolicies of the stack: none when admission is off or no app is enabled."""
    if not settings.admission.enabled:
        return []
    namespaces = app_namespaces(settings, catalog)
    if not namespaces:
        # An empty `namespaces` would match every namespace: nothing to protect, no policy.
        return []
    exclude = {"any": [{"resources": {"namespaces": excluded_namespaces(settings)}}]}

    def scope(*kinds: str) -> dict[str, Any]:
        match = {"any": [{"resources": {"kinds": list(kinds), "namespaces": namespaces}}]}
        return {"match": match, "exclude": exclude}

    workloads = (*WORKLOAD_KINDS, *([ROLLOUT_KIND] if settings.rollouts.enabled else []))
    # `=(template)`: a Rollout may have none (`workloadRef` names a Deployment, checked itself).
    template = ("spec", "=(template)", "spec")
    return [
        _policy(
            settings,
            ADMISSION_POLICY,
            [
                _verify_rule(settings, VERIFY_RULE, scope("Pod"), pin=True),
                _verify_rule(
                    settings,
                    VERIFY_WORKLOADS_RULE,
                    scope(*workloads, "CronJob"),
                    pin=False,
                    rollouts=settings.rollouts.enabled,
                ),
                _registry_rule(
                    settings, REGISTRY_RULE, scope("Pod"), constants.CONTAINER_LISTS, ("spec",)
                ),
                _registry_rule(
                    settings,
                    REGISTRY_WORKLOADS_RULE,
                    scope(*workloads),
                    constants.CONTAINER_LISTS,
                    template,
                ),
                _registry_rule(
                    settings,
                    REGISTRY_CRONJOBS_RULE,
                    scope("CronJob"),
                    constants.CONTAINER_LISTS,
                    ("spec", "jobTemplate", "spec", "template", "spec"),
                ),
            ],
        ),
        _policy(
            settings,
            ADMISSION_DEBUG_POLICY,
            [
                _verify_rule(settings, VERIFY_RULE, scope("Pod/ephemeralcontainers"), pin=True),
                _registry_rule(
                    settings,
                    REGISTRY_RULE,
                    scope("Pod/ephemeralcontainers"),
                    ("ephemeralContainers",),
                    ("spec",),
                ),
            ],
        ),
    ]


def kyverno_config_overrides(settings: StackSettings) -> dict[str, str]:
    """Data of Kyverno's ConfigMap (:data:`KYVERNO_CONFIGMAP` in the admission namespace):
    ``webhooks``, the namespaceSelector of every webhook Kyverno registers (JSON text, as
    Kyverno v1.19.0's ``pkg/config`` parses it; the chart's default excludes only
    kube-system). A stopped Kyverno (its webhooks fail closed) then never blocks the control
    plane, Argo CD, Kyverno itself or an add-on."""
    webhooks = {
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": excluded_namespaces(settings),
                }
            ]
        }
    }
    return {"webhooks": json.dumps(webhooks, separators=(",", ":"), sort_keys=True)}


def kyverno_configmap(settings: StackSettings) -> dict[str, Any]:
    """Kyverno's ConfigMap as the chart would create it, for a cluster without the chart
    (kwok: the local runtime runs Kyverno; it reads this ConfigMap at start)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": KYVERNO_CONFIGMAP,
            "namespace": settings.admission.namespace,
            "labels": {
                constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
                constants.LABEL_ENV: settings.environment,
            },
        },
        "data": kyverno_config_overrides(settings),
    }


def kyverno_values(settings: StackSettings) -> dict[str, Any]:
    """Values for the kyverno chart (3.9.0) on a real cluster.

    Chart v4 runs no Helm hooks (docs/admission.md): the chart's hook Jobs (pre-delete webhook
    cleanup and scale-to-zero, post-upgrade CRD migration) are turned off rather than applied
    as plain Jobs at install. Kyverno removes its own webhooks when its Deployment is deleted.
    """
    webhooks = json.loads(kyverno_config_overrides(settings)["webhooks"])
    prod = settings.environment == constants.PROD_ENVIRONMENT
    return {
        "config": {"webhooks": webhooks},
        # Three replicas: the webhooks fail closed, one must always answer (Kyverno's advice).
        "admissionController": {"replicas": 3 if prod else 1},
        "webhooksCleanup": {"enabled": False},
        # The CRDs are not the chart's to install: ChartCRDs owns them (infra.specs.crds).
        "crds": {
            **CRD_SWITCHES[constants.KYVERNO_CHART].off["crds"],
            "migration": {"enabled": False},
        },
    }


KYVERNO_IDENTITY_TEMPLATES: Final = tuple(
    f"templates/admission-controller/{template}.yaml"
    for template in ("serviceaccount", "clusterrole", "clusterrolebinding", "role", "rolebinding")
)
"""The chart templates of the admission controller's identity: its ServiceAccount and the RBAC
the chart gives it. On kwok the local runtime's Kyverno process runs as that ServiceAccount."""


def kyverno_identity_values(settings: StackSettings) -> dict[str, Any]:
    """The chart values the identity is rendered with on kwok: a real cluster's values, with
    the dependencies the chart folder does not carry (``kyverno-api``, ``openreports``,
    ``reports-server``, ``grafana``) off."""
    values = kyverno_values(settings)
    return {
        **values,
        "crds": {**values["crds"], "install": False},
        "openreports": {"installCrds": False},
        "reportsServer": {"enabled": False},
        "grafana": {"enabled": False},
    }
