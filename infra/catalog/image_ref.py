"""Image tags, digests and references: Docker's tag grammar, the digest ``bump --digest``
records, and splitting ``repo:tag@digest`` (the one parser of image references: the handoff,
the catalog's checks and the policy pack all read references through :func:`parse_image_ref`).

Where the catalog writes an image's version (``apps/README.md``): a kustomize overlay's
``newTag`` and a Helm values file's tag key hold ``<tag>`` or ``<tag>@sha256:<hex>``; a plain
manifest's ``image:`` holds ``<repository>:<tag>`` or ``<repository>:<tag>@sha256:<hex>``. Each
renders as ``<repository>:<tag>@sha256:<hex>``: the tag stays readable, the digest decides what
runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from infra.errors import InputError

__all__ = [
    "DIGEST_PATTERN",
    "TAG_PATTERN",
    "ImageRef",
    "Version",
    "parse_image_ref",
    "parse_version",
    "validate_digest",
    "validate_tag",
]

TAG_PATTERN: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
"""Docker's rule for a tag: a word character, then up to 127 of word characters, '.', '-'."""
DIGEST_PATTERN: Final = re.compile(r"sha256:[0-9a-f]{64}")
"""An image (manifest) digest as registries, ``crane digest`` and ``docker buildx`` print it:
``sha256:`` and 64 lower-case hexadecimal digits (OCI's canonical form of sha256)."""


def validate_tag(tag: str, flag: str = "--tag") -> str:
    """Return ``tag`` when it is a valid image tag; raise :class:`InputError` naming ``flag``."""
    if TAG_PATTERN.fullmatch(tag) is None:
        shown = tag if len(tag) <= 140 else tag[:137] + "..."
        raise InputError(
            f"{flag}: {shown!r} is not a valid image tag (1-128 characters: letters, digits, "
            "'_', '.', '-'; it may not start with '.' or '-')"
        )
    return tag


def validate_digest(digest: str, flag: str = "--digest") -> str:
    """Return ``digest`` when it is ``sha256:<64 lower-case hex>``; raise :class:`InputError`
    naming ``flag`` otherwise."""
    if DIGEST_PATTERN.fullmatch(digest) is not None:
        return digest
    shown = digest if len(digest) <= 140 else digest[:137] + "..."
    hint = ""
    if "@" in digest:
        hint = "; give the digest alone, without the image name"
    elif re.fullmatch(r"(?i)sha256:[0-9a-f]{64}", digest):
        hint = "; the hexadecimal digits must be lower case"
    elif re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        hint = "; it starts with sha256:"
    raise InputError(
        f"{flag}: {shown!r} is not an image digest (sha256: and 64 lower-case hexadecimal "
        f"digits, as the registry reports the pushed image){hint}"
    )


@dataclass(frozen=True)
class Version:
    """What a catalog file says an environment runs: a tag, and the digest it is pinned to
    (``None``: the tag alone)."""

    tag: str
    digest: str | None = None

    def __str__(self) -> str:
        return self.tag if self.digest is None else f"{self.tag}@{self.digest}"

    def short(self) -> str:
        """For messages: ``1.4.2@sha256:0123456789ab``."""
        return self.tag if self.digest is None else f"{self.tag}@{self.digest[:19]}"


def parse_version(value: str) -> Version:
    """``1.4.2`` or ``1.4.2@sha256:...`` (a kustomize ``newTag``, a Helm tag value) as a
    :class:`Version`; nothing is validated here."""
    tag, at, digest = value.partition("@")
    return Version(tag, digest if at else None)


@dataclass(frozen=True)
class ImageRef:
    """``repository[:tag][@digest]``, as written in a manifest, a workload or an app
    definition."""

    repository: str
    tag: str | None
    """``None``: no tag at all (``app``); ``""``: an empty one (``app:``)."""
    digest: str | None
    """``None``: no digest (an empty one, ``app@``, is none either)."""

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
