"""AppProjects and ApplicationSets as custom resources: a thin wrapper over the pure specs.

The objects are built by :func:`infra.specs.argocd_objects`, the function ``platformctl
render`` prints; this component only registers each as a ``CustomResource``. Resource count
grows per team (two each), not per app: apps are elements of their team's list generator.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

__all__ = ["AppCatalog", "AppCatalogArgs", "custom_resource"]


def custom_resource(
    name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """One rendered object (a plain dict from :mod:`infra.specs`) as a ``CustomResource``."""
    meta = obj["metadata"]
    return k8s.apiextensions.CustomResource(
        name,
        api_version=obj["apiVersion"],
        kind=obj["kind"],
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=meta["name"],
            namespace=meta.get("namespace"),
            labels=meta.get("labels"),
            annotations=meta.get("annotations"),
        ),
        spec=obj["spec"],
        opts=opts,
    )


class AppCatalogArgs(TypedDict):
    objects: list[dict[str, Any]]
    """The rendered Argo CD objects (AppProjects, ApplicationSets)."""
    provider: k8s.Provider
    """Kubernetes provider of the target cluster."""
    install: list[pulumi.Resource]
    """The installs whose CRDs these objects need (Argo CD, Rollouts): created first."""


class AppCatalog(pulumi.ComponentResource):
    """Every Argo CD object generated from ``apps/`` for one stack."""

    names: pulumi.Output[list[str]]
    """``Kind/name`` of every object, in render order."""

    def __init__(
        self, name: str, args: AppCatalogArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:AppCatalog", name, None, opts)
        for obj in args["objects"]:
            custom_resource(
                f"{name}-{obj['kind'].lower()}-{obj['metadata']['name']}",
                obj,
                pulumi.ResourceOptions(
                    parent=self, provider=args["provider"], depends_on=args["install"]
                ),
            )
        self.names = pulumi.Output.from_input(
            [f"{o['kind']}/{o['metadata']['name']}" for o in args["objects"]]
        )
        self.register_outputs({"names": self.names})
