"""The toolchain's controllers are the ones the pinned charts install.

toolchain/modules/<component>/module pins the Go module the local runtime's processes are
built from; the stack settings pin the chart whose manifests and CRDs they run against. The
two are kept apart on purpose (one is a build input, the other a user setting), so this test is
what holds them together: bump a chart and this fails until the module follows.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from infra import settings
from tests.signing import require_tool
from tests.support import toolchain_cache

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


def _sdk_module() -> Path:
    """The pinned ``pulumi/sdk/v3`` module's folder in the toolchain's module cache."""
    go_mod = (MODULES / "pulumi-language-python" / "go.mod").read_text()
    version = next(
        line.split()[1]
        for line in go_mod.splitlines()
        if line.strip().startswith("github.com/pulumi/pulumi/sdk/v3 ")
    )
    return (
        toolchain_cache() / "gomod" / "github.com" / "pulumi" / "pulumi" / "sdk" / f"v3@{version}"
    )


def _launch(launcher: Path, cwd: Path) -> subprocess.CompletedProcess[str] | str:
    """Start the dynamic-provider launcher as the engine does (in the program folder, the
    project's runtime options as PULUMI_RUNTIME_*): its handshake (the port) or its failure."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PULUMI_RUNTIME_VIRTUALENV": str(
            yaml.safe_load((REPO / "Pulumi.yaml").read_text())["runtime"]["options"]["virtualenv"]
        ),
    }
    proc = subprocess.Popen(
        [str(launcher)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line:
            return line.strip()
        proc.wait(timeout=30)
        return subprocess.CompletedProcess(
            proc.args, proc.returncode, "", proc.stderr.read() if proc.stderr else ""
        )
    finally:
        proc.kill()
        proc.wait()


def test_the_dynamic_provider_launcher_is_the_one_the_pulumi_cli_ships_and_finds_the_venv() -> None:
    """Users with Pulumi installed run the CLI's own launcher (TOOLCHAIN=system), so the
    toolchain ships that very script, and the layout works with it: the engine starts it in
    the program folder, which is the project root (no `main` in Pulumi.yaml), where the
    relative `virtualenv` the language host reads is found (pulumi/pulumi#7061)."""
    ours = Path(require_tool("pulumi-resource-pulumi-python"))
    upstream = _sdk_module() / "python" / "dist" / "pulumi-resource-pulumi-python"
    assert ours.read_bytes() == upstream.read_bytes()
    assert "main" not in yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    port = _launch(ours, REPO)
    assert isinstance(port, str) and port.isdigit(), port
    # Why the program is not in a sub-folder: from there the same launcher misses the venv.
    failed = _launch(ours, REPO / "infra")
    assert isinstance(failed, subprocess.CompletedProcess) and failed.returncode != 0
    assert "doesn't exist" in failed.stderr
