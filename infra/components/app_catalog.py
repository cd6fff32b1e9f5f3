"""AppProjects and ApplicationSets as custom resources: a thin wrapper over the pure specs.

The objects are built by :func:`infra.specs.argocd_objects`, the function ``platformctl
render`` prints; this component only registers each as a ``CustomResource``. Resource count
grows per team (two each), not per app: apps are elements of their team's list generator.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

__all__ = ["AppCatalog", "AppCatalogArgs"]


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
        resources = []
        for obj in args["objects"]:
            kind = obj["kind"]
            meta = obj["metadata"]
            resources.append(
                k8s.apiextensions.CustomResource(
                    f"{name}-{kind.lower()}-{meta['name']}",
                    api_version=obj["apiVersion"],
                    kind=kind,
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=meta["name"],
                        namespace=meta["namespace"],
                        labels=meta["labels"],
                        annotations=meta.get("annotations"),
                    ),
                    spec=obj["spec"],
                    opts=pulumi.ResourceOptions(
                        parent=self, provider=args["provider"], depends_on=args["install"]
                    ),
                )
            )
        self.names = pulumi.Output.from_input(
            [f"{o['kind']}/{o['metadata']['name']}" for o in args["objects"]]
        )
        self.register_outputs({"names": self.names})
