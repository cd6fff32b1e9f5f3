"""What every command shares: finding the project, loading inputs, reporting errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer

from infra import constants
from infra.catalog import Catalog, load_catalog
from infra.errors import PlatformError, ValidationError
from infra.project import find_project_root
from infra.settings import StackSettings, load_stack_file

__all__ = [
    "EXIT_INVALID",
    "EXIT_USAGE",
    "apps_dirs",
    "handle_errors",
    "load_inputs",
    "project_root",
]

EXIT_INVALID = 1
EXIT_USAGE = 2

P = ParamSpec("P")
R = TypeVar("R")


def project_root() -> Path:
    """The nearest directory at or above the current one holding Pulumi.yaml."""
    return find_project_root()


def stack_apps_dir(root: Path, settings: StackSettings, apps_dir: Path | None) -> Path:
    """The catalog folder a command reads for a stack: ``--apps-dir``, else the stack's
    ``catalog.appsDir`` (what ``pulumi up`` of the stack reads)."""
    return apps_dir.resolve() if apps_dir else root / settings.catalog.appsDir


def apps_dirs(
    root: Path, stacks: list[StackSettings], apps_dir: Path | None
) -> dict[Path, list[StackSettings]]:
    """Every catalog folder the stacks read (``--apps-dir`` for all of them when given), with
    the stacks reading each; the default ``apps/`` when there is no stack."""
    if not stacks:
        return {apps_dir.resolve() if apps_dir else root / constants.APPS_DIR: []}
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


def fail(problems: str, code: int = EXIT_INVALID) -> None:
    print(problems, file=sys.stderr)
    raise typer.Exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the platform's errors into a message on stderr and exit 1; never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            fail(str(exc))
        except PlatformError as exc:
            fail(f"error: {exc}")
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper
