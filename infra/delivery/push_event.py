"""The push event a repository host sends to a webhook, built from a real git repository.

Argo CD learns of a push from ``POST /api/webhook`` on argocd-server. For a GitHub event
(``X-GitHub-Event: push``) it checks ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with
the ``webhook.github.secret`` of argocd-secret, when one is set) and then reads, from the
payload: ``ref`` (the branch), ``before``/``after`` (the manifest cache of an unchanged app is
carried from one to the other), ``repository.html_url`` (matched against each Application's
``repoURL``: ``http(s)://`` or ``ssh://``, with or without ``.git``),
``repository.default_branch`` (an app on ``HEAD`` follows it) and ``commits[].added / modified
/ removed`` (an app whose files are not among them is not refreshed; no files at all: every app
of the repository and branch is). A GitLab event (``X-Gitlab-Event: Push Hook``,
``X-Gitlab-Token``) carries the same in ``project.web_url`` and ``project.default_branch``.

The payload is decoded by Go's ``encoding/json`` into typed structs: a field of the wrong JSON
type fails the whole event (HTTP 400), so only fields whose type matches are sent (no string
ids, no ``owner`` string), and commit timestamps are RFC 3339 (GitLab's parser accepts nothing
else).

:func:`push_payload` is pure except that it reads the repository through
:class:`~infra.delivery.git.Git`; :func:`deliver` sends an event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from infra.catalog.urls import is_loopback
from infra.delivery.git import Git

__all__ = [
    "MAX_COMMITS",
    "USER_AGENT",
    "PushEvent",
    "deliver",
    "github_event",
    "github_signature",
    "gitlab_event",
    "is_zero",
    "push_payload",
    "web_url",
]

MAX_COMMITS: Final = 20
"""Commits listed in one event, the newest ones (GitHub's Events API and GitLab list at most
20; ``size`` / ``total_commits_count`` give the real number)."""
USER_AGENT: Final = "gitops-platform-hook"
_FIELD: Final = "\x1f"
_UNKNOWN_PUSHER: Final = {"name": USER_AGENT, "email": ""}


@dataclass(frozen=True)
class PushEvent:
    """What is POSTed: the provider (``github``, ``gitlab``), the exact body, its headers."""

    provider: str
    body: bytes
    headers: dict[str, str]


def is_zero(sha: str) -> bool:
    """The all-zeros object name git gives for a ref that did not exist / no longer exists."""
    return bool(sha) and set(sha) == {"0"}


def web_url(repo_url: str) -> str:
    """The repository's web address, as hosts put it in their payloads: the clone URL without
    a trailing ``/`` or ``.git`` (``http://127.0.0.1:8418/repo.git`` ->
    ``http://127.0.0.1:8418/repo``)."""
    url = repo_url.rstrip("/")
    url = url.removesuffix(".git")
    return url.rstrip("/")


def _names(web: str) -> tuple[str, str, str]:
    """(owner, name, full_name) from the path of a web address."""
    parts = urlsplit(web)
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        return parts.hostname or "local", "", ""
    owner = "/".join(segments[:-1]) or parts.hostname or "local"
    return owner, segments[-1], "/".join(segments)


def _changes(git: Git, sha: str, parents: list[str]) -> dict[str, list[str]]:
    """Paths of ``sha`` against its first parent (a root commit: everything added); a rename
    is a removal and an addition."""
    base = ["--root", sha] if not parents else [parents[0], sha]
    raw = git.run("diff-tree", "-r", "-z", "--no-commit-id", "--name-status", "--no-renames", *base)
    fields = raw.stdout.split("\0")
    added: list[str] = []
    modified: list[str] = []
    removed: list[str] = []
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        kind = status[:1]
        if kind == "A":
            added.append(path)
        elif kind == "D":
            removed.append(path)
        elif kind:  # M, T (type change), U: the path is there before and after
            modified.append(path)
    return {"added": added, "removed": removed, "modified": modified}


def _commit(git: Git, sha: str, web: str) -> dict[str, Any]:
    fmt = _FIELD.join(["%H", "%T", "%P", "%aI", "%an", "%ae", "%cn", "%ce", "%B"])
    text = git.run("show", "-s", "--no-show-signature", f"--format={fmt}", sha).stdout
    commit, tree, parents, date, a_name, a_mail, c_name, c_mail, message = text.split(_FIELD, 8)
    return {
        "id": commit,
        "tree_id": tree,
        "distinct": True,
        "message": message.rstrip("\n"),
        "timestamp": date,
        "url": f"{web}/commit/{commit}",
        "author": {"name": a_name, "email": a_mail, "username": ""},
        "committer": {"name": c_name, "email": c_mail, "username": ""},
        **_changes(git, commit, parents.split()),
    }


def push_payload(
    git: Git, *, ref: str, before: str, after: str, repo_url: str, default_branch: str
) -> dict[str, Any]:
    """GitHub's ``push`` event for ``ref`` moving from ``before`` to ``after`` in the
    repository ``git`` reads, as served at ``repo_url``.

    ``commits``: the commits of ``before..after``, oldest first, the newest
    :data:`MAX_COMMITS` of them; a new branch lists its tip commit only, a deleted one none
    (``deleted: true``, no ``head_commit``)."""
    web = web_url(repo_url)
    owner, name, full_name = _names(web)
    created, deleted = is_zero(before), is_zero(after)
    if deleted:
        shas: list[str] = []
        total = 0
    elif created:
        shas = [git.rev(after)]
        total = 1
    else:
        listed = git.out("rev-list", "--reverse", f"{before}..{after}").split()
        shas, total = listed[-MAX_COMMITS:], len(listed)
    commits = [_commit(git, sha, web) for sha in shas]
    if deleted:
        head = None
    elif commits and commits[-1]["id"] == after:
        head = commits[-1]
    else:  # the branch moved back to an older commit: nothing new, the tip still is one
        head = _commit(git, after, web)
    forced = (
        not created
        and not deleted
        and not git.run("merge-base", "--is-ancestor", before, after, check=False).ok
    )
    pusher = dict(head["committer"]) if head else dict(_UNKNOWN_PUSHER)
    pusher.pop("username", None)
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "base_ref": None,
        "compare": f"{web}/compare/{before[:12]}...{after[:12]}",
        "size": total,
        "commits": commits,
        "head_commit": head,
        "repository": {
            "name": name,
            "full_name": full_name,
            "owner": {"name": owner, "login": owner},
            "private": False,
            "html_url": web,
            "url": web,
            "clone_url": repo_url,
            "git_url": repo_url,
            "default_branch": default_branch,
            "master_branch": default_branch,
        },
        "pusher": pusher,
        "sender": {"login": pusher["name"]},
    }


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def github_signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` and the lower-case hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def github_event(payload: dict[str, Any], secret: str, delivery: str | None = None) -> PushEvent:
    """The payload as GitHub POSTs a ``push`` event, signed with ``secret``."""
    body = _body(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(secret, body),
    }
    return PushEvent("github", body, headers)


def _gitlab_commit(commit: dict[str, Any]) -> dict[str, Any]:
    message = str(commit["message"])
    return {
        "id": commit["id"],
        "message": message,
        "title": message.split("\n", 1)[0],
        "timestamp": commit["timestamp"],
        "url": commit["url"],
        "author": {"name": commit["author"]["name"], "email": commit["author"]["email"]},
        "added": list(commit["added"]),
        "modified": list(commit["modified"]),
        "removed": list(commit["removed"]),
    }


def gitlab_event(payload: dict[str, Any], token: str) -> PushEvent:
    """The same push (a :func:`push_payload`) as GitLab POSTs a ``Push Hook``, with its
    secret token."""
    repository = payload["repository"]
    pusher = payload.get("pusher") or _UNKNOWN_PUSHER
    commits = [_gitlab_commit(commit) for commit in payload.get("commits") or []]
    project = {
        "name": repository["name"],
        "web_url": repository["html_url"],
        "git_http_url": repository["clone_url"],
        "http_url": repository["clone_url"],
        "url": repository["clone_url"],
        "homepage": repository["html_url"],
        "namespace": repository["owner"]["login"],
        "path_with_namespace": repository["full_name"],
        "default_branch": repository["default_branch"],
    }
    gitlab = {
        "object_kind": "push",
        "event_name": "push",
        "before": payload["before"],
        "after": payload["after"],
        "ref": payload["ref"],
        "checkout_sha": None if payload.get("deleted") else payload["after"],
        "user_name": pusher.get("name", ""),
        "user_email": pusher.get("email", ""),
        "project": project,
        "repository": {
            "name": repository["name"],
            "url": repository["clone_url"],
            "homepage": repository["html_url"],
            "git_http_url": repository["clone_url"],
        },
        "commits": commits,
        "total_commits_count": int(payload.get("size", len(commits))),
    }
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Token": token,
    }
    return PushEvent("gitlab", _body(gitlab), headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it is: a webhook is never re-sent elsewhere (urllib would turn
    the POST into a GET without its body)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def deliver(url: str, event: PushEvent, timeout: float = 10.0) -> tuple[int, str]:
    """POST ``event`` to ``url``: (HTTP status, the first line of the answer, at most 200
    characters). An error status is returned, not raised; a connection failure raises
    :class:`OSError`; a URL that is not ``http(s)://`` is a :class:`ValueError`. A loopback
    address is called directly, never through a proxy from the environment."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the webhook URL must be an http:// or https:// address")
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if is_loopback(parts.hostname):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    # Header values go as UTF-8 (http.client would send latin-1): the receiver compares the
    # exact bytes of a token with its own (GitLab's X-Gitlab-Token).
    headers: Any = {key: value.encode("utf-8") for key, value in event.headers.items()}
    request = urllib.request.Request(url, data=event.body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            status, text = response.status, response.read(64 * 1024)
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read(64 * 1024)
        error.close()
    lines = text.decode("utf-8", errors="replace").strip().splitlines()
    return status, (lines[0].strip()[:200] if lines else "")
