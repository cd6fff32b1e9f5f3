"""Every path, label, annotation key and fixed name the platform uses, in one place."""

from __future__ import annotations

from typing import Final, Literal, get_args

PROJECT: Final = "gitops-platform"
"""The Pulumi project name; also the stack config namespace (``gitops-platform:<key>``)."""

STACK_FILE_PATTERN: Final = "Pulumi.{stack}.yaml"
"""A stack's settings file in the project root (Pulumi's own naming)."""


def stack_file(stack: str) -> str:
    """The stack file of ``stack``: ``Pulumi.<stack>.yaml``; the one place its name is built."""
    return STACK_FILE_PATTERN.format(stack=stack)


CONTAINER_LISTS: Final = ("containers", "initContainers", "ephemeralContainers")
"""The pod spec's lists of containers, each with an ``image``."""
KUSTOMIZATION_FILES: Final = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The names kustomize reads a kustomization from, in the order it looks for them."""
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")
"""The suffixes of the files Argo CD's directory source reads as manifests (besides jsonnet)."""
LOCAL_DIR: Final = ".gitops-local"
"""Per-cluster folder of the local runtime under the project root (gitignored):
``.gitops-local/<cluster>/`` holds the git mirror, the runtime's kubeconfig, its state and the
processes' logs."""
MIRROR_REPOSITORY: Final = "repo.git"
"""The local git mirror's folder under ``.gitops-local/<cluster>/``, and its path on the git
server."""
APPS_DIR: Final = "apps"
APP_FILE: Final = "app.yaml"
APPS_README: Final = "README.md"
OVERLAYS_DIR: Final = "overlays"
HELM_VALUES_DIR: Final = "values"
HELM_CHART_FILE: Final = "Chart.yaml"
"""What makes a folder a Helm chart."""
GENERATED_DIR: Final = "generated"
"""In an app's folder: what ``platformctl generate`` writes (``generated/<env>/``)."""
ROLLOUT_FILE: Final = "rollout.yaml"
"""The generated Rollout of an app, in ``generated/<env>/``."""

NAME_MAX: Final = 255
"""The longest file name (one part of a path) Linux and macOS accept, in bytes."""
PATH_MAX: Final = 4096
"""The longest path Linux accepts, in bytes."""

MAX_APP_FILE_BYTES: Final = 64 * 1024
"""app.yaml files larger than this are refused before parsing."""

Environment = Literal["dev", "prod"]
"""The environments a catalog may configure; each stack deploys exactly one of them."""
ENVIRONMENTS: Final[tuple[str, ...]] = get_args(Environment)
"""The same environments as values (``dev``, ``prod``)."""
PROD_ENVIRONMENT: Final = "prod"
"""The environment held to prod's rules (protection, no auto-prune, signed images)."""

ARGOCD_NAMESPACE_DEFAULT: Final = "argocd"
KUBE_SYSTEM_NAMESPACE: Final = "kube-system"
"""The cluster's own components' namespace (also the Sealed Secrets controller's default:
``kubeseal`` looks for it there)."""
SHARED_NAMESPACES: Final = frozenset({KUBE_SYSTEM_NAMESPACE, "kube-public", "default"})
"""Namespaces every cluster has: an add-on installed there never creates or deletes them."""
CONTROL_PLANE_NAMESPACES: Final = frozenset(
    {KUBE_SYSTEM_NAMESPACE, "kube-public", "kube-node-lease"}
)
"""The namespaces of the cluster's control plane: no admission policy applies there."""
IN_CLUSTER_SERVER: Final = "https://kubernetes.default.svc"

RESERVED_NAMESPACES: Final = (
    SHARED_NAMESPACES | CONTROL_PLANE_NAMESPACES | {ARGOCD_NAMESPACE_DEFAULT}
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
LABEL_CLUSTER: Final = "platform.gitops/cluster"
"""On a spoke's cluster Secret (and its Applications): the spoke's name."""
LABEL_REGION: Final = "platform.gitops/region"
"""On a spoke's cluster Secret: ``fleet.clusters[].region``."""
ADDON_LABEL_PREFIX: Final = "addons.platform.gitops/"
"""On a spoke's cluster Secret: ``addons.platform.gitops/<addon>: "true"`` per add-on it runs."""
RESERVED_LABEL_PREFIXES: Final = (
    "platform.gitops/",
    ADDON_LABEL_PREFIX,
    "argocd.argoproj.io/",
    "app.kubernetes.io/",
)
"""Label and annotation keys the platform and Argo CD set on a cluster Secret: a spoke's own
``labels`` and ``annotations`` may not use them."""
ARGOCD_SECRET_TYPE_LABEL: Final = "argocd.argoproj.io/secret-type"
ARGOCD_CLUSTER_SECRET_TYPE: Final = "cluster"
"""The label value that makes a Secret in Argo CD's namespace a cluster Secret."""
CLUSTER_SECRET_PREFIX: Final = "cluster-"
"""A spoke's cluster Secret in Argo CD's namespace is ``cluster-<spoke>``."""
# What `argocd cluster add` creates on a spoke (Argo CD v3.4's util/clusterauth), in
# kube-system: Argo CD acts on the spoke as this ServiceAccount, with this token.
ARGOCD_MANAGER_SERVICE_ACCOUNT: Final = "argocd-manager"
ARGOCD_MANAGER_CLUSTER_ROLE: Final = "argocd-manager-role"
ARGOCD_MANAGER_CLUSTER_ROLE_BINDING: Final = "argocd-manager-role-binding"
ARGOCD_MANAGER_TOKEN_SECRET: Final = "argocd-manager-long-lived-token"
SERVICE_ACCOUNT_TOKEN_TYPE: Final = "kubernetes.io/service-account-token"
"""A Secret of this type, annotated with its ServiceAccount's name, gets a long-lived token of
that account from the cluster's token controller (``data.token``)."""
ANNOTATION_SERVICE_ACCOUNT_NAME: Final = "kubernetes.io/service-account.name"
MANAGED_BY: Final = "gitops-platform"

ANNOTATION_PATCH_FORCE: Final = "pulumi.com/patchForce"
"""On objects the stack owns: its server-side apply takes back fields another manager
changed (drift is reverted by `pulumi up --refresh` instead of failing on a conflict)."""
OWNED_ANNOTATIONS: Final = {ANNOTATION_PATCH_FORCE: "true"}

# Argo CD secret keys and labels (Argo CD reads secrets labelled part-of=argocd).
ARGOCD_PART_OF: Final = "argocd"
"""The ``app.kubernetes.io/part-of`` value Argo CD finds its secrets by."""
ARGOCD_SECRET: Final = "argocd-secret"
ARGOCD_REDIS_SECRET: Final = "argocd-redis"
ARGOCD_INITIAL_ADMIN_SECRET: Final = "argocd-initial-admin-secret"
ARGOCD_SERVER_DEPLOYMENT: Final = "argocd-server"
ANNOTATION_RESTARTED_AT: Final = "kubectl.kubernetes.io/restartedAt"
"""What `kubectl rollout restart` sets on a pod template (the break-glass reset does too; the
local runtime restarts a process when it changes)."""

ARGOCD_WEBHOOK_GITHUB_SECRET: Final = "webhook.github.secret"
ARGOCD_WEBHOOK_GITLAB_SECRET: Final = "webhook.gitlab.secret"
ARGOCD_WEBHOOK_BITBUCKET_SERVER_SECRET: Final = "webhook.bitbucketserver.secret"
ARGOCD_WEBHOOK_GOGS_SECRET: Final = "webhook.gogs.secret"
ARGOCD_WEBHOOK_KEYS: Final = (
    ARGOCD_WEBHOOK_GITHUB_SECRET,
    ARGOCD_WEBHOOK_GITLAB_SECRET,
    "webhook.bitbucket.uuid",
    ARGOCD_WEBHOOK_BITBUCKET_SERVER_SECRET,
    ARGOCD_WEBHOOK_GOGS_SECRET,
    "webhook.azuredevops.username",
    "webhook.azuredevops.password",
)
"""The ``argocd-secret`` keys argocd-server checks git webhook calls against, one or two per
git host (Argo CD's util/settings). A host whose key is empty is accepted unauthenticated, so
the platform sets every one: the stack's ``webhook`` secrets, a generated one elsewhere."""
ARGOCD_WEBHOOK_PATH: Final = "/api/webhook"
"""argocd-server's git webhook endpoint."""

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

# -- platformctl plan (infra/delivery/plan.py, render_app.py) ----------------------------------

KUSTOMIZE_BUILD_OPTIONS: Final[tuple[str, ...]] = ()
"""Extra ``kustomize build`` flags of Argo CD's repo-server: argocd-cm ``kustomize.buildOptions``.
The argo-cd chart values (infra/specs/argocd_install.py) do not set it, so Argo CD runs a plain
``kustomize build <path>``; keep the two in step."""

KUBERNETES_API: Final[dict[str, tuple[str, ...]]] = {
    "v1": (
        "ConfigMap",
        "Endpoints",
        "LimitRange",
        "Namespace",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Pod",
        "ResourceQuota",
        "Secret",
        "Service",
        "ServiceAccount",
    ),
    "admissionregistration.k8s.io/v1": (
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
    ),
    "apiextensions.k8s.io/v1": ("CustomResourceDefinition",),
    "apiregistration.k8s.io/v1": ("APIService",),
    "apps/v1": ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"),
    "authentication.k8s.io/v1": ("TokenReview",),
    "authorization.k8s.io/v1": ("SubjectAccessReview",),
    "autoscaling/v1": ("HorizontalPodAutoscaler",),
    "autoscaling/v2": ("HorizontalPodAutoscaler",),
    "batch/v1": ("CronJob", "Job"),
    "certificates.k8s.io/v1": ("CertificateSigningRequest",),
    "coordination.k8s.io/v1": ("Lease",),
    "discovery.k8s.io/v1": ("EndpointSlice",),
    "events.k8s.io/v1": ("Event",),
    "flowcontrol.apiserver.k8s.io/v1": ("FlowSchema", "PriorityLevelConfiguration"),
    "networking.k8s.io/v1": ("Ingress", "IngressClass", "NetworkPolicy"),
    "node.k8s.io/v1": ("RuntimeClass",),
    "policy/v1": ("PodDisruptionBudget",),
    "rbac.authorization.k8s.io/v1": ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
    "resource.k8s.io/v1": (
        "DeviceClass",
        "ResourceClaim",
        "ResourceClaimTemplate",
        "ResourceSlice",
    ),
    "scheduling.k8s.io/v1": ("PriorityClass",),
    "storage.k8s.io/v1": (
        "CSIDriver",
        "CSINode",
        "CSIStorageCapacity",
        "StorageClass",
        "VolumeAttachment",
    ),
}
"""The built-in API group/versions and kinds of the Kubernetes minor the stacks run (1.34),
the one list ``platformctl plan`` passes to ``helm template --api-versions`` (as Argo CD passes
the cluster's: each ``group/version`` and ``group/version/Kind``)."""

ADDON_API: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "argocd": {"argoproj.io/v1alpha1": ("AppProject", "Application", "ApplicationSet")},
    "rollouts": {
        "argoproj.io/v1alpha1": (
            "AnalysisRun",
            "AnalysisTemplate",
            "ClusterAnalysisTemplate",
            "Experiment",
            "Rollout",
        )
    },
    "sealedSecrets": {"bitnami.com/v1alpha1": ("SealedSecret",)},
    "admission": {
        "kyverno.io/v1": ("ClusterPolicy", "Policy"),
        "kyverno.io/v2": ("CleanupPolicy", "ClusterCleanupPolicy", "PolicyException"),
        "wgpolicyk8s.io/v1alpha2": ("ClusterPolicyReport", "PolicyReport"),
    },
}
"""The API the stack's add-ons install (their CRDs), by settings section: a stack's cluster
serves these when the section is enabled (``argocd`` always)."""

CLUSTER_SCOPED_KINDS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("authentication.k8s.io", "TokenReview"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("networking.k8s.io", "IngressClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("argoproj.io", "ClusterAnalysisTemplate"),
        ("kyverno.io", "ClusterCleanupPolicy"),
        ("kyverno.io", "ClusterPolicy"),
        ("wgpolicyk8s.io", "ClusterPolicyReport"),
    }
)
"""(group, kind) of every cluster-scoped kind of :data:`KUBERNETES_API` and :data:`ADDON_API`
(plus ``Node``), as the API server reports them (``kubectl api-resources --namespaced=false``;
the end-to-end tier compares): what ``validate`` judges against an AppProject's
``clusterResourceWhitelist``. A kind neither lists is left to the application controller."""

PLAN_MARKER: Final = "<!-- platformctl:plan -->"
"""First line of ``platformctl plan``'s Markdown, so the workflow edits its own comment."""
PLAN_COMMENT_LIMIT: Final = 65_536
"""GitHub's limit of a comment body (characters); the Markdown plan stays under it."""
PLAN_APPSET_LOSS_SHARE: Final = 0.2
"""Warn when an ApplicationSet loses more than this share of its Applications in one change
(mass deletions by a generator change are a recurring Argo CD incident)."""
TOOL_TIMEOUT_SECONDS: Final = 300
"""The longest a kustomize or helm run may take before the plan gives up on it."""
