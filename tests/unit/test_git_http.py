"""The read-only git smart-HTTP server, with the real git client over real loopback HTTP.

Covers fetching (ls-remote, clone, fetch; protocol v0 and v2; a request large enough to be sent
chunked), refusing every push even where http-backend itself would take it, 404 for anything
outside the root or not a bare repository, the server thread stopping, and the process: loopback
only, one log line per request, a clean exit on SIGTERM.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.runtime.git_http import GitHttpServer, main
from tests.support import REPO
from tests.unit.gitrepo import git, isolate_git, refs, write_files


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``<tmp>/srv/repo.git``: a bare repository with branches dev and prod."""
    isolate_git(monkeypatch, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "--quiet", "--initial-branch=dev")
    write_files(work, {"apps/web/app.yaml": "team: web\n", "README.md": "hello\n"})
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "first")
    git(work, "branch", "prod")
    srv = tmp_path / "srv"
    srv.mkdir()
    git(srv, "init", "--quiet", "--bare", "--initial-branch=dev", "repo.git")
    git(work, "push", "--quiet", str(srv / "repo.git"), "dev", "prod")
    return srv


@pytest.fixture
def server(root: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(root) as running:
        yield running


def _run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _commit_in(bare: Path, tmp: Path, name: str) -> str:
    """A new commit on dev of ``bare``, pushed there by path (not over HTTP)."""
    scratch = tmp / f"scratch-{name}"
    git(tmp, "clone", "--quiet", str(bare), str(scratch))
    write_files(scratch, {f"{name}.txt": f"{name}\n"})
    git(scratch, "add", "-A")
    git(scratch, "commit", "--quiet", "-m", name)
    git(scratch, "push", "--quiet", "origin", "dev")
    return git(scratch, "rev-parse", "HEAD").strip()


def _request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """One raw request (the path is sent exactly as given: no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            connection.putheader(key, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


@pytest.mark.parametrize("version", ["0", "2"])
def test_ls_remote_clone_and_fetch_over_http(
    server: GitHttpServer, root: Path, tmp_path: Path, version: str
) -> None:
    url = server.url("repo.git")
    assert url == f"http://127.0.0.1:{server.port}/repo.git"
    bare = root / "repo.git"
    protocol = ("-c", f"protocol.version={version}")

    listed = _run(tmp_path, *protocol, "ls-remote", url)
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == sorted(
        git(bare, "for-each-ref", "--format=%(objectname) %(refname)").split()
        + git(bare, "rev-parse", "HEAD").split()
        + ["HEAD"]
    )

    cloned = _run(tmp_path, *protocol, "clone", url, "clone", env={"GIT_TRACE_PACKET": "1"})
    assert cloned.returncode == 0, cloned.stderr
    # The protocol really was the one asked for (v2: the Git-Protocol header reached upload-pack).
    assert ("version 2" in cloned.stderr) is (version == "2")
    clone = tmp_path / "clone"
    assert (clone / "apps/web/app.yaml").read_text() == "team: web\n"

    new = _commit_in(bare, tmp_path, "second")
    fetched = _run(clone, *protocol, "fetch", "origin")
    assert fetched.returncode == 0, fetched.stderr
    assert git(clone, "rev-parse", "origin/dev").strip() == new


def test_a_request_too_large_for_one_buffer_is_sent_chunked_and_served(
    server: GitHttpServer, root: Path, tmp_path: Path
) -> None:
    # 1500 branches on 1500 commits: the fetch request's "want" lines exceed the 64 KiB post
    # buffer, so git sends the request body with Transfer-Encoding: chunked.
    script = "".join(
        f"commit refs/heads/b{i}\ncommitter T <t@e.invalid> 1700000000 +0000\n"
        f"data {len(str(i))}\n{i}\n\n"
        for i in range(1500)
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=root / "repo.git",
        input=script,
        text=True,
        check=True,
        capture_output=True,
    )
    cloned = _run(
        tmp_path,
        "-c",
        "http.postBuffer=65520",
        "-c",
        "protocol.version=0",
        "clone",
        "--mirror",
        server.url("repo.git"),
        "mirror.git",
        env={"GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"},
    )
    assert cloned.returncode == 0, cloned.stderr[-2000:]
    assert "Transfer-Encoding: chunked" in cloned.stderr
    assert refs(tmp_path / "mirror.git") == refs(root / "repo.git")


def test_a_push_over_http_is_refused_and_the_repository_is_unchanged(
    server: GitHttpServer, root: Path, tmp_path: Path
) -> None:
    bare = root / "repo.git"
    # http-backend itself would take this push (an enabled receive-pack): only the server's
    # own rule stops it.
    git(bare, "config", "http.receivepack", "true")
    before = refs(bare)
    clone = tmp_path / "clone"
    assert _run(tmp_path, "clone", "--quiet", server.url("repo.git"), str(clone)).returncode == 0
    write_files(clone, {"x.txt": "x\n"})
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", "x")

    pushed = _run(clone, "push", "origin", "dev:dev", "HEAD:refs/heads/new")
    assert pushed.returncode != 0
    assert "403" in pushed.stderr
    assert "read-only" in pushed.stderr
    assert refs(bare) == before

    for method, path in (
        ("GET", "/repo.git/info/refs?service=git-receive-pack"),
        ("POST", "/repo.git/git-receive-pack"),
        ("POST", "/repo.git/git-receive%2Dpack"),
        ("GET", "/repo.git/info/refs?service=git-upload-pack&service=git-receive-pack"),
    ):
        status, body = _request(server.port, method, path, b"" if method == "POST" else None)
        assert (status, body.strip()) == (
            403,
            "read-only: pushing (git-receive-pack) is not served here",
        ), path
    assert refs(bare) == before


def test_paths_outside_the_root_and_unknown_or_non_bare_repositories_are_404(
    server: GitHttpServer, root: Path, tmp_path: Path
) -> None:
    # A real bare repository next to the root: reachable only by leaving it.
    git(tmp_path, "clone", "--quiet", "--bare", str(root / "repo.git"), "outside.git")
    work = root / "work.git"  # a working copy named like a repository
    work.mkdir()
    git(work, "init", "--quiet")
    (root / "plain.git").mkdir()  # not a repository at all
    (root / "nested").mkdir()
    git(root / "nested", "init", "--quiet", "--bare", "inner.git")

    service = "info/refs?service=git-upload-pack"
    for path in (
        f"/../outside.git/{service}",
        f"/%2e%2e/outside.git/{service}",
        f"/%2E%2E/outside.git/{service}",
        f"/repo.git/../../outside.git/{service}",
        f"/repo.git/%2e%2e/%2e%2e/outside.git/{service}",
        f"/..%2foutside.git/{service}",
        f"/%2e%2e%2foutside.git/{service}",
        f"{tmp_path}/outside.git/{service}",
        f"/{tmp_path}/outside.git/{service}",
        f"//{tmp_path}/outside.git/{service}",
        f"http://127.0.0.1/../outside.git/{service}",
        f"/missing.git/{service}",
        f"/work.git/{service}",
        f"/plain.git/{service}",
        f"/nested/inner.git/{service}",
        f"/repo/{service}",
        f"/repo.git%00/{service}",
        f"/{service}",
    ):
        status, body = _request(server.port, "GET", path)
        assert status == 404, path
        assert "Traceback" not in body and "outside" not in body, path
    status, _ = _request(server.port, "GET", f"/repo.git/{service}")
    assert status == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/repo.git/info/refs", 403),  # dumb HTTP
        ("GET", "/repo.git/HEAD", 403),
        ("GET", "/repo.git/objects/info/packs", 403),
        ("GET", "/repo.git/git-upload-pack", 403),
        ("POST", "/repo.git/info/refs?service=git-upload-pack", 403),
        ("PUT", "/repo.git/info/refs?service=git-upload-pack", 405),
        ("DELETE", "/repo.git", 405),
    ],
)
def test_anything_but_smart_http_fetching_is_refused(
    server: GitHttpServer, method: str, path: str, status: int
) -> None:
    answer, body = _request(server.port, method, path, b"x" if method == "PUT" else None)
    assert answer == status
    assert len(body.strip().splitlines()) == 1 and "Traceback" not in body


def test_stop_ends_the_serving_thread_and_closes_the_port(root: Path) -> None:
    server = GitHttpServer(root).start()
    port = server.port
    assert server.running
    assert _request(port, "GET", "/repo.git/info/refs?service=git-upload-pack")[0] == 200
    server.stop()
    assert not server.running
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::"])
def test_main_refuses_a_host_that_is_not_loopback(
    root: Path, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(root), "--port", "0", "--host", host]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert host in err and "loopback" in err
    with pytest.raises(ValueError, match="loopback"):
        GitHttpServer(root, host=host)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_process_serves_logs_one_line_per_request_and_exits_cleanly_on_sigterm(
    root: Path, tmp_path: Path
) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.runtime.git_http", "--root", str(root), "--port", str(port)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/repo.git"
        listed = _run(tmp_path, "-c", "protocol.version=0", "ls-remote", url)
        assert listed.returncode == 0, listed.stderr
        assert _request(port, "GET", "/missing.git/info/refs?service=git-upload-pack")[0] == 404
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if '"' in line]
    assert len(lines) == 2, err
    assert "GET /repo.git/info/refs?service=git-upload-pack" in lines[0] and " 200 " in lines[0]
    assert "GET /missing.git/info/refs" in lines[1] and " 404 " in lines[1]


def test_in_process_it_does_not_log_each_request(
    server: GitHttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A test's or benchmark's server is quiet (the process logs, its stderr is a log file)."""
    listed = _run(tmp_path, "ls-remote", server.url("repo.git"))
    assert listed.returncode == 0, listed.stderr
    assert _request(server.port, "POST", "/repo.git/git-receive-pack")[0] == 403
    assert capsys.readouterr().err == ""
