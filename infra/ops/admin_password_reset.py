"""Break-glass reset of the Argo CD admin password on a cluster this stack does not manage.

Argo CD's documented seed procedure: clear ``admin.password`` (and its mtime) in
``argocd-secret``, restart argocd-server, which then generates a password and writes it to
``argocd-initial-admin-secret``; read it once and delete that secret. On a cluster a stack
manages, rotate with ``gitops-platform:adminPassword.rotation`` instead: this procedure would
fight the stack (its next ``up`` writes its own hash back).
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra import constants
from infra.errors import PlatformError

__all__ = ["ResetError", "ResetOptions", "reset_admin_password"]


class ResetError(PlatformError):
    """The reset could not be done; the message says what to check."""


@dataclass(frozen=True)
class ResetOptions:
    namespace: str = constants.ARGOCD_NAMESPACE_DEFAULT
    timeout_seconds: float = 300.0
    poll_seconds: float = 2.0


def _status(exc: Exception) -> int | None:
    return getattr(exc, "status", None)


def reset_admin_password(
    api_client: Any,
    options: ResetOptions,
    *,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda _m: None,
) -> str:
    """Run the seed procedure; returns the new password. ``api_client`` is a
    ``kubernetes.client.ApiClient`` bound to the target cluster."""
    from kubernetes import client  # imported lazily: only this command needs it
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = options.namespace
    try:
        core.read_namespaced_secret(constants.ARGOCD_SECRET, ns)
        apps.read_namespaced_deployment(constants.ARGOCD_SERVER_DEPLOYMENT, ns)
    except ApiException as exc:
        if exc.status == 404:
            raise ResetError(
                f"Argo CD not found in namespace {ns!r}: no {constants.ARGOCD_SECRET} secret or "
                f"{constants.ARGOCD_SERVER_DEPLOYMENT} deployment (wrong --namespace or context?)"
            ) from None
        raise ResetError(f"the cluster refused: {exc.status} {exc.reason}") from None
    except Exception as exc:  # urllib3 connection errors and the like
        raise ResetError(f"cannot reach the cluster: {exc}") from None

    # A stale initial secret would be read instead of the new one.
    try:
        core.delete_namespaced_secret(constants.ARGOCD_INITIAL_ADMIN_SECRET, ns)
        log(f"deleted a stale {constants.ARGOCD_INITIAL_ADMIN_SECRET}")
    except ApiException as exc:
        if exc.status != 404:
            raise ResetError(f"cannot delete stale initial secret: {exc.reason}") from None

    secret = core.read_namespaced_secret(constants.ARGOCD_SECRET, ns)
    ops = [
        {"op": "remove", "path": f"/data/{key.replace('/', '~1')}"}
        for key in ("admin.password", "admin.passwordMtime")
        if key in (secret.data or {})
    ]
    if ops:
        core.patch_namespaced_secret(constants.ARGOCD_SECRET, ns, ops)
    log("cleared admin.password in argocd-secret")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    apps.patch_namespaced_deployment(
        constants.ARGOCD_SERVER_DEPLOYMENT,
        ns,
        {
            "spec": {
                "template": {"metadata": {"annotations": {constants.ANNOTATION_RESTARTED_AT: now}}}
            }
        },
    )
    log("restarted argocd-server; waiting for it to write the initial admin secret")

    deadline = time.monotonic() + options.timeout_seconds
    while True:
        try:
            initial = core.read_namespaced_secret(constants.ARGOCD_INITIAL_ADMIN_SECRET, ns)
            password = base64.b64decode((initial.data or {}).get("password", "")).decode()
            if password:
                break
        except ApiException as exc:
            if exc.status != 404:
                raise ResetError(f"reading the initial secret failed: {exc.reason}") from None
        if time.monotonic() >= deadline:
            raise ResetError(
                f"argocd-server wrote no {constants.ARGOCD_INITIAL_ADMIN_SECRET} within "
                f"{options.timeout_seconds:.0f}s; check it is running: "
                f"kubectl -n {ns} logs deploy/{constants.ARGOCD_SERVER_DEPLOYMENT}"
            )
        sleep(options.poll_seconds)

    core.delete_namespaced_secret(constants.ARGOCD_INITIAL_ADMIN_SECRET, ns)
    log(f"deleted {constants.ARGOCD_INITIAL_ADMIN_SECRET}")
    return password
