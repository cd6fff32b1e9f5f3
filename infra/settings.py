"""Stack settings: one typed object, read from stack config and validated before anything else.

The keys live in ``Pulumi.<stack>.yaml`` under the project namespace (``gitops-platform:``).
Both the Pulumi program (through the engine's config) and ``platformctl`` (by reading the stack
file) call :func:`parse_settings`, so they agree on every default. Every key and its default is
documented in the README's "Stack configuration" section; a unit test keeps the two in step.
"""

from __future__ import annotations

import difflib
import json
import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from infra import constants
from infra.catalog.models import DNS1123_LABEL_PATTERN
from infra.catalog.refname import MAX_BRANCH_LENGTH, branch_name_problem
from infra.catalog.schedule import (
    cron_problem,
    go_duration_nanoseconds,
    go_duration_problem,
    time_zone_problem,
)
from infra.catalog.strict import StrictModel, checked
from infra.catalog.urls import is_loopback, url_credential_problem
from infra.errors import Problem, ValidationError, problems_from_pydantic
from infra.policy_checks import plaintext_secret_problems
from infra.yamlio import load_file

__all__ = [
    "AdmissionChartSettings",
    "AdmissionSettings",
    "ArgoCDSettings",
    "ChartSettings",
    "ExistingCluster",
    "KeylessSigner",
    "KindCluster",
    "KwokCluster",
    "NotificationsSettings",
    "RolloutsSettings",
    "SealedSecretsSettings",
    "SignerSettings",
    "StackSettings",
    "SyncWindow",
    "WebhookSettings",
    "catalog_folder_problem",
    "config_key_problems",
    "is_loopback_registry",
    "load_stack_file",
    "parse_settings",
]

DnsLabel = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=DNS1123_LABEL_PATTERN)
]
KubeVersion = Annotated[str, StringConstraints(pattern=r"^v1\.\d+\.\d+$")]

DEFAULT_KUBERNETES_VERSION = "v1.34.3"
DEFAULT_KIND_NODE_IMAGE = "kindest/node:v1.34.3"
DEFAULT_CHART_VERSION = "10.1.1"
DEFAULT_CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
DEFAULT_ROLLOUTS_CHART_VERSION = "2.41.0"
"""argo-rollouts chart 2.41.0 = Argo Rollouts v1.9.0."""
DEFAULT_ROLLOUTS_NAMESPACE = "argo-rollouts"
DEFAULT_SEALED_SECRETS_CHART_VERSION = "2.18.5"
"""sealed-secrets chart 2.18.5 = Sealed Secrets controller 0.36.6."""
DEFAULT_SEALED_SECRETS_CHART_REPOSITORY = "https://bitnami-labs.github.io/sealed-secrets"
DEFAULT_SEALED_SECRETS_NAMESPACE = "kube-system"
"""kubeseal's default ``--controller-namespace`` (see infra/specs/addons.py)."""
DEFAULT_ADMISSION_CHART_VERSION = "3.9.0"
"""kyverno chart 3.9.0 = Kyverno v1.19.0."""
DEFAULT_ADMISSION_CHART_REPOSITORY = "https://kyverno.github.io/kyverno/"
DEFAULT_ADMISSION_NAMESPACE = "kyverno"
DEFAULT_MIRROR_PORT = 18418
"""The local stack's git mirror is served on ``http://127.0.0.1:18418/repo.git``."""
MIRROR_REPOSITORY = "repo.git"
"""The mirror's folder under ``.gitops-local/<cluster>/``, and its path on the git server."""


class _Strict(StrictModel, BaseModel):
    """The models of this module (``BaseModel`` named again only so linters see a pydantic
    model: its defaults are copied per instance, not shared)."""


NodeImage = Annotated[
    str,
    StringConstraints(
        max_length=400,
        pattern=r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
        r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$",
    ),
]
"""An image reference: repository, then a tag and/or a digest."""


class KindCluster(_Strict):
    """A kind cluster the stack creates and deletes (needs Docker and the kind CLI)."""

    provider: Literal["kind"]
    name: DnsLabel | None = None
    """Cluster name; default ``gitops-<stack>``."""
    nodes: Annotated[int, Field(ge=1, le=10)] = 1
    """Number of nodes (one control plane, the rest workers)."""
    nodeImage: NodeImage = DEFAULT_KIND_NODE_IMAGE
    """kind node image, pinned (it sets the Kubernetes version)."""


class KwokCluster(_Strict):
    """A Docker-free control plane of local processes (kwokctl --runtime binary) with fake
    nodes; the stack creates and deletes it. Binaries come from ``make toolchain``."""

    provider: Literal["kwok"]
    name: DnsLabel | None = None
    """Cluster name; default ``gitops-<stack>``."""
    nodes: Annotated[int, Field(ge=1, le=50)] = 1
    """Number of fake nodes."""
    kubernetesVersion: KubeVersion = DEFAULT_KUBERNETES_VERSION
    controllers: Literal["local", "none"] = "local"
    """``local``: Argo CD's controllers (and Argo Rollouts' when enabled) run as local
    processes against the cluster, so Argo CD really syncs (the chart's pods are fakes on
    kwok); ``none``: nothing reconciles the Argo CD objects."""


class ExistingCluster(_Strict):
    """A cluster this stack adopts but does not create: reached by kubeconfig and context."""

    provider: Literal["existing"]
    kubeconfig: str = "~/.kube/config"
    """Path of the kubeconfig file (``~`` expanded)."""
    context: Annotated[str, StringConstraints(min_length=1)]
    """Context to use; required so a stack never deploys to whatever is current."""


ClusterSettings = Annotated[
    KindCluster | KwokCluster | ExistingCluster, Field(discriminator="provider")
]


ChartVersion = Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]
ChartRepository = Annotated[
    str,
    StringConstraints(pattern=r"^https://\S+$", max_length=512),
    checked(url_credential_problem),
]


class ChartSettings(_Strict):
    version: ChartVersion = DEFAULT_CHART_VERSION
    """argo-cd chart version, exact."""
    repository: ChartRepository = DEFAULT_CHART_REPOSITORY
    path: str | None = None
    """A local chart archive used instead of the repository (air-gapped installs, tests),
    relative to the project root, e.g. ``../shared/charts/argo-cd-10.1.1.tgz``."""


class ArgoCDSettings(_Strict):
    namespace: DnsLabel = constants.ARGOCD_NAMESPACE_DEFAULT
    chart: ChartSettings = ChartSettings()
    ha: bool = False
    """Highly available install: redis-ha, 2+ replicas, PodDisruptionBudgets, requests."""
    protect: bool = False
    """Mark the namespace and chart `protect` so `pulumi destroy` refuses to remove them."""


class RolloutsChartSettings(ChartSettings):
    version: ChartVersion = DEFAULT_ROLLOUTS_CHART_VERSION
    """argo-rollouts chart version, exact."""
    repository: ChartRepository = DEFAULT_CHART_REPOSITORY
    path: str | None = None
    """A local chart archive instead of the repository, relative to the project root, e.g.
    ``../shared/charts/argo-rollouts-2.41.0.tgz``."""


class RolloutsSettings(_Strict):
    """Argo Rollouts (the controller and its CRDs), installed when ``enabled``."""

    enabled: bool = False
    namespace: DnsLabel = DEFAULT_ROLLOUTS_NAMESPACE
    chart: RolloutsChartSettings = RolloutsChartSettings()


class SealedSecretsChartSettings(ChartSettings):
    version: ChartVersion = DEFAULT_SEALED_SECRETS_CHART_VERSION
    """sealed-secrets chart version, exact."""
    repository: ChartRepository = DEFAULT_SEALED_SECRETS_CHART_REPOSITORY
    path: str | None = None
    """A local chart archive instead of the repository, relative to the project root, e.g.
    ``../shared/charts/sealed-secrets-2.18.5.tgz``."""


class SealedSecretsSettings(_Strict):
    """The Sealed Secrets controller, installed when ``enabled``."""

    enabled: bool = False
    namespace: DnsLabel = DEFAULT_SEALED_SECRETS_NAMESPACE
    """Where the controller and its sealing keys live; ``kube-system`` is where ``kubeseal``
    looks by default."""
    chart: SealedSecretsChartSettings = SealedSecretsChartSettings()


class AdmissionChartSettings(ChartSettings):
    version: ChartVersion = DEFAULT_ADMISSION_CHART_VERSION
    """kyverno chart version, exact."""
    repository: ChartRepository = DEFAULT_ADMISSION_CHART_REPOSITORY
    path: str | None = None
    """A local chart archive instead of the repository, relative to the project root."""


_REGISTRY_HOST = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
_REGISTRY_PATH = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
REGISTRY_PREFIX_PATTERN = rf"^{_REGISTRY_HOST}(:[0-9]{{1,5}})?(/{_REGISTRY_PATH})*$"
"""``host[:port]`` then optional ``/path`` segments (the image reference grammar's lower-case
repository components): no scheme, wildcard, trailing slash, tag, digest or credentials."""


def _registry_prefix_problem(prefix: str) -> str | None:
    """A registry prefix must name its registry host: ``example-org/app`` would be read as
    ``docker.io/example-org/app`` by the container runtime, but not by a prefix match."""
    host, _, _ = prefix.partition("/")
    name, _, port = host.partition(":")
    if port and not 0 < int(port) < 65536:
        return f"port {port} is out of range (1-65535)"
    if "." not in name and not port and name != "localhost":
        return (
            "must start with a registry host (a name with a dot, a port, or localhost), "
            "such as ghcr.io/example-org; docker.io/library for Docker Hub's official images"
        )
    return None


RegistryPrefix = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=REGISTRY_PREFIX_PATTERN),
    checked(_registry_prefix_problem),
]


def _public_key_problem(pem: str) -> str | None:
    """A cosign public key: one PEM ``PUBLIC KEY`` block, ECDSA P-256 (cosign's default) or
    RSA of at least 2048 bits."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = pem.strip()
    begin, end = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
    if not (text.startswith(begin) and text.endswith(end)) or text.count("-----BEGIN") != 1:
        return f"must be one PEM public key ({begin} ... {end}), as in cosign.pub"
    try:
        key = load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError):
        return "is not a readable PEM public key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return None
        return f"ECDSA key on curve {key.curve.name}; expected P-256 (cosign's default)"
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size >= 2048:
            return None
        return f"RSA key of {key.key_size} bits; expected at least 2048"
    return "must be an ECDSA P-256 or RSA (2048 bits or more) public key"


HttpsURL = Annotated[
    str,
    StringConstraints(pattern=r"^https://\S+$", max_length=512),
    checked(url_credential_problem),
]


class KeylessSigner(_Strict):
    """A Sigstore keyless identity: the OIDC issuer and the certificate subject (for GitHub
    Actions, the workflow's ``job_workflow_ref`` as a URL)."""

    issuer: HttpsURL
    """OIDC issuer of the signing identity (``https://token.actions.githubusercontent.com``)."""
    subject: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    """Certificate subject; Kyverno wildcards (``*``, ``?``) allowed."""


class SignerSettings(_Strict):
    """Who must have signed an image: exactly one of ``publicKey`` and ``keyless``."""

    free_text = frozenset({"publicKey"})

    publicKey: (
        Annotated[str, StringConstraints(max_length=16 * 1024), checked(_public_key_problem)] | None
    ) = None
    """A cosign public key (PEM)."""
    keyless: KeylessSigner | None = None
    transparencyLog: bool = True
    """Require the signature's entry in the public transparency log (Rekor). ``false`` only
    with ``publicKey``, for signatures made where Rekor cannot be reached (an air-gapped
    pipeline, this machine's tests: ``cosign sign --tlog-upload=false``)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> SignerSettings:
        if (self.publicKey is None) == (self.keyless is None):
            raise ValueError("set exactly one of publicKey, keyless")
        if self.keyless is not None and not self.transparencyLog:
            raise ValueError(
                "transparencyLog: false needs publicKey: a keyless signature is only "
                "verifiable through its transparency log entry"
            )
        return self


class AdmissionSettings(_Strict):
    """Admission control with Kyverno: only signed images from trusted registries reach the
    apps' namespaces (docs/admission.md). Required (``enabled``) in prod."""

    enabled: bool = False
    namespace: DnsLabel = DEFAULT_ADMISSION_NAMESPACE
    chart: AdmissionChartSettings = AdmissionChartSettings()
    trustedRegistries: Annotated[list[RegistryPrefix], Field(max_length=20)] = []
    """Registry/repository prefixes (``ghcr.io/example-org``): an app's image must be under
    one of them and signed by ``signer``; any other image is refused."""
    signer: SignerSettings | None = None

    @property
    def insecure_registries(self) -> list[str]:
        """The trusted registries on this machine's loopback (``127.0.0.1``, ``localhost``):
        reached over plain HTTP (a local test registry); never a remote one."""
        return [r for r in self.trustedRegistries if is_loopback_registry(r)]


def is_loopback_registry(prefix: str) -> bool:
    """``127.0.0.1:5000/org`` and ``localhost/org`` are; ``ghcr.io/org`` is not."""
    return is_loopback(prefix.partition("/")[0].partition(":")[0])


class GitSettings(_Strict):
    repoURL: (
        Annotated[
            str,
            StringConstraints(
                pattern=r"^(https://|ssh://|git@|file:///|http://(127\.0\.0\.1|localhost)(:\d+)?/)\S+$",
                max_length=2048,
            ),
            checked(url_credential_problem),
        ]
        | None
    ) = None
    """This repository's URL as Argo CD reaches it (``file:///...`` and plain
    ``http://127.0.0.1[:port]/...`` only for a kwok cluster whose controllers run locally).
    Required unless ``mirror`` is on."""
    branch: (
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=MAX_BRANCH_LENGTH),
            checked(branch_name_problem),
        ]
        | None
    ) = None
    """Branch the stack tracks (a name ``git check-ref-format --branch`` accepts); default: the
    environment name (dev or prod)."""
    mirror: bool = False
    """Argo CD clones a repository on this machine that every ``up`` fills from the
    checkout's committed ``HEAD`` (pushed as ``branch``); for a kwok cluster with local
    controllers (the ``local`` stack). ``repoURL`` is then derived, not set: the mirror is
    served over HTTP on ``127.0.0.1:<mirrorPort>`` (what Argo CD's webhook can match)."""
    mirrorPort: Annotated[int, Field(ge=1024, le=65535)] = DEFAULT_MIRROR_PORT
    """The loopback port the mirror is served on (``git.mirror``); one per local cluster."""


class Encrypted(_Strict):
    """A value ``pulumi config set --secret`` stored in the stack file (``{secure: ...}``):
    what ``platformctl`` sees without the passphrase; the program always gets it decrypted."""

    secure: str


def _webhook_secret(value: Any) -> str | Encrypted:
    """A webhook secret: decrypted text (the engine's config) or ``{secure: ...}`` (the stack
    file as ``platformctl`` reads it). One error line either way."""
    if isinstance(value, Mapping) and set(value) == {"secure"} and isinstance(value["secure"], str):
        return Encrypted(secure=value["secure"])
    if not isinstance(value, str):
        raise ValueError(
            "must be a string, stored encrypted: `pulumi config set --secret --path "
            "'webhook.<key>' <value>`"
        )
    if not MIN_WEBHOOK_SECRET <= len(value) <= MAX_WEBHOOK_SECRET:
        raise ValueError(
            f"must be {MIN_WEBHOOK_SECRET} to {MAX_WEBHOOK_SECRET} characters "
            "(`openssl rand -hex 32` makes a good one)"
        )
    return value


MIN_WEBHOOK_SECRET, MAX_WEBHOOK_SECRET = 16, 1024
WebhookSecret = Annotated[str | Encrypted, PlainValidator(_webhook_secret)]
"""A git webhook's shared secret."""


class WebhookSettings(_Strict):
    """Shared secrets of the git host's webhook (Argo CD's ``/api/webhook``): each set one
    is written into ``argocd-secret``, where argocd-server reads it, and Argo CD then refuses
    an event of that host unless it is signed (or carries the token) with it. A host not set
    gets a generated secret nobody knows: its calls are refused. Store each with
    ``pulumi config set --secret --path 'webhook.<key>' <value>`` (docs/delivery.md)."""

    githubSecret: WebhookSecret | None = None
    """GitHub (and GitHub Enterprise): the webhook's secret; events are HMAC-SHA256 signed."""
    gitlabSecret: WebhookSecret | None = None
    """GitLab: the webhook's secret token (sent as ``X-Gitlab-Token``)."""
    bitbucketServerSecret: WebhookSecret | None = None
    """Bitbucket Data Center / Server: the webhook's secret; events are HMAC-SHA256 signed."""
    gogsSecret: WebhookSecret | None = None
    """Gogs (and Gitea in Gogs mode): the webhook's secret."""

    def argocd_keys(self) -> dict[str, str]:
        """``argocd-secret`` key -> secret of every provider set (decrypted values only: the
        program's)."""
        keys = {}
        for field, key in WEBHOOK_SECRET_KEYS.items():
            value = getattr(self, field)
            if value is None:
                continue
            if isinstance(value, Encrypted):
                raise ValueError(f"webhook.{field} is still encrypted (not the engine's config)")
            keys[key] = value
        return keys


WEBHOOK_SECRET_KEYS = {
    "githubSecret": constants.ARGOCD_WEBHOOK_GITHUB_SECRET,
    "gitlabSecret": constants.ARGOCD_WEBHOOK_GITLAB_SECRET,
    "bitbucketServerSecret": constants.ARGOCD_WEBHOOK_BITBUCKET_SERVER_SECRET,
    "gogsSecret": constants.ARGOCD_WEBHOOK_GOGS_SECRET,
}
"""Setting -> the ``argocd-secret`` key argocd-server reads it from (Argo CD's settings.go)."""


CronSchedule = Annotated[str, StringConstraints(max_length=100), checked(cron_problem)]
"""Five cron fields: minute hour day-of-month month day-of-week (``0 22 * * 1-5``), or a
descriptor (``@daily``); parsed as Argo CD's robfig/cron standard parser does."""
GoDuration = Annotated[str, StringConstraints(max_length=40), checked(go_duration_problem)]
"""A positive Go duration (``time.ParseDuration``): ``1h``, ``30m``, ``1h30m``."""
TimeZone = Annotated[str, StringConstraints(max_length=64), checked(time_zone_problem)]
"""A time zone of the IANA database (``UTC``, ``Europe/Berlin``); not ``Local``."""


class SyncWindow(_Strict):
    """An Argo CD sync window, applied to every Application of every AppProject of the stack."""

    kind: Literal["allow", "deny"]
    """``allow``: syncs only inside the window; ``deny``: no sync inside the window."""
    schedule: CronSchedule
    """When the window opens (cron, five fields)."""
    duration: GoDuration
    """How long it stays open: ``1h``, ``30m``, ``1h30m``."""
    manualSync: bool = False
    """Whether a human may still sync while the window blocks automated syncs."""
    timeZone: TimeZone = "UTC"
    """IANA time zone of the schedule."""


class SyncRetry(_Strict):
    """How Argo CD retries a failed sync (each Application's ``syncPolicy.retry``). Once the
    retries are spent the sync has failed (``on-sync-failed`` notifies) and an automated sync
    waits for the next commit."""

    limit: Annotated[int, Field(ge=0, le=20)] = 5
    """Retries after the first attempt (0: none). Never unlimited: a sync that cannot succeed
    would then never be reported as failed."""
    duration: GoDuration = "5s"
    """The wait before the first retry."""
    factor: Annotated[int, Field(ge=1, le=10)] = 2
    """Each wait is the one before times this."""
    maxDuration: Annotated[GoDuration, Field(validate_default=True)] = "3m"
    """The longest wait."""

    @field_validator("maxDuration")
    @classmethod
    def _not_shorter_than_the_first_wait(cls, value: str, info: ValidationInfo) -> str:
        first = info.data.get("duration")
        first_ns = go_duration_nanoseconds(first) if isinstance(first, str) else None
        longest_ns = go_duration_nanoseconds(value)
        if first_ns is not None and longest_ns is not None and longest_ns < first_ns:
            raise ValueError(
                f"{value} is shorter than the first wait (duration {first}): Argo CD would cut "
                "every wait to it; raise maxDuration or shorten duration"
            )
        return value

    def spec(self) -> dict[str, Any]:
        """Argo CD's ``RetryStrategy``."""
        return {
            "limit": self.limit,
            "backoff": {
                "duration": self.duration,
                "factor": self.factor,
                "maxDuration": self.maxDuration,
            },
        }


class SyncSettings(_Strict):
    automated: bool = False
    """Argo CD syncs on every change (continuous deployment) instead of on a human's click."""
    prune: bool = False
    """Automated sync deletes resources removed from git."""
    selfHeal: bool = False
    """Automated sync reverts changes made in the cluster (drift)."""
    applicationsSync: Literal["sync", "create-update", "create-only", "create-delete"] = (
        "create-update"
    )
    """What the ApplicationSet controller may do to generated Applications; the default never
    deletes an Application when an app disappears from the generator."""
    windows: Annotated[list[SyncWindow], Field(max_length=20)] = []
    """Maintenance windows (AppProject ``syncWindows``) of every team's AppProject."""
    retry: SyncRetry = SyncRetry()
    """How a failed sync is retried."""


class NotificationsSettings(_Strict):
    """Argo CD notifications: enabled when ``webhookURL`` is set."""

    webhookURL: (
        Annotated[
            str,
            StringConstraints(pattern=r"^https?://\S+$", max_length=2048),
            checked(url_credential_problem),
        ]
        | None
    ) = None
    """Where Argo CD POSTs a JSON message when an Application goes OutOfSync/Unknown, degraded,
    or fails to sync."""


class AdminPasswordSettings(_Strict):
    rotation: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "1"
    """Change this value (any string) to rotate the admin password on the next `pulumi up`."""


def catalog_folder_problem(path: str) -> str | None:
    """``appsDir`` must name a folder inside the repository, written as a relative path."""
    if PurePosixPath(path).is_absolute() or "\\" in path:
        return "must be a path relative to the project root (such as apps), with '/'"
    normal = posixpath.normpath(path)
    if normal == "." or normal == ".." or normal.startswith("../"):
        return f"{path!r} leaves the repository (or is its root); name a folder inside it"
    return None


class CatalogSettings(_Strict):
    appsDir: Annotated[
        str, StringConstraints(min_length=1, max_length=255), checked(catalog_folder_problem)
    ] = constants.APPS_DIR
    """The catalog folder, relative to the project root; it must stay inside the repository
    and no part of the way to it may be a symbolic link (checked when the catalog loads)."""
    allowEmpty: bool = False
    """Allow a stack with no enabled app (otherwise an emptied catalog is refused)."""


LOCAL_DIR = ".gitops-local"
"""Per-cluster folder of the local runtime under the project root (gitignored): the git
mirror, the runtime's kubeconfig, its state and the processes' logs."""


class StackSettings(_Strict):
    stack: str
    root: str = "."
    """The project root (the folder of Pulumi.yaml); not a config key."""
    environment: Literal["dev", "prod"]
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
        return Path(self.root).resolve() / LOCAL_DIR / self.cluster_name

    @property
    def mirror_path(self) -> Path:
        return self.local_dir / MIRROR_REPOSITORY

    @property
    def repo_url(self) -> str:
        """The URL Argo CD clones: ``git.repoURL``, or the local mirror's (served over HTTP on
        loopback by the local runtime)."""
        if self.git.mirror:
            return f"http://127.0.0.1:{self.git.mirrorPort}/{MIRROR_REPOSITORY}"
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


KNOWN_KEYS = (
    "environment",
    "cluster",
    "argocd",
    "git",
    "sync",
    "adminPassword",
    "catalog",
    "rollouts",
    "sealedSecrets",
    "notifications",
    "admission",
    "webhook",
)

SHARED_NAMESPACES = frozenset({"kube-system", "kube-public", "default"})
"""Namespaces every cluster has: an add-on installed there never creates or deletes them."""


_UNIONS = {"cluster": ("kind", "kwok", "existing")}
"""The discriminated unions of the settings: field -> tags (pydantic puts the tag in the
location; users write ``cluster.name``, not ``cluster.kind.name``)."""


def _reworded(error: Mapping[str, Any], default: str) -> str | None:
    if error["type"] == "union_tag_not_found":
        return "`provider` is required: one of kind, kwok, existing"
    if error["type"] == "string_pattern_mismatch" and "trustedRegistries" in error["loc"]:
        return (
            "must be host[:port], optionally followed by /path segments (ghcr.io/example-org, "
            "127.0.0.1:5000/shop): lower case, no scheme, wildcard, trailing slash, tag, "
            "digest or credentials"
        )
    if error["type"] == "string_pattern_mismatch" and tuple(error["loc"][-2:]) == (
        "git",
        "repoURL",
    ):
        return (
            "must be an https://, ssh:// or git@host: URL (file:/// or "
            "http://127.0.0.1[:port]/ for a repository on this machine)"
        )
    return None


def parse_settings(
    stack: str, values: Mapping[str, Any], file: str, root: Path | None = None
) -> StackSettings:
    """Validate the project's config keys (without the ``gitops-platform:`` prefix).

    Raises :class:`ValidationError` naming every bad or missing key; pure.
    """
    problems = [
        Problem(
            file,
            f"{constants.PROJECT}:{key}",
            f"unknown key; expected one of {', '.join(KNOWN_KEYS)}",
        )
        for key in sorted(values)
        if key not in KNOWN_KEYS
    ]
    data: dict[str, Any] = {k: v for k, v in values.items() if k in KNOWN_KEYS}
    data["stack"] = stack
    if root is not None:
        data["root"] = str(root)
    if "environment" not in data:
        if stack in constants.ENVIRONMENTS:
            data["environment"] = stack
        else:
            problems.append(
                Problem(
                    file,
                    f"{constants.PROJECT}:environment",
                    f"required for stack {stack!r}: one of dev, prod",
                )
            )
    if problems:
        raise ValidationError(problems)
    try:
        settings = StackSettings.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(
            problems_from_pydantic(
                file,
                exc,
                prefix=f"{constants.PROJECT}:",
                noun="key",
                # Stack settings hold URLs, paths and secrets' neighbours: never echoed.
                show_input=False,
                unions=_UNIONS,
                message_for=_reworded,
            )
        ) from None
    problems = (
        _namespace_problems(settings, file)
        + _git_problems(settings, file)
        + _admission_problems(settings, file)
    )
    if problems:
        raise ValidationError(problems)
    return settings


def _git_problems(settings: StackSettings, file: str) -> list[Problem]:
    """Where the repository lives must fit where Argo CD runs."""
    key = f"{constants.PROJECT}:git"
    git = settings.git
    local = "a kwok cluster with `controllers: local` (Argo CD runs on this machine)"
    if git.mirror and git.repoURL is not None:
        return [Problem(file, f"{key}.repoURL", "must be unset with `mirror: true` (derived)")]
    if git.mirror and not settings.local_controllers:
        return [Problem(file, f"{key}.mirror", f"needs {local}")]
    if not git.mirror and git.repoURL is None:
        return [Problem(file, f"{key}.repoURL", "required key is missing")]
    is_file = git.repoURL is not None and git.repoURL.startswith("file://")
    if is_file and not settings.local_controllers:
        return [Problem(file, f"{key}.repoURL", f"a file:// URL needs {local}")]
    is_loopback = git.repoURL is not None and git.repoURL.startswith("http://")
    if is_loopback and not settings.local_controllers:
        return [Problem(file, f"{key}.repoURL", f"a plain http://127.0.0.1 URL needs {local}")]
    return []


def _admission_problems(settings: StackSettings, file: str) -> list[Problem]:
    """prod requires admission; enabled admission needs registries and a signer."""
    key = f"{constants.PROJECT}:admission"
    admission = settings.admission
    if not admission.enabled:
        if settings.environment == constants.PROD_ENVIRONMENT:
            return [
                Problem(
                    file,
                    f"{key}.enabled",
                    "must be true for a stack deploying prod: only signed images from trusted "
                    "registries reach prod (docs/admission.md)",
                )
            ]
        return []
    problems = []
    if admission.namespace in SHARED_NAMESPACES:
        problems.append(
            Problem(
                file,
                f"{key}.namespace",
                f"{admission.namespace!r} is shared: Kyverno needs a namespace of its own "
                "(its webhooks skip it, and the stack creates it)",
            )
        )
    if not admission.trustedRegistries:
        problems.append(
            Problem(file, f"{key}.trustedRegistries", "required with `enabled: true`: at least one")
        )
    if admission.signer is None:
        problems.append(
            Problem(file, f"{key}.signer", "required with `enabled: true`: publicKey or keyless")
        )
    return problems


def _namespace_problems(settings: StackSettings, file: str) -> list[Problem]:
    """Each namespace the stack creates has exactly one owner: Argo CD's and an enabled
    add-on's must differ (the first `destroy` of one would delete the other's objects)."""
    owners: dict[str, str] = {}
    if settings.argocd.namespace not in SHARED_NAMESPACES:
        owners[settings.argocd.namespace] = "argocd.namespace"
    problems = []
    addons = (
        ("rollouts", settings.rollouts),
        ("sealedSecrets", settings.sealedSecrets),
        ("admission", settings.admission),
    )
    for key, addon in addons:
        namespace = addon.namespace
        if not addon.enabled or namespace in SHARED_NAMESPACES:
            continue
        if namespace in owners:
            problems.append(
                Problem(
                    file,
                    f"{constants.PROJECT}:{key}.namespace",
                    f"{namespace!r} is already the namespace of {owners[namespace]}; "
                    "give each its own",
                )
            )
        else:
            owners[namespace] = f"{key}.namespace"
    return problems


def _decode_engine_value(raw: str) -> Any:
    """The engine passes object config as JSON text and scalars as plain strings."""
    text = raw.strip()
    if text.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def config_key_problems(keys: Iterable[str], file: str) -> list[Problem]:
    """Keys of a stack's ``config:`` that would be silently ignored: a key without a namespace
    (``environment:`` for ``gitops-platform:environment``) and a namespace one typo away from
    the project's (``gitops-platfrom:``, ``GitOps_Platform:``). Refused, not warned about: a
    warning scrolls past in ``pulumi up`` while the setting it meant is dropped. Pure."""
    problems = []
    squashed = _squash(constants.PROJECT)
    for key in sorted(keys):
        namespace, colon, name = key.partition(":")
        if not colon or not namespace:
            problems.append(
                Problem(
                    file,
                    key,
                    f"a config key needs a namespace: `{constants.PROJECT}:{name or key}` for "
                    "this project's settings, `<provider>:<key>` for a provider's",
                )
            )
        elif namespace != constants.PROJECT and (
            _squash(namespace) == squashed
            or difflib.SequenceMatcher(None, namespace.lower(), constants.PROJECT).ratio() >= 0.85
        ):
            problems.append(
                Problem(
                    file,
                    key,
                    f"unknown namespace {namespace!r}: did you mean `{constants.PROJECT}:{name}`? "
                    "(keys under another namespace are ignored by this project)",
                )
            )
    return problems


def _squash(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(".", "")


def settings_from_engine(
    stack: str, config: Mapping[str, str], file: str, root: Path | None = None
) -> StackSettings:
    """Build settings from the engine's flat config map (``gitops-platform:key`` -> text)."""
    prefix = f"{constants.PROJECT}:"
    misnamed = config_key_problems(config, file)
    if misnamed:
        raise ValidationError(misnamed)
    values = {
        key[len(prefix) :]: _decode_engine_value(value)
        for key, value in config.items()
        if key.startswith(prefix)
    }
    return parse_settings(stack, values, file, root)


def load_stack_file(project_root: Path, stack: str) -> StackSettings:
    """Read ``Pulumi.<stack>.yaml`` directly (no engine needed) and validate it."""
    if not stack or "/" in stack or stack.startswith("."):
        raise ValidationError([Problem("--stack", "", f"invalid stack name {stack!r}")])
    path = project_root / constants.stack_file(stack)
    display = path.name
    if not path.is_file():
        raise ValidationError([Problem(display, "", f"stack file not found in {project_root}")])
    loaded = load_file(path, display, 256 * 1024)
    if loaded.problems:
        raise ValidationError(loaded.problems)
    document = loaded.data or {}
    if not isinstance(document, dict):
        raise ValidationError([Problem(display, "", "must be a mapping with a `config:` key")])
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ValidationError([Problem(display, "config", "must be a mapping")])
    prefix = f"{constants.PROJECT}:"
    problems = config_key_problems(map(str, config), display)
    problems += plaintext_secret_problems(config, display)
    if problems:
        raise ValidationError(problems)
    values = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    return parse_settings(stack, values, display, project_root)
