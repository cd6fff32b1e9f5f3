"""Kubernetes API clients from a kubeconfig, and plain-JSON calls through them.

The Pulumi provider talks to the cluster itself; the program's own code (the CRD owner, the
local runtime, the CLI's break-glass and seal commands) goes through here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.errors import PlatformError
from infra.yamlio import load_document

__all__ = ["APPLY_PATCH", "JSON_PATCH", "api_client", "get_json", "post_json"]

APPLY_PATCH = "application/apply-patch+yaml"
"""Content type of a server-side apply request (a JSON body is YAML too)."""
JSON_PATCH = "application/json-patch+json"


def api_client(
    kubeconfig: Path | str | Mapping[str, Any] | None,
    context: str | None = None,
    *,
    name: str | None = None,
) -> Any:
    """A ``kubernetes.client.ApiClient`` for a kubeconfig file (a ``Path``; ``None``: the
    default, ``$KUBECONFIG`` or ``~/.kube/config`` as kubectl reads it), its text or its
    loaded mapping; its current context unless ``context`` is named. A kubeconfig that
    cannot be loaded is a :class:`PlatformError`, ``cannot load <name>: <why>`` (``name``:
    how the user knows it, e.g. ``--kubeconfig FILE``)."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    if name is None:
        name = "the kubeconfig" if kubeconfig is not None else "the default kubeconfig"
        name = f"kubeconfig {kubeconfig}" if isinstance(kubeconfig, Path) else name
    try:
        if kubeconfig is None or isinstance(kubeconfig, Path):
            file = str(kubeconfig.expanduser()) if kubeconfig is not None else None
            return config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=file, context=context
            )
        document = load_document(kubeconfig, name) if isinstance(kubeconfig, str) else kubeconfig
        if not isinstance(document, Mapping):
            raise ConfigException("not a kubeconfig (a mapping)")
        return config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
            dict(document), context=context
        )
    except (ConfigException, OSError) as exc:
        raise PlatformError(f"cannot load {name}: {exc}") from None


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
