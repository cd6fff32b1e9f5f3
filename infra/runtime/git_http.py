"""A read-only git smart-HTTP server on loopback: bare repositories served to Argo CD.

Argo CD learns about a push from its git webhook, and it matches the webhook's repository web
address against each Application's ``repoURL`` with a pattern that only accepts ``http(s)://``
and ``ssh://`` addresses: a ``file://`` repository can never match. So the local stack's bare
mirror (and the e2e harness's bare remote) are served over HTTP, on loopback only:

``<root>/<name>.git`` (a bare repository) -> ``http://127.0.0.1:<port>/<name>.git``

Only fetching is served, through ``git http-backend`` (CGI, streamed both ways): ``GET
/<name>.git/info/refs?service=git-upload-pack`` and ``POST /<name>.git/git-upload-pack``
(protocol v0, v1 and v2: the ``Git-Protocol`` header is passed on). Anything about
``git-receive-pack`` (a push) is refused with 403; dumb-HTTP paths too. A path that leaves the
root (``..``, encoded or not), an unknown name or a directory that is not a bare repository is
404. One line per request on stderr (client, request line, status); never a traceback to the
client.

In-process (tests): ``with GitHttpServer(root) as server: server.url("repo.git")``.
As a process (the local runtime supervises it; it exits cleanly on SIGTERM):
``python -m infra.runtime.git_http --root DIR --port N [--host 127.0.0.1]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Final
from urllib.parse import parse_qs, unquote, urlsplit

from infra.catalog.urls import is_loopback
from infra.delivery.git import Git
from infra.errors import GitError, PlatformError

__all__ = ["GitHttpServer", "backend_path", "main"]

UPLOAD_PACK: Final = "git-upload-pack"
CHUNK: Final = 64 * 1024
REQUEST_TIMEOUT_SECONDS: Final = 300
_REPO_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.git")
_PROTOCOL_HEADER: Final = re.compile(r"[A-Za-z0-9=:._-]{1,200}")
_CONTENT_ENCODINGS: Final = frozenset({"gzip", "x-gzip", "identity"})
# Environment that would point git at another repository, or that a CGI request sets itself.
_DROPPED_ENV: Final = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE",
     "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PROTOCOL", "GIT_QUARANTINE_PATH",
     "GIT_CEILING_DIRECTORIES", "GIT_PROJECT_ROOT", "GIT_HTTP_EXPORT_ALL", "PATH_INFO",
     "PATH_TRANSLATED", "QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE", "CONTENT_LENGTH",
     "REMOTE_ADDR", "REMOTE_USER", "GATEWAY_INTERFACE", "SERVER_PROTOCOL"}
)  # fmt: skip


def backend_path() -> str:
    """``$(git --exec-path)/git-http-backend``."""
    try:
        # Any folder will do: git prints where its programs are without reading a repository.
        exec_path = Git(Path(".")).run("--exec-path", timeout=30).stdout.strip()
    except GitError as exc:
        raise PlatformError(f"git --exec-path failed: {exc}") from None
    path = Path(exec_path) / "git-http-backend"
    if not os.access(path, os.X_OK):
        raise PlatformError(f"{path} is missing: git's http-backend is required to serve git")
    return str(path)


def _is_bare_repository(path: Path) -> bool:
    if not path.is_dir():
        return False
    # GIT_DIR pins the repository: no discovery upwards from a folder that is not one.
    result = Git(path).run("rev-parse", "--is-bare-repository", check=False, env={"GIT_DIR": "."})
    return result.ok and result.stdout.strip() == "true"


def _drain(stream: IO[bytes], into: list[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        into.append(stream.read())


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    backend: str
    log_requests: bool

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionResetError | BrokenPipeError | TimeoutError):
            return  # a client closing its kept-alive connection: not an error
        sys.stderr.write(f"git-http: {client_address}: {type(error).__name__}: {error}\n")


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_SECONDS
    server: _Server
    _headers_sent = False

    # -- routing -------------------------------------------------------------------------------

    def _route(self) -> tuple[str, str, str]:
        """(repository name, service path, query) of an allowed request, else :class:`_Refused`."""
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        services = query.get("service", [])
        raw = url.path
        if "receive-pack" in unquote(raw) or any("receive-pack" in s for s in services):
            raise _Refused(403, "read-only: pushing (git-receive-pack) is not served here")
        path = unquote(raw)
        parts = path.split("/")
        if (
            url.scheme
            or url.netloc
            or not path.startswith("/")
            or "\\" in path
            or "\0" in path
            or ".." in parts
            or len(parts) < 3
            or not _REPO_NAME.fullmatch(parts[1])
        ):
            raise _Refused(404, "not found")
        name, rest = parts[1], "/".join(parts[2:])
        if not _is_bare_repository(self.server.root / name):
            raise _Refused(404, f"no repository {name}")
        if self.command == "GET" and rest == "info/refs" and services == [UPLOAD_PACK]:
            return name, rest, f"service={UPLOAD_PACK}"
        if self.command == "POST" and rest == UPLOAD_PACK and not url.query:
            return name, rest, ""
        raise _Refused(403, "only smart-HTTP fetching (git-upload-pack) is served here")

    def _handle(self) -> None:
        self._headers_sent = False
        try:
            name, rest, query = self._route()
            self._backend(name, rest, query)
        except _Refused as refused:
            self._refuse(refused.status, refused.reason)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # never a traceback to the client
            sys.stderr.write(f"git-http: {self.command} {self.path}: {type(exc).__name__}: {exc}\n")
            self._refuse(500, "internal error")

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _refuse_method(self) -> None:
        self._refuse(405, "only GET and POST of git-upload-pack are served here")

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_CONNECT = _refuse_method

    def _refuse(self, status: int, reason: str) -> None:
        self.close_connection = True  # an unread request body must not become a request
        if self._headers_sent:
            return
        body = f"{reason}\n".encode()
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    # -- the CGI -------------------------------------------------------------------------------

    def _environment(self, name: str, rest: str, query: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in _DROPPED_ENV and not key.startswith(("HTTP_", "CONTENT_"))
        }
        env.update(
            {
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "GIT_PROJECT_ROOT": str(self.server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": f"/{name}/{rest}",
                "QUERY_STRING": query,
                "REQUEST_METHOD": self.command,
                "REMOTE_ADDR": self.client_address[0],
            }
        )
        if self.command == "POST":
            env["CONTENT_TYPE"] = self.headers.get("Content-Type", "")
            length = self.headers.get("Content-Length")
            if length is not None:
                env["CONTENT_LENGTH"] = length
        encoding = self.headers.get("Content-Encoding")
        if encoding:
            env["HTTP_CONTENT_ENCODING"] = encoding
        protocol = self.headers.get("Git-Protocol")
        if protocol and _PROTOCOL_HEADER.fullmatch(protocol):
            env["HTTP_GIT_PROTOCOL"] = protocol
        return env

    def _request_body(self) -> tuple[int | None, bool]:
        """(Content-Length, chunked) of a POST; :class:`_Refused` when unusable."""
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        encoding = (self.headers.get("Content-Encoding") or "identity").lower()
        if encoding not in _CONTENT_ENCODINGS:
            raise _Refused(415, f"unsupported Content-Encoding {encoding[:40]}")
        if chunked:
            return None, True
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            raise _Refused(411, "a Content-Length or a chunked body is required") from None
        if length < 0:
            raise _Refused(400, "bad Content-Length")
        return length, False

    def _feed(self, sink: IO[bytes], length: int | None, chunked: bool) -> None:
        """Copy the request body to the CGI's stdin (runs in its own thread)."""
        try:
            if chunked:
                while True:
                    size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(1024).strip():  # trailers
                            pass
                        break
                    while size:
                        data = self.rfile.read(min(size, CHUNK))
                        if not data:
                            return
                        sink.write(data)
                        size -= len(data)
                    self.rfile.readline(8)  # the CRLF after each chunk
            else:
                remaining = length or 0
                while remaining:
                    data = self.rfile.read(min(remaining, CHUNK))
                    if not data:
                        return
                    sink.write(data)
                    remaining -= len(data)
        except (OSError, ValueError):
            self.close_connection = True
        finally:
            with contextlib.suppress(OSError):
                sink.close()

    def _backend(self, name: str, rest: str, query: str) -> None:
        length, chunked = self._request_body() if self.command == "POST" else (0, False)
        env = self._environment(name, rest, query)
        if chunked:
            env.pop("CONTENT_LENGTH", None)  # http-backend then reads the body to its end
        process = subprocess.Popen(
            [self.server.backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=self.server.root,
        )
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        errors: list[bytes] = []
        threads = [
            threading.Thread(target=self._feed, args=(process.stdin, length, chunked), daemon=True),
            threading.Thread(target=_drain, args=(process.stderr, errors), daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            self._relay(process.stdout, errors)
        finally:
            with contextlib.suppress(OSError):
                process.stdout.close()
            try:
                process.wait(timeout=REQUEST_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for thread in threads:
                thread.join(timeout=5)

    def _relay(self, out: IO[bytes], errors: list[bytes]) -> None:
        status, reason = 200, ""
        headers: list[tuple[str, str]] = []
        while True:
            line = out.readline(8192)
            if not line:
                raise _Refused(502, "git http-backend ended without a response")
            text = line.decode("latin-1").rstrip("\r\n")
            if not text:
                break
            key, _, value = text.partition(":")
            key, value = key.strip(), value.strip()
            if key.lower() == "status":
                code, _, reason = value.partition(" ")
                status = int(code)
            elif key.lower() not in ("connection", "transfer-encoding"):
                headers.append((key, value))
        sized = any(key.lower() == "content-length" for key, _ in headers)
        chunked = not sized and self.request_version == "HTTP/1.1"
        if not sized and not chunked:
            self.close_connection = True
        self.send_response(status, reason or None)
        for key, value in headers:
            self.send_header(key, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        if status >= 400:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        self._headers_sent = True
        read = getattr(out, "read1", out.read)
        while data := read(CHUNK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        if status >= 400 and errors:
            message = b"".join(errors).decode(errors="replace").strip().splitlines()
            if message:
                sys.stderr.write(f"git-http: http-backend: {message[-1]}\n")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.log_requests:
            super().log_request(code, size)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"git-http: {self.address_string()} {format % args}\n")


class GitHttpServer:
    """Serve every bare repository ``<root>/<name>.git`` over smart HTTP, read-only, in a
    daemon thread. The socket is bound at construction (``port=0``: any free port, see
    :attr:`port`); :meth:`start` serves, :meth:`stop` stops and closes. Errors go to stderr;
    each request too with ``log_requests`` (the runtime's process, whose stderr is its log)."""

    def __init__(
        self, root: Path, port: int = 0, host: str = "127.0.0.1", *, log_requests: bool = False
    ) -> None:
        if not is_loopback(host):
            raise ValueError(f"--host {host!r} is not a loopback address: git is served locally")
        self.root = Path(root).resolve()
        self.host = host
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), _Handler)
        self._server.root = self.root
        self._server.backend = backend_path()
        self._server.log_requests = log_requests
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def url(self, name: str) -> str:
        """``http://127.0.0.1:<port>/<name>``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/{name}"

    def start(self) -> GitHttpServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="git-http", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (from another thread)."""
        self._server.shutdown()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="git_http")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        print(
            f"git_http: --host {args.host} is not a loopback address; git is served on "
            "loopback only (127.0.0.1, ::1)",
            file=sys.stderr,
        )
        return 2
    if not args.root.is_dir():
        print(f"git_http: --root {args.root} is not a folder", file=sys.stderr)
        return 2
    try:
        server = GitHttpServer(args.root, args.port, args.host, log_requests=True)
    except (OSError, PlatformError) as exc:
        print(f"git_http: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    def _stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever(), which runs in this very thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sys.stderr.write(f"git-http: serving {server.root} on {server.url('')}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
