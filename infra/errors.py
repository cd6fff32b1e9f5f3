"""The platform's error types.

Every user error is a :class:`Problem` (file, field, message). Functions of the core collect
all problems and raise one :class:`ValidationError`; only the CLI edge and the Pulumi entry
point turn it into an exit code or a Pulumi error, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PlatformError", "Problem", "ValidationError"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input: ``<file>: <field>: <message>``."""

    file: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        field = self.field or "(file)"
        return f"{self.file}: {field}: {self.message}{where}"


class PlatformError(Exception):
    """Base class of every error the platform raises on purpose."""


class ValidationError(PlatformError):
    """One or more :class:`Problem` s; the message lists them all, one a line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(p) for p in self.problems))
