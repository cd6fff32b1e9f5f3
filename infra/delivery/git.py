"""A thin, typed runner of the real ``git`` CLI for one working copy.

Every command runs non-interactively (no credential prompt, no editor), in the C locale, and as
the platform bot when it writes commits: the identity is passed with ``-c user.name=...
-c user.email=...`` on each call, so the user's git configuration is never changed. Failures
raise :class:`GitError` with the command and git's message (credentials in URLs redacted).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from infra.delivery.errors import GitError

__all__ = ["BOT_EMAIL", "BOT_NAME", "Git", "GitResult", "redact"]

BOT_NAME: Final = "gitops-platform-bot"
BOT_EMAIL: Final = "bot@gitops-platform.invalid"
_IDENTITY: Final = (
    "-c",
    f"user.name={BOT_NAME}",
    "-c",
    f"user.email={BOT_EMAIL}",
    "-c",
    "commit.gpgsign=false",
)
_CREDENTIALS: Final = re.compile(r"(\w+://)[^/@\s]+@")
TIMEOUT_SECONDS: Final = 300


def redact(text: str) -> str:
    """Hide ``user:token@`` in URLs that git may echo."""
    return _CREDENTIALS.sub(r"\1***@", text)


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def message(self) -> str:
        """git's own words: stderr, else stdout, redacted and trimmed to the last lines."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return redact(" / ".join(line.strip() for line in text[-6:] if line.strip()))


class Git:
    """``git -C <repo> ...`` with the bot identity."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "true",
            "GIT_MERGE_AUTOEDIT": "no",
            "LC_ALL": "C",
            "LANGUAGE": "C",
        }

    def run(self, *args: str, check: bool = True) -> GitResult:
        command = ["git", "-C", str(self.repo), *_IDENTITY, *args]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self._env,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except FileNotFoundError:
            raise GitError("the git CLI is not installed (not found on PATH)") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"`git {' '.join(args)}` timed out after {TIMEOUT_SECONDS}s") from None
        result = GitResult(done.returncode, done.stdout, done.stderr)
        if check and not result.ok:
            raise GitError(f"`git {redact(' '.join(args))}` failed: {result.message}")
        return result

    def out(self, *args: str) -> str:
        """stdout of a command that must succeed, stripped."""
        return self.run(*args).stdout.strip()

    def show_bytes(self, ref: str, path: str) -> bytes | None:
        """The blob at ``ref:path`` as bytes (exact, CRLF kept), or ``None`` when missing."""
        command = ["git", "-C", str(self.repo), "show", f"{ref}:{path}"]
        done = subprocess.run(
            command, capture_output=True, env=self._env, timeout=TIMEOUT_SECONDS, check=False
        )
        return done.stdout if done.returncode == 0 else None

    # -- questions -----------------------------------------------------------------------------

    def toplevel(self) -> Path:
        result = self.run("rev-parse", "--show-toplevel", check=False)
        if not result.ok:
            raise GitError(
                f"{self.repo.resolve()} is not a git working copy (--repo): {result.message}"
            )
        return Path(result.stdout.strip())

    def has_ref(self, ref: str) -> bool:
        return self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).ok

    def rev(self, ref: str) -> str:
        return self.out("rev-parse", "--verify", f"{ref}^{{commit}}")

    def current_branch(self) -> str | None:
        result = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return result.stdout.strip() if result.ok else None

    def dirty_paths(self) -> list[str]:
        """Tracked files with staged or unstaged changes (untracked files do not count)."""
        out = self.run("status", "--porcelain=v1", "--untracked-files=no").stdout
        return [line[3:] for line in out.splitlines() if line.strip()]

    def has_remote(self, remote: str) -> bool:
        return self.run("remote", "get-url", remote, check=False).ok

    def count(self, revision_range: str) -> int:
        return int(self.out("rev-list", "--count", revision_range))

    def valid_branch_name(self, name: str) -> bool:
        return self.run("check-ref-format", "--branch", name, check=False).ok

    # -- actions -------------------------------------------------------------------------------

    def fetch(self, remote: str, branch: str) -> GitResult:
        """Update ``refs/remotes/<remote>/<branch>`` (explicit refspec: works in single-branch
        and CI clones too)."""
        refspec = f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"
        return self.run("fetch", "--quiet", "--no-tags", remote, refspec, check=False)

    def push(self, remote: str, local: str, branch: str) -> GitResult:
        return self.run("push", "--porcelain", remote, f"{local}:refs/heads/{branch}", check=False)

    def commit_paths(self, paths: list[str], message: str) -> str:
        """Commit exactly ``paths`` (staged from the working tree) as the bot; return the SHA."""
        self.run("add", "--", *paths)
        self.run("commit", "--quiet", "--no-verify", "-m", message, "--", *paths)
        return self.rev("HEAD")
