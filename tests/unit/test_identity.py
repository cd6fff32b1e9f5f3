"""Each local runtime process's identity: its ServiceAccount's token in a kubeconfig of its
own (infra.runtime.identity), issued by the supervisor through the TokenRequest API."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from infra.atomic import write_atomically
from infra.runtime.identity import (
    TOKEN_SECONDS,
    Identity,
    identity_kubeconfig,
    refresh_due,
    service_account_of,
    token_request,
)

ADMIN = """\
apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: https://10.0.0.1:6443}
- name: kwok-c1
  cluster:
    server: https://127.0.0.1:32766
    certificate-authority-data: Q0EK
    tls-server-name: kubernetes
users:
- name: admin
  user: {client-certificate-data: Q0VSVAo=, client-key-data: S0VZCg==}
contexts:
- name: kwok-c1
  context: {cluster: kwok-c1, user: admin, namespace: default}
current-context: kwok-c1
"""


def test_a_process_kubeconfig_has_the_cluster_and_the_token_file_and_nothing_of_the_admin(
    tmp_path: Path,
) -> None:
    token = tmp_path / "server.token"
    document = yaml.safe_load(identity_kubeconfig(ADMIN, token, "argocd"))
    assert document["clusters"] == [
        {
            "name": "cluster",
            "cluster": {
                "server": "https://127.0.0.1:32766",
                "certificate-authority-data": "Q0EK",
                "tls-server-name": "kubernetes",
            },
        }
    ]
    assert document["users"] == [{"name": "service-account", "user": {"tokenFile": str(token)}}]
    (context,) = document["contexts"]
    assert context["context"]["namespace"] == "argocd"
    assert document["current-context"] == context["name"]
    assert "client-key-data" not in json.dumps(document)


def test_a_kubeconfig_without_its_current_context_is_refused() -> None:
    broken = ADMIN.replace("current-context: kwok-c1", "current-context: gone")
    with pytest.raises(ValueError, match="no current context"):
        identity_kubeconfig(broken, Path("/t"), "argocd")


def test_the_service_account_is_the_pod_templates_or_default() -> None:
    def workload(spec: dict[str, object]) -> dict[str, object]:
        return {"metadata": {"namespace": "argocd"}, "spec": {"template": {"spec": spec}}}

    named = service_account_of(workload({"serviceAccountName": "argocd-server"}))
    assert named == Identity("argocd", "argocd-server")
    assert named.username == "system:serviceaccount:argocd:argocd-server"
    assert service_account_of(workload({})) == Identity("argocd", "default")
    assert Identity.parse("kyverno/kyverno-admission-controller") == Identity(
        "kyverno", "kyverno-admission-controller"
    )


def test_a_token_lives_about_an_hour_and_is_replaced_at_eighty_percent() -> None:
    assert token_request()["spec"] == {"expirationSeconds": TOKEN_SECONDS}
    assert not refresh_due(issued=1000.0, seconds=3600, now=1000.0 + 2879)
    assert refresh_due(issued=1000.0, seconds=3600, now=1000.0 + 2880)


def test_credentials_are_written_whole_and_private(tmp_path: Path) -> None:
    """How the supervisor writes tokens and kubeconfigs (infra.atomic with mode 0600): a file
    that was readable by others is replaced by one that never is, nothing left beside it."""
    target = tmp_path / "p.token"
    target.write_text("old")
    target.chmod(0o644)
    write_atomically(target, b"new", mode=0o600)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["p.token"]
