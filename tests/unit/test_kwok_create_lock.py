"""kwok cluster creations take turns on a machine: kwokctl's port scan (down from 32767) is
only safe while no other creation is choosing (two test workers, or `make up` beside them)."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from infra.components.cluster.kwok import KwokProvider, creating_alone


def try_lock(lock: Path) -> bool:
    """Whether another holder (another open file, as another process would have) can take
    the lock now."""
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_a_creation_holds_the_machine_wide_lock_until_it_ends(tmp_path: Path) -> None:
    lock = tmp_path / "kwokctl.lock"
    with creating_alone(lock):
        assert not try_lock(lock)
    assert try_lock(lock)


def test_the_lock_is_released_when_the_creation_fails(tmp_path: Path) -> None:
    lock = tmp_path / "kwokctl.lock"
    with pytest.raises(RuntimeError), creating_alone(lock):
        raise RuntimeError("kwokctl failed")
    assert try_lock(lock)


def test_kwokctl_create_runs_inside_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.components.cluster import kwok

    lock = tmp_path / "kwokctl.lock"
    monkeypatch.setattr(kwok, "CREATE_LOCK", lock)
    monkeypatch.setattr(kwok, "creating_alone", lambda: creating_alone(lock))
    monkeypatch.setattr(kwok, "which", lambda name, hint: f"/opt/bin/{name}")
    held: list[bool] = []

    def run(argv: list[str], timeout: float = 0) -> str:
        if "create" in argv:
            held.append(not try_lock(lock))
        return ""

    monkeypatch.setattr(kwok, "run", run)
    monkeypatch.setattr(KwokProvider, "resize", lambda self, props: None)
    KwokProvider().create_cluster({"name": "c1", "kubernetesVersion": "v1.34.3"})
    assert held == [True]
