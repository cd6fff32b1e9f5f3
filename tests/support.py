"""Test helpers shared by the unit and end-to-end tiers."""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_CHARTS = (REPO / ".." / "shared" / "charts").resolve()
TOOLCHAIN_MODULES = REPO / "toolchain" / "modules"


def toolchain_cache() -> Path:
    """The toolchain's cache folder, found as toolchain/build.sh finds it."""
    explicit = os.environ.get("GITOPS_TOOLCHAIN_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-platform"


def pinned_module(component: str) -> Path:
    """The Go module a toolchain component pins (``toolchain/modules/<c>/module``: path,
    version, hash), as unpacked in the toolchain's module cache."""
    line = next(
        ln
        for ln in (TOOLCHAIN_MODULES / component / "module").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    )
    path, version = line.split()[:2]
    escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)
    return toolchain_cache() / "gomod" / f"{escaped}@{version}"


ARGOCD_CHART = SHARED_CHARTS / "argo-cd-10.1.1.tgz"
ROLLOUTS_CHART = SHARED_CHARTS / "argo-rollouts-2.41.0.tgz"
"""Argo Rollouts v1.9.0: the Rollout, AnalysisTemplate... CRDs (templates/crds)."""
SEALED_SECRETS_CHART = SHARED_CHARTS / "sealed-secrets-2.18.5.tgz"

UPGRADED_CRD = "appprojects.argoproj.io"
"""The CRD :func:`argocd_chart_with_an_edited_crd` changes: a new ``spec.e2eNote`` string."""
_APPPROJECT_TEMPLATE = "argo-cd/templates/crds/crd-appproject.yaml"
_ANCHOR = "              sourceNamespaces:\n"
_ADDED = (
    "              e2eNote:\n"
    "                description: Added by the CRD upgrade test.\n"
    "                type: string\n"
)


def argocd_chart_with_an_edited_crd(dest: Path) -> Path:
    """A copy of the argo-cd chart archive whose AppProject CRD has one more property,
    ``spec.e2eNote`` (an upgrade whose CRDs changed); every other file as it is."""
    with tarfile.open(ARGOCD_CHART) as src, tarfile.open(dest, "w:gz") as out:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if data is not None and member.name == _APPPROJECT_TEMPLATE:
                text = data.read().decode()
                assert text.count(_ANCHOR) == 1, "the AppProject CRD template changed"
                raw = text.replace(_ANCHOR, _ADDED + _ANCHOR).encode()
                member.size = len(raw)
                out.addfile(member, io.BytesIO(raw))
            else:
                out.addfile(member, data)
    return dest


PROD_ADMISSION: dict[str, Any] = {
    "enabled": True,
    "trustedRegistries": ["ghcr.io/example-org"],
    "signer": {
        "keyless": {
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": "https://github.com/example-org/gitops-platform/.github/workflows/*",
        }
    },
}
"""A valid ``admission`` section: every prod stack must enable admission control."""


def copy_example_catalog(dest: Path) -> Path:
    """A writable copy of the repository's apps/ (plus a Pulumi.yaml marker) under ``dest``."""
    shutil.copytree(REPO / "apps", dest / "apps")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(REPO / name, dest / name)
    return dest


@cache
def crd_schemas(archive: Path = ARGOCD_CHART) -> dict[str, dict[str, Any]]:
    """kind -> openAPIV3Schema of the CRDs shipped in a chart archive (templates/crds)."""
    out: dict[str, dict[str, Any]] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if "/templates/crds/" not in member.name or not member.name.endswith(".yaml"):
                continue
            raw = tar.extractfile(member)
            assert raw is not None
            # Drop the Helm template lines around the CRD (labels, annotations, if/end).
            text = "\n".join(
                line
                for line in io.TextIOWrapper(raw, "utf-8").read().splitlines()
                if "{{" not in line
            )
            crd = yaml.safe_load(text)
            for version in crd["spec"]["versions"]:
                if version.get("storage"):
                    out[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return out


def strict_json_schema(node: Any) -> Any:
    """A Kubernetes structural schema as JSON Schema that, like the API server's strict
    field validation, rejects unknown fields (unless x-kubernetes-preserve-unknown-fields)."""
    if isinstance(node, list):
        return [strict_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        node.get("type") == "object"
        and "properties" in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in node
    ):
        out["additionalProperties"] = False
    return out


def schema_errors(obj: dict[str, Any], archive: Path = ARGOCD_CHART) -> list[str]:
    """Every violation of ``obj`` against its CRD (strict), as readable lines. The CRD comes
    from ``archive`` (default: the argo-cd chart; ``ROLLOUTS_CHART`` for Rollouts kinds)."""
    import jsonschema  # type: ignore[import-untyped]

    schema = strict_json_schema(crd_schemas(archive)[obj["kind"]])
    # metadata is validated by the API server itself, not by the CRD schema.
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{obj['kind']}/{obj['metadata']['name']}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(obj)
    ]


PREVIOUS_CRD_PROGRAM = "f945347b54ee1c28269994349db69b119c713bce"
"""The last commit whose charts owned their CRDs as individual resources (issue 16): the
migration test and the CRD benchmark run its program first."""


def previous_crd_program(dest: Path) -> Path:
    """That commit's ``infra/``, extracted under ``dest`` (from this clone's history)."""
    import subprocess

    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS_CRD_PROGRAM, "infra"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "infra"
