"""What every command shares: finding the project, loading inputs, reporting errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer

from infra.catalog import Catalog, load_catalog
from infra.errors import PlatformError, ValidationError
from infra.project import find_project_root
from infra.settings import StackSettings, load_stack_file

__all__ = ["EXIT_INVALID", "EXIT_USAGE", "handle_errors", "load_inputs", "project_root"]

EXIT_INVALID = 1
EXIT_USAGE = 2

P = ParamSpec("P")
R = TypeVar("R")


def project_root() -> Path:
    """The nearest directory at or above the current one holding Pulumi.yaml."""
    return find_project_root()


def load_inputs(stack: str, apps_dir: Path | None) -> tuple[Path, StackSettings, Catalog]:
    root = project_root()
    settings = load_stack_file(root, stack)
    apps = apps_dir.resolve() if apps_dir else root / settings.catalog.appsDir
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
