"""Argo CD install specs: the namespace, the secrets the program owns, the chart values (pure).

Why the program owns ``argocd-secret`` and ``argocd-redis`` instead of the chart:

- ``argocd-secret`` holds the admin bcrypt hash and its mtime. Put in chart values, they would be
  unknown at the first preview (they come from a resource not created yet), and Chart v4 then
  registers no child at all ("Preview is incomplete"). As a separate Secret, the chart values
  stay fully known and every preview shows every chart object.
- ``argocd-redis`` is normally written by the chart's ``redis-secret-init`` pre-install hook;
  Chart v4 runs no hooks, so the program creates it (key ``auth``) before the chart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infra import constants
from infra.settings import StackSettings, WebhookSettings
from infra.specs.catalog_objects import NOTIFICATION_SERVICE
from infra.specs.crds import CRD_SWITCHES

NOTIFICATION_URL_KEY = "platform-webhook-url"
"""Key of the webhook URL in argocd-notifications-secret (the service config reads
``$platform-webhook-url``), so the URL stays out of the ConfigMap."""

__all__ = [
    "argocd_secret",
    "chart_values",
    "platform_namespace",
    "redis_secret",
    "webhook_secrets",
]


def platform_labels(environment: str) -> dict[str, str]:
    return {
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
        constants.LABEL_ENV: environment,
    }


def platform_namespace(namespace: str, environment: str) -> dict[str, Any]:
    """A Namespace the stack creates and owns (Argo CD's, an add-on's): the platform's labels
    and the owner annotations."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace,
            "labels": platform_labels(environment),
            "annotations": dict(constants.OWNED_ANNOTATIONS),
        },
    }


def argocd_secret(
    namespace: str,
    environment: str,
    *,
    password_hash: Any,
    password_mtime: Any,
    server_secret_key: Any,
    webhook: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``argocd-secret``. Values may be Pulumi Outputs; the shape is the same either way.

    Argo CD finds it by name and by the ``part-of: argocd`` label. With ``admin.password`` set
    at start-up Argo CD generates no password and writes no ``argocd-initial-admin-secret``.
    ``webhook``: the git webhook secrets (``webhook.github.secret`` ...; see
    :func:`webhook_secrets`); argocd-server restarts itself when one changes.
    """
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": constants.ARGOCD_SECRET,
            "namespace": namespace,
            "labels": {
                constants.LABEL_NAME: constants.ARGOCD_SECRET,
                constants.LABEL_PART_OF: constants.ARGOCD_PART_OF,
                **platform_labels(environment),
            },
            "annotations": dict(constants.OWNED_ANNOTATIONS),
        },
        "type": "Opaque",
        "stringData": {
            "admin.password": password_hash,
            "admin.passwordMtime": password_mtime,
            "server.secretkey": server_secret_key,
            **dict(webhook or {}),
        },
    }


def webhook_secrets(webhook: WebhookSettings, lock: Any) -> dict[str, Any]:
    """The ``argocd-secret`` webhook keys: every secret the stack's ``webhook`` section sets,
    and ``lock`` (a generated secret nobody is given) for every other git host, since Argo CD
    accepts any call of a host whose key is empty. The local mirror signs its push events
    with the GitHub key (the lock when ``githubSecret`` is not set)."""
    keys: dict[str, Any] = dict.fromkeys(constants.ARGOCD_WEBHOOK_KEYS, lock)
    keys.update(webhook.argocd_keys())
    return keys


def redis_secret(namespace: str, environment: str, *, password: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": constants.ARGOCD_REDIS_SECRET,
            "namespace": namespace,
            "labels": {
                constants.LABEL_PART_OF: constants.ARGOCD_PART_OF,
                **platform_labels(environment),
            },
            "annotations": dict(constants.OWNED_ANNOTATIONS),
        },
        "type": "Opaque",
        "stringData": {"auth": password},
    }


def _resources(cpu: str, memory: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


_NOTIFICATION_BODY = (
    "{"
    '"app": {{ toJson .app.metadata.name }}, '
    '"project": {{ toJson .app.spec.project }}, '
    '"namespace": {{ toJson .app.spec.destination.namespace }}, '
    '"sync": {{ toJson .app.status.sync.status }}, '
    '"health": {{ toJson .app.status.health.status }}, '
    '"revision": {{ toJson .app.status.sync.revision }}, '
    '"event": "EVENT", '
    '"url": {{ toJson (print .context.argocdUrl "/applications/" .app.metadata.name) }}'
    "}"
)

# trigger -> (description, condition, oncePer or None)
_TRIGGERS: dict[str, tuple[str, str, str | None]] = {
    "on-sync-status-unknown": (
        "Argo CD cannot tell whether the Application matches git",
        "app.status.sync.status == 'Unknown'",
        None,
    ),
    "on-out-of-sync": (
        "The cluster differs from git (a new commit to sync, or drift)",
        "app.status.sync.status == 'OutOfSync'",
        "app.status.sync.revision",
    ),
    "on-health-degraded": (
        "The Application is degraded (for a Rollout: an aborted rollout)",
        "app.status.health.status == 'Degraded'",
        None,
    ),
    "on-sync-failed": (
        "A sync failed",
        "app.status.operationState != nil and "
        "app.status.operationState.phase in ['Error', 'Failed']",
        None,
    ),
}


def notifications_values(settings: StackSettings) -> dict[str, Any]:
    """Argo CD notifications: off unless ``notifications.webhookURL`` is set; then one webhook
    service, one template per trigger and the triggers generated Applications subscribe to
    (``infra.specs.catalog_objects.notification_annotations``)."""
    url = settings.notifications.webhookURL
    if url is None:
        return {"enabled": False}
    triggers: dict[str, str] = {}
    templates: dict[str, str] = {}
    for trigger, (description, condition, once_per) in _TRIGGERS.items():
        template = f"platform-{trigger}"
        entry = f"- description: {json.dumps(description)}\n"
        if once_per is not None:
            entry += f"  oncePer: {once_per}\n"
        entry += f"  send: [{template}]\n  when: {json.dumps(condition)}\n"
        triggers[f"trigger.{trigger}"] = entry
        body = _NOTIFICATION_BODY.replace("EVENT", trigger)
        templates[f"template.{template}"] = (
            f"webhook:\n  {NOTIFICATION_SERVICE}:\n    method: POST\n    body: |\n      {body}\n"
        )
    return {
        "enabled": True,
        "secret": {"create": True, "items": {NOTIFICATION_URL_KEY: url}},
        "notifiers": {
            f"service.webhook.{NOTIFICATION_SERVICE}": (
                f"url: ${NOTIFICATION_URL_KEY}\n"
                "headers:\n- name: Content-Type\n  value: application/json\n"
            )
        },
        "templates": templates,
        "triggers": triggers,
    }


RECONCILIATION = "180s"
"""``timeout.reconciliation``: how often Argo CD polls git when no webhook call came (its
default). The local mirror and the e2e harness's remote send the webhook as a host would."""


def chart_values(settings: StackSettings) -> dict[str, Any]:
    """Values for the argo-cd chart. Fully known at preview time, by construction."""
    ha = settings.argocd.ha
    replicas = 2 if ha else 1
    values: dict[str, Any] = {
        # The CRDs are not the chart's to install: ChartCRDs owns them (infra.specs.crds).
        **CRD_SWITCHES[constants.ARGOCD_CHART].off,
        "global": {
            "additionalLabels": platform_labels(settings.environment),
        },
        "configs": {
            # The program owns argocd-secret (see module docstring).
            "secret": {"createSecret": False},
            "params": {
                # Lets each ApplicationSet set its own applicationsSync policy (the guard that
                # keeps Applications when an app disappears from a generator).
                "applicationsetcontroller.enable.policy.override": True,
            },
            "cm": {
                "admin.enabled": True,
                # Polling, the fallback: a push reaches Argo CD through the git webhook.
                "timeout.reconciliation": RECONCILIATION,
                "application.resourceTrackingMethod": "annotation",
            },
        },
        # The hook that would create argocd-redis cannot run under Chart v4; the program
        # creates that Secret instead.
        "redisSecretInit": {"enabled": False},
        # No SSO is configured by the platform; the admin account is the way in.
        "dex": {"enabled": False},
        "notifications": notifications_values(settings),
        "controller": {"replicas": 1},
        "server": {"replicas": replicas},
        "repoServer": {"replicas": replicas},
        "applicationSet": {"replicas": replicas},
        "redis": {"enabled": not ha},
        "redis-ha": {"enabled": ha},
    }
    if ha:
        values["controller"]["resources"] = _resources("250m", "1Gi")
        for component, cpu, memory in (
            ("server", "100m", "256Mi"),
            ("repoServer", "100m", "512Mi"),
            ("applicationSet", "50m", "128Mi"),
        ):
            values[component]["resources"] = _resources(cpu, memory)
            # Two replicas, one may go: node drains proceed, an outage does not.
            values[component]["pdb"] = {"enabled": True, "minAvailable": 1}
        values["redis-ha"]["haproxy"] = {"pdb": {"enabled": True}}
    return values
