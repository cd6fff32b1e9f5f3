"""hello-api: a tiny JSON API with no dependencies (standard-library WSGI).

Endpoints:

* ``GET /healthz``: 200 ``{"status": "ok"}``;
* ``GET /items``: every item; ``POST /items`` with ``{"name": "..."}``: 201 and the new item;
* ``GET /items/<id>``: the item or 404; ``DELETE /items/<id>``: 204 or 404.

Items live in memory (one process). Run it with ``python hello_api.py`` (``PORT``, default 8080).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

__all__ = ["ItemStore", "create_app", "main"]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
MAX_BODY = 64 * 1024
MAX_NAME = 200
_ITEM = re.compile(r"^/items/([0-9]+)$")
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
}


class ItemStore:
    """Items by id, safe to use from several request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[int, dict[str, Any]] = {}
        self._next = 1

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for _, item in sorted(self._items.items())]

    def add(self, name: str) -> dict[str, Any]:
        with self._lock:
            item = {"id": self._next, "name": name}
            self._items[self._next] = item
            self._next += 1
            return dict(item)

    def get(self, item_id: int) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(item_id)
            return dict(item) if item is not None else None

    def delete(self, item_id: int) -> bool:
        with self._lock:
            return self._items.pop(item_id, None) is not None


class _HttpError(Exception):
    def __init__(self, status: int, message: str, allow: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.allow = allow


def _read_json(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _HttpError(400, "invalid Content-Length") from None
    if length > MAX_BODY:
        raise _HttpError(413, f"body larger than {MAX_BODY} bytes")
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _HttpError(400, 'body must be JSON: {"name": "..."}') from None


def _route(store: ItemStore, method: str, path: str, environ: dict[str, Any]) -> tuple[int, Any]:
    if path == "/healthz":
        if method not in ("GET", "HEAD"):
            raise _HttpError(405, "method not allowed", "GET, HEAD")
        return 200, {"status": "ok"}
    if path == "/items":
        if method == "GET":
            return 200, {"items": store.list()}
        if method == "POST":
            body = _read_json(environ)
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
                raise _HttpError(400, f"name must be a non-empty string of at most {MAX_NAME}")
            return 201, store.add(name.strip())
        raise _HttpError(405, "method not allowed", "GET, POST")
    match = _ITEM.match(path)
    if match:
        item_id = int(match.group(1))
        if method == "GET":
            item = store.get(item_id)
            if item is None:
                raise _HttpError(404, f"no item {item_id}")
            return 200, item
        if method == "DELETE":
            if not store.delete(item_id):
                raise _HttpError(404, f"no item {item_id}")
            return 204, None
        raise _HttpError(405, "method not allowed", "GET, DELETE")
    raise _HttpError(404, f"no route {path}")


WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def create_app(store: ItemStore | None = None) -> WsgiApp:
    """The WSGI application, with its own store unless one is given."""
    items = store if store is not None else ItemStore()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        headers = [("Content-Type", "application/json")]
        try:
            status, payload = _route(items, method, path, environ)
        except _HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
            if exc.allow:
                headers.append(("Allow", exc.allow))
        body = b"" if payload is None else json.dumps(payload).encode("utf-8")
        if status == 204:
            headers = []
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_REASONS[status]}", headers)
        return [b""] if method == "HEAD" else [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("ACCESS_LOG", "1") != "0":
            super().log_message(format, *args)


def serve(host: str, port: int) -> WSGIServer:
    return make_server(host, port, create_app(), handler_class=_QuietHandler)


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    # All interfaces: in a container the port is published by the runtime.
    with serve("0.0.0.0", port) as server:
        print(f"hello-api listening on :{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
