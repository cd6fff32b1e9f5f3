"""Reading settings: from the engine's config (the program) or from ``Pulumi.<stack>.yaml``
directly (``platformctl``), through one :func:`parse_settings`, so both agree on every default
and every message. Pure but for :func:`load_stack_file`, which reads the file."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from infra import constants
from infra.errors import Problem, ValidationError, problems_from_pydantic
from infra.policy_checks import plaintext_secret_problems
from infra.settings.checks import stack_problems
from infra.settings.stack import KNOWN_KEYS, StackSettings
from infra.yamlio import load_file

__all__ = ["config_key_problems", "load_stack_file", "parse_settings", "settings_from_engine"]

_UNIONS = {"cluster": ("kind", "kwok", "existing")}
"""The discriminated unions of the settings: field -> tags (pydantic puts the tag in the
location; users write ``cluster.name``, not ``cluster.kind.name``)."""


def _reworded(error: Mapping[str, Any], default: str) -> str | None:
    if error["type"] == "union_tag_not_found":
        return "`provider` is required: one of kind, kwok, existing"
    if error["type"] == "string_pattern_mismatch" and "trustedRegistries" in error["loc"]:
        return (
            "must be host[:port], optionally followed by /path segments (ghcr.io/example-org, "
            "127.0.0.1:5000/shop): lower case, no scheme, wildcard, trailing slash, tag, "
            "digest or credentials"
        )
    if error["type"] == "string_pattern_mismatch" and tuple(error["loc"][-2:]) == (
        "git",
        "repoURL",
    ):
        return (
            "must be an https://, ssh:// or git@host: URL (file:/// or "
            "http://127.0.0.1[:port]/ for a repository on this machine)"
        )
    return None


def parse_settings(
    stack: str, values: Mapping[str, Any], file: str, root: Path | None = None
) -> StackSettings:
    """Validate the project's config keys (without the ``gitops-platform:`` prefix).

    Raises :class:`ValidationError` naming every bad or missing key; pure.
    """
    problems = [
        Problem(
            file,
            f"{constants.PROJECT}:{key}",
            f"unknown key; expected one of {', '.join(KNOWN_KEYS)}",
        )
        for key in sorted(values)
        if key not in KNOWN_KEYS
    ]
    data: dict[str, Any] = {k: v for k, v in values.items() if k in KNOWN_KEYS}
    data["stack"] = stack
    if root is not None:
        data["root"] = str(root)
    if "environment" not in data:
        if stack in constants.ENVIRONMENTS:
            data["environment"] = stack
        else:
            problems.append(
                Problem(
                    file,
                    f"{constants.PROJECT}:environment",
                    f"required for stack {stack!r}: one of {', '.join(constants.ENVIRONMENTS)}",
                )
            )
    if problems:
        raise ValidationError(problems)
    try:
        settings = StackSettings.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(
            problems_from_pydantic(
                file,
                exc,
                prefix=f"{constants.PROJECT}:",
                noun="key",
                # Stack settings hold URLs, paths and secrets' neighbours: never echoed.
                show_input=False,
                unions=_UNIONS,
                message_for=_reworded,
            )
        ) from None
    problems = stack_problems(settings, file)
    if problems:
        raise ValidationError(problems)
    return settings


def _decode_engine_value(raw: str) -> Any:
    """The engine passes object config as JSON text and scalars as plain strings."""
    text = raw.strip()
    if text.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def config_key_problems(keys: Iterable[str], file: str) -> list[Problem]:
    """Keys of a stack's ``config:`` that would be silently ignored: a key without a namespace
    (``environment:`` for ``gitops-platform:environment``) and a namespace one typo away from
    the project's (``gitops-platfrom:``, ``GitOps_Platform:``). Refused, not warned about: a
    warning scrolls past in ``pulumi up`` while the setting it meant is dropped. Pure."""
    problems = []
    squashed = _squash(constants.PROJECT)
    for key in sorted(keys):
        namespace, colon, name = key.partition(":")
        if not colon or not namespace:
            problems.append(
                Problem(
                    file,
                    key,
                    f"a config key needs a namespace: `{constants.PROJECT}:{name or key}` for "
                    "this project's settings, `<provider>:<key>` for a provider's",
                )
            )
        elif namespace != constants.PROJECT and (
            _squash(namespace) == squashed
            or difflib.SequenceMatcher(None, namespace.lower(), constants.PROJECT).ratio() >= 0.85
        ):
            problems.append(
                Problem(
                    file,
                    key,
                    f"unknown namespace {namespace!r}: did you mean `{constants.PROJECT}:{name}`? "
                    "(keys under another namespace are ignored by this project)",
                )
            )
    return problems


def _squash(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(".", "")


def settings_from_engine(
    stack: str, config: Mapping[str, str], file: str, root: Path | None = None
) -> StackSettings:
    """Build settings from the engine's flat config map (``gitops-platform:key`` -> text)."""
    prefix = f"{constants.PROJECT}:"
    misnamed = config_key_problems(config, file)
    if misnamed:
        raise ValidationError(misnamed)
    values = {
        key[len(prefix) :]: _decode_engine_value(value)
        for key, value in config.items()
        if key.startswith(prefix)
    }
    return parse_settings(stack, values, file, root)


def load_stack_file(project_root: Path, stack: str) -> StackSettings:
    """Read ``Pulumi.<stack>.yaml`` directly (no engine needed) and validate it."""
    if not stack or "/" in stack or stack.startswith("."):
        raise ValidationError([Problem("--stack", "", f"invalid stack name {stack!r}")])
    path = project_root / constants.stack_file(stack)
    display = path.name
    if not path.is_file():
        raise ValidationError([Problem(display, "", f"stack file not found in {project_root}")])
    loaded = load_file(path, display, 256 * 1024)
    if loaded.problems:
        raise ValidationError(loaded.problems)
    document = loaded.data or {}
    if not isinstance(document, dict):
        raise ValidationError([Problem(display, "", "must be a mapping with a `config:` key")])
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ValidationError([Problem(display, "config", "must be a mapping")])
    prefix = f"{constants.PROJECT}:"
    problems = config_key_problems(map(str, config), display)
    problems += plaintext_secret_problems(config, display)
    if problems:
        raise ValidationError(problems)
    values = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    return parse_settings(stack, values, display, project_root)
