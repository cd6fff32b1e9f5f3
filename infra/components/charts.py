"""What every chart install shares: where the chart comes from, and the add-on args."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pulumi_kubernetes as k8s

from infra.settings import ChartSettings, StackSettings

__all__ = ["AddonArgs", "chart_source"]


def chart_source(chart: ChartSettings, name: str, project_root: str) -> dict[str, Any]:
    """Chart v4 arguments naming a chart: the pinned repository and version, or a local
    archive (``chart.path``, resolved against the project root)."""
    if chart.path:
        path = Path(chart.path)
        resolved = path if path.is_absolute() else Path(project_root) / path
        return {"chart": str(resolved.resolve())}
    return {
        "chart": name,
        "version": chart.version,
        "repository_opts": k8s.helm.v4.RepositoryOptsArgs(repo=chart.repository),
    }


class AddonArgs(TypedDict):
    settings: StackSettings
    """Validated stack settings (the add-on's section and the environment are used)."""
    provider: k8s.Provider
    """Kubernetes provider of the target cluster."""
    project_root: str
    """Directory of Pulumi.yaml; a local chart path is resolved against it."""
