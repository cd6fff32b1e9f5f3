"""Kubernetes names, checked as the API server checks them (pure): the one place their patterns
are written.

A pattern for pydantic (``*_PATTERN``) is anchored with ``^...$``: its Rust engine searches,
and there ``$`` is the end of the text. A compiled pattern is for Python and is matched whole
(``\\Z`` or ``fullmatch``): Python's ``$`` also matches before a trailing newline.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import StringConstraints

from infra.catalog.strict import checked

__all__ = [
    "DNS1035_LABEL_PATTERN",
    "DNS1123_LABEL",
    "DNS1123_LABEL_PATTERN",
    "DNS1123_LABEL_TEXT",
    "DNS1123_SUBDOMAIN",
    "LABEL_KEY",
    "LABEL_VALUE",
    "MAX_LABEL_KEY_LENGTH",
    "MAX_LABEL_LENGTH",
    "DnsLabel",
    "LabelKey",
    "LabelValue",
    "is_dns_label",
    "label_key_problem",
    "label_value_problem",
]

MAX_LABEL_LENGTH: Final = 63
"""The longest DNS-1123 (and DNS-1035) label."""

DNS1123_LABEL_TEXT: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
"""The label's regular expression, unanchored: to build patterns of several labels."""
_LABEL = DNS1123_LABEL_TEXT

DNS1123_LABEL_PATTERN: Final = rf"^{_LABEL}$"
"""A DNS-1123 label (a namespace, most object names): lower-case alphanumerics and '-', not
at either end; for pydantic."""
DNS1123_LABEL: Final = re.compile(rf"{_LABEL}\Z")
r"""The same label for Python: ``\Z`` (not ``$``), so even ``DNS1123_LABEL.match`` matches
whole names only; prefer ``fullmatch``."""
DNS1123_SUBDOMAIN: Final = re.compile(rf"{_LABEL}(\.{_LABEL})*")
"""A DNS-1123 subdomain (a Secret's name): labels joined by '.'; used with ``fullmatch``."""
DNS1035_LABEL_PATTERN: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
"""A DNS-1035 label (a Service's name): a DNS-1123 label that starts with a letter; for
pydantic."""

DnsLabel = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_LABEL_LENGTH, pattern=DNS1123_LABEL_PATTERN),
]
"""A field holding a DNS-1123 label."""


def is_dns_label(name: str) -> bool:
    """Whether ``name`` is a DNS-1123 label of at most 63 characters."""
    return len(name) <= MAX_LABEL_LENGTH and DNS1123_LABEL.fullmatch(name) is not None


_QUALIFIED_NAME = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)"
LABEL_KEY: Final = re.compile(rf"({_LABEL}(\.{_LABEL})*/)?{_QUALIFIED_NAME}\Z")
"""A label or annotation key: an optional DNS-1123 subdomain prefix (at most 253 characters)
and ``/``, then a name of at most 63 alphanumerics, ``-``, ``_`` and ``.``; for Python."""
LABEL_VALUE: Final = re.compile(rf"{_QUALIFIED_NAME}?\Z")
"""A label value: empty, or at most 63 alphanumerics, ``-``, ``_`` and ``.``, alphanumeric at
either end; for Python."""


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a label (or annotation) key, or ``None``."""
    prefix, _, name = key.rpartition("/")
    if LABEL_KEY.fullmatch(key) is None or len(name) > MAX_LABEL_LENGTH or len(prefix) > 253:
        return (
            f"{key!r} is not a label key: [prefix/]name, the prefix a DNS subdomain of at most "
            "253 characters, the name at most 63 alphanumerics, '-', '_' or '.'"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a label value, or ``None``."""
    if len(value) > MAX_LABEL_LENGTH or LABEL_VALUE.fullmatch(value) is None:
        return (
            f"{value!r} is not a label value: at most 63 alphanumerics, '-', '_' or '.', "
            "alphanumeric at either end"
        )
    return None


MAX_LABEL_KEY_LENGTH: Final = 253 + 1 + MAX_LABEL_LENGTH
"""The longest label key: a 253-character prefix, ``/`` and a 63-character name."""

LabelKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_LABEL_KEY_LENGTH),
    checked(label_key_problem),
]
"""A field holding a label key (a label selector's, a Secret's labels)."""
LabelValue = Annotated[
    str, StringConstraints(max_length=MAX_LABEL_LENGTH), checked(label_value_problem)
]
"""A field holding a label value."""
