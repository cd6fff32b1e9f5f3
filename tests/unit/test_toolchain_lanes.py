"""toolchain/build.sh's lanes: components built side by side, each exactly once, and a failure
in one lane fails the build and stops the other lanes before their next component.

build.sh is sourced (it runs nothing then) and ``build_component`` replaced by a recorder, so
these run in milliseconds; the real builds are the e2e tier's toolchain.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support import REPO


def _run(tmp_path: Path, fake_build: str, before: str = "") -> subprocess.CompletedProcess[str]:
    script = f"""
source {REPO / "toolchain/build.sh"}
{before}
build_component() {{
    local c="$1"
    {fake_build}
    echo "$c" >>"$cache/built"
}}
mkdir -p "$cache/work"
check_lanes
build_lanes
"""
    return subprocess.run(
        ["bash", "-c", script],
        env={"PATH": "/usr/bin:/bin", "GITOPS_TOOLCHAIN_CACHE": str(tmp_path), "HOME": "/"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _components() -> list[str]:
    listed = subprocess.run(
        [
            "bash",
            "-c",
            f'source {REPO / "toolchain/build.sh"}; printf "%s\\n" "${{components[@]}}"',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def _built(tmp_path: Path) -> list[str]:
    built = tmp_path / "built"
    return built.read_text().split() if built.exists() else []


def test_every_component_is_built_exactly_once(tmp_path: Path) -> None:
    done = _run(tmp_path, ":")
    assert done.returncode == 0, done.stderr
    assert sorted(_built(tmp_path)) == sorted(_components())
    assert not (tmp_path / "work" / ".failed").exists()


def test_a_failing_step_fails_its_component_and_the_build(tmp_path: Path) -> None:
    """errexit holds inside a lane: the step after a failing command never runs."""
    done = _run(tmp_path, '[[ "$c" != etcd ]] || false')
    assert done.returncode != 0
    assert "etcd" not in _built(tmp_path)


def test_the_other_lanes_stop_before_their_next_component(tmp_path: Path) -> None:
    # pulumi (the first lane's first component) finishes only once etcd's lane has failed.
    fake = """
    if [[ "$c" == etcd ]]; then false; fi
    if [[ "$c" == pulumi ]]; then
        until [[ -e "$cache/work/.failed" ]]; do sleep 0.01; done
    fi"""
    done = _run(tmp_path, fake)
    assert done.returncode != 0
    assert "pulumi" in _built(tmp_path)
    assert "pulumi-language-python" not in _built(tmp_path)
    assert "etcd" not in _built(tmp_path)


def test_a_component_missing_from_the_lanes_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, ":", before='lanes=("${lanes[0]}")')
    assert done.returncode != 0
    assert "the lanes do not list every component exactly once" in done.stderr
    assert _built(tmp_path) == []
