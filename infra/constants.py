"""Every path, label, annotation key and fixed name the platform uses, in one place."""

from __future__ import annotations

from typing import Final

PROJECT: Final = "gitops-platform"
"""The Pulumi project name; also the stack config namespace (``gitops-platform:<key>``)."""

APPS_DIR: Final = "apps"
APP_FILE: Final = "app.yaml"
APPS_README: Final = "README.md"
OVERLAYS_DIR: Final = "overlays"
HELM_VALUES_DIR: Final = "values"

MAX_APP_FILE_BYTES: Final = 64 * 1024
"""app.yaml files larger than this are refused before parsing."""

ENVIRONMENTS: Final = ("dev", "prod")
"""The environments a catalog may configure; each stack deploys exactly one of them."""
PROD_ENVIRONMENT: Final = "prod"
"""The environment held to prod's rules (protection, no auto-prune, signed images)."""

ARGOCD_NAMESPACE_DEFAULT: Final = "argocd"
IN_CLUSTER_SERVER: Final = "https://kubernetes.default.svc"

RESERVED_NAMESPACES: Final = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "argocd", "default"}
)
"""Namespaces no app may deploy into (the Argo CD namespace of the stack is added to these)."""

# Labels and annotations written on every object the platform generates.
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_TEAM: Final = "platform.gitops/team"
LABEL_APP: Final = "platform.gitops/app"
LABEL_ENV: Final = "platform.gitops/environment"
ANNOTATION_SOURCE: Final = "platform.gitops/source"
MANAGED_BY: Final = "gitops-platform"

ANNOTATION_PATCH_FORCE: Final = "pulumi.com/patchForce"
"""On objects the stack owns: its server-side apply takes back fields another manager
changed (drift is reverted by `pulumi up --refresh` instead of failing on a conflict)."""
OWNED_ANNOTATIONS: Final = {ANNOTATION_PATCH_FORCE: "true"}

# Argo CD secret keys and labels (Argo CD reads secrets labelled part-of=argocd).
ARGOCD_SECRET: Final = "argocd-secret"
ARGOCD_REDIS_SECRET: Final = "argocd-redis"
ARGOCD_INITIAL_ADMIN_SECRET: Final = "argocd-initial-admin-secret"
ARGOCD_SERVER_DEPLOYMENT: Final = "argocd-server"
ANNOTATION_RESTARTED_AT: Final = "kubectl.kubernetes.io/restartedAt"
"""What `kubectl rollout restart` sets on a pod template (the break-glass reset does too; the
local runtime restarts a process when it changes)."""

ARGOCD_API_GROUP: Final = "argoproj.io"
ARGOCD_API_VERSION: Final = "argoproj.io/v1alpha1"

# The charts the platform installs (name in its repository; each is also its release name but
# argo-cd's, released as ``argocd`` so its objects are named argocd-*).
ARGOCD_CHART: Final = "argo-cd"
ARGOCD_RELEASE: Final = "argocd"
ROLLOUTS_CHART: Final = "argo-rollouts"
SEALED_SECRETS_CHART: Final = "sealed-secrets"
KYVERNO_CHART: Final = "kyverno"

# The charts' CRDs (infra.components.chart_crds): one resource per chart applies them.
CRD_FIELD_MANAGER: Final = "gitops-platform-crds"
"""The server-side apply field manager of every chart CRD the platform owns."""
ANNOTATION_CRD_DIGEST: Final = "platform.gitops/crd-digest"
"""On each applied CRD: the digest of the chart's document (what a refresh compares)."""
