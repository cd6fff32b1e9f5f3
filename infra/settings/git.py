"""The ``git`` and ``webhook`` sections: where Argo CD reads this repository (or the local
mirror of it), and the secrets a git host signs its push events with. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, PlainValidator, StringConstraints

from infra import constants
from infra.catalog.refname import MAX_BRANCH_LENGTH, branch_name_problem
from infra.catalog.strict import checked
from infra.catalog.urls import url_credential_problem
from infra.settings.base import SettingsModel

__all__ = ["DEFAULT_MIRROR_PORT", "GitSettings", "WebhookSettings"]

DEFAULT_MIRROR_PORT = 18418
"""The local stack's git mirror is served on ``http://127.0.0.1:18418/repo.git``."""


class GitSettings(SettingsModel):
    repoURL: (
        Annotated[
            str,
            StringConstraints(
                pattern=r"^(https://|ssh://|git@|file:///|http://(127\.0\.0\.1|localhost)(:\d+)?/)\S+$",
                max_length=2048,
            ),
            checked(url_credential_problem),
        ]
        | None
    ) = None
    """This repository's URL as Argo CD reaches it (``file:///...`` and plain
    ``http://127.0.0.1[:port]/...`` only for a kwok cluster whose controllers run locally).
    Required unless ``mirror`` is on."""
    branch: (
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=MAX_BRANCH_LENGTH),
            checked(branch_name_problem),
        ]
        | None
    ) = None
    """Branch the stack tracks (a name ``git check-ref-format --branch`` accepts); default: the
    environment name (dev or prod)."""
    mirror: bool = False
    """Argo CD clones a repository on this machine that every ``up`` fills from the
    checkout's committed ``HEAD`` (pushed as ``branch``); for a kwok cluster with local
    controllers (the ``local`` stack). ``repoURL`` is then derived, not set: the mirror is
    served over HTTP on ``127.0.0.1:<mirrorPort>`` (what Argo CD's webhook can match)."""
    mirrorPort: Annotated[int, Field(ge=1024, le=65535)] = DEFAULT_MIRROR_PORT
    """The loopback port the mirror is served on (``git.mirror``); one per local cluster."""


class Encrypted(SettingsModel):
    """A value ``pulumi config set --secret`` stored in the stack file (``{secure: ...}``):
    what ``platformctl`` sees without the passphrase; the program always gets it decrypted."""

    secure: str


def _webhook_secret(value: Any) -> str | Encrypted:
    """A webhook secret: decrypted text (the engine's config) or ``{secure: ...}`` (the stack
    file as ``platformctl`` reads it). One error line either way."""
    if isinstance(value, Mapping) and set(value) == {"secure"} and isinstance(value["secure"], str):
        return Encrypted(secure=value["secure"])
    if not isinstance(value, str):
        raise ValueError(
            "must be a string, stored encrypted: `pulumi config set --secret --path "
            "'webhook.<key>' <value>`"
        )
    if not MIN_WEBHOOK_SECRET <= len(value) <= MAX_WEBHOOK_SECRET:
        raise ValueError(
            f"must be {MIN_WEBHOOK_SECRET} to {MAX_WEBHOOK_SECRET} characters "
            "(`openssl rand -hex 32` makes a good one)"
        )
    return value


MIN_WEBHOOK_SECRET, MAX_WEBHOOK_SECRET = 16, 1024
WebhookSecret = Annotated[str | Encrypted, PlainValidator(_webhook_secret)]
"""A git webhook's shared secret."""


class WebhookSettings(SettingsModel):
    """Shared secrets of the git host's webhook (Argo CD's ``/api/webhook``): each set one
    is written into ``argocd-secret``, where argocd-server reads it, and Argo CD then refuses
    an event of that host unless it is signed (or carries the token) with it. A host not set
    gets a generated secret nobody knows: its calls are refused. Store each with
    ``pulumi config set --secret --path 'webhook.<key>' <value>`` (docs/delivery.md)."""

    githubSecret: WebhookSecret | None = None
    """GitHub (and GitHub Enterprise): the webhook's secret; events are HMAC-SHA256 signed."""
    gitlabSecret: WebhookSecret | None = None
    """GitLab: the webhook's secret token (sent as ``X-Gitlab-Token``)."""
    bitbucketServerSecret: WebhookSecret | None = None
    """Bitbucket Data Center / Server: the webhook's secret; events are HMAC-SHA256 signed."""
    gogsSecret: WebhookSecret | None = None
    """Gogs (and Gitea in Gogs mode): the webhook's secret."""

    def argocd_keys(self) -> dict[str, str]:
        """``argocd-secret`` key -> secret of every provider set (decrypted values only: the
        program's)."""
        keys = {}
        for field, key in WEBHOOK_SECRET_KEYS.items():
            value = getattr(self, field)
            if value is None:
                continue
            if isinstance(value, Encrypted):
                raise ValueError(f"webhook.{field} is still encrypted (not the engine's config)")
            keys[key] = value
        return keys


WEBHOOK_SECRET_KEYS = {
    "githubSecret": constants.ARGOCD_WEBHOOK_GITHUB_SECRET,
    "gitlabSecret": constants.ARGOCD_WEBHOOK_GITLAB_SECRET,
    "bitbucketServerSecret": constants.ARGOCD_WEBHOOK_BITBUCKET_SERVER_SECRET,
    "gogsSecret": constants.ARGOCD_WEBHOOK_GOGS_SECRET,
}
"""Setting -> the ``argocd-secret`` key argocd-server reads it from (Argo CD's settings.go)."""
