"""A thin, typed runner of the real ``git`` CLI for one working copy.

Every command runs non-interactively (no credential prompt, no editor), in the C locale, and as
the platform bot when it writes commits: the identity is passed with ``-c user.name=...
-c user.email=...`` on each call, so the user's git configuration is never changed. Failures
raise :class:`GitError` with the command and git's message (credentials in URLs redacted).

The repository is the one given, whatever the environment says: every ``GIT_*`` variable from
outside is dropped (``GIT_DIR``, ``GIT_WORK_TREE``, ``GIT_INDEX_FILE``, ``GIT_CONFIG_*``...
would make git read or write another repository or index while the command reports success;
``GIT_AUTHOR_*`` would sign the bot's commits with another name) except those that say how a
remote is reached and which of the user's own configuration files apply (:data:`KEPT_ENV`).
``core.fsmonitor`` is off on every call: a repository's configuration cannot make the command
run a program.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from infra.errors import GitError, redact_urls

__all__ = [
    "BOT_EMAIL",
    "BOT_NAME",
    "KEPT_ENV",
    "Git",
    "GitResult",
    "PushOutcome",
    "classify_push",
    "git_environment",
]

BOT_NAME: Final = "gitops-platform-bot"
BOT_EMAIL: Final = "bot@gitops-platform.invalid"
_SAFE: Final = ("-c", "core.fsmonitor=false")
_IDENTITY: Final = (
    *_SAFE,
    "-c",
    f"user.name={BOT_NAME}",
    "-c",
    f"user.email={BOT_EMAIL}",
    "-c",
    "commit.gpgsign=false",
)
KEPT_ENV: Final = frozenset(
    {
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_ASKPASS",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_PROXY_COMMAND",
        "GIT_HTTP_USER_AGENT",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
    }
)
"""The ``GIT_*`` variables kept from the environment: how to reach and authenticate to a
remote (a CI job's deploy key, its CA bundle) and which global and system configuration files
are the user's (as ``~/.gitconfig`` is); never which repository, index, objects or identity."""


def git_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the ``GIT_*`` variables that would redirect git (see the module
    docstring), plus the settings of a non-interactive run in the C locale."""
    kept = {k: v for k, v in environ.items() if not k.startswith("GIT_") or k in KEPT_ENV}
    return {
        **kept,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_EDITOR": "true",
        "GIT_MERGE_AUTOEDIT": "no",
        "LC_ALL": "C",
        "LANGUAGE": "C",
    }


TIMEOUT_SECONDS: Final = 300


PushOutcome = Literal["ok", "moved", "transient", "permanent"]
"""What a push's result means for the next step: landed; refused because the branch moved
(fetch, rebuild on the new tip, push again); failed for a reason that may pass by itself (the
network, a lock on the remote: wait and push again); refused for good (a hook, permissions, a
protected branch, anything not recognised: fail at once, retrying cannot help)."""

# git's words for failures that another attempt may not meet (matched lower-case).
_TRANSIENT: Final = (
    "could not resolve host",
    "connection timed out",
    "connection reset",
    "connection refused",
    "connection closed",
    "operation timed out",
    "timed out",
    "temporary failure",
    "temporarily unavailable",
    "the remote end hung up unexpectedly",
    "early eof",
    "rpc failed",
    "http 502",
    "http 503",
    "http 504",
    "returned error: 502",
    "returned error: 503",
    "returned error: 504",
    "cannot lock ref",
    "unable to create",  # "Unable to create '.../index.lock': File exists"
    "failed to update ref",
    "failed to lock",
)
# Refusals that no retry fixes, even when their text also looks transient.
_PERMANENT: Final = (
    "pre-receive hook declined",
    "hook declined",
    "protected branch",
    "permission denied",
    "permission to",
    "authentication failed",
    "could not read username",
    "repository not found",
    "does not appear to be a git repository",
    "denied",
    "forbidden",
    "http 403",
    "returned error: 403",
)


def classify_push(result: GitResult) -> PushOutcome:
    """Read a ``git push --porcelain`` result (see :data:`PushOutcome`)."""
    if result.ok:
        return "ok"
    text = f"{result.stdout}\n{result.stderr}".lower()
    if any(word in text for word in _PERMANENT):
        return "permanent"
    if "[rejected]" in text and ("fetch first" in text or "non-fast-forward" in text):
        return "moved"
    if "but expected" in text:  # "cannot lock ref ...: is at X but expected Y": a race
        return "moved"
    if any(word in text for word in _TRANSIENT):
        return "transient"
    return "permanent"


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
        return redact_urls(" / ".join(line.strip() for line in text[-6:] if line.strip()))


class Git:
    """``git -C <repo> ...`` with the bot identity."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._env = git_environment(os.environ)

    def run(
        self,
        *args: str,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> GitResult:
        """``git args`` in the repository; ``env`` on top of :func:`git_environment`'s;
        :class:`GitError` when git is missing, runs over ``timeout`` seconds or, with
        ``check``, fails."""
        command = ["git", "-C", str(self.repo), *_IDENTITY, *args]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env={**self._env, **(env or {})},
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise GitError("the git CLI is not installed (not found on PATH)") from None
        except subprocess.TimeoutExpired:
            raise GitError(
                f"`git {redact_urls(' '.join(args))}` timed out after {timeout:g}s"
            ) from None
        result = GitResult(done.returncode, done.stdout, done.stderr)
        if check and not result.ok:
            raise GitError(f"`git {redact_urls(' '.join(args))}` failed: {result.message}")
        return result

    def out(self, *args: str) -> str:
        """stdout of a command that must succeed, stripped."""
        return self.run(*args).stdout.strip()

    def object_type(self, ref: str, path: str) -> str | None:
        """``blob``, ``tree``, ``commit`` (a submodule) for ``ref:path``; ``None`` when missing."""
        result = self.run("cat-file", "-t", f"{ref}:{path}", check=False)
        return result.stdout.strip() if result.ok else None

    def show_bytes(self, ref: str, path: str) -> bytes | None:
        """The file at ``ref:path`` as bytes (exact, CRLF kept), or ``None`` when it is missing
        or not a file (``git show`` of a folder prints its listing: never taken as text)."""
        if self.object_type(ref, path) != "blob":
            return None
        command = ["git", "-C", str(self.repo), *_SAFE, "cat-file", "blob", f"{ref}:{path}"]
        done = subprocess.run(
            command, capture_output=True, env=self._env, timeout=TIMEOUT_SECONDS, check=False
        )
        return done.stdout if done.returncode == 0 else None

    def archive(self, ref: str, path: str) -> bytes | None:
        """A tar of ``path`` (a folder) at ``ref``; ``None`` when it is not there."""
        command = ["git", "-C", str(self.repo), *_SAFE, "archive", "--format=tar", ref, "--", path]
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

    def git_dir(self) -> Path:
        return Path(self.out("rev-parse", "--absolute-git-dir"))

    def current_branch(self) -> str | None:
        result = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return result.stdout.strip() if result.ok else None

    def dirty_paths(self) -> list[str]:
        """Tracked files with staged or unstaged changes (untracked files do not count)."""
        out = self.run("status", "--porcelain=v1", "--untracked-files=no").stdout
        return [line[3:] for line in out.splitlines() if line.strip()]

    def other_worktrees(self) -> dict[str, Path]:
        """Branch name -> the path of another worktree of this repository that has it checked
        out (``git worktree list``; this working copy left out)."""
        here = self.toplevel().resolve()
        out = self.run("worktree", "list", "--porcelain", "-z", check=False).stdout
        found: dict[str, Path] = {}
        path: Path | None = None
        for field in out.split("\0"):
            if field.startswith("worktree "):
                path = Path(field.removeprefix("worktree "))
            elif (
                field.startswith("branch refs/heads/")
                and path is not None
                and path.resolve() != here
            ):
                found[field.removeprefix("branch refs/heads/")] = path
        return found

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

    def write_commit(self, parent: str, files: Mapping[str, bytes], message: str) -> str:
        """A commit on top of ``parent`` that changes ``files`` (repository path -> exact
        bytes) and nothing else, as the bot; return its SHA.

        Touches no ref, not the index, not the working tree, not HEAD: the blobs, tree and
        commit are written through a temporary index, so a failure at any later step leaves
        the working copy as it was (unreferenced objects are garbage-collected by git)."""
        with tempfile.TemporaryDirectory(prefix="gitops-platform-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            self.run("read-tree", parent, env=env)
            for path, data in files.items():
                blob_file = Path(scratch) / "blob"
                blob_file.write_bytes(data)
                blob = self.out("hash-object", "-w", "--no-filters", str(blob_file))
                listed = self.out("ls-tree", "--full-tree", parent, "--", path).split()
                mode = listed[0] if listed else "100644"
                self.run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", env=env)
            tree = self.run("write-tree", env=env).stdout.strip()
            return self.out("commit-tree", tree, "-p", parent, "-m", message)
