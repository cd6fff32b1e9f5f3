"""Kubernetes API clients from kubeconfig text.

The Pulumi provider talks to the cluster itself; the program's own code (the CRD owner, the
local runtime, the CLI's break-glass and seal commands) goes through here.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["APPLY_PATCH", "JSON_PATCH", "api_client"]

APPLY_PATCH = "application/apply-patch+yaml"
"""Content type of a server-side apply request (a JSON body is YAML too)."""
JSON_PATCH = "application/json-patch+json"


def api_client(kubeconfig: str, context: str | None = None) -> Any:
    """A ``kubernetes.client.ApiClient`` for kubeconfig text (its current context unless
    ``context`` is named)."""
    from kubernetes import config

    return config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
        yaml.safe_load(kubeconfig), context=context
    )
