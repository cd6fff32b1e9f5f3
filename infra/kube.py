"""Kubernetes API clients from kubeconfig text.

The Pulumi provider talks to the cluster itself; the program's own code (the CRD owner, the
local runtime, the CLI's break-glass and seal commands) goes through here.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

__all__ = ["APPLY_PATCH", "JSON_PATCH", "api_client", "get_json", "post_json"]

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


def get_json(api: Any, path: str, timeout: float = 30) -> dict[str, Any] | None:
    """GET an API ``path`` (``/apis/apps/v1/namespaces/argocd/deployments``) as plain JSON;
    None on 404, ``kubernetes.client.ApiException`` on any other error status. For reads
    repeated every few seconds: the client's generated methods validate every field into
    models, a cost such a read has no use for (docs/notes.md, session 7)."""
    return _call(api, "GET", path, None, timeout)


def post_json(
    api: Any, path: str, body: dict[str, Any], timeout: float = 30
) -> dict[str, Any] | None:
    """POST ``body`` to an API ``path`` (a subresource such as a ServiceAccount's ``/token``);
    the answer as plain JSON, None on 404, ``ApiException`` on any other error status."""
    return _call(api, "POST", path, body, timeout)


def _call(
    api: Any, verb: str, path: str, body: dict[str, Any] | None, timeout: float
) -> dict[str, Any] | None:
    from kubernetes.client.exceptions import ApiException

    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    method, url, headers, serialized, _post = api.param_serialize(
        verb, path, header_params=headers, body=body, auth_settings=["BearerToken"]
    )
    response = api.call_api(
        method, url, header_params=headers, body=serialized, _request_timeout=timeout
    )
    data = response.read()
    if response.status == 404:
        return None
    if not 200 <= response.status <= 299:
        raise ApiException(status=response.status, reason=response.reason, body=data)
    result: dict[str, Any] = json.loads(data)
    return result
