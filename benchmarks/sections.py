"""docs/benchmarks.md is written by several scripts: `run.py` writes the whole page, and each
focused benchmark (`plan.py`, `crds.py`) owns one section between two markers, kept when
another script rewrites the page."""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(
    r"<!-- begin: benchmarks/(?P<name>[\w.]+) -->.*?<!-- end: benchmarks/(?P=name) -->", re.S
)


def markers(script: str) -> tuple[str, str]:
    """The begin and end markers of ``benchmarks/<script>``'s section."""
    return f"<!-- begin: benchmarks/{script} -->", f"<!-- end: benchmarks/{script} -->"


def write_section(output: Path, script: str, body: str) -> str:
    """Put ``body`` between ``script``'s markers in ``output`` (appended when absent)."""
    begin, end = markers(script)
    section = f"{begin}\n{body.rstrip()}\n{end}"
    text = output.read_text() if output.exists() else ""
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    output.write_text(text)
    return section


def kept_sections(output: Path) -> list[str]:
    """Every script-owned section of the page as it is now (``run.py`` keeps them)."""
    text = output.read_text() if output.exists() else ""
    return [m.group(0) for m in _SECTION.finditer(text)]
