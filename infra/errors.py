"""The platform's error types and exit codes, and the one formatter of pydantic's errors.

Every error the platform raises on purpose is a :class:`PlatformError`, and its class says the
exit code a command ends with (:attr:`PlatformError.exit_code`). Every user error is a
:class:`Problem` (file, field, message); functions of the core collect all problems and raise
one :class:`ValidationError`. Only the CLI edge and the Pulumi entry point turn an error into an
exit code or a Pulumi error, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_GIT",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "GitError",
    "InputError",
    "PlatformError",
    "Problem",
    "UsageError",
    "ValidationError",
    "field_path",
    "problems_from_pydantic",
    "redact_url",
    "redact_urls",
    "sensitive_field",
    "shown",
]

# -- exit codes: every command's, the same everywhere (README, "platformctl") ------------------

EXIT_OK: Final = 0
"""Done (a command that changes something: changed, or it already was as asked)."""
EXIT_INVALID: Final = 1
"""Invalid input (a flag's value, a stack file, the catalog, a file a command reads), a refusal,
or output that cannot be written: every :class:`PlatformError` unless its class says otherwise."""
EXIT_USAGE: Final = 2
"""Command-line usage: an unknown or missing option (reported by the parser), or flags that do
not go together (:class:`UsageError`)."""
EXIT_GIT: Final = 3
"""The git working copy or remote refused: not a repository, missing branch, uncommitted
changes, or the push still failed after every retry (:class:`GitError`)."""
EXIT_BROKEN_PIPE: Final = 141
"""The reader of standard output went away (128 + SIGPIPE, as a shell reports it); no
message."""


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
    """Base class of every error the platform raises on purpose; the message names the flag,
    file, field or command, and the class the exit code (a subclass overrides it)."""

    exit_code: ClassVar[int] = EXIT_INVALID


class UsageError(PlatformError):
    """Flags that do not go together (the parser catches the rest of the usage errors)."""

    exit_code: ClassVar[int] = EXIT_USAGE


class InputError(PlatformError):
    """A command's request or the files it reads are invalid; nothing was changed (exit 1)."""


class GitError(PlatformError):
    """A git precondition or command failed (working copy, branch, remote, push): exit 3."""

    exit_code: ClassVar[int] = EXIT_GIT


class ValidationError(PlatformError):
    """One or more :class:`Problem` s; the message lists them all, one a line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(p) for p in self.problems))


# -- values in messages ------------------------------------------------------------------------

SHOWN_CHARS: Final = 80
"""An over-long value (a path, an argument) is shown cut to this many characters."""


def shown(text: str) -> str:
    """``text`` as a message shows it: cut to :data:`SHOWN_CHARS`, with its length, when
    longer."""
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[: SHOWN_CHARS - 3]}... ({len(text)} characters)"


# -- redaction ---------------------------------------------------------------------------------

_SENSITIVE_NAME = re.compile(
    r"(url|uri|repository|password|passwd|token|secret|credential|auth|apikey|api_key)",
    re.IGNORECASE,
)


def sensitive_field(name: str) -> bool:
    """Whether a field's value may hold a credential (URLs, passwords, tokens): its input is
    never printed in a message."""
    return bool(_SENSITIVE_NAME.search(name))


def redact_url(url: str) -> str:
    """``url`` safe to print: user information replaced by ``***``, the query string and the
    fragment by ``***`` (tokens travel there). Something that is not a URL at all becomes
    ``***`` when it holds an ``@`` or ``?`` (it may still carry a credential)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        query = "***" if parts.query else ""
        fragment = "***" if parts.fragment else ""
        if parts.scheme and netloc:
            return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    except ValueError:
        pass
    if "@" in url or "?" in url or "#" in url:
        return "***"
    return url


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


def redact_urls(text: str) -> str:
    """``text`` (a tool's message, a command line) with every URL in it made safe to print by
    :func:`redact_url`: the one redaction, whether a URL stands alone or inside words."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


# -- pydantic errors -----------------------------------------------------------------------------


def field_path(loc: Sequence[int | str], unions: Mapping[str, Iterable[str]] | None = None) -> str:
    """A pydantic location as users write it: ``strategy.steps[0].setWeight``. ``unions``: a
    discriminated union field -> its members' tags, which pydantic adds to the location after
    the field (users write ``source.path``, not ``source.helm.path``); ``[key]`` (the problem
    is the key itself) is dropped too."""
    members = {field: frozenset(tags) for field, tags in (unions or {}).items()}
    out = ""
    last = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]" or part in members.get(last, ()):
            continue
        else:
            out = f"{out}.{part}" if out else str(part)
            last = part
    return out


def _last_name(loc: Sequence[int | str]) -> str:
    return next((str(part) for part in reversed(loc) if isinstance(part, str)), "")


def _shown(error: Mapping[str, Any]) -> str:
    """The input value of an error, as it may be printed: never a sensitive field's value."""
    value = error.get("input")
    if sensitive_field(_last_name(error["loc"])) or not isinstance(value, str | int | float):
        return "the value"
    text = repr(value)
    return repr(redact_url(value)) if isinstance(value, str) and "://" in value else text


def _message(error: Mapping[str, Any], noun: str, hint: str | None, show_input: bool) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"unknown {noun}"
    if kind == "missing":
        return f"required {noun} is missing"
    if kind in ("value_error", "assertion_error"):
        # Our own validators word these, and never echo a credential.
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "string_pattern_mismatch" and show_input:
        rule = hint or f"expected pattern {ctx.get('pattern')}"
        return f"{_shown(error)} is not valid here ({rule})"
    if kind == "union_tag_invalid":
        tags = str(ctx.get("expected_tags", "")).replace("'", "")
        what = str(ctx.get("discriminator", "")).strip("'")
        return f"unknown {what} {ctx.get('tag')!r}; expected one of {tags}"
    if kind == "union_tag_not_found":
        what = str(ctx.get("discriminator", "")).strip("'")
        return f"`{what}` is required"
    if kind == "literal_error" and error["loc"] and error["loc"][-1] == "[key]":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"unknown key {_shown(error)}; expected one of {expected}"
    # pydantic's own wording, which names the rule and not the input value.
    return str(error["msg"])


def problems_from_pydantic(
    file: str,
    exc: Any,
    *,
    prefix: str = "",
    noun: str = "field",
    show_input: bool = True,
    unions: Mapping[str, Iterable[str]] | None = None,
    line_for: Callable[[str], int | None] | None = None,
    hint_for: Callable[[Sequence[int | str]], str | None] | None = None,
    message_for: Callable[[Mapping[str, Any], str], str | None] | None = None,
) -> list[Problem]:
    """One :class:`Problem` per error of a pydantic ``ValidationError``: the field as users
    write it (``prefix`` + :func:`field_path`), a readable message, the line. The input value is
    printed only with ``show_input`` and for non-sensitive fields, and a URL in it is redacted;
    pydantic's own wording (``String should match pattern ...``) never holds the input.

    ``hint_for(loc)`` gives a readable rule for a pattern mismatch; ``message_for(error,
    default)`` may reword a message (``None``: keep the default)."""
    problems = []
    for error in exc.errors(include_url=False, include_context=True, include_input=True):
        field = field_path(error["loc"], unions)
        hint = hint_for(error["loc"]) if hint_for else None
        message = _message(error, noun, hint, show_input)
        if message_for is not None:
            message = message_for(error, message) or message
        line = line_for(field) if line_for else None
        problems.append(Problem(file, f"{prefix}{field}", message, line))
    return problems
