"""The one schema of an app definition (``apps/<name>/app.yaml``), as typed models.

Documented for users in ``apps/README.md``; keep the two in step (a unit test checks that
every field named here appears there).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "DNS1123_LABEL",
    "AppDefinition",
    "DirectorySource",
    "EnvironmentSettings",
    "HelmSource",
    "Image",
    "KustomizeSource",
    "Source",
    "Strategy",
    "SyncOverride",
]

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
"""A Kubernetes DNS-1123 label: lower-case alphanumerics and '-', 1-63 characters."""

DnsLabel = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=DNS1123_LABEL.pattern),
]
# Image repository: registry/path without tag or digest (the tag lives in the overlay).
ImageRepository = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=255,
        pattern=r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$",
    ),
]
ValuesKey = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", max_length=200)
]
RelativePath = Annotated[str, StringConstraints(min_length=1, max_length=255)]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^(https|oci)://[^\s]+$", max_length=512)]
SemVer = Annotated[
    str,
    StringConstraints(
        pattern=r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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
    """An external Helm chart; per-environment values come from this repository
    (``apps/<app>/values/<env>.yaml``) when that file exists."""

    type: Literal["helm"]
    repoURL: HttpsUrl
    chart: DnsLabel
    version: SemVer
    """Exact chart version; ranges are refused so every change is a reviewed commit."""
    replicasKey: ValuesKey = "replicaCount"
    """Chart value that sets the replica count (``environments.<env>.replicas``)."""
    imageTagKey: ValuesKey = "image.tag"
    """Dotted key of the image tag in ``values/<env>.yaml`` (the line the handoff bumps)."""


Source = Annotated[KustomizeSource | DirectorySource | HelmSource, Field(discriminator="type")]


class Strategy(_Strict):
    """How a new version replaces the old one. ``blueGreen`` and ``canary`` are reserved for
    the progressive-delivery golden path and refused until a stack enables Argo Rollouts."""

    type: Literal["rolling", "blueGreen", "canary"] = "rolling"


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


class AppDefinition(_Strict):
    """One app: ``apps/<name>/app.yaml``. The folder name is the app name."""

    team: DnsLabel
    """Owning team; one AppProject and one ApplicationSet per team."""
    namespace: DnsLabel
    """Destination namespace; a namespace belongs to exactly one team."""
    description: Annotated[str, StringConstraints(max_length=200)] = ""
    image: Image
    source: Source
    strategy: Strategy = Strategy()
    environments: dict[Literal["dev", "prod"], EnvironmentSettings]
    """Settings per environment; an environment not listed is not deployed."""

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
