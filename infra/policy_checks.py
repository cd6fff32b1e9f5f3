"""Policy checks the CrossGuard pack (policy/) cannot make, made by the program instead.

What a policy pack sees is what the engine hands an analyzer: each registered resource's
inputs and options. Two of the platform's rules need more than that, so they live here, as pure
functions of plain data, for the program and ``platformctl`` to call:

- **No plaintext secrets in stack config.** The engine sends the stack config to a policy pack
  (``ConfigureStack``), but pulumi-policy 1.21 keeps only the stack tags from it.
- **Chart versions pinned.** pulumi-kubernetes registers a Chart v4 component without its
  inputs, so the pack never sees a Chart's ``chart`` and ``version``; the program's charts
  are pinned by the settings schema (``infra.settings``: exact versions only).

``policy/rules.py`` uses :func:`chart_pin_violation` too, for the chart resources whose inputs
the engine does show (Helm Release v3): one rule, two places it is enforced.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from infra.errors import Problem

MAX_CHART_ARCHIVE_BYTES = 64 * 1024 * 1024

__all__ = [
    "CHART_TYPES",
    "chart_archive_problems",
    "chart_pin_violation",
    "plaintext_secret_problems",
]

CHART_TYPES = ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release")
"""Resources that install a Helm chart named by ``chart`` and pinned by ``version``."""

_EXACT_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
"""An exact SemVer 2 version as Helm accepts it (optional leading ``v``): no range."""


def _is_local_archive(chart: str) -> bool:
    return "://" not in chart and chart.endswith((".tgz", ".tar.gz"))


def chart_pin_violation(chart: str | None, version: str | None) -> str | None:
    """Why a chart is not pinned, or None: it needs an exact ``version``, unless ``chart`` is a
    local chart archive (``.tgz``), which pins itself."""
    if not chart:
        return "`chart` is not set; name the chart and pin an exact `version`"
    if _is_local_archive(chart):
        return None
    if not version:
        return (
            f"chart {chart!r} has no `version` (Helm would install whatever is newest); pin an "
            "exact version such as 10.1.1, or use a local chart archive (.tgz)"
        )
    if not _EXACT_VERSION.fullmatch(version):
        return (
            f"chart {chart!r} version {version!r} is not an exact version (ranges and wildcards "
            "float); pin an exact version such as 10.1.1"
        )
    return None


def chart_archive_problems(paths: Mapping[str, str], root: Path, file: str) -> list[Problem]:
    """Every local chart archive (``<section>.chart.path`` -> path, relative to ``root``) that
    is not a regular file of at most :data:`MAX_CHART_ARCHIVE_BYTES`: missing, a folder, a
    FIFO or a device (never opened: a FIFO would block the program). A link to an archive is
    fine (the shared chart folder may be one). Reads only ``stat``."""
    problems: list[Problem] = []
    for field, raw in sorted(paths.items()):
        path = Path(raw) if Path(raw).is_absolute() else root / raw
        try:
            info = os.stat(path)
        except OSError as exc:
            problems.append(Problem(file, field, f"chart archive {raw}: {exc.strerror}"))
            continue
        if not stat.S_ISREG(info.st_mode):
            problems.append(Problem(file, field, f"chart archive {raw}: not a regular file"))
        elif info.st_size > MAX_CHART_ARCHIVE_BYTES:
            problems.append(
                Problem(file, field, f"chart archive {raw}: larger than 64 MiB; not a chart")
            )
    return problems


# -- no plaintext secrets in stack config ---------------------------------------------------

_SECRET_NAME = re.compile(
    r"(password|passwd|passphrase|secret|token|apikey|privatekey|accesskey|secretkey|"
    r"credentials?|clientsecret)$"
)
"""A key whose last word says it holds a secret (compared lower-case, without ``-`` and
``_``): ``adminPassword``, ``api_key``, ``githubToken``; not ``passwordMtime``, ``secretName``
or ``tokenTTL``."""

_SECRET_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a URL with a password", re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)),
    # A token as the user name (https://<token>@host/...): HTTP has no user without a secret.
    ("a URL with credentials in its user info", re.compile(r"^https?://[^/\s@?#]+@", re.I)),
    # Signed URLs and chat webhooks carry the credential in the query (?token=, ?sig=, ?key=).
    (
        "a URL with a query string",
        re.compile(r"^[a-z][a-z0-9+.-]*://[^\s?#]*\?[^\s#]*=[^&\s#]", re.I),
    ),
    # Webhook URLs whose path is the credential.
    (
        "a webhook URL (its path is the credential)",
        re.compile(
            r"^https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/"
            r"|(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/"
            r"|[^/\s]+\.webhook\.office\.com/|outlook\.office(?:365)?\.com/webhook/"
            r"|api\.telegram\.org/bot|hooks\.zapier\.com/hooks/"
            r"|[^/\s]+/hooks/[a-z0-9]{20,}(?:[/?#]|$))",
            re.I,
        ),
    ),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,})")),
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
)
"""Values that are credentials whatever their key is called."""


def _is_encrypted(value: Any) -> bool:
    """A ``pulumi config set --secret`` value as the stack file holds it: ``{secure: ...}``."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _leaves(value: Any, path: str, key: str) -> Iterator[tuple[str, str, str]]:
    """(path, the key holding it, value) of every plaintext string under ``value``."""
    if _is_encrypted(value):
        return
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _leaves(item, f"{path}.{name}", str(name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]", key)
    elif isinstance(value, str):
        decoded = _json_object(value)
        if decoded is not None:
            yield from _leaves(decoded, path, key)
        else:
            yield path, key, value


def _json_object(text: str) -> Any:
    """The engine hands the program object config as JSON text: the object, else None."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _secret_reason(key: str, value: str) -> str | None:
    if not value.strip():
        return None
    for what, pattern in _SECRET_VALUES:
        if pattern.search(value):
            return f"the value is {what}"
    if _SECRET_NAME.search(key.lower().replace("-", "").replace("_", "")):
        return f"`{key}` names a secret"
    return None


def plaintext_secret_problems(
    config: Mapping[str, Any], file: str, secret_keys: Collection[str] = ()
) -> list[Problem]:
    """Every config value that looks like a secret but is stored in plaintext.

    ``config`` maps full keys (``gitops-platform:git``, ``aws:region``) to their values, in
    either shape: as ``Pulumi.<stack>.yaml`` holds them (an encrypted value is
    ``{secure: ...}``), or as the engine hands them to the program (objects as JSON text,
    secrets decrypted, their keys in ``secret_keys``). A value is suspect when its key's last
    word names a secret (``password``, ``token``, ``apiKey`` ...) or when it is a credential
    whatever its key (a URL with a password, a private key, a GitHub/AWS/Slack token). Pure.
    """
    problems: list[Problem] = []
    for key in sorted(config):
        if key in secret_keys:
            continue
        for path, last, value in _leaves(config[key], key, key.rsplit(":", 1)[-1]):
            reason = _secret_reason(last, value)
            if reason:
                problems.append(
                    Problem(
                        file,
                        path,
                        f"looks like a plaintext secret ({reason}); store it encrypted with "
                        f"`pulumi config set --secret --path '{path}' <value>`, or remove it",
                    )
                )
    return problems
