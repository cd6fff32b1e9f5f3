"""hello-api through WSGI calls (no sockets) and one real HTTP round trip on localhost."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from hello_api import ItemStore, create_app, serve


def call(app: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = dict(headers)

    data = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], json.loads(data) if data else None


@pytest.fixture
def app() -> Any:
    return create_app(ItemStore())


def test_healthz(app: Any) -> None:
    assert call(app, "GET", "/healthz")[::2] == (200, {"status": "ok"})
    status, headers, _ = call(app, "POST", "/healthz")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_create_list_get_delete(app: Any) -> None:
    assert call(app, "GET", "/items")[::2] == (200, {"items": []})
    status, headers, item = call(app, "POST", "/items", {"name": " first "})
    assert status == 201 and item == {"id": 1, "name": "first"}
    assert headers["Content-Type"] == "application/json"
    call(app, "POST", "/items", {"name": "second"})
    assert call(app, "GET", "/items")[2] == {
        "items": [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}]
    }
    assert call(app, "GET", "/items/2")[::2] == (200, {"id": 2, "name": "second"})
    assert call(app, "DELETE", "/items/1")[::2] == (204, None)
    assert call(app, "GET", "/items/1")[::2] == (404, {"error": "no item 1"})
    assert call(app, "DELETE", "/items/1")[0] == 404
    assert call(app, "GET", "/items")[2] == {"items": [{"id": 2, "name": "second"}]}


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "   "}, {"name": 3}, ["name"], {"name": "x" * 201}, b"not json"],
)
def test_invalid_items_are_rejected(app: Any, body: Any) -> None:
    status, _, payload = call(app, "POST", "/items", body)
    assert status == 400 and "error" in payload
    assert call(app, "GET", "/items")[2] == {"items": []}


def test_unknown_routes_and_methods(app: Any) -> None:
    assert call(app, "GET", "/nope")[::2] == (404, {"error": "no route /nope"})
    assert call(app, "GET", "/items/abc")[0] == 404
    status, headers, _ = call(app, "PUT", "/items")
    assert status == 405 and headers["Allow"] == "GET, POST"
    assert call(app, "PATCH", "/items/1")[0] == 405


def test_oversized_body(app: Any) -> None:
    status, _, payload = call(app, "POST", "/items", b"x" * (64 * 1024 + 1))
    assert status == 413 and "larger" in payload["error"]


def test_real_http_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_LOG", "0")
    server = serve("127.0.0.1", 0)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert response.status == 200
            assert json.load(response) == {"status": "ok"}
        request = urllib.request.Request(
            f"{base}/items",
            data=b'{"name": "over http"}',
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201
            assert json.load(response) == {"id": 1, "name": "over http"}
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/items/99", timeout=5)
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
