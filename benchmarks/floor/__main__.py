"""Benchmark-only program (benchmarks/crds.py): the platform's program with the charts' CRD
owners taken out, the floor a no-op preview of the deployed stack is compared with (issue 16).

Each ``ChartCRDs`` becomes an empty component of the same name, so nothing else changes: the
charts still wait for it, and the engine has no CRD resource to diff. Never used by a stack.
"""

from __future__ import annotations

from typing import Any

import pulumi

import infra.components.chart_crds as chart_crds


class _NoCRDs(pulumi.ComponentResource):
    def __init__(
        self, name: str, _crds: Any, _kubeconfig: Any, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:bench:NoCRDs", name, None, opts)


# Before the components import it.
chart_crds.ChartCRDs = _NoCRDs  # type: ignore[assignment,misc]

from infra.program import main  # noqa: E402

main()
