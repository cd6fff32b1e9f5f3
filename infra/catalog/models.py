"""The one schema of an app definition (``apps/<name>/app.yaml``), as typed models.

Documented for users in ``apps/README.md``; keep the two in step (a unit test checks that
every field named here appears there).
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, ClassVar, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from infra import constants
from infra.catalog.image_ref import DIGEST_PATTERN, TAG_PATTERN, parse_image_ref
from infra.catalog.kube_names import (
    DNS1035_LABEL_PATTERN,
    MAX_LABEL_LENGTH,
    DnsLabel,
    LabelKey,
    LabelValue,
)
from infra.catalog.strict import StrictModel, checked
from infra.catalog.urls import chart_host_problem, url_credential_problem

__all__ = [
    "RESERVED_PROJECT_NAMES",
    "AnalysisStep",
    "AppDefinition",
    "CanaryStep",
    "Checks",
    "DirectorySource",
    "EnvironmentSettings",
    "HelmSource",
    "HttpCheck",
    "IgnoreDifference",
    "Image",
    "KustomizeSource",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Pause",
    "Placement",
    "SmokeJob",
    "Source",
    "Strategy",
    "SyncOverride",
    "image_repository_problem",
]

RESERVED_PROJECT_NAMES = frozenset({"default", constants.ARGOCD_RELEASE})
"""AppProject/ApplicationSet names a team may not take (a team's name is both, in Argo CD's
namespace): ``default`` is the AppProject Argo CD creates itself (every unscoped
Application's project), and ``argocd``/``argocd-*`` are the names of Argo CD's own objects
there (the chart's release ``argocd``, the ``argocd-secret`` and ``argocd-redis`` Secrets the
platform writes)."""
RESERVED_PROJECT_PREFIX = f"{constants.ARGOCD_RELEASE}-"


def _team_name(team: str) -> str:
    if team in RESERVED_PROJECT_NAMES or team.startswith(RESERVED_PROJECT_PREFIX):
        raise ValueError(
            f"{team!r} is reserved: a team's name is its AppProject and ApplicationSet in "
            f"Argo CD's namespace, and Argo CD owns {', '.join(sorted(RESERVED_PROJECT_NAMES))} "
            f"and {RESERVED_PROJECT_PREFIX}*"
        )
    return team


_IMAGE_REPOSITORY = re.compile(
    r"[a-z0-9]+([._-][a-z0-9]+)*((:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+)?"
)
"""``[registry[:port]/]path``, lower case; a port only before a path (``redis:7`` is a tag)."""


def image_repository_problem(repository: str) -> str | None:
    """Why ``repository`` is not an image repository without tag or digest, or ``None``
    (``registry.example:5000/team/app`` is one: a port before a path). The value is never
    echoed (a repository may carry a credential)."""
    if "@" in repository:
        return (
            "carries a digest (@sha256:...); give the repository alone: the digest is recorded "
            "per environment by `platformctl bump --digest`"
        )
    if parse_image_ref(repository).tag is not None:
        return (
            "carries a tag (:<tag>); give the repository alone: the tag is set per environment "
            "by `platformctl bump`"
        )
    if _IMAGE_REPOSITORY.fullmatch(repository) is None:
        return (
            "is not an image repository: lower-case [registry[:port]/]path such as "
            "ghcr.io/org/app, without tag or digest"
        )
    return None


# Image repository: registry/path without tag or digest (the tag lives in the overlay).
ImageRepository = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    checked(image_repository_problem),
]
ValuesKey = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", max_length=200)
]
RelativePath = Annotated[str, StringConstraints(min_length=1, max_length=255)]
ChartRepositoryUrl = Annotated[
    str,
    StringConstraints(pattern=r"^(https|oci)://[^\s]+$", max_length=512),
    checked(url_credential_problem),
    checked(chart_host_problem),
]
SemVer = Annotated[
    str,
    StringConstraints(
        pattern=r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
    ),
]


class _Strict(StrictModel, BaseModel):
    """The models of this module (``BaseModel`` named again only so linters see a pydantic
    model: its defaults are copied per instance, not shared)."""


class Image(_Strict):
    repository: ImageRepository
    """Container image repository, without tag (the tag is set per environment by the
    handoff commit in the overlay or values file)."""


class KustomizeSource(_Strict):
    """Manifests in this repository: a kustomize base plus one overlay per environment at
    ``apps/<app>/<path>/overlays/<env>``."""

    type: Literal["kustomize"]
    path: RelativePath = "."
    """Directory (relative to the app folder) that holds ``base/`` and ``overlays/<env>/``."""


class DirectorySource(_Strict):
    """Plain manifests in this repository, applied as they are."""

    type: Literal["directory"]
    path: RelativePath = "manifests"
    """Directory (relative to the app folder) holding the YAML manifests."""
    recurse: bool = False


class HelmSource(_Strict):
    """A Helm chart: an external one (``repoURL``, ``chart``, ``version``) or one kept in this
    repository (``path``, the folder of its ``Chart.yaml`` relative to the app folder);
    per-environment values come from this repository (``apps/<app>/values/<env>.yaml``)."""

    type: Literal["helm"]
    repoURL: ChartRepositoryUrl | None = None
    """The chart repository (external chart)."""
    chart: DnsLabel | None = None
    """The chart's name in ``repoURL``."""
    version: SemVer | None = None
    """Exact chart version; ranges are refused so every change is a reviewed commit."""
    path: RelativePath | None = None
    """A chart in this repository instead: its folder, relative to the app folder
    (``chart``); it changes with the commit, like kustomize and directory sources."""
    replicasKey: ValuesKey = "replicaCount"
    """Chart value that sets the replica count (``environments.<env>.replicas``)."""
    imageTagKey: ValuesKey = "image.tag"
    """Dotted key of the image tag in ``values/<env>.yaml`` (the line the handoff bumps)."""

    @model_validator(mode="after")
    def _external_or_local(self) -> HelmSource:
        external = [k for k in ("repoURL", "chart", "version") if getattr(self, k) is not None]
        if self.path is not None and external:
            raise ValueError(
                f"either `path` (a chart in this repository) or repoURL, chart and version "
                f"(an external chart), not both ({', '.join(external)} given with path)"
            )
        if self.path is None and len(external) != 3:
            missing = [k for k in ("repoURL", "chart", "version") if getattr(self, k) is None]
            raise ValueError(
                f"an external chart needs repoURL, chart and version ({', '.join(missing)} "
                "missing), or give `path` for a chart in this repository"
            )
        return self


Source = Annotated[KustomizeSource | DirectorySource | HelmSource, Field(discriminator="type")]


ServiceName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_LABEL_LENGTH, pattern=DNS1035_LABEL_PATTERN),
]
# An absolute request path with an optional query: no spaces, no fragment.
HttpPath = Annotated[
    str, StringConstraints(max_length=512, pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*(\?\S*)?$")
]
# A pinned image: <repository>:<tag>, optionally @sha256:<digest>.
TaggedImage = Annotated[
    str,
    StringConstraints(
        max_length=400,
        pattern=r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
        rf":{TAG_PATTERN.pattern}(@{DIGEST_PATTERN.pattern})?$",
    ),
]
PauseDuration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,5}[smh]$")]


def _success_status(status: int) -> int:
    if not 200 <= status <= 299:
        raise ValueError(
            f"{status} cannot be checked: the web metric provider counts every non-2xx "
            "response as an error; check other statuses in strategy.checks.smokeJob"
        )
    return status


def _not_latest(image: str) -> str:
    if parse_image_ref(image).tag == "latest":
        raise ValueError(f"{image!r}: pin a version tag, not :latest")
    return image


class HttpCheck(_Strict):
    """One HTTP sanity check: the new version must answer ``method path`` with a 2xx."""

    path: HttpPath
    """Request path (and query), starting with ``/``."""
    expectedStatus: Annotated[int, Field(ge=100, le=599), AfterValidator(_success_status)] = 200
    """Expected status; the web metric provider passes any 2xx and fails everything else."""
    method: Literal["GET", "POST", "PUT"] = "GET"
    """The methods the web metric provider supports."""


class SmokeJob(_Strict):
    """A Job run against the new version (CRUD checks); it passes when it exits 0."""

    image: Annotated[TaggedImage, AfterValidator(_not_latest)]
    """Image with a pinned tag (``:latest`` is refused)."""
    args: Annotated[
        list[Annotated[str, StringConstraints(max_length=1000)]], Field(max_length=50)
    ] = []
    """Container arguments; the target's base URL is in the ``BASE_URL`` environment variable."""

    free_text: ClassVar[frozenset[str]] = frozenset({"args"})


class Checks(_Strict):
    """Sanity checks of a new version before it takes traffic (blueGreen) or more traffic
    (canary ``analysis`` steps). A failing check aborts the rollout (Rollouts rolls back)."""

    port: Annotated[int, Field(ge=1, le=65535)]
    """Container port the app serves HTTP on: the generated preview/canary Services expose it
    and the checks call it."""
    http: Annotated[list[HttpCheck], Field(max_length=20)] = []
    smokeJob: SmokeJob | None = None

    def checks_something(self) -> bool:
        """Whether anything is checked (the port alone checks nothing)."""
        return bool(self.http) or self.smokeJob is not None


class Pause(_Strict):
    duration: PauseDuration | None = None
    """``30s``, ``5m``, ``1h``; without it the rollout waits for a human
    (``kubectl argo rollouts promote``)."""


class AnalysisStep(_Strict):
    """``analysis: {}``: run ``strategy.checks`` against the canary; the platform fills in the
    AnalysisTemplate."""


class CanaryStep(_Strict):
    """One canary step: exactly one of ``setWeight``, ``pause``, ``analysis``."""

    setWeight: Annotated[int, Field(ge=1, le=100)] | None = None
    """Percentage of replicas running the new version."""
    pause: Pause | None = None
    analysis: AnalysisStep | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
        given = [k for k in ("setWeight", "pause", "analysis") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a step is exactly one of setWeight, pause, analysis")
        return self


class Strategy(_Strict):
    """How a new version replaces the old one. ``rolling``: the Deployment's own rolling
    update. ``blueGreen`` and ``canary``: an Argo Rollouts ``Rollout`` generated by
    ``platformctl generate`` (``apps/<app>/generated/<env>/``) takes over the app's Deployment.
    Which fields apply to which type is checked by the loader."""

    type: Literal["rolling", "blueGreen", "canary"] = "rolling"
    activeService: ServiceName | None = None
    """blueGreen: the Service that takes live traffic; default ``<app>`` (the app's own)."""
    previewService: ServiceName | None = None
    """blueGreen: the generated Service selecting the new version; default ``<app>-preview``."""
    autoPromotionEnabled: bool = False
    """blueGreen: promote by itself once the checks pass (default: a human promotes)."""
    scaleDownDelaySeconds: Annotated[int, Field(ge=0, le=86400)] | None = None
    """blueGreen: keep the old version this long after promotion (Rollouts default 30)."""
    steps: Annotated[list[CanaryStep], Field(min_length=1, max_length=30)] | None = None
    """canary: the steps, in order."""
    checks: Checks | None = None

    @property
    def progressive(self) -> bool:
        """Whether the app's Deployment is driven by a generated Argo Rollouts ``Rollout``."""
        return self.type != "rolling"


class IgnoreDifference(_Strict):
    """A field Argo CD neither reports as drift nor resets on sync (another controller, an
    autoscaler or an operator owns it)."""

    group: Annotated[
        str, StringConstraints(max_length=253, pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$")
    ] = ""
    """API group; ``""`` for the core group (Service, ConfigMap...)."""
    kind: Annotated[str, StringConstraints(max_length=63, pattern=r"^[A-Z][A-Za-z0-9]*$")]
    name: (
        Annotated[
            str, StringConstraints(max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
        ]
        | None
    ) = None
    """Only the object of this name (default: every object of the kind)."""
    jsonPointers: Annotated[
        list[Annotated[str, StringConstraints(max_length=500, pattern=r"^(/([^/~]|~[01])*)+$")]],
        Field(max_length=20),
    ] = []
    """RFC 6901 pointers, e.g. ``/spec/replicas``."""
    jqPathExpressions: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=500)]], Field(max_length=20)
    ] = []
    """jq paths, e.g. ``.spec.template.spec.containers[].resources``."""

    @model_validator(mode="after")
    def _some_path(self) -> IgnoreDifference:
        if not self.jsonPointers and not self.jqPathExpressions:
            raise ValueError("give jsonPointers or jqPathExpressions (what to ignore)")
        return self


class SyncOverride(_Strict):
    """Per-app, per-environment override of the stack's sync policy."""

    automated: bool | None = None
    prune: bool | None = None
    selfHeal: bool | None = None


class EnvironmentSettings(_Strict):
    enabled: bool = True
    replicas: Annotated[int, Field(ge=0, le=100)] | None = None
    """Replica count applied by Argo CD (kustomize ``replicas`` / helm ``replicaCount``)."""
    sync: SyncOverride = SyncOverride()


SELECTOR_RESERVED_KEYS: Final = (constants.LABEL_ENV, constants.ARGOCD_SECRET_TYPE_LABEL)
"""Label keys a placement may not select on: the platform adds the stack's environment to
every selector (an app's environments are its ``environments``), and Argo CD the cluster
Secret type."""


class LabelSelectorRequirement(_Strict):
    """One ``matchExpressions`` entry, read as the API server reads it: ``In``/``NotIn`` test
    the label's value against ``values`` (``NotIn`` also matches a cluster without the label),
    ``Exists``/``DoesNotExist`` the label's presence and take no ``values``."""

    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: Annotated[list[LabelValue], Field(max_length=50)] = []

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs values (at least one)")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(_Strict):
    """A Kubernetes label selector over the spokes' cluster Secret labels: every
    ``matchLabels`` entry and every ``matchExpressions`` requirement must hold."""

    matchLabels: Annotated[dict[LabelKey, LabelValue], Field(max_length=50)] = {}
    matchExpressions: Annotated[list[LabelSelectorRequirement], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _no_reserved_keys(self) -> LabelSelector:
        keys = [*self.matchLabels, *(e.key for e in self.matchExpressions)]
        taken = sorted({k for k in keys if k in SELECTOR_RESERVED_KEYS})
        if taken:
            raise ValueError(
                f"{', '.join(taken)} cannot be selected on: every selector already holds the "
                f"stack's environment ({constants.LABEL_ENV}; the environments an app runs in "
                f"are its `environments`) and Argo CD's {constants.ARGOCD_SECRET_TYPE_LABEL}"
            )
        return self

    def is_empty(self) -> bool:
        """Whether the selector selects every cluster (no label, no expression)."""
        return not self.matchLabels and not self.matchExpressions


class Placement(_Strict):
    """Where the app runs in a stack with spoke clusters (``fleet.clusters``): every spoke of
    the stack's environment, or those ``clusterSelector`` selects. Ignored without spokes
    (the app runs on the stack's own cluster)."""

    clusterSelector: LabelSelector | None = None
    """Labels of the spokes' cluster Secrets (``platform.gitops/region``,
    ``addons.platform.gitops/<addon>``, a spoke's own ``labels``); default: every spoke."""


class AppDefinition(_Strict):
    """One app: ``apps/<name>/app.yaml``. The folder name is the app name."""

    team: Annotated[DnsLabel, AfterValidator(_team_name)]
    """Owning team; one AppProject and one ApplicationSet per team (``default``, ``argocd``
    and ``argocd-*`` are Argo CD's)."""
    namespace: DnsLabel
    """Destination namespace; a namespace belongs to exactly one team."""
    description: Annotated[str, StringConstraints(max_length=200)] = ""
    image: Image
    source: Source
    strategy: Strategy = Strategy()
    ignoreDifferences: Annotated[list[IgnoreDifference], Field(max_length=50)] = []
    """Fields Argo CD ignores when comparing git with the cluster (and on sync)."""
    environments: dict[constants.Environment, EnvironmentSettings]
    """Settings per environment; an environment not listed is not deployed."""
    placement: Placement = Placement()
    """The spokes the app runs on, in a stack with ``fleet.clusters``."""

    @model_validator(mode="after")
    def _at_least_one_environment(self) -> AppDefinition:
        if not self.environments:
            raise ValueError("environments must list at least one of dev, prod")
        return self


class App(BaseModel):
    """A validated app: its definition plus where it came from."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The folder name under ``apps/``."""
    file: str
    """Display path of the app.yaml, relative to the repository root."""
    folder: str
    """Path of the app folder relative to the repository root (``apps/<name>``)."""
    definition: AppDefinition

    def enabled_environments(self) -> tuple[str, ...]:
        return tuple(env for env, s in sorted(self.definition.environments.items()) if s.enabled)

    def environment(self, env: str) -> EnvironmentSettings | None:
        settings = self.definition.environments.get(env)  # type: ignore[call-overload]
        return settings if settings is not None and settings.enabled else None

    def source_folder(self) -> str:
        """The source's folder relative to the repository root (``apps/<app>/<path>``);
        the app folder itself for an external chart."""
        path = getattr(self.definition.source, "path", None) or "."
        return posixpath.normpath(posixpath.join(self.folder, path))

    def overlay_path(self, env: str) -> str:
        """The kustomize overlay of ``env``, relative to the repository root:
        ``apps/<app>/<source.path>/overlays/<env>``. The one place it is derived."""
        return posixpath.join(self.source_folder(), constants.OVERLAYS_DIR, env)

    def service_names(self) -> dict[str, str]:
        """Role -> name of each Service the app's Rollout names (generated, or the app's own
        live Service for blueGreen): ``active``/``preview`` or ``canary``/``stable``. The one
        place they are derived."""
        strategy = self.definition.strategy
        names: dict[str, str] = {}
        if strategy.type == "blueGreen":
            names["active"] = strategy.activeService or self.name
            if strategy.checks is not None:
                names["preview"] = strategy.previewService or f"{self.name}-preview"
        elif strategy.checks is not None:
            names["canary"] = f"{self.name}-canary"
            names["stable"] = f"{self.name}-stable"
        return names

    def values_path(self, env: str) -> str:
        """The helm values file of ``env``, relative to the repository root:
        ``apps/<app>/values/<env>.yaml``."""
        return posixpath.join(self.folder, constants.HELM_VALUES_DIR, f"{env}.yaml")
