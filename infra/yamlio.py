"""Strict YAML in, deterministic YAML out: the one module that converts YAML.

Input files written by people (app definitions, stack files) go through :func:`load_strict`,
which refuses what plain ``yaml.safe_load`` lets through silently: duplicate keys, tabs in
indentation, several documents, non-string keys, and anchors/aliases (the vector of "billion
laughs" alias bombs). Every problem carries the line it is on. Output goes through
:func:`dump_all`: block style, key order as built, no aliases, so renders are diff-friendly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.errors import Problem, ValidationError

__all__ = ["Loaded", "dump_all", "load_file", "load_manifests", "load_strict"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The safe dumper, quoting ``y``/``Y``/``n``/``N`` too: PyYAML writes them plain, but the
    YAML 1.1 parser of Go's Kubernetes tools (``sigs.k8s.io/yaml``: kubectl, Argo CD,
    kubeseal) reads them as booleans, so an app, Secret or key named ``n`` would break."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


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


class _Builder:
    """Turns a composed node tree into Python values, recording lines and duplicate keys."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []
        self._scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: str = "") -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(
                        Problem(self.file, path, "merge keys (<<) are not allowed", line)
                    )
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(Problem(self.file, path, "keys must be strings", line))
                    continue
                key = self._scalars.construct_object(key_node)
                if not isinstance(key, str):
                    self.problems.append(
                        Problem(self.file, path, f"key {key!r} must be a string", line)
                    )
                    continue
                child = _path(path, key)
                if key in out:
                    first = self.lines.get(child)
                    self.problems.append(
                        Problem(
                            self.file,
                            child,
                            f"duplicate key (first defined on line {first})",
                            line,
                        )
                    )
                    continue
                self.lines[child] = line
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, _path(path, i)) for i, item in enumerate(node.value)]
        return self._scalars.construct_object(node)


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
    """Parse one YAML document strictly. Never raises for bad input: problems are returned."""
    result = Loaded()
    result.problems.extend(_tab_problems(text, file))
    if result.problems:
        return result
    try:
        # Scanning tokens first refuses anchors and aliases before anything is composed.
        for token in yaml.scan(text, Loader=_Loader):
            if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
                kind = "anchors (&)" if isinstance(token, yaml.AnchorToken) else "aliases (*)"
                result.problems.append(
                    Problem(file, "", f"YAML {kind} are not allowed", token.start_mark.line + 1)
                )
                return result
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        result.problems.append(
            Problem(file, "", f"invalid YAML: {message}", mark.line + 1 if mark else None)
        )
        return result
    except yaml.YAMLError as exc:
        result.problems.append(Problem(file, "", f"invalid YAML: {exc}"))
        return result
    if len(nodes) > 1:
        result.problems.append(
            Problem(file, "", "only one YAML document is allowed", nodes[1].start_mark.line + 1)
        )
        return result
    if not nodes:
        result.data = None
        return result
    builder = _Builder(file)
    data = builder.build(nodes[0])
    result.lines = builder.lines
    result.problems.extend(builder.problems)
    result.data = data if not builder.problems else None
    return result


def load_file(path: Path, display: str, max_bytes: int) -> Loaded:
    """Read and strictly parse ``path``; files over ``max_bytes`` are refused unread."""
    result = Loaded()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            result.problems.append(
                Problem(display, "", f"file is {size} bytes; the limit is {max_bytes} bytes")
            )
            return result
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        result.problems.append(Problem(display, "", f"cannot read file: {exc.strerror}"))
        return result
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        result.problems.append(Problem(display, "", f"not UTF-8 text: {exc.reason}"))
        return result
    return load_strict(text, display)


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
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise ValidationError([Problem(file, "", f"invalid YAML: {exc}".splitlines()[0])]) from None
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
