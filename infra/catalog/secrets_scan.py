"""No plain secrets under ``apps/``: every Secret value is committed sealed (pure).

Refused, in every ``.yaml``/``.yml``/``.json`` file under the apps folder (any depth, every
document of a multi-document file, the items of a ``kind: List``):

- a core ``kind: Secret`` (``apiVersion: v1``) with a non-empty ``data`` or ``stringData``;
- a kustomize ``secretGenerator`` entry with ``literals``, ``files``, ``envs`` or ``env``
  (kustomize turns them into a plain Secret from values committed next to it).

A Secret without values (a service-account token Secret the cluster fills) is fine, and so is
a ``SealedSecret``: that is where values go (``platformctl seal``, docs/secrets.md).

The templates of a Helm chart kept in the repository (``<chart>/templates/``, beside its
``Chart.yaml``) are Go-templated, not YAML: they are judged by what they render, with every
other source, in :mod:`infra.delivery.applied_checks` (this is the fast pre-check of the files
themselves). Hidden files and folders are read: Argo CD and kustomize read them too.

Manifests are not ``app.yaml``: anchors and aliases are tolerated (kustomize and Helm users
write them). Files are composed, never constructed, so an alias bomb costs nothing, and read
only up to :data:`MAX_MANIFEST_BYTES`. A file that cannot be read or parsed is a problem too:
what cannot be scanned cannot be shown to hold no secret.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from infra import constants
from infra.bounded import read_text_file
from infra.catalog.safe_paths import entry_problem
from infra.errors import Problem
from infra.yamlio import MappingNode, Node, ScalarNode, SequenceNode, compose_documents

__all__ = ["MAX_MANIFEST_BYTES", "plain_secret_problems"]

MAX_MANIFEST_BYTES: Final = 1024 * 1024
"""Files larger than this are refused unread (a Kubernetes object is at most ~1.5 MiB)."""
VALUE_FIELDS: Final = ("data", "stringData")
GENERATOR_SOURCES: Final = ("literals", "files", "envs", "env")


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _chart_templates(directory: Path) -> bool:
    """``directory`` is (inside) the templates of a Helm chart kept in the repository."""
    return any(
        part.name == "templates" and (part.parent / constants.HELM_CHART_FILE).is_file()
        for part in (directory, *directory.parents)
    )


def _files(apps_dir: Path) -> Iterator[Path]:
    """Manifest files under ``apps_dir``, sorted, hidden ones included (Argo CD's directory
    source and kustomize read them too), skipping each app's ``app.yaml`` (the strict loader
    reads that one)."""
    for directory, dirs, files in os.walk(apps_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not (Path(directory) / d).is_symlink())
        here = Path(directory)
        for name in sorted(files):
            if not (
                name.lower().endswith(constants.MANIFEST_SUFFIXES)
                or name in constants.KUSTOMIZATION_FILES
            ):
                continue
            if name == constants.APP_FILE and here.parent == apps_dir:
                continue
            if entry_problem(here / name) or (here / name).is_dir():
                continue  # a link, FIFO or device: never opened (the loader reports it)
            yield here / name


# -- a small view over either a YAML node or a JSON value ------------------------------------


def _get(node: Any, key: str) -> Any:
    """The value of ``key`` in a mapping (a MappingNode or a dict), else None."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                return value_node
        return None
    if isinstance(node, dict):
        return node.get(key)
    return None


def _text(node: Any) -> str | None:
    if isinstance(node, ScalarNode):
        return str(node.value)
    if isinstance(node, str):
        return node
    return None


def _non_empty(node: Any) -> bool:
    """True when the node holds at least one entry (a mapping or a list with items)."""
    if isinstance(node, MappingNode | SequenceNode):
        return bool(node.value)
    if isinstance(node, ScalarNode):
        # `data: ""`/`data: null` hold nothing; any other scalar is not a valid Secret either
        # way, and the API server will say so.
        return False
    if isinstance(node, dict | list):
        return bool(node)
    return False


def _items(node: Any) -> list[Any]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, list):
        return node
    return []


def _line(node: Any) -> int | None:
    if isinstance(node, Node):
        return int(node.start_mark.line) + 1
    return None


def _key_line(mapping: Any, key: str) -> int | None:
    if isinstance(mapping, MappingNode):
        for key_node, _ in mapping.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                return int(key_node.start_mark.line) + 1
    return _line(mapping)


# -- the rules -------------------------------------------------------------------------------


def _hint(app: str | None, env: str | None, name: str | None) -> str:
    command = (
        "platformctl seal --app {app} --stack STACK --env {env} --name {name} "
        "--from-literal KEY=VALUE"
    )
    return command.format(app=app or "APP", env=env or "ENV", name=name or "NAME")


def _object_problems(
    obj: Any, file: str, where: str, app: str | None, env: str | None, *, kustomization: bool
) -> list[Problem]:
    kind = _text(_get(obj, "kind"))
    problems: list[Problem] = []
    if kind == "Secret" and _text(_get(obj, "apiVersion")) in ("v1", None):
        name = _text(_get(_get(obj, "metadata"), "name"))
        label = f"Secret/{name}" if name else where
        for field in VALUE_FIELDS:
            if _non_empty(_get(obj, field)):
                problems.append(
                    Problem(
                        file,
                        f"{label}.{field}" if name else f"{where}: Secret.{field}",
                        "plain Secret values must not be committed; seal them instead "
                        f"(`{_hint(app, env, name)}`, see docs/secrets.md) and delete this "
                        "Secret",
                        _key_line(obj, field),
                    )
                )
    elif kind is not None and kind.endswith("List"):
        for index, item in enumerate(_items(_get(obj, "items"))):
            problems.extend(
                _object_problems(
                    item, file, f"{where}.items[{index}]", app, env, kustomization=False
                )
            )
    generators = _get(obj, "secretGenerator")
    if (kind == "Kustomization" or (kustomization and kind is None)) and generators is not None:
        for index, generator in enumerate(_items(generators)):
            sources = [s for s in GENERATOR_SOURCES if _non_empty(_get(generator, s))]
            if sources:
                name = _text(_get(generator, "name"))
                problems.append(
                    Problem(
                        file,
                        f"secretGenerator[{index}]",
                        f"generates a plain Secret from committed values ({', '.join(sources)}); "
                        f"seal them instead (`{_hint(app, env, name)}`, see docs/secrets.md)",
                        _line(generator),
                    )
                )
    return problems


def _app_and_env(path: Path, apps_dir: Path) -> tuple[str | None, str | None]:
    parts = path.relative_to(apps_dir).parts
    app = parts[0] if len(parts) > 1 else None
    env = None
    for first, second in itertools.pairwise(parts):
        if first == constants.OVERLAYS_DIR and second in constants.ENVIRONMENTS:
            env = second
    return app, env


def _documents(text: str, file: str, is_json: bool) -> tuple[list[Any], list[Problem]]:
    if is_json:
        try:
            return [json.loads(text)], []
        except json.JSONDecodeError as exc:
            return [], [Problem(file, "", f"invalid JSON: {exc.msg}", exc.lineno)]
    return compose_documents(text, file)  # composed: an alias bomb costs nothing


def plain_secret_problems(repo_root: Path, apps_dir: Path) -> list[Problem]:
    """Every plain secret in the manifests under ``apps_dir``, as problems naming the file,
    the object (``Secret/<name>.data``, or ``document <n>`` when it has no name) and the line.

    Reads files only; never raises for bad input.
    """
    problems: list[Problem] = []
    if not apps_dir.is_dir():
        return problems
    for path in _files(apps_dir):
        file = _display(path, repo_root)
        if _chart_templates(path.parent):
            continue  # Go-templated: judged by what it renders (infra.delivery.applied_checks)
        text = read_text_file(
            path, file, MAX_MANIFEST_BYTES, note="too large to check for plain secrets"
        )
        if isinstance(text, Problem):
            problems.append(text)
            continue
        documents, parse_problems = _documents(text, file, path.suffix.lower() == ".json")
        problems.extend(parse_problems)
        app, env = _app_and_env(path, apps_dir)
        kustomization = path.name in constants.KUSTOMIZATION_FILES
        for index, document in enumerate(documents, start=1):
            problems.extend(
                _object_problems(
                    document, file, f"document {index}", app, env, kustomization=kustomization
                )
            )
    return problems
