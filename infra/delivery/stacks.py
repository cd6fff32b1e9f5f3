"""Which stack a delivery command acts for, read from its ``Pulumi.<stack>.yaml``.

A stack's settings are the one source of truth for what it deploys: its environment
(``gitops-platform:environment``), its branch (``git.branch``, default the environment) and
its catalog folder (``catalog.appsDir``). The commands name the stack (``--stack``); naming only
an environment (``--env``) finds the one stack that deploys it, and refuses to guess between
several. A stack's name means nothing by itself: ``prod-eu`` with ``environment: prod`` is prod.
"""

from __future__ import annotations

from pathlib import Path

from infra import constants
from infra.delivery.errors import InputError
from infra.errors import Problem, ValidationError
from infra.settings import StackSettings, load_stack_file

__all__ = ["find_stack", "resolve_stack", "stack_names"]


def stack_names(root: Path) -> list[str]:
    """The stacks whose ``Pulumi.<stack>.yaml`` is in ``root``, sorted."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


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
