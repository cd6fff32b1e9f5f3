"""The Makefile's choice of toolchain (README "Prerequisites"): TOOLCHAIN=go builds from Go
modules, TOOLCHAIN=system uses what is installed, and the default follows what is installed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import REPO

BUILD = "toolchain/build.sh"


def make_n(
    tmp_path: Path, *args: str, tools: tuple[str, ...] = (), plugin: bool = False
) -> subprocess.CompletedProcess[str]:
    """`make -n toolchain` with only ``tools`` (fakes) and the system's /usr/bin on PATH, and
    a Pulumi home that holds the kubernetes plugin when ``plugin``."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    for tool in tools:
        (fake / tool).write_text("#!/bin/sh\necho fake\n")
        (fake / tool).chmod(0o755)
    home = tmp_path / "pulumi-home"
    if plugin:
        (home / "plugins" / "resource-kubernetes-v4.25.0").mkdir(parents=True, exist_ok=True)
    env = {"PATH": f"{fake}:/usr/bin:/bin", "HOME": str(tmp_path), "PULUMI_HOME": str(home)}
    return subprocess.run(
        ["make", "-n", "toolchain", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_without_an_installed_pulumi_the_go_toolchain_is_built(tmp_path: Path) -> None:
    out = make_n(tmp_path)
    assert out.returncode == 0 and BUILD in out.stdout, out
    # The CLI alone is not enough: its kubernetes plugin must be installed too.
    out = make_n(tmp_path, tools=("pulumi",))
    assert BUILD in out.stdout, out


@pytest.mark.parametrize(
    ("tools", "plugin"),
    [(("pulumi", "pulumi-resource-kubernetes"), False), (("pulumi",), True)],
)
def test_an_installed_pulumi_and_plugin_is_used_and_nothing_is_built(
    tmp_path: Path, tools: tuple[str, ...], plugin: bool
) -> None:
    out = make_n(tmp_path, tools=tools, plugin=plugin)
    assert out.returncode == 0, out
    assert BUILD not in out.stdout and "TOOLCHAIN=system" in out.stdout, out.stdout


def test_the_choice_can_be_forced_and_is_checked(tmp_path: Path) -> None:
    tools = ("pulumi", "pulumi-resource-kubernetes")
    assert BUILD in make_n(tmp_path, "TOOLCHAIN=go", tools=tools).stdout
    assert BUILD not in make_n(tmp_path, "TOOLCHAIN=system").stdout
    out = make_n(tmp_path, "TOOLCHAIN=docker")
    assert out.returncode != 0
    assert "TOOLCHAIN must be go or system, not 'docker'" in out.stderr


@pytest.mark.parametrize(
    ("given", "generated"),
    [
        ({}, True),
        ({"PULUMI_CONFIG_PASSPHRASE": "from-the-environment"}, False),
        ({"PULUMI_CONFIG_PASSPHRASE_FILE": "/run/secrets/passphrase"}, False),
    ],
)
def test_a_passphrase_file_is_written_only_when_none_is_given(
    tmp_path: Path, given: dict[str, str], generated: bool
) -> None:
    target = tmp_path / "state" / ".passphrase"
    out = subprocess.run(
        ["make", "-n", "stack", f"PASSPHRASE_FILE={target}"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **given},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert ("token_urlsafe" in out.stdout) is generated, out.stdout
