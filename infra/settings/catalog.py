"""The ``catalog`` section: which folder holds the app catalog, and whether it may be empty.
Pure."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import StringConstraints

from infra import constants
from infra.catalog.strict import checked
from infra.settings.base import SettingsModel

__all__ = ["CatalogSettings", "catalog_folder_problem"]


def catalog_folder_problem(path: str) -> str | None:
    """``appsDir`` must name a folder inside the repository, written as a relative path."""
    if PurePosixPath(path).is_absolute() or "\\" in path:
        return "must be a path relative to the project root (such as apps), with '/'"
    normal = posixpath.normpath(path)
    if normal == "." or normal == ".." or normal.startswith("../"):
        return f"{path!r} leaves the repository (or is its root); name a folder inside it"
    return None


class CatalogSettings(SettingsModel):
    appsDir: Annotated[
        str, StringConstraints(min_length=1, max_length=255), checked(catalog_folder_problem)
    ] = constants.APPS_DIR
    """The catalog folder, relative to the project root; it must stay inside the repository
    and no part of the way to it may be a symbolic link (checked when the catalog loads)."""
    allowEmpty: bool = False
    """Allow a stack with no enabled app (otherwise an emptied catalog is refused)."""
