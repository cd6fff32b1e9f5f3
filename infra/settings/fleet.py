"""The ``fleet`` section: the spoke clusters this stack's Argo CD (the hub) manages besides its
own, how the program reaches each, and what the hub knows of it (its labels and annotations,
one typed model). Pure.

For each spoke the program creates on the spoke what ``argocd cluster add`` would (a
ServiceAccount, its RBAC and a token) and on the hub Argo CD's cluster Secret; the apps of the
stack's environment are placed on the spokes by label (``placement`` in ``app.yaml``).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from infra import constants
from infra.catalog.kube_names import DNS1123_LABEL_PATTERN, DnsLabel, LabelKey, LabelValue
from infra.catalog.strict import checked
from infra.settings.base import SettingsModel
from infra.settings.cluster import DEFAULT_KUBERNETES_VERSION, KubeVersion

__all__ = [
    "MAX_CLUSTER_NAME",
    "MAX_SPOKES",
    "RESERVED_CLUSTER_NAMES",
    "FleetSettings",
    "KubeconfigAccess",
    "KwokSpoke",
    "SpokeCluster",
    "StackReferenceAccess",
    "kwok_spoke_name",
]

MAX_SPOKES: Final = 200
"""The most spokes one hub manages from one stack."""
MAX_CLUSTER_NAME: Final = 30
"""A spoke's name is part of each of its Applications' names (``<app>-<cluster>``), which
Argo CD writes into a label value of at most 63 characters; 30 leaves the app 32."""
RESERVED_CLUSTER_NAMES: Final = frozenset({"in-cluster", *constants.ENVIRONMENTS})
"""``in-cluster`` is Argo CD's name for its own cluster; a spoke named after an environment
would share ``values/<env>.yaml`` with it."""

AnnotationValue = Annotated[str, StringConstraints(max_length=4096)]
SpokeName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_CLUSTER_NAME, pattern=DNS1123_LABEL_PATTERN),
]


def _spoke_name_problem(name: str) -> str | None:
    if name in RESERVED_CLUSTER_NAMES:
        return (
            f"{name!r} is reserved ({', '.join(sorted(RESERVED_CLUSTER_NAMES))}): in-cluster is "
            "Argo CD's own cluster, and an environment's name is its values file"
        )
    return None


class KubeconfigAccess(SettingsModel):
    """A spoke reached through a kubeconfig file on the machine running ``pulumi up``."""

    path: Annotated[str, StringConstraints(min_length=1, max_length=4096)] = "~/.kube/config"
    """Path of the kubeconfig file (``~`` expanded)."""
    context: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    """Context to use; required so a spoke is never whatever is current."""


class StackReferenceAccess(SettingsModel):
    """A spoke created by another stack: its kubeconfig is that stack's output."""

    stack: Annotated[
        str,
        StringConstraints(
            max_length=300,
            pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$",
        ),
    ]
    """The stack: ``<org>/<project>/<stack>``, ``<project>/<stack>`` or ``<stack>``."""
    output: Annotated[
        str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    ] = "kubeconfig"
    """The output holding the kubeconfig (this project's stacks export ``kubeconfig``)."""
    context: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = None
    """The context in it; default: its current context."""


class KwokSpoke(SettingsModel):
    """A kwok spoke this stack creates beside its own kwok cluster (``local-fleet``): only with
    ``cluster.provider: kwok`` and ``controllers: local``."""

    nodes: Annotated[int, Field(ge=1, le=50)] = 1
    kubernetesVersion: KubeVersion = DEFAULT_KUBERNETES_VERSION


def kwok_spoke_name(hub_cluster: str, spoke: str) -> str:
    """The kwok cluster of spoke ``spoke`` of the hub cluster ``hub_cluster``: one name per
    machine, so two fleets (or a test run beside a user's fleet) never share a spoke."""
    return f"{hub_cluster}-{spoke}"


class SpokeCluster(SettingsModel, BaseModel):
    """One spoke: its name, exactly one way to reach it, and its metadata (labels and
    annotations of its cluster Secret, which placement selects on and templates read)."""

    name: Annotated[SpokeName, checked(_spoke_name_problem)]
    """The cluster's name in Argo CD; part of its Applications' names."""
    kubeconfig: KubeconfigAccess | None = None
    stackReference: StackReferenceAccess | None = None
    kwok: KwokSpoke | None = None
    region: DnsLabel | None = None
    """Label ``platform.gitops/region``."""
    addons: Annotated[list[DnsLabel], Field(max_length=50)] = []
    """Add-ons the spoke runs: label ``addons.platform.gitops/<addon>: "true"`` each."""
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=50)] = {}
    """More labels (not the platform's own keys)."""
    annotations: Annotated[dict[LabelKey, AnnotationValue], Field(max_length=50)] = {}
    """Annotations app templates may read (not the platform's own keys)."""
    allowRemoval: bool = False
    """Removing the spoke from ``fleet.clusters`` is refused until this is true (and applied):
    its Applications disappear (their workloads stay on the spoke)."""

    @model_validator(mode="after")
    def _one_access(self) -> SpokeCluster:
        given = [k for k in ("kubeconfig", "stackReference", "kwok") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of kubeconfig, stackReference, kwok (how to reach the spoke)"
                + (f"; {', '.join(given)} given" if given else "")
            )
        if len(set(self.addons)) != len(self.addons):
            raise ValueError("addons lists an add-on twice")
        for field in ("labels", "annotations"):
            for key in getattr(self, field):
                if key.startswith(constants.RESERVED_LABEL_PREFIXES):
                    raise ValueError(
                        f"{field}: {key!r} is the platform's or Argo CD's (keys starting "
                        f"{', '.join(constants.RESERVED_LABEL_PREFIXES)}); use region and "
                        "addons for those"
                    )
        return self

    @property
    def access(self) -> Literal["kubeconfig", "stackReference", "kwok"]:
        if self.kubeconfig is not None:
            return "kubeconfig"
        if self.stackReference is not None:
            return "stackReference"
        return "kwok"


class FleetSettings(SettingsModel, BaseModel):
    """The spokes; none by default (the stack's apps run on its own cluster)."""

    clusters: Annotated[list[SpokeCluster], Field(max_length=MAX_SPOKES)] = []

    @model_validator(mode="after")
    def _unique_names(self) -> FleetSettings:
        names = [c.name for c in self.clusters]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"cluster names must be unique; {', '.join(twice)} given twice")
        return self

    @property
    def enabled(self) -> bool:
        """Whether the stack's apps are placed on spokes (matrix ApplicationSets)."""
        return bool(self.clusters)
