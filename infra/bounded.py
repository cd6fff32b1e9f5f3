"""Reading input with a size bound: the one way the platform reads what it did not write.

A file, stdin, a pipe or an HTTP response is read up to its limit and one byte more: that byte
tells "too large", and the rest is never read, so a huge or endless input cannot fill memory.
A file whose size is already over the limit is refused from ``stat``, unread.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Final

from infra.errors import Problem

__all__ = ["read_at_most", "read_text_file"]

_BLOCK: Final = 1024 * 1024


def read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``stream``: more than ``limit`` of them says it holds
    more than allowed. Read in blocks, so an endless stream stops at the bound."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        block = stream.read(min(left, _BLOCK))
        if not block:
            break
        chunks.append(block)
        left -= len(block)
    return b"".join(chunks)


def read_text_file(path: Path, display: str, limit: int, *, note: str = "") -> str | Problem:
    """The UTF-8 text of the file ``path``, or the problem (naming ``display``) why not: over
    ``limit`` bytes (``note`` says what the limit is for), unreadable, or not UTF-8 text."""

    def too_large(size: str) -> Problem:
        why = f" ({note})" if note else ""
        return Problem(display, "", f"file is {size} bytes; the limit is {limit} bytes{why}")

    try:
        size = path.stat().st_size
        if size > limit:
            return too_large(str(size))
        with path.open("rb") as handle:
            raw = read_at_most(handle, limit)
    except OSError as exc:
        return Problem(display, "", f"cannot read file: {exc.strerror}")
    if len(raw) > limit:  # it grew after stat
        return too_large(f"more than {limit}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(display, "", f"not UTF-8 text: {exc.reason}")
