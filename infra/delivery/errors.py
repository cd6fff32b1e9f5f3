"""The errors of the delivery commands (bump, promote, app-diff) and their exit codes.

Every error names what is wrong: the flag, the file, the field or the git command. The CLI turns
each into ``error: <message>`` on stderr and the exit code of its class, never a traceback.
"""

from __future__ import annotations

from typing import ClassVar, Final

from infra.errors import PlatformError

__all__ = [
    "EXIT_GIT",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "DeliveryError",
    "GitError",
    "InputError",
]

EXIT_OK: Final = 0
"""Done: the tag was changed (and pushed), or it already had the requested value."""
EXIT_INVALID: Final = 1
"""Invalid input: tag, app, environment, app definition, or the file that holds the tag."""
EXIT_USAGE: Final = 2
"""Command-line usage error (unknown flag, missing option), reported by the CLI parser."""
EXIT_GIT: Final = 3
"""The git working copy or remote refused: not a repository, missing branch, uncommitted
changes, or the push still failed after every retry."""


class DeliveryError(PlatformError):
    """Base class: an error of a delivery command, with the exit code it maps to."""

    exit_code: ClassVar[int] = EXIT_INVALID


class InputError(DeliveryError):
    """The request or the files it reads are invalid; nothing was changed."""

    exit_code: ClassVar[int] = EXIT_INVALID


class GitError(DeliveryError):
    """A git precondition or command failed (working copy, branch, remote, push)."""

    exit_code: ClassVar[int] = EXIT_GIT
