"""Strict YAML in, deterministic YAML out: the one module that converts YAML.

Input files written by people (app definitions, stack files) go through :func:`load_strict`,
which refuses what plain ``yaml.safe_load`` lets through silently: duplicate keys, tabs in
indentation, several documents, non-string keys, and anchors/aliases (the vector of "billion
laughs" alias bombs). Every problem carries the line it is on. Manifests and kubeconfigs go
through :func:`load_manifests`, :func:`load_document` or :func:`compose_documents`, read as the
Kubernetes tools read them. Output goes through :func:`dump_all`: block style, key order as
built, no aliases, so renders are diff-friendly. Comment-preserving edits of files people
wrote are :mod:`infra.yaml_roundtrip`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

import yaml

from infra.bounded import read_text_file
from infra.errors import Problem, ValidationError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "Loaded",
    "MappingNode",
    "Node",
    "ScalarNode",
    "SequenceNode",
    "compose_documents",
    "dump_all",
    "load_document",
    "load_file",
    "load_manifests",
    "load_strict",
    "read_documents",
]

Node = yaml.Node
"""A composed YAML node (:func:`compose_documents`): its value and where it starts."""
MappingNode, ScalarNode, SequenceNode = yaml.MappingNode, yaml.ScalarNode, yaml.SequenceNode


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The safe dumper, quoting ``y``/``Y``/``n``/``N`` too: PyYAML writes them plain, but the
    YAML 1.1 parser of Go's Kubernetes tools (``sigs.k8s.io/yaml``: kubectl, Argo CD,
    kubeseal) reads them as booleans, so an app, Secret or key named ``n`` would break."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
# Numbers go-yaml and YAML 1.2 read that PyYAML's 1.1 rules do not (`0E0`, `1e3`, `0o17`):
# written quoted, so every reader gets the string back.
_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)
_Dumper.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^0o[0-7]+$"), ["0"])


@dataclass
class Loaded:
    """The result of a strict load: the data (``None`` when unusable), the line of every field
    path (``"a.b[0].c"`` -> 1-based line) and the problems found."""

    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


# -- reading: one event loop for every YAML the platform reads ---------------------------------

MAX_DEPTH: Final = 100
"""Nesting deeper than this is refused before anything is built (libyaml's composer recurses
in C: a file of 100,000 ``[`` crashes the interpreter; Kubernetes objects nest about 20 deep)."""
MAX_NODES: Final = 1_000_000
"""Values a stream may hold once its aliases are expanded (a "billion laughs" file holds a few
dozen nodes that expand to 10^9): the consumers walk and serialise the expanded values."""

_CORE: Final = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE = f"{_CORE}map", f"{_CORE}seq", f"{_CORE}merge"
_SCALAR_TAGS: Final = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})

_FLOAT_12 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INT_12 = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_INF = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NAN = {".nan", ".NaN", ".NAN"}
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE_12, _FALSE_12 = {"true", "True", "TRUE"}, {"false", "False", "FALSE"}
_TRUE_11 = _TRUE_12 | {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"}
_FALSE_11 = _FALSE_12 | {"n", "N", "no", "No", "NO", "off", "Off", "OFF"}
_INT_11 = re.compile(r"[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[1-9][0-9_]*|0)", re.IGNORECASE)


_EventLoader: type[yaml.BaseLoader] = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_ComposeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
    """libyaml's error as a problem: what it expected, on which line."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        return Problem(file, "", f"invalid YAML: {message}", mark.line + 1 if mark else None)
    return Problem(file, "", f"invalid YAML: {str(exc).splitlines()[0]}")


class _NotThat(ValueError):
    """A scalar is not of the type asked for."""


def _number(text: str, schema11: bool) -> int | float:
    """The int or float a plain scalar means, else :class:`_NotThat`."""
    if (_INT_11 if schema11 else _INT_12).fullmatch(text):
        digits = text.replace("_", "") if schema11 else text
        sign = -1 if digits.startswith("-") else 1
        body = digits.lstrip("+-").lower()
        if body.startswith("0x"):
            return sign * int(body[2:], 16)
        if body.startswith("0b"):
            return sign * int(body[2:], 2)
        if body.startswith("0o"):
            return sign * int(body[2:], 8)
        if schema11 and len(body) > 1 and body.startswith("0"):
            return sign * int(body[1:], 8)  # YAML 1.1 (and Go's ParseInt): 017 is octal
        return sign * int(body, 10)
    if _FLOAT_12.fullmatch(text):
        return float(text)
    if text in _INF:
        return float("inf")
    if text in {"-.inf", "-.Inf", "-.INF"}:
        return float("-inf")
    if text in _NAN:
        return float("nan")
    raise _NotThat(text)


def _plain(text: str, schema11: bool) -> Any:
    """What an untagged plain scalar means: YAML 1.2's core schema, or with ``schema11`` the
    YAML 1.1 rules of the Kubernetes tools (go-yaml v2: ``yes``/``on`` are booleans, ``017``
    is octal). Dates stay strings in both (as go-yaml hands them to JSON: no time type)."""
    if text in _NULLS:
        return None
    if text in (_TRUE_11 if schema11 else _TRUE_12):
        return True
    if text in (_FALSE_11 if schema11 else _FALSE_12):
        return False
    if text[:1] in "0123456789+-.":
        try:
            return _number(text, schema11)
        except _NotThat:
            pass
    return text


def _tagged(tag: str, text: str, schema11: bool) -> Any:
    """A scalar with an explicit core tag (``!!int 42``), else :class:`_NotThat`."""
    if tag == _STR:
        return text
    value: Any = _plain(text, schema11)
    wanted: dict[str, type | tuple[type, ...]] = {
        _INT: int,
        _FLOAT: (int, float),
        _BOOL: bool,
        _NULL: type(None),
    }
    fits = isinstance(value, wanted[tag]) and (tag == _BOOL or not isinstance(value, bool))
    if not fits:
        raise _NotThat(text)
    return float(value) if tag == _FLOAT else value


@dataclass
class Read:
    """The documents of a stream, where each began (1-based line), the line of every field path
    of the first document (``strict`` reads only) and the problems (empty documents: ``None``)."""

    documents: list[Any] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class _Stop(Exception):
    """The stream cannot be read further; the problem is recorded."""


@dataclass
class _Frame:
    value: dict[str, Any] | list[Any]
    path: str
    line: int
    key: Any = None
    key_line: int = 0
    has_key: bool = False
    nodes: int = 1
    anchor: str | None = None
    merges: list[dict[str, Any]] = field(default_factory=list)


_TAG_NAMES: Final = {
    _STR: "!!str",
    _INT: "!!int",
    _FLOAT: "!!float",
    _BOOL: "!!bool",
    _NULL: "!!null",
}


class _Reader:
    """Builds Python values straight from libyaml's events: no recursion (so depth is checked
    before anything nests), every tag checked, every key checked, aliases counted."""

    def __init__(self, file: str, *, strict: bool) -> None:
        self.file = file
        self.strict = strict
        self.schema11 = not strict
        self.out = Read()
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.nodes = 0

    def problem(self, message: str, line: int | None, path: str = "") -> None:
        self.out.problems.append(Problem(self.file, path, message, line))

    def stop(self, message: str, line: int | None, path: str = "") -> NoReturn:
        self.problem(message, line, path)
        raise _Stop

    def run(self, text: str) -> Read:
        loader = _EventLoader(text)
        try:
            while loader.check_event():
                self.event(loader.get_event())  # type: ignore[no-untyped-call]
        except _Stop:
            pass
        except yaml.YAMLError as exc:
            self.out.problems.append(_yaml_problem(exc, self.file))
        finally:
            loader.dispose()
        return self.out

    def event(self, event: yaml.Event) -> None:
        kind = type(event)
        line = event.start_mark.line + 1 if event.start_mark else 0
        if kind is yaml.ScalarEvent:
            self.scalar(event, line)  # type: ignore[arg-type]
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            self.start(event, line, kind is yaml.MappingStartEvent)  # type: ignore[arg-type]
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            self.end(line)
        elif kind is yaml.AliasEvent:
            self.alias(event, line)  # type: ignore[arg-type]
        elif kind is yaml.DocumentStartEvent:
            self.out.starts.append(line)
            self.anchors = {}
            self.nodes = 0
            self.document: Any = None
        elif kind is yaml.DocumentEndEvent:
            self.out.documents.append(self.document)

    def anchor(self, name: str | None, line: int) -> None:
        if name is not None and self.strict:
            self.stop("YAML anchors (&) are not allowed", line)

    def count(self, nodes: int, line: int) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            self.stop(
                f"the document holds more than {MAX_NODES:,} values once its aliases (*) are "
                "expanded",
                line,
            )

    def scalar(self, event: yaml.ScalarEvent, line: int) -> None:
        self.anchor(event.anchor, line)
        tag = event.tag
        text = event.value
        if tag is None or tag == "!":
            plain = event.implicit[0] and tag is None
            value = _plain(text, self.schema11) if plain else text
            if plain and text == "<<" and self.stack and self.expecting_key():
                value = _MERGE_KEY
        elif tag in _SCALAR_TAGS:
            try:
                value = _tagged(tag, text, self.schema11)
            except _NotThat:
                shown = text if len(text) <= 40 else text[:37] + "..."
                self.stop(
                    f"{_TAG_NAMES[tag]} {shown!r} is not a valid {_TAG_NAMES[tag][2:]}",
                    line,
                    self.here(),
                )
        else:
            self.stop(self.tag_message(tag), line, self.here())
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        self.count(1, line)
        self.add(value, line, 1)

    def tag_message(self, tag: str) -> str:
        shown = "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
        return (
            f"the tag {shown} is not allowed; only the core schema's "
            "(!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)"
        )

    def here(self) -> str:
        if not self.stack:
            return ""
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            return _path(frame.path, len(frame.value))
        return (
            _path(frame.path, frame.key)
            if frame.has_key and isinstance(frame.key, str)
            else frame.path
        )

    def expecting_key(self) -> bool:
        frame = self.stack[-1]
        return isinstance(frame.value, dict) and not frame.has_key

    def start(self, event: yaml.CollectionStartEvent, line: int, mapping: bool) -> None:
        self.anchor(event.anchor, line)
        if event.tag not in (None, "!", _MAP if mapping else _SEQ):
            self.stop(self.tag_message(event.tag), line, self.here())
        if len(self.stack) >= MAX_DEPTH:
            self.stop(f"nested more than {MAX_DEPTH} levels deep", line, "")
        if self.stack and self.expecting_key():
            if self.strict:
                self.problem("keys must be strings", line, self.stack[-1].path)
            else:
                self.stop(
                    "keys must be strings (a mapping or list as a key)", line, self.stack[-1].path
                )
        path = self.here()
        if self.strict:
            self.out.lines.setdefault(path, line)
        self.stack.append(_Frame({} if mapping else [], path, line, anchor=event.anchor))
        self.count(1, line)

    def end(self, line: int) -> None:
        frame = self.stack.pop()
        value = frame.value
        if isinstance(value, dict) and frame.merges:
            for merged in frame.merges:
                for key, item in merged.items():
                    value.setdefault(key, item)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (value, frame.nodes)
        self.add(value, frame.line, frame.nodes)

    def alias(self, event: yaml.AliasEvent, line: int) -> None:
        if self.strict:
            self.stop("YAML aliases (*) are not allowed", line)
        if event.anchor not in self.anchors:
            self.stop(f"alias *{event.anchor} names no anchor before it", line)
        value, nodes = self.anchors[event.anchor]
        self.count(nodes, line)
        self.add(value, line, nodes)

    def add(self, value: Any, line: int, nodes: int) -> None:
        if not self.stack:
            self.document = value
            return
        frame = self.stack[-1]
        frame.nodes += nodes
        if isinstance(frame.value, list):
            if self.strict:
                self.out.lines.setdefault(_path(frame.path, len(frame.value)), line)
            frame.value.append(value)
            return
        if not frame.has_key:
            frame.key, frame.key_line, frame.has_key = value, line, True
            return
        key, key_line = frame.key, frame.key_line
        frame.has_key = False
        if key is _MERGE_KEY:
            self.merge(frame, value, key_line)
            return
        if not isinstance(key, str):
            if self.strict:
                if not isinstance(key, dict | list):
                    self.problem(f"key {key!r} must be a string", key_line, frame.path)
                return
            key = _key_text(key)
        child = _path(frame.path, key)
        if key in frame.value:
            first = self.out.lines.get(child) if self.strict else None
            where = f" (first defined on line {first})" if first else ""
            self.problem(f"duplicate key{where}", key_line, child)
            if not self.strict:
                raise _Stop
            return
        if self.strict:
            self.out.lines[child] = key_line
        frame.value[key] = value

    def merge(self, frame: _Frame, value: Any, line: int) -> None:
        if self.strict:
            self.problem("merge keys (<<) are not allowed", line, frame.path)
            return
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, dict) for source in sources):
            self.stop("a merge key (<<) takes a mapping or a list of mappings", line, frame.path)
        frame.merges.extend(sources)


class _MergeKey:
    """The plain key ``<<`` (YAML 1.1's merge key)."""


_MERGE_KEY: Final = _MergeKey()


def _key_text(key: Any) -> str:
    """A non-string scalar key as the Kubernetes tools turn it into a JSON key."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def read_documents(text: str, file: str, *, strict: bool) -> Read:
    """Every document of ``text``, read by one event loop (pure; never raises for bad input).

    Both modes: nesting at most :data:`MAX_DEPTH`, explicit tags only from the core schema
    (``!!python/...``, ``!!timestamp``, ``!!binary``, local ``!tags`` refused; ``!!int`` on a
    word refused), dates kept as strings, duplicate keys refused, each problem with its line.
    ``strict`` (files people write: app definitions, stack files): YAML 1.2's core schema, as
    the Pulumi engine reads stack files (``yes``/``on`` are strings); anchors, aliases, merge
    keys and non-string keys refused; the line of every field recorded. Otherwise (manifests,
    rendered output): YAML 1.1 scalars as the Kubernetes tools read them, aliases and merge
    keys honoured up to :data:`MAX_NODES` expanded values, scalar keys turned into strings.
    """
    return _Reader(file, strict=strict).run(text)


def _tab_problems(text: str, file: str) -> list[Problem]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            problems.append(
                Problem(file, "", "tab character in indentation; YAML indents with spaces", number)
            )
    return problems


def load_strict(text: str, file: str) -> Loaded:
    """Parse one YAML document strictly (YAML 1.2 core schema; see :mod:`infra.yaml_events`).
    Never raises for bad input: problems are returned."""
    result = Loaded()
    result.problems.extend(_tab_problems(text, file))
    if result.problems:
        return result
    read = read_documents(text, file, strict=True)
    result.lines = read.lines
    result.problems.extend(read.problems or _one_document(read, file))
    if result.problems:
        return result
    result.data = read.documents[0] if read.documents else None
    return result


def _one_document(read: Read, file: str) -> list[Problem]:
    """A problem when the stream holds several documents (where one is expected)."""
    if len(read.documents) <= 1:
        return []
    line = read.starts[1] if len(read.starts) > 1 else None
    return [Problem(file, "", "only one YAML document is allowed", line)]


def load_file(path: Path, display: str, max_bytes: int) -> Loaded:
    """Read and strictly parse ``path``; files over ``max_bytes`` are refused unread."""
    text = read_text_file(path, display, max_bytes)
    if isinstance(text, Problem):
        return Loaded(problems=[text])
    return load_strict(text, display)


def load_document(text: str, file: str) -> Any:
    """The one document of ``text`` (a kubeconfig, a kustomization) as the Kubernetes tools
    read it (:func:`read_documents` without ``strict``); ``None`` when it is empty. Raises
    :class:`ValidationError` when it is not YAML or holds several documents."""
    read = read_documents(text, file, strict=False)
    problems = read.problems or _one_document(read, file)
    if problems:
        raise ValidationError(problems)
    return read.documents[0] if read.documents else None


def compose_documents(text: str, file: str) -> tuple[list[Node], list[Problem]]:
    """Every document of ``text`` as nodes that know their line, for a check that reports
    where it found something. Screened first by :func:`read_documents` (depth, tags, expanded
    size, duplicate keys); composed, never constructed: an alias stays a reference to one node.
    Never raises for bad input: problems are returned."""
    screened = read_documents(text, file, strict=False)
    if screened.problems:
        return [], screened.problems
    try:
        return list(yaml.compose_all(text, Loader=_ComposeLoader)), []
    except yaml.YAMLError as exc:
        return [], [_yaml_problem(exc, file)]


def dump_all(documents: Iterable[Mapping[str, Any]]) -> str:
    """Multi-document YAML, block style, keys in the order the objects were built."""
    return yaml.dump_all(
        [dict(d) for d in documents],
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        explicit_start=True,
        width=4096,
        allow_unicode=True,
    )


def load_manifests(text: str, file: str) -> list[dict[str, Any]]:
    """The Kubernetes objects of a multi-document YAML (or JSON) stream, as the tools that
    apply manifests read it (``kustomize build`` / ``helm template`` output, a plain manifests
    folder): empty documents skipped, a JSON or YAML list expanded, anything else that is not
    a mapping refused (one :class:`ValidationError` naming the file and the document)."""
    read = read_documents(text, file, strict=False)
    if read.problems:
        raise ValidationError(read.problems)
    documents = read.documents
    objects: list[dict[str, Any]] = []
    for index, doc in enumerate(documents, start=1):
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            if item is None:
                continue
            if not isinstance(item, dict):
                raise ValidationError(
                    [Problem(file, f"document {index}", "is not a Kubernetes object (a mapping)")]
                )
            objects.append(item)
    return objects
