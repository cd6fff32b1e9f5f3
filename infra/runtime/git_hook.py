"""The ``post-receive`` hook of a served bare repository: tell Argo CD about each push.

After every push to the local stack's bare mirror (or the e2e harness's bare remote), git runs
``hooks/post-receive``, which :func:`install_hook` writes as

``PYTHONPATH=<root> exec <python> -m infra.runtime.git_hook <config file>``

and this module then does what GitHub does after a push: for each branch that moved, it builds
the push event (:mod:`infra.delivery.push_event`) and POSTs it, signed, to Argo CD's webhook
(``/api/webhook`` of argocd-server). The config file (:func:`write_config`, mode 0600: it holds
the webhook secret) names the webhook URL, the secret, the repository's clone URL as Argo CD's
Applications spell it, its default branch and the provider whose event is sent (``github`` or
``gitlab``). No config file: no webhook is registered yet and the hook does nothing.

The push has already landed when the hook runs, and Argo CD still polls: the hook never fails
it. It prints one line per branch, which git shows the pusher as ``remote: ...``::

    webhook: push of dev (3f2a1c0) -> http://127.0.0.1:8080/api/webhook: 200
    webhook: push of dev (3f2a1c0) -> http://127.0.0.1:8080/api/webhook: not delivered: ...

Tags and other refs are skipped. The secret is never printed.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import urllib.error
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final, TextIO

from infra.delivery.git import Git
from infra.delivery.push_event import (
    deliver,
    github_event,
    gitlab_event,
    is_zero,
    push_payload,
)
from infra.errors import PlatformError, redact_url

__all__ = [
    "MODULE",
    "PROVIDERS",
    "HookConfig",
    "HookConfigError",
    "install_hook",
    "main",
    "read_config",
    "run",
    "write_config",
]

MODULE: Final = "infra.runtime.git_hook"
PROVIDERS: Final = ("github", "gitlab")
HOOK_NAME: Final = "post-receive"
BRANCH_PREFIX: Final = "refs/heads/"


class HookConfigError(PlatformError):
    """The hook's config file is there but unusable (names the file, never the secret)."""


@dataclass(frozen=True)
class HookConfig:
    url: str
    secret: str
    repo_url: str
    default_branch: str
    provider: str = "github"

    def __repr__(self) -> str:  # never the secret, even in a traceback
        return (
            f"HookConfig(url={redact_url(self.url)!r}, secret='***', "
            f"repo_url={redact_url(self.repo_url)!r}, default_branch={self.default_branch!r}, "
            f"provider={self.provider!r})"
        )


def _script(config_file: Path, root: Path, python: str) -> str:
    command = (
        f"PYTHONPATH={shlex.quote(str(root))} exec {shlex.quote(python)} -m {MODULE} "
        f"{shlex.quote(str(config_file))}"
    )
    return (
        "#!/bin/sh\n"
        "# Written by gitops-platform (infra.runtime.git_hook.install_hook): tells Argo CD's\n"
        "# webhook about each push. Never fails the push.\n"
        f"{command}\n"
    )


def install_hook(
    bare_repo: Path, config_file: Path, root: Path, python: str = sys.executable
) -> Path:
    """Write ``<bare_repo>/hooks/post-receive`` (mode 0755) running this module with
    ``config_file``; ``root`` is the folder holding the ``infra`` package. Idempotent."""
    hooks = Path(bare_repo) / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    path = hooks / HOOK_NAME
    text = _script(Path(config_file).absolute(), Path(root).absolute(), python)
    if not path.is_file() or path.read_text() != text:
        scratch = path.with_name(f".{HOOK_NAME}.tmp")
        scratch.write_text(text)
        os.chmod(scratch, 0o755)
        os.replace(scratch, path)  # a push running now sees the old or the new hook, whole
    os.chmod(path, 0o755)
    return path


def write_config(
    config_file: Path,
    *,
    url: str,
    secret: str,
    repo_url: str,
    default_branch: str,
    provider: str = "github",
) -> None:
    """Register the webhook for the hook: a JSON file readable by its owner only (0600)."""
    if provider not in PROVIDERS:
        raise ValueError(f"unknown webhook provider {provider!r}; expected one of {PROVIDERS}")
    values = {"url": url, "secret": secret, "repo_url": repo_url, "default_branch": default_branch}
    empty = [name for name, value in values.items() if not value]
    if empty:
        raise ValueError(f"the webhook config needs {', '.join(empty)}")
    config = HookConfig(url, secret, repo_url, default_branch, provider)
    data = (json.dumps(asdict(config), indent=2, sort_keys=True) + "\n").encode()
    path = Path(config_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp")
    with open(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # even when the scratch file was left with other modes
        out.write(data)
    os.replace(scratch, path)


def read_config(path: Path) -> HookConfig | None:
    """The registered webhook, or ``None`` when the file does not exist (none registered).
    :class:`HookConfigError` when it is there but unreadable or incomplete."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HookConfigError(f"{path}: cannot read the webhook config: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise HookConfigError(f"{path}: the webhook config is not valid JSON") from None
    if not isinstance(data, dict):
        raise HookConfigError(f"{path}: the webhook config must be a JSON object")
    fields = ("url", "secret", "repo_url", "default_branch")
    missing = [name for name in fields if not isinstance(data.get(name), str) or not data[name]]
    if missing:
        raise HookConfigError(f"{path}: the webhook config lacks {', '.join(missing)}")
    provider = data.get("provider", "github")
    if provider not in PROVIDERS:
        raise HookConfigError(
            f"{path}: unknown webhook provider {str(provider)[:40]!r}; expected one of "
            f"{', '.join(PROVIDERS)}"
        )
    return HookConfig(
        url=data["url"],
        secret=data["secret"],
        repo_url=data["repo_url"],
        default_branch=data["default_branch"],
        provider=provider,
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        inner = exc.reason
        if isinstance(inner, OSError) and inner.strerror:
            return inner.strerror.lower()
        return str(inner)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _deliver_one(config: HookConfig, repo: Path, old: str, new: str, ref: str) -> str:
    branch = ref.removeprefix(BRANCH_PREFIX)
    what = f"push of {branch} ({'deleted' if is_zero(new) else new[:7]})"
    target = redact_url(config.url)
    try:
        payload = push_payload(
            Git(repo),
            ref=ref,
            before=old,
            after=new,
            repo_url=config.repo_url,
            default_branch=config.default_branch,
        )
        if config.provider == "gitlab":
            event = gitlab_event(payload, config.secret)
        else:
            event = github_event(payload, config.secret)
        status, text = deliver(config.url, event)
    except Exception as exc:  # the push has landed: report, never fail it
        return f"webhook: {what} -> {target}: not delivered: {_reason(exc)}"
    if 200 <= status < 300:
        return f"webhook: {what} -> {target}: {status}"
    answer = f" {text}" if text else ""
    return f"webhook: {what} -> {target}: not delivered: HTTP {status}{answer}"


def _repository() -> Path:
    """The bare repository the hook runs in: ``$GIT_DIR`` (git sets it to ``.``), else cwd."""
    return Path(os.environ.get("GIT_DIR") or ".").resolve()


def run(config_file: Path, lines: TextIO, out: TextIO) -> None:
    """Deliver one event per branch update read from ``lines`` (``<old> <new> <ref>``)."""
    updates = [line.split() for line in lines.read().splitlines()]
    try:
        config = read_config(config_file)
    except HookConfigError as exc:
        out.write(f"webhook: not delivered: {exc}\n")
        return
    if config is None:
        return
    repo = _repository()
    for fields in updates:
        if len(fields) != 3 or not fields[2].startswith(BRANCH_PREFIX):
            continue
        line = _deliver_one(config, repo, *fields)
        out.write(line.replace(config.secret, "***") + "\n")
        out.flush()


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.runtime.git_hook <config file>``, as the post-receive hook: exits 0
    whatever happens (the push has landed; Argo CD's polling is the fallback)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) != 1:
            print("webhook: not delivered: usage: python -m infra.runtime.git_hook CONFIG_FILE")
            return 0
        run(Path(args[0]), sys.stdin, sys.stdout)
    except Exception as exc:
        print(f"webhook: not delivered: {type(exc).__name__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
