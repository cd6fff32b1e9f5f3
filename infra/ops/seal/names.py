"""Secret names, namespaces and data keys, checked as Kubernetes checks them (full match: a
trailing newline is not allowed)."""

from __future__ import annotations

import re

from infra.catalog.kube_names import DNS1123_LABEL, DNS1123_SUBDOMAIN
from infra.ops.seal.limits import MAX_NAME_LENGTH, MAX_NAMESPACE_LENGTH, SealError

__all__ = ["validate_key", "validate_name", "validate_namespace"]

SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
"""Kubernetes' ``IsConfigMapKey`` (Secret data keys); used with ``fullmatch`` only."""


def validate_name(name: str, flag: str = "--name") -> None:
    """A Secret name: a DNS-1123 subdomain of at most 253 characters."""
    if len(name) > MAX_NAME_LENGTH:
        raise SealError(
            f"{flag}: the Secret name is {len(name)} characters long; "
            f"Kubernetes allows at most {MAX_NAME_LENGTH}"
        )
    if not DNS1123_SUBDOMAIN.fullmatch(name):
        raise SealError(
            f"{flag}: {name!r} is not a valid Secret name "
            "(lower-case letters, digits, '-', '.'; at most 253 characters)"
        )


def validate_namespace(namespace: str, field_name: str = "namespace") -> None:
    """A namespace: a DNS-1123 label of at most 63 characters."""
    if len(namespace) > MAX_NAMESPACE_LENGTH or not DNS1123_LABEL.fullmatch(namespace):
        raise SealError(
            f"{field_name}: {namespace!r} is not a valid namespace (a DNS-1123 label: "
            f"lower-case letters, digits, '-'; at most {MAX_NAMESPACE_LENGTH} characters)"
        )


def validate_key(key: str, flag: str) -> None:
    """A Secret data key, as Kubernetes' ``IsConfigMapKey``."""
    if len(key) > MAX_NAME_LENGTH:
        raise SealError(
            f"{flag}: the key is {len(key)} characters long; "
            f"Kubernetes allows at most {MAX_NAME_LENGTH}"
        )
    if not SECRET_KEY.fullmatch(key):
        raise SealError(
            f"{flag}: key {key!r} is not a valid Secret key (letters, digits, '-', '_', '.')"
        )
    if key in (".", "..") or key.startswith(".."):
        raise SealError(f"{flag}: key {key!r} is not a valid Secret key (may not start with '..')")
