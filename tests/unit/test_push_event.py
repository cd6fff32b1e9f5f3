"""The push event a repository host sends, built from real git history and POSTed for real.

Covers GitHub's payload (the fields Argo CD reads: ref, before, after, repository.html_url and
default_branch, commits[].added/modified/removed), renames, merges, the 20-commit cap, a new
and a deleted branch, GitHub's documented signature vector, the GitLab ``Push Hook`` shape and
headers, and delivery: the exact body and headers arrive, an error status is returned, a dead
server raises, a redirect is not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.delivery.git import Git
from infra.delivery.push_event import (
    MAX_COMMITS,
    PushEvent,
    deliver,
    github_event,
    github_signature,
    gitlab_event,
    push_payload,
    web_url,
)
from tests.unit.gitrepo import git, isolate_git, write_files

ZERO = "0" * 40
REPO_URL = "http://127.0.0.1:8418/platform.git"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_git(monkeypatch, tmp_path)
    repo = tmp_path / "work"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=dev")
    return repo


def _commit(repo: Path, message: str, files: dict[str, str] | None = None, *rm: str) -> str:
    if files:
        write_files(repo, files)
    for path in rm:
        git(repo, "rm", "--quiet", path)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def _payload(repo: Path, before: str, after: str, ref: str = "refs/heads/dev") -> dict[str, Any]:
    return push_payload(
        Git(repo), ref=ref, before=before, after=after, repo_url=REPO_URL, default_branch="dev"
    )


def _files(commit: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    return commit["added"], commit["modified"], commit["removed"]


def test_the_github_signature_matches_githubs_documented_vector() -> None:
    assert github_signature("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


@pytest.mark.parametrize(
    ("clone", "web"),
    [
        ("http://127.0.0.1:8418/repo.git", "http://127.0.0.1:8418/repo"),
        ("http://127.0.0.1:8418/repo.git/", "http://127.0.0.1:8418/repo"),
        ("http://127.0.0.1:8418/repo/", "http://127.0.0.1:8418/repo"),
        ("https://git.example.com/org/platform", "https://git.example.com/org/platform"),
        (
            "https://git.example.com/org/platform.github.io.git",
            "https://git.example.com/org/platform.github.io",
        ),
    ],
)
def test_web_url_is_the_clone_url_without_git_or_a_trailing_slash(clone: str, web: str) -> None:
    assert web_url(clone) == web


def test_a_push_lists_its_commits_oldest_first_with_their_files(work: Path) -> None:
    base = _commit(
        work,
        "base",
        {"a.txt": "a\n", "b.txt": "b\n", "old/name.yaml": "x: 1\n", "keep.txt": "k\n"},
    )
    second = _commit(work, "second", {"c.txt": "c\n", "a.txt": "a2\n"}, "b.txt")
    (work / "new").mkdir()
    git(work, "mv", "old/name.yaml", "new/name.yaml")
    third = _commit(work, "rename\n\nthe body of the message\n")

    payload = _payload(work, base, third)

    assert (payload["ref"], payload["before"], payload["after"]) == ("refs/heads/dev", base, third)
    assert payload["created"] is False and payload["deleted"] is False
    assert payload["forced"] is False
    assert [c["id"] for c in payload["commits"]] == [second, third]
    first, last = payload["commits"]
    assert _files(first) == (["c.txt"], ["a.txt"], ["b.txt"])
    assert _files(last) == (["new/name.yaml"], [], ["old/name.yaml"])  # a rename: removed + added
    assert last["message"] == "rename\n\nthe body of the message"
    assert first["message"] == "second"
    for commit in payload["commits"]:
        assert datetime.fromisoformat(commit["timestamp"]).tzinfo is not None
        assert commit["author"]["name"] == "Test Engineer"
        assert commit["url"] == f"http://127.0.0.1:8418/platform/commit/{commit['id']}"
    assert payload["head_commit"] == last
    repository = payload["repository"]
    assert repository["html_url"] == "http://127.0.0.1:8418/platform"
    assert repository["clone_url"] == REPO_URL
    assert repository["default_branch"] == "dev"
    assert (repository["name"], repository["full_name"]) == ("platform", "platform")
    assert payload["pusher"] == {"name": "Test Engineer", "email": "engineer@example.invalid"}
    assert payload["size"] == 2


def test_go_typed_fields_carry_their_json_types(work: Path) -> None:
    """Argo CD decodes into typed Go structs: a wrong JSON type fails the whole event."""
    base = _commit(work, "base", {"a.txt": "a\n"})
    tip = _commit(work, "tip", {"a.txt": "b\n"})
    payload = _payload(work, base, tip)
    repository = payload["repository"]
    assert isinstance(repository["owner"], dict)
    for key in ("id", "created_at", "updated_at", "pushed_at", "size"):
        assert key not in repository  # int64 / time.Time fields in the Go struct: left out
    for key in ("ref", "before", "after"):
        assert isinstance(payload[key], str)
    for commit in [*payload["commits"], payload["head_commit"]]:
        assert all(isinstance(commit[key], list) for key in ("added", "modified", "removed"))
        assert isinstance(commit["author"], dict) and isinstance(commit["committer"], dict)
    assert isinstance(payload["pusher"], dict) and isinstance(payload["sender"], dict)


def test_a_merge_lists_its_changes_against_the_first_parent(work: Path) -> None:
    base = _commit(work, "base", {"f.txt": "f\n", "g.txt": "g\n"})
    git(work, "checkout", "--quiet", "-b", "feature")
    feature = _commit(work, "feature", {"f.txt": "f2\n"})
    git(work, "checkout", "--quiet", "dev")
    main_change = _commit(work, "main", {"g.txt": "g2\n"})
    git(work, "merge", "--quiet", "--no-ff", "-m", "merge feature", "feature")
    merge = git(work, "rev-parse", "HEAD").strip()

    payload = _payload(work, main_change, merge)

    assert [c["id"] for c in payload["commits"]] == [feature, merge]
    assert _files(payload["commits"][1]) == ([], ["f.txt"], [])
    assert base not in [c["id"] for c in payload["commits"]]


def test_at_most_twenty_commits_are_listed_the_newest_oldest_first(work: Path) -> None:
    base = _commit(work, "base", {"n.txt": "0\n"})
    shas = [_commit(work, f"c{i}", {"n.txt": f"{i}\n"}) for i in range(1, 26)]

    payload = _payload(work, base, shas[-1])

    assert MAX_COMMITS == 20
    assert [c["id"] for c in payload["commits"]] == shas[-20:]
    assert payload["size"] == 25
    assert payload["head_commit"]["id"] == shas[-1]


def test_a_new_branch_lists_only_its_tip_commit(work: Path) -> None:
    _commit(work, "base", {"a.txt": "a\n"})
    tip = _commit(work, "tip", {"b.txt": "b\n"})

    payload = _payload(work, ZERO, tip, "refs/heads/feature")

    assert payload["created"] is True and payload["deleted"] is False
    assert [c["id"] for c in payload["commits"]] == [tip]
    assert _files(payload["commits"][0]) == (["b.txt"], [], [])
    assert payload["head_commit"]["id"] == tip
    assert payload["size"] == 1


def test_a_first_push_of_a_root_commit_lists_every_file_as_added(work: Path) -> None:
    root = _commit(work, "root", {"a.txt": "a\n", "dir/b.txt": "b\n"})
    payload = _payload(work, ZERO, root)
    assert _files(payload["commits"][0]) == (["a.txt", "dir/b.txt"], [], [])


def test_a_deleted_branch_lists_no_commit(work: Path) -> None:
    tip = _commit(work, "tip", {"a.txt": "a\n"})

    payload = _payload(work, tip, ZERO, "refs/heads/feature")

    assert payload["deleted"] is True and payload["created"] is False
    assert payload["commits"] == []
    assert payload["head_commit"] is None
    assert payload["size"] == 0


def test_a_branch_moved_back_lists_no_commit_and_is_forced(work: Path) -> None:
    old = _commit(work, "old", {"a.txt": "a\n"})
    new = _commit(work, "new", {"a.txt": "b\n"})
    payload = _payload(work, new, old)
    assert payload["commits"] == []
    assert payload["forced"] is True
    assert payload["head_commit"]["id"] == old


def test_the_github_event_is_the_compact_payload_signed_with_the_secret(work: Path) -> None:
    base = _commit(work, "base", {"a.txt": "a\n"})
    tip = _commit(work, "tip", {"a.txt": "b\n"})
    payload = _payload(work, base, tip)

    event = github_event(payload, "s3cret", delivery="d-1")

    assert event.provider == "github"
    assert json.loads(event.body) == payload
    assert b": " not in event.body and b", " not in event.body
    expected = hmac.new(b"s3cret", event.body, hashlib.sha256).hexdigest()
    assert event.headers == {
        "Content-Type": "application/json",
        "User-Agent": "gitops-platform-hook",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": f"sha256={expected}",
    }
    other = hmac.new(b"another", event.body, hashlib.sha256).hexdigest()
    assert event.headers["X-Hub-Signature-256"] != f"sha256={other}"
    fresh = github_event(payload, "s3cret")
    assert uuid.UUID(fresh.headers["X-GitHub-Delivery"]).version == 4
    assert (
        fresh.headers["X-GitHub-Delivery"]
        != github_event(payload, "s3cret").headers["X-GitHub-Delivery"]
    )


def test_the_gitlab_event_is_a_push_hook_with_its_token(work: Path) -> None:
    base = _commit(work, "base", {"a.txt": "a\n"})
    tip = _commit(work, "tip\n\nbody", {"a.txt": "b\n", "c.txt": "c\n"})
    payload = _payload(work, base, tip)

    event = gitlab_event(payload, "t0ken")

    assert event.provider == "gitlab"
    assert event.headers == {
        "Content-Type": "application/json",
        "User-Agent": "gitops-platform-hook",
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Token": "t0ken",
    }
    # Argo CD tries GitHub before GitLab: no X-GitHub-Event, or it would be parsed as GitHub's.
    assert not any(key.lower().startswith(("x-github", "x-hub", "x-gogs")) for key in event.headers)
    body = json.loads(event.body)
    assert body["object_kind"] == "push"
    assert (body["ref"], body["before"], body["after"]) == ("refs/heads/dev", base, tip)
    assert body["checkout_sha"] == tip
    assert body["project"]["web_url"] == "http://127.0.0.1:8418/platform"
    assert body["project"]["default_branch"] == "dev"
    assert body["total_commits_count"] == 1
    [commit] = body["commits"]
    assert commit["id"] == tip and commit["title"] == "tip"
    assert (commit["added"], commit["modified"], commit["removed"]) == (["c.txt"], ["a.txt"], [])
    # GitLab's Go parser accepts RFC 3339 (and GitLab's own layouts) only.
    datetime.strptime(commit["timestamp"], "%Y-%m-%dT%H:%M:%S%z")

    deleted = json.loads(gitlab_event(_payload(work, tip, ZERO), "t0ken").body)
    assert deleted["checkout_sha"] is None and deleted["commits"] == []


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, str, dict[str, str], bytes]]
    status = 200
    answer = b""
    location = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.received.append((self.command, self.path, headers, body))
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    do_GET = do_POST

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[ThreadingHTTPServer, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


EVENT = PushEvent(
    "github",
    b'{"ref":"refs/heads/dev"}',
    {"X-GitHub-Event": "push", "Content-Type": "application/json"},
)


def test_deliver_posts_the_exact_body_and_headers(
    recorder: tuple[ThreadingHTTPServer, type[_Recorder]],
) -> None:
    server, handler = recorder
    url = f"http://127.0.0.1:{server.server_port}/api/webhook"
    assert deliver(url, EVENT) == (200, "")
    [(method, path, headers, body)] = handler.received
    assert (method, path, body) == ("POST", "/api/webhook", EVENT.body)
    # Header names are case-insensitive (urllib sends X-Github-Event; Go canonicalises too).
    assert headers["x-github-event"] == "push"
    assert headers["content-type"] == "application/json"


def test_deliver_sends_header_values_as_utf8(
    recorder: tuple[ThreadingHTTPServer, type[_Recorder]],
) -> None:
    """Go compares the exact bytes of X-Gitlab-Token with the secret's UTF-8 bytes."""
    server, handler = recorder
    event = PushEvent(
        "gitlab", b"{}", {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "sëcret-ü"}
    )
    assert deliver(f"http://127.0.0.1:{server.server_port}/api/webhook", event)[0] == 200
    [(_, _, headers, _)] = handler.received
    assert headers["x-gitlab-token"].encode("latin-1") == "sëcret-ü".encode()


def test_deliver_returns_an_error_status_with_the_first_line_of_the_answer(
    recorder: tuple[ThreadingHTTPServer, type[_Recorder]],
) -> None:
    server, handler = recorder
    handler.status = 400
    handler.answer = ("Webhook processing failed: " + "x" * 300 + "\nsecond line\n").encode()
    status, text = deliver(f"http://127.0.0.1:{server.server_port}/api/webhook", EVENT)
    assert status == 400
    assert text == ("Webhook processing failed: " + "x" * 300)[:200]


def test_deliver_does_not_follow_a_redirect(
    recorder: tuple[ThreadingHTTPServer, type[_Recorder]],
) -> None:
    server, handler = recorder
    handler.status = 302
    handler.location = f"http://127.0.0.1:{server.server_port}/elsewhere"
    status, _ = deliver(f"http://127.0.0.1:{server.server_port}/api/webhook", EVENT)
    assert status == 302
    assert [path for _, path, _, _ in handler.received] == ["/api/webhook"]


def test_deliver_raises_oserror_when_nothing_listens() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    port = server.server_port
    server.server_close()
    with pytest.raises(OSError):
        deliver(f"http://127.0.0.1:{port}/api/webhook", EVENT, timeout=5)


@pytest.mark.parametrize(
    "url", ["file:///tmp/x", "ftp://127.0.0.1/x", "127.0.0.1:8080/api/webhook", "http:///x"]
)
def test_deliver_refuses_a_url_that_is_not_http(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        deliver(url, EVENT)
