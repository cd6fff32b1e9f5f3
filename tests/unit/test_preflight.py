"""Cluster provider prerequisites are checked before any resource, with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.components.cluster.preflight import preflight
from infra.errors import ValidationError
from tests.unit.factories import minimal_settings


def fake_bin(tmp_path: Path, names: list[str], docker_rc: int = 1) -> str:
    for name in names:
        tool = tmp_path / name
        if name == "docker":
            tool.write_text(
                f"#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit {docker_rc}\n"
            )
        else:
            tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    return str(tmp_path)


def test_kind_without_docker_daemon_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", fake_bin(tmp_path, ["kind", "docker"]))
    with pytest.raises(ValidationError) as info:
        preflight(minimal_settings(cluster={"provider": "kind"}), creating=True)
    (problem,) = info.value.problems
    assert str(problem).startswith(
        "Pulumi.dev.yaml: gitops-platform:cluster.provider: the kind provider needs a running "
        "Docker daemon (Cannot connect to the Docker daemon)"
    )
    assert "use provider `kwok`" in str(problem)


def test_kind_preview_needs_no_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    preflight(minimal_settings(cluster={"provider": "kind"}), creating=False)


def test_kind_with_docker_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", fake_bin(tmp_path, ["kind", "docker"], docker_rc=0))
    preflight(minimal_settings(cluster={"provider": "kind"}), creating=True)


def test_kwok_names_missing_binaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", fake_bin(tmp_path, ["kwokctl", "kwok", "etcd"]))
    with pytest.raises(
        ValidationError,
        match="kwok needs kube-apiserver, kube-controller-manager, kube-scheduler on PATH",
    ):
        preflight(
            minimal_settings(cluster={"provider": "kwok", "controllers": "none"}), creating=True
        )


def test_kwok_with_local_controllers_needs_argocd_and_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kwok = ["kwokctl", "kwok", "etcd", "kube-apiserver", "kube-controller-manager"]
    monkeypatch.setenv("PATH", fake_bin(tmp_path, [*kwok, "kube-scheduler", "helm", "git"]))
    with pytest.raises(ValidationError, match="kwok needs argocd, redis-server, kustomize on PATH"):
        preflight(minimal_settings(cluster={"provider": "kwok"}), creating=True)


def test_existing_cluster_context_is_checked_even_in_preview(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: staging\n  context: {}\n"
    )
    with pytest.raises(ValidationError) as info:
        preflight(
            minimal_settings(
                cluster={"provider": "existing", "kubeconfig": str(kubeconfig), "context": "prod"}
            ),
            creating=False,
        )
    assert str(info.value) == (
        f"Pulumi.dev.yaml: gitops-platform:cluster.context: context 'prod' not in {kubeconfig} (has: staging)"
    )
