"""Moving a stack's CRDs to their one-per-chart owner without deleting any (docs/upgrading.md).

Before, each chart's CRDs were Pulumi resources of their own, children of the chart. The new
program no longer registers them, so the engine removes them from the stack at the next
``up``: harmless where they were ``retainOnDelete`` (argo-cd, argo-rollouts and sealed-secrets
were), fatal where they were not (Kyverno's: deleting a CRD deletes every custom resource of it,
so every ClusterPolicy, and admission would silently stop). This marks every CRD resource still
in the state ``retainOnDelete`` first, so that ``up`` only forgets them, and the new owner
(``ChartCRDs``) takes the live objects over server-side.

    python -m infra.ops.crd_migration --stack NAME     # `make migrate STACK=NAME`; every
                                                       # `make preview|up|destroy` runs it first

Pure core (:func:`unretained_crds`, :func:`retain_crds`) over the ``pulumi stack export``
document; the shell exports, and imports only when something changed. Idempotent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from typing import Any, Final

from infra import constants
from infra.errors import PlatformError

__all__ = [
    "CRD_RESOURCE_TYPE",
    "export_state",
    "main",
    "migrate",
    "refuse_unretained_crds",
    "retain_crds",
    "unretained_crds",
]

CRD_RESOURCE_TYPE: Final = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
TIMEOUT: Final = 300


def _resources(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    deployment = state.get("deployment") or {}
    return list(deployment.get("resources") or [])


def unretained_crds(state: Mapping[str, Any]) -> list[str]:
    """URNs of the CRD resources that a ``pulumi up`` dropping them would delete."""
    return [
        str(r.get("urn"))
        for r in _resources(state)
        if r.get("type") == CRD_RESOURCE_TYPE
        and not r.get("retainOnDelete")
        and not r.get("delete")
    ]


def retain_crds(state: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the exported state with every CRD resource ``retainOnDelete``."""
    copy: dict[str, Any] = json.loads(json.dumps(state))
    for resource in (copy.get("deployment") or {}).get("resources") or []:
        if resource.get("type") == CRD_RESOURCE_TYPE:
            resource["retainOnDelete"] = True
    return copy


def _pulumi(args: list[str], cwd: str | None = None) -> str:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise PlatformError("`pulumi` is not on PATH: use the Makefile targets (`make migrate`)")
    try:
        proc = subprocess.run(
            [pulumi, *args, "--non-interactive"],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PlatformError(f"`pulumi {args[0]} {args[1]}` did not finish in {TIMEOUT}s") from None
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-2:])
        raise PlatformError(f"`pulumi {args[0]} {args[1]}` failed: {tail}")
    return proc.stdout


def export_state(stack: str, cwd: str | None = None) -> dict[str, Any]:
    """``pulumi stack export`` of ``stack`` (secrets stay encrypted), run in ``cwd`` (the
    project)."""
    try:
        state: dict[str, Any] = json.loads(_pulumi(["stack", "export", "--stack", stack], cwd))
    except ValueError:
        raise PlatformError(f"`pulumi stack export --stack {stack}` printed no JSON") from None
    return state


def refuse_unretained_crds(stack: str, cwd: str) -> None:
    """The program's guard (stacks with admission, whose Kyverno CRDs the previous version did
    not retain): a PlatformError naming the fix when ``up`` would delete a CRD."""
    urns = unretained_crds(export_state(stack, cwd))
    if urns:
        names = ", ".join(urn.rsplit("::", 1)[-1] for urn in urns)
        raise PlatformError(
            f"{constants.stack_file(stack)}: the stack's state still holds {len(urns)} CRD "
            "resource(s) of "
            f"the previous version that this update would delete with every custom resource "
            f"of them ({names}): run `make migrate STACK={stack}` once (it marks them "
            "retainOnDelete; nothing in the cluster changes), then `pulumi up` again"
        )


def migrate(stack: str) -> list[str]:
    """Marks the stack's CRD resources retained; returns the URNs it changed."""
    state = export_state(stack)
    urns = unretained_crds(state)
    if not urns:
        return []
    fd, path = tempfile.mkstemp(prefix="gitops-state-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(retain_crds(state), f)
        _pulumi(["stack", "import", "--stack", stack, "--file", path])
    finally:
        os.unlink(path)
    return urns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.ops.crd_migration",
        description="Mark a stack's per-CRD resources retainOnDelete before the CRDs move to "
        "their one-per-chart owner (nothing in the cluster changes).",
    )
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    try:
        urns = migrate(args.stack)
    except PlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for urn in urns:
        print(f"crd-migration: {args.stack}: kept on the next up (retainOnDelete): {urn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
