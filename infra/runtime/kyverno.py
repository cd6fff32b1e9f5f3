"""Kyverno's webhook configurations, removed when the local runtime stops Kyverno.

Kyverno's webhooks fail closed and outlive it: once it is stopped they would refuse every Pod
in the apps' namespaces. A real cluster's chart removes them when its Deployment goes; here the
runtime does, right after stopping the process (the next start registers them again).
"""

from __future__ import annotations

from typing import Final

from infra.kube import api_client

__all__ = ["KYVERNO_WEBHOOKS", "remove_kyverno_webhooks"]

KYVERNO_WEBHOOKS: Final = "webhook.kyverno.io/managed-by=kyverno"
"""The label of every webhook configuration Kyverno registers."""


def remove_kyverno_webhooks(kubeconfig: str) -> str | None:
    """Delete every validating and mutating webhook configuration Kyverno registered; None
    when done, else why not, for the caller to warn about (an unreachable cluster, being
    destroyed, has nothing left to refuse)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        api = client.AdmissionregistrationV1Api(api_client(kubeconfig))
        for delete in (
            api.delete_collection_validating_webhook_configuration,
            api.delete_collection_mutating_webhook_configuration,
        ):
            delete(label_selector=KYVERNO_WEBHOOKS, _request_timeout=30)
    except (ApiException, HTTPError, OSError) as exc:
        return f"could not remove Kyverno's webhook configurations: {exc}"
    return None
