"""Comment-preserving edits of YAML files people wrote: the platform's one round-trip module.

Two kinds of edit, both built on ruamel.yaml (everything else reads and writes YAML through
:mod:`infra.yamlio`):

- :class:`YamlDocument` rewrites single scalars in place; every other byte of the file stays as
  it was. ruamel.yaml composes the file (every document of it) into nodes that carry their
  position in the text. An edit replaces exactly the characters of the target scalar token,
  keeping its quoting style, so comments, key order, indentation, anchors elsewhere, document
  separators, a byte-order mark and CRLF line endings are untouched and the diff is one line
  per scalar. A full load-and-dump round trip could not promise that (it re-indents sequences,
  re-wraps long lines and rewrites flow collections), so the dump is never used:
  :func:`verify_edit` composes the result again and checks that it differs from the original in
  the target scalars only. Targets are refused when an in-place edit could not change just
  them: block or multi-line scalars, empty values, and nodes shared through an anchor
  (``&a`` ... ``*a``, or ``<<``).
- :class:`RoundTrip` loads a document, lets the caller change it (add to a list) and dumps it
  back with its comments, quoting, key order and sequence indentation kept (``platformctl
  seal`` adding a manifest to a kustomization's ``resources:``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from infra.errors import InputError

__all__ = [
    "BOM",
    "Located",
    "RoundTrip",
    "YamlDocument",
    "display_path",
    "parse_yaml",
    "render_scalar",
    "verify_edit",
]

BOM: Final = "\ufeff"
MERGE_TAG: Final = "tag:yaml.org,2002:merge"
NULL_WORDS: Final = frozenset({"~", "null", "Null", "NULL"})
# YAML 1.1 words Go's yaml.v2 (Helm, sigs.k8s.io/yaml) reads as booleans.
_YAML11_BOOL: Final = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off"})
# Go yaml.v2 / YAML 1.1 numbers (with '_' separators, octal, binary, hex, floats).
_NUMBER: Final = re.compile(
    r"[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|\.[0-9_]+([eE][-+]?[0-9]+)?)"
)
_PROPERTY: Final = re.compile(r"(?:[&!][^\s]*\s+)*")

PathPart = str | int


def display_path(path: Sequence[PathPart]) -> str:
    """``("images", 0, "newTag")`` -> ``images[0].newTag``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out or "(document)"


def _tag(node: Any) -> str:
    tag = node.tag
    return str(getattr(tag, "value", tag))


@dataclass(frozen=True)
class Located:
    """A scalar found in a document: where it is and the nodes leading to it."""

    document: int
    path: tuple[PathPart, ...]
    chain: tuple[Any, ...]
    """Every node from the document root down to the scalar (both included)."""

    @property
    def node(self) -> Any:
        return self.chain[-1]

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    @property
    def is_scalar(self) -> bool:
        return isinstance(self.node, ScalarNode)

    @property
    def value(self) -> str:
        return str(self.node.value)


class YamlDocument:
    """One YAML file: its text and its composed documents (one or more)."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.text = text
        self.bom = text.startswith(BOM)
        self.body = text[len(BOM) :] if self.bom else text
        self.documents: list[Any] = _compose(self.body, file)
        self._counts = [_reference_counts(doc) for doc in self.documents]

    # -- finding -------------------------------------------------------------------------------

    def lookup(self, document: int, path: Sequence[PathPart]) -> Located | None:
        """The node at ``path`` (mapping keys and sequence indexes), or ``None``."""
        node = self.documents[document]
        chain = [node]
        for part in path:
            node = _child(node, part, self.file)
            if node is None:
                return None
            chain.append(node)
        return Located(document, tuple(path), tuple(chain))

    def walk(self) -> Iterator[Located]:
        """Every node of every document, depth first; a shared node is visited once."""
        for index, doc in enumerate(self.documents):
            seen: set[int] = set()
            stack: list[tuple[tuple[PathPart, ...], tuple[Any, ...]]] = [((), (doc,))]
            while stack:
                path, chain = stack.pop()
                node = chain[-1]
                if id(node) in seen:
                    continue
                seen.add(id(node))
                yield Located(index, path, chain)
                children = list(_children(node))
                for part, child in reversed(children):
                    stack.append(((*path, part), (*chain, child)))

    def shared(self, located: Located) -> bool:
        """Whether the scalar or a node above it is reachable more than once (an anchor that
        an alias or a merge key ``<<`` reuses): changing it would change the other places."""
        counts = self._counts[located.document]
        return any(counts.get(id(node), 0) > 1 for node in located.chain)

    def has_merge_key(self, node: Any) -> bool:
        return isinstance(node, MappingNode) and any(
            _tag(key) == MERGE_TAG for key, _ in node.value
        )

    # -- editing -------------------------------------------------------------------------------

    def token_span(self, located: Located) -> tuple[int, int]:
        """Start and end (in the text without BOM) of the scalar token itself: without its
        anchor or tag, and refusing what cannot be replaced on one line."""
        node = located.node
        where = f"{self.file}: {display_path(located.path)} (line {located.line})"
        if not isinstance(node, ScalarNode):
            raise InputError(f"{where}: expected a single value, found a {_kind(node)}")
        if node.style in ("|", ">"):
            raise InputError(f"{where}: is a block scalar ({node.style}); write it on one line")
        if node.style is None and node.value == "":
            raise InputError(f"{where}: has no value; write the current tag there once")
        start, end = int(node.start_mark.index), int(node.end_mark.index)
        skip = _PROPERTY.match(self.body, start, end)
        start = skip.end() if skip is not None else start
        token = self.body[start:end]
        if "\n" in token or "\r" in token:
            raise InputError(f"{where}: spans several lines; write it on one line")
        quote = node.style if node.style in ("'", '"') else ""
        found = (
            len(token) >= 2 and token[0] == quote and token[-1] == quote
            if quote
            else token == node.value
        )
        if not found:
            raise InputError(f"{where}: cannot find the value in the text")  # pragma: no cover
        return start, end

    def replaced(self, edits: Sequence[tuple[Located, str]]) -> str:
        """The file's text (BOM included) with each located scalar set to its new value."""
        spans = []
        for located, value in edits:
            start, end = self.token_span(located)
            spans.append((start, end, render_scalar(value, located.node.style)))
        body = self.body
        for start, end, rendered in sorted(spans, reverse=True):
            body = body[:start] + rendered + body[end:]
        return (BOM if self.bom else "") + body


def parse_yaml(text: str, file: str) -> YamlDocument:
    return YamlDocument(text, file)


class RoundTrip:
    """One YAML document loaded to be changed and written back: :attr:`data` is the document
    (ruamel's mappings and lists act as ``dict`` and ``list``), :meth:`dump` its new text with
    comments, quoting, key order and the file's sequence style (``  - item`` indented under
    its key, or ``- item``) kept. ``ValueError`` (one line, with the line number) when the
    text is not one YAML document."""

    def __init__(self, text: str) -> None:
        self._yaml = YAML()
        self._yaml.preserve_quotes = True
        self._yaml.width = 4096
        indented = re.search(r"^[A-Za-z][\w.-]*:[ \t]*\n[ ]+- ", text, re.MULTILINE) is not None
        self._yaml.indent(mapping=2, sequence=4 if indented else 2, offset=2 if indented else 0)
        try:
            self.data: Any = self._yaml.load(text)
        except YAMLError as exc:
            raise ValueError(_yaml_error(exc)) from None

    def dump(self) -> str:
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        return out.getvalue()


def plain_is_string(value: str) -> bool:
    """Whether ``value`` written without quotes reads back as that very string in YAML 1.1
    (Helm, kustomize's older parsers, PyYAML) and YAML 1.2 (ruamel.yaml, yaml.v3)."""
    if not value or value.lower() in _YAML11_BOOL or value in NULL_WORDS:
        return False
    if _NUMBER.fullmatch(value):
        return False
    try:
        v11 = yaml.safe_load(f"k: {value}\n")
        v12 = YAML(typ="safe", pure=True).load(f"k: {value}\n")
    except (yaml.YAMLError, YAMLError):
        return False
    return bool(v11 == {"k": value} and v12 == {"k": value})


def render_scalar(value: str, style: str | None) -> str:
    """``value`` as a YAML token in ``style``; a plain scalar that would not read back as a
    string (``1.10``, ``true``, ``123``) is double-quoted instead."""
    if any(ch in value for ch in "'\"\\\n\r"):
        raise InputError(f"{value!r} cannot be written as a YAML scalar here")  # pragma: no cover
    if style == "'":
        return f"'{value}'"
    if style == '"' or not plain_is_string(value):
        return f'"{value}"'
    return value


def verify_edit(
    before: YamlDocument, after_text: str, targets: Sequence[tuple[Located, str]]
) -> None:
    """Check that ``after_text`` differs from ``before`` exactly in ``targets``: same documents,
    same structure, same scalars (value, tag, style) everywhere else; each target holds its new
    value as a string. Raises :class:`InputError` otherwise (a bug guard: nothing is written)."""
    after = YamlDocument(after_text, before.file)
    if len(after.documents) != len(before.documents):
        raise InputError(f"{before.file}: the edit changed the number of YAML documents")
    wanted = {id(located.node): value for located, value in targets}
    for old, new in zip(before.documents, after.documents, strict=True):
        problem = _compare(old, new, wanted, ())
        if problem is not None:
            raise InputError(f"{before.file}: the edit would change more than the tag: {problem}")


# -- internals ---------------------------------------------------------------------------------


def _yaml_error(exc: YAMLError) -> str:
    """ruamel's error on one line: what it expected, and where (``(line 3)``)."""
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = f" (line {mark.line + 1})" if mark is not None else ""
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return f"{message}{line}"
    return str(exc)


def _compose(text: str, file: str) -> list[Any]:
    try:
        return [doc for doc in YAML(typ="rt").compose_all(text) if doc is not None]
    except YAMLError as exc:
        raise InputError(f"{file}: invalid YAML: {_yaml_error(exc)}") from None


def _kind(node: Any) -> str:
    if isinstance(node, MappingNode):
        return "mapping"
    if isinstance(node, SequenceNode):
        return "list"
    return "value"


def _children(node: Any) -> Iterator[tuple[PathPart, Any]]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and _tag(key) != MERGE_TAG:
                yield str(key.value), value
            else:
                yield "<<", value
    elif isinstance(node, SequenceNode):
        yield from enumerate(node.value)


def _child(node: Any, part: PathPart, file: str) -> Any | None:
    if isinstance(part, int):
        if isinstance(node, SequenceNode) and 0 <= part < len(node.value):
            return node.value[part]
        return None
    if not isinstance(node, MappingNode):
        return None
    found = [
        value
        for key, value in node.value
        if isinstance(key, ScalarNode) and _tag(key) != MERGE_TAG and key.value == part
    ]
    if len(found) > 1:
        line = int(found[1].start_mark.line) + 1
        raise InputError(f"{file}: duplicate key {part!r} (line {line})")
    return found[0] if found else None


def _reference_counts(doc: Any) -> dict[int, int]:
    """How many times each node is referenced (an anchored node reused by aliases counts once
    per use); children of a node are counted once, on its first visit."""
    counts: dict[int, int] = {}
    stack = [doc]
    while stack:
        node = stack.pop()
        counts[id(node)] = counts.get(id(node), 0) + 1
        if counts[id(node)] > 1:
            continue
        if isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return counts


def _compare(
    old: Any,
    new: Any,
    wanted: dict[int, str],
    path: tuple[PathPart, ...],
    seen: set[int] | None = None,
) -> str | None:
    """The first difference between two composed trees outside ``wanted``, or ``None``."""
    seen = set() if seen is None else seen
    if id(old) in seen:
        return None
    seen.add(id(old))
    where = display_path(path)
    if type(old) is not type(new):
        return f"{where}: node kind changed"
    if isinstance(old, ScalarNode):
        if id(old) in wanted:
            if new.value != wanted[id(old)] or _tag(new) != "tag:yaml.org,2002:str":
                return f"{where}: reads back as {new.value!r}, not {wanted[id(old)]!r}"
            return None
        if (old.value, _tag(old), old.style) != (new.value, _tag(new), new.style):
            return f"{where}: {old.value!r} became {new.value!r}"
        return None
    if _tag(old) != _tag(new) or len(old.value) != len(new.value):
        return f"{where}: structure changed"
    if isinstance(old, MappingNode):
        for (ok, ov), (nk, nv) in zip(old.value, new.value, strict=True):
            key = str(ok.value) if isinstance(ok, ScalarNode) else "?"
            problem = _compare(ok, nk, {}, (*path, key), seen) or _compare(
                ov, nv, wanted, (*path, key), seen
            )
            if problem is not None:
                return problem
        return None
    for index, (ov, nv) in enumerate(zip(old.value, new.value, strict=True)):
        problem = _compare(ov, nv, wanted, (*path, index), seen)
        if problem is not None:
            return problem
    return None
