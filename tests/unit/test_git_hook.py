"""The post-receive hook, end to end: a bare repository with the installed hook, a real
``git push`` to it, and a loopback HTTP server in the test recording what the hook POSTs.

Covers one signed event per pushed branch (ref, before, after as pushed; the signature verifies
with the secret and only with it), the ``remote: webhook: ...`` line the pusher sees, GitLab's
event, tags skipped, a deleted branch, and every way the push must still succeed: no config
file, the server down, an error status, a broken config. The secret never shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.runtime.git_hook import (
    HookConfig,
    HookConfigError,
    install_hook,
    read_config,
    write_config,
)
from tests.support import REPO
from tests.unit.gitrepo import Remote, git, isolate_git, make_remote, write_files

SECRET = "hook-s3cret-7f1c"
REPO_URL = "http://127.0.0.1:8418/remote.git"
ZERO = "0" * 40


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Webhook:
    """A loopback HTTP server standing in for argocd-server's /api/webhook."""

    server: ThreadingHTTPServer
    received: list[Request] = field(default_factory=list)
    status: int = 200
    answer: bytes = b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/webhook"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    state: list[Webhook] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook = state[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            hook.received.append(Request(self.path, headers, body))
            self.send_response(hook.status)
            self.send_header("Content-Length", str(len(hook.answer)))
            self.end_headers()
            self.wfile.write(hook.answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Webhook(server))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Remote:
    """A bare repository (dev, prod) with the hook installed; a folder with a space on purpose."""
    isolate_git(monkeypatch, tmp_path)
    base = tmp_path / "with space"
    base.mkdir()
    remote = make_remote(base)
    install_hook(remote.bare, _config(remote), REPO)
    return remote


def _config(remote: Remote) -> Path:
    return remote.tmp / "hook config" / "webhook.json"


def _register(remote: Remote, webhook_url: str, provider: str = "github") -> None:
    write_config(
        _config(remote),
        url=webhook_url,
        secret=SECRET,
        repo_url=REPO_URL,
        default_branch="dev",
        provider=provider,
    )


def _change(clone: Path, branch: str, name: str) -> str:
    git(clone, "checkout", "--quiet", branch)
    write_files(clone, {f"apps/{name}.txt": f"{name}\n"})
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", f"change {name}")
    return git(clone, "rev-parse", "HEAD").strip()


def _push(clone: Path, *refspecs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", "origin", *refspecs],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _webhook_lines(output: str) -> list[str]:
    # git pads the sideband lines it relays ("remote: ...") with spaces.
    return [line.rstrip() for line in output.splitlines() if "webhook:" in line]


def test_a_push_sends_one_signed_event_per_branch(remote: Remote, webhook: Webhook) -> None:
    _register(remote, webhook.url)
    clone = remote.clone()
    git(clone, "fetch", "--quiet", "origin", "prod:prod")
    before = {branch: remote.rev(branch) for branch in ("dev", "prod")}
    after = {branch: _change(clone, branch, f"{branch}-1") for branch in ("dev", "prod")}

    pushed = _push(clone, "dev", "prod")

    assert pushed.returncode == 0, pushed.stderr
    assert len(webhook.received) == 2
    by_ref = {request.payload["ref"]: request for request in webhook.received}
    assert set(by_ref) == {"refs/heads/dev", "refs/heads/prod"}
    for branch in ("dev", "prod"):
        request = by_ref[f"refs/heads/{branch}"]
        assert request.path == "/api/webhook"
        assert request.headers["x-github-event"] == "push"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-hub-signature-256"] == _signature(SECRET, request.body)
        assert request.headers["x-hub-signature-256"] != _signature("another", request.body)
        payload = request.payload
        assert (payload["before"], payload["after"]) == (before[branch], after[branch])
        assert payload["repository"]["html_url"] == "http://127.0.0.1:8418/remote"
        assert payload["repository"]["default_branch"] == "dev"
        [commit] = payload["commits"]
        assert commit["added"] == [f"apps/{branch}-1.txt"]
    lines = _webhook_lines(pushed.stderr)
    assert lines == [
        f"remote: webhook: push of dev ({after['dev'][:7]}) -> {webhook.url}: 200",
        f"remote: webhook: push of prod ({after['prod'][:7]}) -> {webhook.url}: 200",
    ]
    assert SECRET not in pushed.stderr + pushed.stdout


def test_the_gitlab_provider_sends_a_push_hook_with_the_token(
    remote: Remote, webhook: Webhook
) -> None:
    _register(remote, webhook.url, provider="gitlab")
    clone = remote.clone()
    tip = _change(clone, "dev", "gl")
    pushed = _push(clone, "dev")
    assert pushed.returncode == 0, pushed.stderr
    [request] = webhook.received
    assert request.headers["x-gitlab-event"] == "Push Hook"
    assert request.headers["x-gitlab-token"] == SECRET
    assert "x-github-event" not in request.headers
    assert request.payload["object_kind"] == "push"
    assert request.payload["after"] == tip
    assert request.payload["project"]["web_url"] == "http://127.0.0.1:8418/remote"
    assert SECRET not in pushed.stderr + pushed.stdout


def test_tags_are_skipped_and_a_deleted_branch_is_reported(
    remote: Remote, webhook: Webhook
) -> None:
    clone = remote.clone()
    git(clone, "tag", "v1")
    git(clone, "branch", "feature")
    assert _push(clone, "feature").returncode == 0  # no config yet: nothing sent
    assert webhook.received == []
    _register(remote, webhook.url)

    tagged = _push(clone, "v1")
    assert tagged.returncode == 0
    assert webhook.received == [] and _webhook_lines(tagged.stderr) == []

    feature = remote.rev("feature")
    deleted = _push(clone, ":feature")
    assert deleted.returncode == 0, deleted.stderr
    [request] = webhook.received
    assert request.payload["deleted"] is True
    assert (request.payload["before"], request.payload["after"]) == (feature, ZERO)
    assert request.payload["commits"] == []
    assert _webhook_lines(deleted.stderr) == [
        f"remote: webhook: push of feature (deleted) -> {webhook.url}: 200"
    ]


def test_without_a_config_file_the_push_succeeds_and_nothing_is_sent(
    remote: Remote, webhook: Webhook
) -> None:
    clone = remote.clone()
    tip = _change(clone, "dev", "quiet")
    pushed = _push(clone, "dev")
    assert pushed.returncode == 0, pushed.stderr
    assert remote.rev("dev") == tip
    assert webhook.received == []
    assert _webhook_lines(pushed.stderr) == []


def test_with_the_server_down_the_push_succeeds_and_says_not_delivered(
    remote: Remote, webhook: Webhook
) -> None:
    url = webhook.url
    webhook.server.shutdown()
    webhook.server.server_close()
    _register(remote, url)
    clone = remote.clone()
    tip = _change(clone, "dev", "down")

    pushed = _push(clone, "dev")

    assert pushed.returncode == 0, pushed.stderr
    assert remote.rev("dev") == tip
    [line] = _webhook_lines(pushed.stderr)
    assert line.startswith(f"remote: webhook: push of dev ({tip[:7]}) -> {url}: not delivered: ")
    assert "refused" in line
    assert SECRET not in pushed.stderr + pushed.stdout


def test_an_error_status_is_reported_with_the_answer_and_the_push_succeeds(
    remote: Remote, webhook: Webhook
) -> None:
    webhook.status = 400
    webhook.answer = b"Webhook processing failed: HMAC verification failed\n"
    _register(remote, webhook.url)
    clone = remote.clone()
    tip = _change(clone, "dev", "bad")
    pushed = _push(clone, "dev")
    assert pushed.returncode == 0, pushed.stderr
    assert _webhook_lines(pushed.stderr) == [
        f"remote: webhook: push of dev ({tip[:7]}) -> {webhook.url}: not delivered: "
        "HTTP 400 Webhook processing failed: HMAC verification failed"
    ]


def test_a_broken_config_file_is_named_in_one_line_and_the_push_succeeds(
    remote: Remote, webhook: Webhook
) -> None:
    config = _config(remote)
    config.parent.mkdir(parents=True)
    config.write_text('{"url": "' + webhook.url + '", "secret": "' + SECRET + '"')  # cut short
    clone = remote.clone()
    _change(clone, "dev", "broken")
    pushed = _push(clone, "dev")
    assert pushed.returncode == 0, pushed.stderr
    [line] = _webhook_lines(pushed.stderr)
    assert str(config) in line and "not valid JSON" in line
    assert webhook.received == []
    assert SECRET not in pushed.stderr + pushed.stdout


def test_install_hook_writes_an_executable_script_once(remote: Remote) -> None:
    hook = remote.bare / "hooks" / "post-receive"
    text = hook.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert f"PYTHONPATH='{REPO}' exec " in text or f"PYTHONPATH={REPO} exec " in text
    assert f"-m infra.runtime.git_hook '{_config(remote)}'" in text  # quoted: a space
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755
    hook.chmod(0o644)
    assert install_hook(remote.bare, _config(remote), REPO) == hook
    assert hook.read_text() == text
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755
    assert [p.name for p in hook.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_the_config_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "webhook.json"
    assert read_config(path) is None
    write_config(
        path,
        url="http://127.0.0.1:1/api/webhook",
        secret=SECRET,
        repo_url=REPO_URL,
        default_branch="dev",
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = read_config(path)
    assert config == HookConfig("http://127.0.0.1:1/api/webhook", SECRET, REPO_URL, "dev", "github")
    assert SECRET not in repr(config)
    path.chmod(0o644)
    write_config(
        path,
        url="http://127.0.0.1:2/api/webhook",
        secret=SECRET,
        repo_url=REPO_URL,
        default_branch="main",
        provider="gitlab",
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_config(path) == HookConfig(
        "http://127.0.0.1:2/api/webhook", SECRET, REPO_URL, "main", "gitlab"
    )
    with pytest.raises(ValueError, match="provider"):
        write_config(path, url="u", secret="s", repo_url="r", default_branch="d", provider="gitea")
    with pytest.raises(ValueError, match="secret"):
        write_config(path, url="u", secret="", repo_url="r", default_branch="d")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"url": "http://x", "repo_url": "r", "default_branch": "dev"}', "lacks secret"),
        (
            json.dumps(
                {
                    "url": "u",
                    "secret": SECRET,
                    "repo_url": "r",
                    "default_branch": "d",
                    "provider": "gitea",
                }
            ),
            "unknown webhook provider",
        ),
    ],
)
def test_a_broken_config_raises_naming_the_file_not_the_secret(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "webhook.json"
    path.write_text(text)
    with pytest.raises(HookConfigError) as error:
        read_config(path)
    assert str(path) in str(error.value) and message in str(error.value)
    assert SECRET not in str(error.value)


def test_the_hook_reads_its_repository_from_git_dir(
    remote: Remote, webhook: Webhook, tmp_path: Path
) -> None:
    """Run as git runs it, but from another folder: GIT_DIR names the repository."""
    _register(remote, webhook.url)
    head = remote.rev("dev")
    parent = remote.rev("dev~0")
    done = subprocess.run(
        [str(remote.bare / "hooks" / "post-receive")],
        input=f"{ZERO} {head} refs/heads/copy\n{parent} {head} refs/tags/x\n",
        cwd=tmp_path,
        env={**os.environ, "GIT_DIR": str(remote.bare)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == f"webhook: push of copy ({head[:7]}) -> {webhook.url}: 200\n"
    [request] = webhook.received
    assert request.payload["created"] is True
    assert [c["id"] for c in request.payload["commits"]] == [head]
