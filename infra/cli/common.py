"""What every command shares: finding the project, loading inputs, the flags several commands
take, and the one way a command fails (:func:`handle_errors`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from infra import constants
from infra.catalog import Catalog, load_catalog
from infra.errors import PlatformError, ValidationError
from infra.project import find_project_root
from infra.settings import StackSettings, catalog_folder_problem, load_stack_file

__all__ = [
    "RemoteOption",
    "RepoOption",
    "StackOption",
    "apps_dirs",
    "handle_errors",
    "load_inputs",
    "project_root",
]

P = ParamSpec("P")
R = TypeVar("R")

StackOption = Annotated[
    str, typer.Option("--stack", "-s", help="Stack name (Pulumi.<stack>.yaml).")
]
RepoOption = Annotated[
    Path, typer.Option("--repo", help="Git working copy of this repository (default: cwd).")
]
RemoteOption = Annotated[str, typer.Option("--remote", help="Git remote to fetch and push.")]


def project_root() -> Path:
    """The nearest directory at or above the current one holding Pulumi.yaml."""
    return find_project_root()


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else f"{text[:77]}... ({len(text)} characters)"


def checked_apps_dir(root: Path, apps_dir: Path) -> Path:
    """``--apps-dir`` held to the rules of the setting it overrides (``catalog.appsDir``): a
    folder inside the project, itself and every link on the way resolved. Returns it under
    ``root`` as written (not resolved), so the catalog loader refuses a symbolic link on the
    way exactly as it does for the setting. Raises :class:`PlatformError` naming the flag."""
    flag = "--apps-dir"
    if any(len(os.fsencode(part)) > constants.NAME_MAX for part in apps_dir.parts) or (
        len(os.fsencode(str(apps_dir))) >= constants.PATH_MAX
    ):
        raise PlatformError(f"{flag}: {_shown(apps_dir)}: too long for a path")
    try:
        written = Path(os.path.normpath(Path.cwd() / apps_dir))
        resolved = apps_dir.resolve()
    except OSError as exc:
        raise PlatformError(f"{flag}: {_shown(apps_dir)}: {exc.strerror}") from None
    real_root = root.resolve()
    if not resolved.is_relative_to(real_root):
        raise PlatformError(
            f"{flag}: {_shown(apps_dir)} is outside the project ({real_root}); name a catalog "
            "folder inside it, as catalog.appsDir must"
        )
    relative = (
        written.relative_to(root)
        if written.is_relative_to(root)
        else resolved.relative_to(real_root)
    )
    problem = catalog_folder_problem(relative.as_posix())
    if problem is not None:
        raise PlatformError(f"{flag}: {problem}")
    return root / relative


def stack_apps_dir(root: Path, settings: StackSettings, apps_dir: Path | None) -> Path:
    """The catalog folder a command reads for a stack: ``--apps-dir``, else the stack's
    ``catalog.appsDir`` (what ``pulumi up`` of the stack reads)."""
    return checked_apps_dir(root, apps_dir) if apps_dir else root / settings.catalog.appsDir


def apps_dirs(
    root: Path, stacks: list[StackSettings], apps_dir: Path | None
) -> dict[Path, list[StackSettings]]:
    """Every catalog folder the stacks read (``--apps-dir`` for all of them when given), with
    the stacks reading each; the default ``apps/`` when there is no stack."""
    if not stacks:
        return {checked_apps_dir(root, apps_dir) if apps_dir else root / constants.APPS_DIR: []}
    out: dict[Path, list[StackSettings]] = {}
    for settings in stacks:
        out.setdefault(stack_apps_dir(root, settings, apps_dir), []).append(settings)
    return out


def load_inputs(stack: str, apps_dir: Path | None) -> tuple[Path, StackSettings, Catalog]:
    root = project_root()
    settings = load_stack_file(root, stack)
    apps = stack_apps_dir(root, settings, apps_dir)
    catalog = load_catalog(root, apps, reserved_namespaces=settings.platform_namespaces)
    return root, settings, catalog


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """The one way a command fails: a platform error becomes its message on stderr (a
    :class:`ValidationError`'s problems one a line, any other as ``error: <message>``) and the
    exit code its class names (:attr:`PlatformError.exit_code`); never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PlatformError as exc:
            message = str(exc) if isinstance(exc, ValidationError) else f"error: {exc}"
            print(message, file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None

    return wrapper
