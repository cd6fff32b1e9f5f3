"""Which Argo CD Applications a change adds, changes or removes, as a markdown table.

Input: two outputs of ``platformctl expand --stack X`` (multi-document YAML of Applications),
one from the pull request's base and one from its head. Applications are matched by
``metadata.namespace/metadata.name``; a changed one lists the fields that differ (dotted paths,
``old -> new``). Pure: text in, text out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from infra.errors import InputError
from infra.yamlio import read_documents

__all__ = [
    "MARKER",
    "AppChange",
    "diff_applications",
    "diff_files",
    "load_applications",
    "read_applications",
    "render_markdown",
    "render_table",
]

MARKER: Final = "<!-- platformctl:app-diff -->"
"""First line of the rendered comment, so a workflow can find and update its own comment."""
MAX_DETAILS: Final = 8
MAX_VALUE: Final = 60

ChangeKind = Literal["added", "changed", "removed"]
_ORDER: Final = {"added": 0, "changed": 1, "removed": 2}


@dataclass(frozen=True)
class AppChange:
    key: str
    """``namespace/name`` of the Application."""
    kind: ChangeKind
    details: tuple[str, ...]


def load_applications(text: str, file: str) -> dict[str, dict[str, Any]]:
    """The Applications of one expand output, by ``namespace/name``."""
    read = read_documents(text, file, strict=False)
    if read.problems:
        first = read.problems[0]
        field = f" {first.field}:" if first.field else ""
        line = f" (line {first.line})" if first.line else ""
        raise InputError(f"{file}:{field} {first.message}{line}")
    documents = read.documents
    apps: dict[str, dict[str, Any]] = {}
    for index, doc in enumerate(documents, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InputError(f"{file}: document {index} is not a mapping")
        if doc.get("kind") != "Application":
            continue
        metadata = doc.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(name, str) or not name:
            raise InputError(f"{file}: document {index} (Application) has no metadata.name")
        namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
        key = f"{namespace}/{name}" if namespace else name
        if key in apps:
            raise InputError(f"{file}: Application {key} appears twice")
        apps[key] = doc
    return apps


def read_applications(path: Path) -> dict[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    return load_applications(text, str(path))


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, child in value.items():
            yield from _flatten(child, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield from _flatten(child, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 3] + "..."
    return _code(text)


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before = dict(_flatten(old))
    after = dict(_flatten(new))
    lines = []
    for path in sorted(before.keys() | after.keys()):
        if path in before and path in after:
            if before[path] != after[path]:
                lines.append(f"{_code(path)}: {_show(before[path])} → {_show(after[path])}")
        elif path in after:
            lines.append(f"{_code(path)}: added {_show(after[path])}")
        else:
            lines.append(f"{_code(path)}: removed (was {_show(before[path])})")
    if len(lines) > MAX_DETAILS:
        lines = [*lines[: MAX_DETAILS - 1], f"... and {len(lines) - MAX_DETAILS + 1} more"]
    return lines


def _where(app: dict[str, Any]) -> str:
    spec = app.get("spec") or {}
    destination = (spec.get("destination") or {}).get("namespace", "?")
    sources = spec.get("sources") or ([spec["source"]] if spec.get("source") else [])
    shown = []
    for source in sources:
        if not isinstance(source, dict) or source.get("ref"):
            continue
        if source.get("chart"):
            shown.append(f"chart {source['chart']}@{source.get('targetRevision', '?')}")
        else:
            shown.append(f"{source.get('path', '.')}@{source.get('targetRevision', '?')}")
    origin = ", ".join(shown) or "no source"
    project = str(spec.get("project", "?"))
    where = f"namespace {_code(str(destination))}, project {_code(project)}, {_code(origin)}"
    cluster = (spec.get("destination") or {}).get("name")
    return f"cluster {_code(str(cluster))}, {where}" if cluster else where


def diff_applications(
    base: Mapping[str, dict[str, Any]], head: Mapping[str, dict[str, Any]]
) -> list[AppChange]:
    """Added, changed and removed Applications (unchanged ones are left out)."""
    changes = []
    for key in sorted(base.keys() | head.keys()):
        if key not in base:
            changes.append(AppChange(key, "added", (_where(head[key]),)))
        elif key not in head:
            changes.append(AppChange(key, "removed", (_where(base[key]),)))
        elif base[key] != head[key]:
            changes.append(AppChange(key, "changed", tuple(_field_changes(base[key], head[key]))))
    return sorted(changes, key=lambda c: (_ORDER[c.kind], c.key))


def render_markdown(
    changes: list[AppChange], *, total_base: int, total_head: int, title: str
) -> str:
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in _ORDER}
    unchanged = total_head - counts["added"] - counts["changed"]
    lines = [
        MARKER,
        f"### {title}",
        "",
        f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed, "
        f"{unchanged} unchanged ({total_base} before, {total_head} after).",
    ]
    if not changes:
        lines += ["", "No Argo CD Application appears, changes or disappears."]
        return "\n".join(lines) + "\n"
    lines += ["", *render_table(changes)]
    return "\n".join(lines) + "\n"


def diff_files(base: Path, head: Path, *, title: str) -> str:
    """``platformctl app-diff``: the Markdown comment of what ``head`` (an expand output file)
    changes against ``base``."""
    before = read_applications(base)
    after = read_applications(head)
    changes = diff_applications(before, after)
    return render_markdown(changes, total_base=len(before), total_head=len(after), title=title)


def render_table(changes: list[AppChange]) -> list[str]:
    """The Markdown table of ``changes`` (also the plan's), one line a row."""
    lines = ["| Application | Change | Details |", "| --- | --- | --- |"]
    for change in changes:
        details = "<br>".join(change.details).replace("|", "\\|")
        lines.append(f"| {_code(change.key)} | {change.kind} | {details} |")
    return lines
