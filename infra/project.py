"""Locating the project (the directory holding Pulumi.yaml)."""

from __future__ import annotations

from pathlib import Path

from infra.errors import Problem, ValidationError

__all__ = ["find_project_root"]


def find_project_root(*candidates: str | Path | None) -> Path:
    """The first candidate holding Pulumi.yaml, else the nearest such directory at or above
    the current directory."""
    for candidate in candidates:
        if candidate and (Path(candidate) / "Pulumi.yaml").is_file():
            return Path(candidate).resolve()
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    raise ValidationError(
        [
            Problem(
                str(here),
                "",
                "not inside the project (no Pulumi.yaml here or above); run from the repository",
            )
        ]
    )
