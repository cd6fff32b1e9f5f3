"""The errors of the delivery commands (bump, promote, app-diff, plan): bad input, and git
refusing.

Every error names what is wrong: the flag, the file, the field or the git command. Their exit
codes are on the classes (:mod:`infra.errors` defines the codes); the CLI turns each into
``error: <message>`` on stderr and that code, never a traceback.
"""

from __future__ import annotations

from typing import ClassVar

from infra.errors import EXIT_GIT, PlatformError

__all__ = ["GitError", "InputError"]


class InputError(PlatformError):
    """The request or the files it reads are invalid; nothing was changed (exit 1)."""


class GitError(PlatformError):
    """A git precondition or command failed (working copy, branch, remote, push): exit 3."""

    exit_code: ClassVar[int] = EXIT_GIT
