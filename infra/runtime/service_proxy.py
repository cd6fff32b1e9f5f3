"""Cluster Service names for the local runtime's processes: an HTTP forward proxy.

kwok runs no containers and no kube-proxy, and this machine resolves no
``<service>.<namespace>.svc.cluster.local`` name. The Rollouts controller's web metrics call
exactly such names (the checks of the generated AnalysisTemplates), so the runtime starts the
controller with ``HTTP_PROXY`` pointing here, and this proxy forwards a request for a Service
to the address the routes file names for it, as kube-proxy forwards to a ready pod:

``<runtime dir>/services.json``: ``{"<service>.<namespace>:<port>": "127.0.0.1:<port>", ...}``

(:func:`expose` writes an entry; the file is read on every request, so a route takes effect at
once). A Service with no route answers 502 naming it, the way a Service without ready
endpoints refuses connections: the metric errors and the analysis fails. Only plain HTTP is
forwarded (the generated checks are ``http://``); ``CONNECT`` is refused. Loopback addresses
never come here (Go's ``ProxyFromEnvironment`` sends them directly), so the controller's API
server traffic is unaffected.

``python -m infra.runtime.service_proxy --port N --routes FILE``
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from infra import atomic
from infra.catalog.kube_names import DNS1123_LABEL_TEXT
from infra.runtime.folder import RuntimeFolder

__all__ = ["expose", "main", "route_key", "target_for"]

CLUSTER_DOMAIN: Final = "svc.cluster.local"
FORWARD_TIMEOUT_SECONDS: Final = 30
MAX_BODY_BYTES: Final = 1024 * 1024
_SERVICE_HOST = re.compile(
    rf"(?P<service>{DNS1123_LABEL_TEXT})\.(?P<namespace>{DNS1123_LABEL_TEXT})"
    r"(\.svc(\.cluster\.local)?)?"
)
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade"}
)  # fmt: skip


def route_key(service: str, namespace: str, port: int) -> str:
    return f"{service}.{namespace}:{port}"


def target_for(host: str, port: int, routes: dict[str, str]) -> str | None:
    """The ``host:port`` a request for ``host:port`` goes to, or ``None`` (no route, or not a
    Service name: ``<svc>.<ns>``, ``<svc>.<ns>.svc``, ``<svc>.<ns>.svc.cluster.local``)."""
    match = _SERVICE_HOST.fullmatch(host.lower())
    if match is None:
        return None
    return routes.get(route_key(match["service"], match["namespace"], port))


def _read_routes(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def expose(directory: Path, service: str, namespace: str, port: int, target: str) -> None:
    """Route ``http://<service>.<namespace>.svc.cluster.local:<port>`` to ``target``
    (``host:port``), atomically."""
    path = RuntimeFolder(Path(directory)).routes
    routes = _read_routes(path)
    routes[route_key(service, namespace, port)] = target
    atomic.write_atomically(path, (json.dumps(routes, indent=2, sort_keys=True) + "\n").encode())


class _Handler(BaseHTTPRequestHandler):
    routes_file: Path

    def _forward(self) -> None:
        url = urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self.send_error(400, "only absolute http:// URLs are forwarded")
            return
        port = url.port or 80
        target = target_for(url.hostname, port, _read_routes(self.routes_file))
        if target is None:
            self.send_error(502, f"no route for Service {url.hostname}:{port} in the local runtime")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "bad Content-Length")
            return
        if length > MAX_BODY_BYTES:
            self.send_error(413, "request body too large")
            return
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        host, _, target_port = target.rpartition(":")
        path = url.path or "/"
        if url.query:
            path += f"?{url.query}"
        connection = http.client.HTTPConnection(
            host, int(target_port), timeout=FORWARD_TIMEOUT_SECONDS
        )
        try:
            connection.request(self.command, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read(MAX_BODY_BYTES)
        except OSError as exc:
            self.send_error(502, f"{url.hostname}:{port} -> {target}: {exc}")
            return
        finally:
            connection.close()
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

    def do_CONNECT(self) -> None:
        self.send_error(501, "CONNECT is not supported: the checks use http://")

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"service-proxy: {self.address_string()} {format % args}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="service_proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--routes", type=Path, required=True)
    args = parser.parse_args(argv)
    handler = type("Handler", (_Handler,), {"routes_file": args.routes})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
