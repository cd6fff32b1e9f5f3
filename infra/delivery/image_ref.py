"""Image tags and references: Docker's tag grammar, and splitting ``repo:tag@digest``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from infra.delivery.errors import InputError

__all__ = ["TAG_PATTERN", "ImageRef", "parse_image_ref", "validate_tag"]

TAG_PATTERN: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
"""Docker's rule for a tag: a word character, then up to 127 of word characters, '.', '-'."""


def validate_tag(tag: str, flag: str = "--tag") -> str:
    """Return ``tag`` when it is a valid image tag; raise :class:`InputError` naming ``flag``."""
    if TAG_PATTERN.fullmatch(tag) is None:
        shown = tag if len(tag) <= 140 else tag[:137] + "..."
        raise InputError(
            f"{flag}: {shown!r} is not a valid image tag (1-128 characters: letters, digits, "
            "'_', '.', '-'; it may not start with '.' or '-')"
        )
    return tag


@dataclass(frozen=True)
class ImageRef:
    """``repository[:tag][@digest]``, as written in a manifest."""

    repository: str
    tag: str | None
    digest: str | None

    def with_tag(self, tag: str) -> str:
        return f"{self.repository}:{tag}"


def parse_image_ref(ref: str) -> ImageRef:
    """Split an image reference; a ``:`` after the last ``/`` starts the tag (a registry port
    such as ``host:5000/app`` is part of the repository)."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return ImageRef(name[:colon], name[colon + 1 :], digest or None)
    return ImageRef(name, None, digest or None)
