"""The toolchain's controllers are the ones the pinned charts install.

toolchain/modules/<component>/module pins the Go module the local runtime's processes are
built from; the stack settings pin the chart whose manifests and CRDs they run against. The
two are kept apart on purpose (one is a build input, the other a user setting), so this test is
what holds them together: bump a chart and this fails until the module follows.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest
import yaml

from infra import settings

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "toolchain" / "modules"
SHARED = REPO.parent / "shared"


def pinned_module(component: str) -> tuple[str, str]:
    """(module path, version) of modules/<component>/module."""
    lines = [
        line
        for line in (MODULES / component / "module").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1, f"modules/{component}/module pins one module"
    path, version, _sum = lines[0].split()
    return path, version


def chart_app_version(name: str, version: str) -> str:
    archive = SHARED / "charts" / f"{name}-{version}.tgz"
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"{name}/Chart.yaml")
        assert member is not None
        return str(yaml.safe_load(member.read())["appVersion"])


@pytest.mark.parametrize(
    ("component", "chart", "chart_version"),
    [
        ("argocd", "argo-cd", settings.DEFAULT_CHART_VERSION),
        ("rollouts", "argo-rollouts", settings.DEFAULT_ROLLOUTS_CHART_VERSION),
        ("sealed-secrets", "sealed-secrets", settings.DEFAULT_SEALED_SECRETS_CHART_VERSION),
    ],
)
def test_the_runtime_builds_the_version_the_chart_installs(
    component: str, chart: str, chart_version: str
) -> None:
    _path, version = pinned_module(component)
    assert version.lstrip("v") == chart_app_version(chart, chart_version).lstrip("v")


def vendored(component: str) -> list[tuple[str, str]]:
    path = MODULES / component / "vendor"
    if not path.exists():
        return []
    return [
        (name, digest)
        for name, digest in (
            line.split()
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
    ]


VENDORED = [(c.name, *entry) for c in sorted(MODULES.iterdir()) for entry in vendored(c.name)]


def test_argo_cd_takes_its_gitops_engine_from_the_vendor_folder() -> None:
    names = [name for component, name, _digest in VENDORED if component == "argocd"]
    _path, version = pinned_module("argocd")
    assert names == [f"argo-cd-{version}-gitops-engine.tar.gz"]


@pytest.mark.parametrize(("component", "name", "digest"), VENDORED)
def test_every_vendored_archive_is_there_with_the_pinned_hash(
    component: str, name: str, digest: str
) -> None:
    archive = SHARED / "vendor" / name
    assert archive.is_file(), (
        f"modules/{component}/vendor names {name}, absent from ../shared/vendor"
    )
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest
