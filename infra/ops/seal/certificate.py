"""The controller's certificate: which one (``--cert``, ``--context``/``--kubeconfig``, or the
stack's local controller) and fetching it, as ``kubeseal --fetch-cert`` does, through the
API server's service proxy (or from a controller the local runtime runs on this machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.bounded import read_at_most
from infra.errors import PlatformError
from infra.kube import api_client
from infra.ops.seal.inputs import read_certificate
from infra.ops.seal.limits import MAX_CERT_BYTES, REQUEST_TIMEOUT_SECONDS, SealError
from infra.settings import DEFAULT_SEALED_SECRETS_NAMESPACE, StackSettings

__all__ = ["fetch_certificate", "fetch_local_certificate", "resolve_certificate"]


def _controller_namespace(settings: StackSettings | None) -> str:
    """``sealedSecrets.namespace`` of the stack, else the controller's default."""
    return settings.sealedSecrets.namespace if settings else DEFAULT_SEALED_SECRETS_NAMESPACE


def resolve_certificate(
    settings: StackSettings | None,
    *,
    cert: Path | None,
    kubeconfig: Path | None,
    context: str | None,
    controller_namespace: str | None,
    controller_name: str,
) -> tuple[bytes, str]:
    """The controller's certificate (PEM) and where it came from, for messages: ``cert``
    (``--cert``); else, without ``context``, the local controller of a stack whose
    controllers run on this machine; else the cluster of ``context`` (``--context``, in
    ``kubeconfig``), from the controller ``controller_name`` in ``controller_namespace``
    (default: the stack's ``sealedSecrets.namespace``). The current context is never
    guessed."""
    if cert is not None:
        if kubeconfig is not None or context is not None:
            raise SealError(
                "--cert and --kubeconfig/--context exclude each other: seal with a saved "
                "certificate, or fetch it from the cluster"
            )
        return read_certificate(cert), f"--cert {cert}"
    if context is None and settings is not None and settings.local_controllers:
        # The stack runs its controllers on this machine: ask the local one.
        return _local_certificate(settings)
    if context is None:
        raise SealError(
            "give --cert PEM_FILE (the controller's certificate), or --context C (and "
            "--kubeconfig F) to fetch it from the cluster; the current context is never "
            "guessed"
        )
    try:
        api = api_client(
            kubeconfig, context, name=f"--kubeconfig {kubeconfig}" if kubeconfig else None
        )
    except PlatformError as exc:
        raise SealError(f"--context {context}: {exc}") from None
    namespace = controller_namespace or _controller_namespace(settings)
    pem = fetch_certificate(api, namespace, controller_name)
    return pem, f"the controller {namespace}/{controller_name} (context {context})"


def _local_certificate(settings: StackSettings) -> tuple[bytes, str]:
    from infra.runtime.status import RuntimeNotRunning, runtime_info

    if not settings.sealedSecrets.enabled:
        raise SealError(f"stack {settings.stack!r} does not enable sealedSecrets")
    try:
        info = runtime_info(settings)
    except RuntimeNotRunning as exc:
        raise SealError(f"{exc}; or give --cert PEM_FILE") from None
    port = info.ports.get("sealed-secrets")
    if port is None or "sealed-secrets-controller" not in info.processes:
        raise SealError(
            f"the local runtime of stack {settings.stack!r} runs no Sealed Secrets controller; "
            f"`make up STACK={settings.stack}` starts it"
        )
    pem = fetch_local_certificate(port)
    return pem, f"the local controller of stack {settings.stack!r} (127.0.0.1:{port})"


def fetch_certificate(api_client: Any, namespace: str, name: str) -> bytes:
    """The controller's public certificate, ``GET /v1/cert.pem`` through the API server's
    service proxy (``services/http:<name>:<port>/proxy``), as ``kubeseal --fetch-cert``.
    ``api_client`` is a ``kubernetes.client.ApiClient`` bound to the cluster."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    where = f"service {name!r} in namespace {namespace!r}"
    try:
        service = core.read_namespaced_service(
            name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )
        ports = (service.spec.ports if service.spec else None) or []
        port = (ports[0].name or str(ports[0].port)) if ports else ""
        # Unparsed (_preload_content=False): a urllib3 response whose .data is the PEM.
        response: Any = core.connect_get_namespaced_service_proxy_with_path(
            f"http:{name}:{port}",
            namespace,
            "v1/cert.pem",
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
        pem = _read_response(response, MAX_CERT_BYTES)
    except ApiException as exc:
        if exc.status == 404:
            raise SealError(
                f"no Sealed Secrets controller: {where} not found (is sealedSecrets.enabled "
                "set for this stack? right --context / --controller-namespace?)"
            ) from None
        if exc.status in (502, 503):
            raise SealError(
                f"the controller behind {where} does not answer ({exc.status}); is it running? "
                f"kubectl -n {namespace} get pods; or pass --cert PEM_FILE"
            ) from None
        raise SealError(
            f"the cluster refused to serve the certificate ({exc.status} {exc.reason}); "
            "pass --cert PEM_FILE"
        ) from None
    except Exception as exc:  # urllib3 connection errors and the like
        raise SealError(f"cannot reach the cluster: {exc}") from None
    if len(pem) > MAX_CERT_BYTES:
        raise SealError(
            f"{where} served more than {MAX_CERT_BYTES} bytes as its certificate; "
            "not a Sealed Secrets controller?"
        )
    return pem


def fetch_local_certificate(port: int) -> bytes:
    """The certificate of a controller the local runtime runs on this machine:
    ``GET http://127.0.0.1:<port>/v1/cert.pem`` (the API server's service proxy cannot reach
    a process outside the cluster)."""
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{port}/v1/cert.pem"
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            pem = read_at_most(response, MAX_CERT_BYTES)
    except (urllib.error.URLError, OSError) as exc:
        raise SealError(
            f"the local Sealed Secrets controller at {url} did not answer ({exc}); is the "
            "stack up (`make up`)?"
        ) from None
    if len(pem) > MAX_CERT_BYTES:
        raise SealError(f"{url} served more than {MAX_CERT_BYTES} bytes as its certificate")
    return pem


def _read_response(response: Any, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of an unparsed (urllib3) response, then it is released."""
    try:
        return read_at_most(response, limit)
    finally:
        release = getattr(response, "release_conn", None)
        if callable(release):
            release()
