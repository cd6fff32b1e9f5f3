"""Which stack a command acts for, read from its ``Pulumi.<stack>.yaml``, and which catalog
folder it reads.

A stack's settings are the one source of truth for what it deploys: its environment
(``gitops-platform:environment``), its branch (``git.branch``, default the environment) and
its catalog folder (``catalog.appsDir``). The commands name the stack (``--stack``); naming only
an environment (``--env``) finds the one stack that deploys it, and refuses to guess between
several. A stack's name means nothing by itself: ``prod-eu`` with ``environment: prod`` is prod.
"""

from __future__ import annotations

import os
from pathlib import Path

from infra import constants
from infra.catalog import Catalog, load_catalog
from infra.errors import InputError, PlatformError, Problem, ValidationError, shown
from infra.settings import StackSettings, catalog_folder_problem, load_stack_file

__all__ = [
    "apps_dirs",
    "checked_apps_dir",
    "find_stack",
    "load_stack_inputs",
    "resolve_stack",
    "stack_apps_dir",
    "stack_names",
]


def stack_names(root: Path) -> list[str]:
    """The stacks whose ``Pulumi.<stack>.yaml`` is in ``root``, sorted."""
    prefix, suffix = constants.STACK_FILE_PATTERN.split("{stack}")
    return sorted(p.name[len(prefix) : -len(suffix)] for p in root.glob(constants.stack_file("*")))


def _check_env(env: str, env_flag: str) -> None:
    if env not in constants.ENVIRONMENTS:
        raise InputError(
            f"{env_flag}: unknown environment {env!r}; expected one of "
            f"{', '.join(constants.ENVIRONMENTS)}"
        )


def find_stack(
    root: Path,
    stack: str | None,
    env: str | None,
    *,
    stack_flag: str = "--stack",
    env_flag: str = "--env",
) -> StackSettings | None:
    """The settings of ``stack``; without it, of the one stack deploying ``env`` (``None``
    when no stack file deploys it). ``env`` with ``stack`` must be that stack's environment.
    Several stacks deploying ``env`` is an :class:`InputError` (pass ``stack_flag``)."""
    if env is not None:
        _check_env(env, env_flag)
    if stack is not None:
        if not (root / constants.stack_file(stack)).is_file() and "/" not in stack:
            known = ", ".join(stack_names(root)) or "none"
            raise InputError(
                f"{stack_flag}: no stack {stack!r}: {constants.stack_file(stack)} does not "
                "exist in "
                f"{root} (stacks there: {known})"
            )
        settings = load_stack_file(root, stack)
        if env is not None and env != settings.environment:
            raise InputError(
                f"{env_flag} {env} does not match {stack_flag} {stack}: "
                f"{constants.stack_file(stack)} "
                f"deploys environment {settings.environment} "
                f"({constants.PROJECT}:environment)"
            )
        return settings
    if env is None:
        raise InputError(f"give {stack_flag} STACK (or {env_flag} ENV)")
    problems: list[Problem] = []
    matches: list[StackSettings] = []
    for name in stack_names(root):
        try:
            settings = load_stack_file(root, name)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        if settings.environment == env:
            matches.append(settings)
    if problems:
        # A stack file that does not load may deploy env too: do not guess around it.
        raise ValidationError(problems)
    if len(matches) > 1:
        names = ", ".join(s.stack for s in matches)
        raise InputError(
            f"{env_flag} {env}: several stacks deploy environment {env} ({names}); pass "
            f"{stack_flag} to choose one"
        )
    return matches[0] if matches else None


def resolve_stack(
    root: Path,
    stack: str | None,
    env: str | None,
    *,
    stack_flag: str = "--stack",
    env_flag: str = "--env",
) -> StackSettings:
    """:func:`find_stack`, where a stack is required."""
    settings = find_stack(root, stack, env, stack_flag=stack_flag, env_flag=env_flag)
    if settings is None:
        raise InputError(
            f"{env_flag} {env}: no stack deploys environment {env} (no Pulumi.<stack>.yaml in "
            f"{root} with {constants.PROJECT}:environment: {env}); pass {stack_flag}"
        )
    return settings


# -- the catalog folder a stack reads ------------------------------------------------------------


def checked_apps_dir(root: Path, apps_dir: Path) -> Path:
    """``--apps-dir`` held to the rules of the setting it overrides (``catalog.appsDir``): a
    folder inside the project, itself and every link on the way resolved. Returns it under
    ``root`` as written (not resolved), so the catalog loader refuses a symbolic link on the
    way exactly as it does for the setting. Raises :class:`PlatformError` naming the flag."""
    flag = "--apps-dir"
    if any(len(os.fsencode(part)) > constants.NAME_MAX for part in apps_dir.parts) or (
        len(os.fsencode(str(apps_dir))) >= constants.PATH_MAX
    ):
        raise PlatformError(f"{flag}: {shown(str(apps_dir))}: too long for a path")
    try:
        written = Path(os.path.normpath(Path.cwd() / apps_dir))
        resolved = apps_dir.resolve()
    except OSError as exc:
        raise PlatformError(f"{flag}: {shown(str(apps_dir))}: {exc.strerror}") from None
    real_root = root.resolve()
    if not resolved.is_relative_to(real_root):
        raise PlatformError(
            f"{flag}: {shown(str(apps_dir))} is outside the project ({real_root}); name a "
            "catalog folder inside it, as catalog.appsDir must"
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


def load_stack_inputs(
    root: Path, stack: str, apps_dir: Path | None
) -> tuple[StackSettings, Catalog]:
    """A stack's settings and the catalog it reads (``apps_dir``: ``--apps-dir``, instead of
    its ``catalog.appsDir``), both validated."""
    settings = load_stack_file(root, stack)
    apps = stack_apps_dir(root, settings, apps_dir)
    catalog = load_catalog(root, apps, reserved_namespaces=settings.platform_namespaces)
    return settings, catalog
