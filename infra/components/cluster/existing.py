"""existing: adopt a cluster the stack does not create, by kubeconfig file and context."""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra import constants
from infra.bounded import read_text_file
from infra.components.cluster.base import ClusterArgs, ClusterConnection
from infra.errors import Problem, ValidationError
from infra.settings import ExistingCluster
from infra.yamlio import load_strict

__all__ = ["connect", "read_kubeconfig"]

KUBECONFIG_MAX_BYTES = 4 * 1024 * 1024
"""A kubeconfig larger than this is refused unread."""


def read_kubeconfig(path: str, context: str, stack_file: str) -> str:
    """The kubeconfig text, after checking the file exists and holds ``context``."""
    field = f"{constants.PROJECT}:cluster"
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValidationError(
            [Problem(stack_file, f"{field}.kubeconfig", f"kubeconfig file {file} does not exist")]
        )
    text = read_text_file(file, str(file), KUBECONFIG_MAX_BYTES)
    loaded = load_strict(text, str(file)) if isinstance(text, str) else None
    if (
        not isinstance(text, str)
        or loaded is None
        or loaded.problems
        or not isinstance(loaded.data, dict)
    ):
        raise ValidationError(
            [Problem(stack_file, f"{field}.kubeconfig", f"{file} is not a readable kubeconfig")]
        )
    contexts = [c.get("name") for c in loaded.data.get("contexts") or [] if isinstance(c, dict)]
    if context not in contexts:
        raise ValidationError(
            [
                Problem(
                    stack_file,
                    f"{field}.context",
                    f"context {context!r} not in {file} (has: "
                    f"{', '.join(str(c) for c in contexts) or 'none'})",
                )
            ]
        )
    return text


def connect(name: str, args: ClusterArgs, parent: pulumi.Resource) -> ClusterConnection:
    cluster = args["cluster"]
    assert isinstance(cluster, ExistingCluster)
    text = read_kubeconfig(cluster.kubeconfig, cluster.context, args["stack_file"])
    return ClusterConnection(
        kubeconfig=pulumi.Output.secret(text),
        context=cluster.context,
        identifier=f"existing:{cluster.context}",
    )
