"""The git webhook's secrets: the stack's `webhook` section, argocd-secret's keys, and the
lock on every git host the stack does not configure."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra import constants
from infra.errors import ValidationError
from infra.settings import load_stack_file
from infra.specs.argocd_install import argocd_secret, webhook_secrets
from tests.support import REPO
from tests.unit.factories import repo_settings

GITHUB = "g" * 40
LOCK = "generated-lock-value"


def test_every_git_host_is_locked_when_none_is_configured() -> None:
    keys = webhook_secrets(repo_settings("dev").webhook, LOCK)
    # An empty key would make argocd-server accept that host's calls unauthenticated.
    assert keys == dict.fromkeys(constants.ARGOCD_WEBHOOK_KEYS, LOCK)
    assert len(keys) == 7


def test_configured_secrets_replace_the_lock_of_their_host_only() -> None:
    keys = webhook_secrets(
        repo_settings("dev", webhook={"githubSecret": GITHUB, "gitlabSecret": "l" * 16}).webhook,
        LOCK,
    )
    assert keys["webhook.github.secret"] == GITHUB
    assert keys["webhook.gitlab.secret"] == "l" * 16
    others = set(constants.ARGOCD_WEBHOOK_KEYS) - {"webhook.github.secret", "webhook.gitlab.secret"}
    assert {keys[k] for k in others} == {LOCK}


def test_the_secrets_land_in_argocd_secret_beside_the_admin_password() -> None:
    keys = webhook_secrets(
        repo_settings(
            "dev", webhook={"bitbucketServerSecret": "b" * 20, "gogsSecret": "o" * 20}
        ).webhook,
        LOCK,
    )
    dev = repo_settings("dev")
    secret = argocd_secret(
        dev.argocd.namespace,
        dev.environment,
        password_hash="h",
        password_mtime="t",
        server_secret_key="k",
        webhook=keys,
    )
    data = secret["stringData"]
    assert data["webhook.bitbucketserver.secret"] == "b" * 20
    assert data["webhook.gogs.secret"] == "o" * 20
    assert data["admin.password"] == "h" and data["server.secretkey"] == "k"
    assert set(data) == {"admin.password", "admin.passwordMtime", "server.secretkey", *keys}


def test_the_local_mirror_signs_with_the_github_key() -> None:
    local = load_stack_file(REPO, "local")
    assert webhook_secrets(local.webhook, LOCK)[constants.ARGOCD_WEBHOOK_GITHUB_SECRET] == LOCK


@pytest.mark.parametrize(
    ("webhook", "message"),
    [
        ({"githubSecret": "short"}, "webhook.githubSecret: must be 16 to 1024 characters"),
        ({"gitlabSecret": ""}, "webhook.gitlabSecret: must be 16 to 1024 characters"),
        ({"githubSecret": "x" * 1025}, "webhook.githubSecret: must be 16 to 1024 characters"),
        ({"githubSecret": 42}, "webhook.githubSecret: must be a string, stored encrypted"),
        ({"githubSecret": {"secure": 1}}, "webhook.githubSecret: must be a string"),
        ({"githubSecret": ["x" * 20]}, "webhook.githubSecret: must be a string"),
        ({"bitbucketSecret": "x" * 20}, "webhook.bitbucketSecret: "),
    ],
)
def test_a_bad_webhook_setting_is_one_line_naming_the_key(
    webhook: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        repo_settings("dev", webhook=webhook)
    lines = str(info.value).splitlines()
    assert len(lines) == 1 and f"Pulumi.dev.yaml: gitops-platform:{message}" in lines[0], lines


def write_stack(tmp_path: Path, webhook: object) -> Path:
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    document["config"]["gitops-platform:webhook"] = webhook
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_platformctl_reads_an_encrypted_secret_without_the_passphrase(tmp_path: Path) -> None:
    root = write_stack(tmp_path, {"githubSecret": {"secure": "v1:abc:def"}})
    loaded = load_stack_file(root, "dev")
    assert loaded.webhook.githubSecret is not None
    with pytest.raises(ValueError, match="still encrypted"):
        loaded.webhook.argocd_keys()


def test_a_plaintext_secret_in_the_stack_file_is_refused(tmp_path: Path) -> None:
    root = write_stack(tmp_path, {"githubSecret": "x" * 40})
    with pytest.raises(ValidationError) as info:
        load_stack_file(root, "dev")
    message = str(info.value)
    assert "gitops-platform:webhook.githubSecret: looks like a plaintext secret" in message
    assert "x" * 40 not in message
