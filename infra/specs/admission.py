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

__all__ = [
    "ADMISSION_DEBUG_POLICY",
    "ADMISSION_POLICY",
    "CONTROL_PLANE_NAMESPACES",
    "KYVERNO_API_VERSION",
    "KYVERNO_CONFIGMAP",
    "REGISTRY_RULE",
    "REKOR_URL",
    "VERIFY_RULE",
    "WEBHOOK_TIMEOUT_SECONDS",
    "admission_policies",
    "app_namespaces",
    "excluded_namespaces",
    "kyverno_config_overrides",
]

KYVERNO_API_VERSION: Final = "kyverno.io/v1"
ADMISSION_POLICY: Final = "platform-signed-images"
"""The ClusterPolicy of Pods (and, by autogen, of their controllers)."""
ADMISSION_DEBUG_POLICY: Final = "platform-signed-images-debug"
"""The ClusterPolicy of ephemeral containers (``Pod/ephemeralcontainers``, autogen off)."""
VERIFY_RULE: Final = "verify-signatures"
REGISTRY_RULE: Final = "trusted-registries"
REKOR_URL: Final = "https://rekor.sigstore.dev"
"""The public Sigstore transparency log (keyless signatures are logged there)."""
KYVERNO_CONFIGMAP: Final = "kyverno"
"""Kyverno's ConfigMap (in the admission namespace); :func:`kyverno_config_overrides`."""
WEBHOOK_TIMEOUT_SECONDS: Final = 15
"""Per admission request: verification fetches signatures from the registry (Kyverno's
default is 10 s, its maximum 30)."""
CONTROL_PLANE_NAMESPACES: Final = frozenset({"kube-system", "kube-public", "kube-node-lease"})
AUTOGEN_ANNOTATION: Final = "pod-policies.kyverno.io/autogen-controllers"


def excluded_namespaces(settings: StackSettings) -> list[str]:
    """Namespaces no policy of the platform may apply to, and that Kyverno's webhooks never
    see: the control plane's, Argo CD's, Kyverno's own and the add-ons'. With Kyverno stopped,
    its (fail-closed) webhooks then still let the platform itself run and repair it."""
    names = set(CONTROL_PLANE_NAMESPACES) | set(settings.platform_namespaces)
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


def _attestor(settings: StackSettings, offline_transparency_log: bool) -> dict[str, Any]:
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
        if offline_transparency_log:
            # No Rekor to reach (tests sign with --tlog-upload=false): key only.
            keys["rekor"] = {"ignoreTlog": True}
            keys["ctlog"] = {"ignoreSCT": True}
        entry = {"keys": keys}
    return {"count": 1, "entries": [entry]}


def _verify_rule(
    settings: StackSettings,
    scope: dict[str, Any],
    *,
    offline_transparency_log: bool,
    allow_insecure_registry: bool,
) -> dict[str, Any]:
    verify: dict[str, Any] = {
        "imageReferences": [f"{r}/*" for r in settings.admission.trustedRegistries],
        "failureAction": "Enforce",
        "mutateDigest": True,
        "verifyDigest": True,
        "required": True,
        # The cache is keyed by tag: a tag moved to unsigned content would be admitted.
        "useCache": False,
        "attestors": [_attestor(settings, offline_transparency_log)],
    }
    if allow_insecure_registry:
        verify["imageRegistryCredentials"] = {"allowInsecureRegistry": True}
    return {"name": VERIFY_RULE, **copy.deepcopy(scope), "verifyImages": [verify]}


def _registry_rule(
    settings: StackSettings, scope: dict[str, Any], lists: tuple[str, ...]
) -> dict[str, Any]:
    registries = settings.admission.trustedRegistries
    allowed = " | ".join(f"{r}/*" for r in registries)
    pattern = {
        # `=(...)`: checked when present; `containers` is required in a Pod.
        (name if name == "containers" else f"=({name})"): [{"image": allowed}]
        for name in lists
    }
    return {
        "name": REGISTRY_RULE,
        **copy.deepcopy(scope),
        "validate": {
            "failureAction": "Enforce",
            "message": (
                "every image must come from a trusted registry, written in full (host first): "
                + ", ".join(f"{r}/..." for r in registries)
            ),
            "pattern": {"spec": pattern},
        },
    }


def _policy(
    settings: StackSettings,
    name: str,
    rules: list[dict[str, Any]],
    **annotations: str,
) -> dict[str, Any]:
    return {
        "apiVersion": KYVERNO_API_VERSION,
        "kind": "ClusterPolicy",
        "metadata": _metadata(settings, name, **annotations),
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


def admission_policies(
    settings: StackSettings,
    catalog: Catalog,
    *,
    offline_transparency_log: bool = False,
    allow_insecure_registry: bool = False,
) -> list[dict[str, Any]]:
    """The ClusterPolicies of the stack: none when admission is off or no app is enabled.

    ``offline_transparency_log``: with a key signer, do not require a Rekor entry or an SCT
    (tests sign without a transparency log); never for a real cluster.
    ``allow_insecure_registry``: fetch signatures over plain HTTP (the local test registry on
    127.0.0.1); never for a real cluster.
    """
    if not settings.admission.enabled:
        return []
    namespaces = app_namespaces(settings, catalog)
    if not namespaces:
        # An empty `namespaces` would match every namespace: nothing to protect, no policy.
        return []
    exclude = {"any": [{"resources": {"namespaces": excluded_namespaces(settings)}}]}

    def scope(kind: str) -> dict[str, Any]:
        match = {"any": [{"resources": {"kinds": [kind], "namespaces": namespaces}}]}
        return {"match": match, "exclude": exclude}

    options = {
        "offline_transparency_log": offline_transparency_log,
        "allow_insecure_registry": allow_insecure_registry,
    }
    pods = scope("Pod")
    debug = scope("Pod/ephemeralcontainers")
    return [
        _policy(
            settings,
            ADMISSION_POLICY,
            [
                _verify_rule(settings, pods, **options),
                _registry_rule(
                    settings, pods, ("containers", "initContainers", "ephemeralContainers")
                ),
            ],
        ),
        _policy(
            settings,
            ADMISSION_DEBUG_POLICY,
            [
                _verify_rule(settings, debug, **options),
                _registry_rule(settings, debug, ("ephemeralContainers",)),
            ],
            # Pod controllers have no ephemeral containers.
            **{AUTOGEN_ANNOTATION: "none"},
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
