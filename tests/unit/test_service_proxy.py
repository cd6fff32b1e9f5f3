"""The local runtime's service proxy, as a real process forwarding real HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from infra.runtime.folder import RuntimeFolder
from infra.runtime.service_proxy import expose, target_for
from tests.support import REPO


def test_service_names_in_every_form_map_to_their_route() -> None:
    routes = {"web-canary.shop:8080": "127.0.0.1:9000"}
    for host in ("web-canary.shop", "web-canary.shop.svc", "web-canary.shop.svc.cluster.local"):
        assert target_for(host, 8080, routes) == "127.0.0.1:9000", host
    assert target_for("web-canary.shop.svc.cluster.local", 8081, routes) is None
    assert target_for("web-canary.shop.svc.cluster.local\n", 8080, routes) is None
    assert target_for("evil.example.com", 8080, routes) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/healthz" else 404
        body = f"{self.command} {self.path} host={self.headers['Host']}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.runtime.service_proxy",
            "--port",
            str(port),
            "--routes",
            str(RuntimeFolder(tmp_path).routes),
        ],
        cwd=REPO,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield tmp_path, port
    finally:
        process.terminate()
        process.wait(10)


def _get(proxy_port: int, url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy_port}"})
    )
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_request_for_a_routed_service_reaches_its_target_with_its_status(
    proxy: tuple[Path, int],
) -> None:
    directory, proxy_port = proxy
    app = HTTPServer(("127.0.0.1", 0), _App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    try:
        url = "http://shop-canary.shop.svc.cluster.local:8080"
        # No route yet: refused like a Service without ready endpoints, named.
        status, body = _get(proxy_port, f"{url}/healthz")
        assert status == 502 and "shop-canary.shop.svc.cluster.local:8080" in body
        expose(directory, "shop-canary", "shop", 8080, f"127.0.0.1:{app.server_port}")
        assert _get(proxy_port, f"{url}/healthz") == (
            200,
            "GET /healthz host=shop-canary.shop.svc.cluster.local:8080",
        )
        status, _ = _get(proxy_port, f"{url}/cart?x=1")
        assert status == 404  # the target's own status, passed through
    finally:
        app.shutdown()


@pytest.mark.parametrize("length", ["-1", "ten", str(2 * 1024 * 1024)])
def test_a_bad_or_huge_body_length_is_answered_not_read(
    proxy: tuple[Path, int], length: str
) -> None:
    directory, proxy_port = proxy
    expose(directory, "shop-canary", "shop", 8080, "127.0.0.1:9")
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as s:
        s.sendall(
            b"POST http://shop-canary.shop.svc.cluster.local:8080/x HTTP/1.1\r\n"
            b"Host: shop-canary.shop.svc.cluster.local:8080\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode()
        )
        status = s.recv(64).split(b" ")[1]
    assert status == (b"413" if length.isdigit() else b"400")
