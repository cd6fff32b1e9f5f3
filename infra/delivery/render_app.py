"""An Application's Kubernetes objects, rendered as Argo CD's repo-server renders them (no cluster).

Given an Application (as :func:`infra.specs.expand` generates it) and a checkout of the
repository at the revision it tracks, :func:`render_application` runs the same tools with the
same flags as the repo-server:

* **kustomize**: ``kustomize edit set replicas <name>=<count>`` in the source folder for each
  ``source.kustomize.replicas`` entry (the repo-server edits its own checkout the same way),
  then ``kustomize build <path>`` plus :data:`~infra.constants.KUSTOMIZE_BUILD_OPTIONS`;
* **helm** (a chart in the repository): ``helm template <chart> --name-template <releaseName>
  --namespace <destination> --kube-version <cluster> --api-versions ... --include-crds
  --values <file>... --set <name>=<value>...`` (with ``ignoreMissingValueFiles``, only the
  value files that exist), with the target cluster's version and API (:func:`target_cluster`),
  so nothing gated on ``.Capabilities`` disappears;
* **directory**: the ``*.yaml``, ``*.yml`` and ``*.json`` files of the folder (its sub-folders
  only with ``directory.recurse``), every document an object.

A chart from an external repository is not fetched (no network): :class:`NotRenderable`.
:func:`input_files` lists every file such a render reads (kustomize ``resources``,
``components`` and ``bases`` followed outside the app's folder), so a plan renders only the
apps whose inputs changed. The tools are found on ``PATH`` (the toolchain's bin dir); a
missing one is one :class:`ToolMissing` line. The end-to-end tier can call
:func:`render_application` for a revision and compare with ``argocd app manifests``.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra import constants
from infra.delivery.tree import clean_path
from infra.errors import InputError, ValidationError
from infra.settings import (
    DEFAULT_KUBERNETES_VERSION,
    KindCluster,
    KwokCluster,
    StackSettings,
)
from infra.yamlio import load_manifests

__all__ = [
    "NotRenderable",
    "TargetCluster",
    "ToolMissing",
    "find_tool",
    "input_files",
    "object_key",
    "render_application",
    "render_with_sources",
    "target_cluster",
]

_REMOTE: Final = re.compile(r"^(\w+://|git@|github\.com/|gitlab\.com/)")
_VERSION_TAG: Final = re.compile(r":(v1\.\d+\.\d+)(@|$)")


class ToolMissing(InputError):
    """kustomize or helm is not on PATH."""


class NotRenderable(InputError):
    """The source cannot be rendered here (an external chart, a jsonnet file): the plan says
    so instead of guessing."""


@dataclass(frozen=True)
class TargetCluster:
    """What ``helm template`` is told about the cluster, as Argo CD tells it."""

    kube_version: str
    api_versions: tuple[str, ...]
    assumed: bool = False
    """The version is the platform's default, not read from the stack (an existing cluster)."""


def target_cluster(settings: StackSettings) -> TargetCluster:
    """The stack's Kubernetes version (kind: the node image's tag; kwok: ``kubernetesVersion``;
    an existing cluster: the platform's default, flagged ``assumed``) and the API it serves:
    the built-in API plus the CRDs of the add-ons the stack installs."""
    cluster = settings.cluster
    assumed = False
    if isinstance(cluster, KwokCluster):
        version = cluster.kubernetesVersion
    elif isinstance(cluster, KindCluster):
        match = _VERSION_TAG.search(cluster.nodeImage)
        version = match.group(1) if match else DEFAULT_KUBERNETES_VERSION
        assumed = match is None
    else:
        version, assumed = DEFAULT_KUBERNETES_VERSION, True
    enabled = {
        "argocd": True,
        "rollouts": settings.rollouts.enabled,
        "sealedSecrets": settings.sealedSecrets.enabled,
        "admission": settings.admission.enabled,
    }
    groups: dict[str, set[str]] = {gv: set(kinds) for gv, kinds in constants.KUBERNETES_API.items()}
    for section, api in constants.ADDON_API.items():
        if enabled[section]:
            for group_version, kinds in api.items():
                groups.setdefault(group_version, set()).update(kinds)
    versions: list[str] = []
    for group_version in sorted(groups):
        versions.append(group_version)
        versions.extend(f"{group_version}/{kind}" for kind in sorted(groups[group_version]))
    return TargetCluster(version, tuple(versions), assumed)


def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(
            f"{name} is not on PATH: apps are rendered as Argo CD renders them, with the "
            f"toolchain's {name} (`make toolchain`, then put `toolchain/build.sh --bin-dir` "
            "on PATH; the Makefile targets do)"
        )
    return path


def object_key(obj: dict[str, Any]) -> str:
    """``apiVersion/kind/namespace/name`` (namespace empty when the manifest sets none)."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    return "/".join(
        str(part)
        for part in (
            obj.get("apiVersion", ""),
            obj.get("kind", ""),
            metadata.get("namespace", "") or "",
            metadata.get("name", "") or "",
        )
    )


# -- the Application's sources -----------------------------------------------------------------


def _sources(application: dict[str, Any]) -> list[dict[str, Any]]:
    spec = application.get("spec") or {}
    sources = spec.get("sources") or ([spec["source"]] if spec.get("source") else [])
    return [s for s in sources if isinstance(s, dict)]


def _name(application: dict[str, Any]) -> str:
    return str((application.get("metadata") or {}).get("name", "?"))


def _main_source(application: dict[str, Any], repo_url: str) -> dict[str, Any]:
    """The source that produces manifests (not a ``ref`` source of value files), refused when
    it is not this repository (an external chart: it would need the network)."""
    for source in _sources(application):
        if source.get("ref"):
            continue
        if source.get("chart") or source.get("repoURL") != repo_url:
            raise NotRenderable(
                f"{_name(application)}: chart {source.get('chart', '?')} "
                f"{source.get('targetRevision', '?')} comes from an external repository; not "
                "rendered (no network): its values files are compared instead"
            )
        return source
    raise NotRenderable(f"{_name(application)}: the Application has no source to render")


def _repo_path(checkout: Path, path: str) -> Path:
    return checkout / clean_path(path)


def _kustomization(folder: Path) -> Path | None:
    return next(
        (folder / n for n in constants.KUSTOMIZATION_FILES if (folder / n).is_file()),
        None,
    )


def _kind(checkout: Path, source: dict[str, Any]) -> str:
    folder = _repo_path(checkout, str(source.get("path", ".")))
    if "helm" in source or (folder / constants.HELM_CHART_FILE).is_file():
        return "helm"
    if "kustomize" in source or _kustomization(folder) is not None:
        return "kustomize"
    return "directory"


# -- inputs ------------------------------------------------------------------------------------


def _files_under(checkout: Path, path: str, *, recursive: bool = True) -> Iterator[str]:
    base = _repo_path(checkout, path)
    if base.is_file():
        yield clean_path(path)
        return
    if not base.is_dir():
        return
    found = base.rglob("*") if recursive else base.iterdir()
    for item in found:
        if item.is_file():
            yield item.relative_to(checkout).as_posix()


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _kustomize_inputs(checkout: Path, folder: str, seen: set[str], files: set[str]) -> None:
    """Every file of ``folder`` and of the folders its kustomization reaches through
    ``resources``/``components``/``bases``, plus any other file a string field names
    (patches, generators' ``files``/``envs``)."""
    if folder in seen:
        return
    seen.add(folder)
    files.update(_files_under(checkout, folder))
    file = _kustomization(_repo_path(checkout, folder))
    if file is None:
        return
    try:
        documents = load_manifests(file.read_text(encoding="utf-8"), str(file))
    except (OSError, UnicodeDecodeError, ValidationError):
        return  # kustomize reports it when it renders
    for document in documents:
        for value in _strings(document):
            if _REMOTE.match(value) or "\n" in value:
                continue
            relative = value.split("=", 1)[-1]
            target = posixpath.normpath(posixpath.join(folder, relative))
            if target.startswith("../") or target == "..":
                continue
            path = checkout / target
            if path.is_dir() and value in _references(document):
                _kustomize_inputs(checkout, target, seen, files)
            elif path.is_file():
                files.add(target)


def _references(document: dict[str, Any]) -> list[str]:
    return [
        str(entry)
        for field in ("resources", "components", "bases")
        for entry in (document.get(field) or [])
    ]


def input_files(application: dict[str, Any], checkout: Path, repo_url: str) -> list[str]:
    """Every repository file rendering ``application`` reads (sorted); for an external chart,
    its values files."""
    files: set[str] = set()
    for source in _sources(application):
        if source.get("repoURL") != repo_url:
            continue
        if source.get("ref"):
            continue  # value files are listed with the chart source below
        path = str(source.get("path", "."))
        if source.get("chart"):
            continue
        kind = _kind(checkout, source)
        if kind == "kustomize":
            _kustomize_inputs(checkout, clean_path(path), set(), files)
        elif kind == "helm":
            files.update(_files_under(checkout, path))
        else:
            recurse = bool((source.get("directory") or {}).get("recurse"))
            files.update(_files_under(checkout, path, recursive=recurse))
    for source in _sources(application):
        for value_file in (source.get("helm") or {}).get("valueFiles", []):
            files.add(_value_file(str(value_file), source, application))
    return sorted(files)


def _value_file(value_file: str, source: dict[str, Any], application: dict[str, Any]) -> str:
    """A ``valueFiles`` entry as a repository path: ``$values/...`` from the root of the
    ``ref: values`` source (this repository), otherwise relative to the chart's folder."""
    if value_file.startswith("$"):
        ref, _, rest = value_file[1:].partition("/")
        if not any(s.get("ref") == ref for s in _sources(application)):
            raise InputError(f"{_name(application)}: value file {value_file}: no source ref {ref}")
        return clean_path(rest)
    return clean_path(posixpath.join(str(source.get("path", ".")), value_file))


# -- rendering ---------------------------------------------------------------------------------


def _run(argv: list[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            timeout=constants.TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InputError(f"{what}: timed out after {constants.TOOL_TIMEOUT_SECONDS}s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        message = " / ".join(lines[-3:]) or f"exit {done.returncode}"
        raise InputError(f"{what} failed: {message}")
    return done.stdout


def _render_kustomize(source: dict[str, Any], checkout: Path, name: str) -> str:
    kustomize = find_tool("kustomize")
    path = clean_path(str(source.get("path", ".")))
    folder = _repo_path(checkout, path)
    options = source.get("kustomize") or {}
    unsupported = sorted(set(options) - {"replicas"})
    if unsupported:
        raise NotRenderable(f"{name}: kustomize options {unsupported} are not rendered by the plan")
    replicas = [f"{r['name']}={int(r['count'])}" for r in options.get("replicas", [])]
    argv = [kustomize, "build", ".", *constants.KUSTOMIZE_BUILD_OPTIONS]
    if not replicas:
        return _run(argv, folder, f"{name}: `kustomize build {path}`")
    # The repo-server edits a checkout of its own; here the edit is undone after the build,
    # so another Application (or stack) reading the same folder sees it as committed.
    file = _kustomization(folder)
    original = file.read_bytes() if file is not None else None
    try:
        _run(
            [kustomize, "edit", "set", "replicas", *replicas],
            folder,
            f"{name}: `kustomize edit set replicas` in {path}",
        )
        return _run(argv, folder, f"{name}: `kustomize build {path}`")
    finally:
        if file is not None and original is not None:
            file.write_bytes(original)


def _render_helm(
    application: dict[str, Any],
    source: dict[str, Any],
    checkout: Path,
    target: TargetCluster,
) -> str:
    helm_bin = find_tool("helm")
    name = _name(application)
    path = clean_path(str(source.get("path", ".")))
    helm = source.get("helm") or {}
    namespace = str(((application.get("spec") or {}).get("destination") or {}).get("namespace"))
    argv = [
        helm_bin,
        "template",
        ".",
        "--name-template",
        str(helm.get("releaseName") or name),
        "--namespace",
        namespace,
        "--kube-version",
        target.kube_version,
    ]
    for value_file in helm.get("valueFiles", []):
        file = checkout / _value_file(str(value_file), source, application)
        if helm.get("ignoreMissingValueFiles") and not file.exists():
            continue  # as the repo-server skips it (a cluster without values/<cluster>.yaml)
        argv += ["--values", str(file)]
    for parameter in helm.get("parameters", []):
        flag = "--set-string" if parameter.get("forceString") else "--set"
        argv += [flag, f"{parameter['name']}={parameter['value']}"]
    for api in target.api_versions:
        argv += ["--api-versions", api]
    argv.append("--include-crds")
    with tempfile.TemporaryDirectory(prefix="gitops-platform-helm-") as home:
        env = {
            **os.environ,
            "HELM_CACHE_HOME": f"{home}/cache",
            "HELM_CONFIG_HOME": f"{home}/config",
            "HELM_DATA_HOME": f"{home}/data",
        }
        return _run(argv, _repo_path(checkout, path), f"{name}: `helm template {path}`", env)


def _read_directory(
    source: dict[str, Any], checkout: Path, name: str
) -> list[tuple[dict[str, Any], str]]:
    path = clean_path(str(source.get("path", ".")))
    recurse = bool((source.get("directory") or {}).get("recurse"))
    objects: list[tuple[dict[str, Any], str]] = []
    for file in sorted(_files_under(checkout, path, recursive=recurse)):
        if file.endswith(".jsonnet"):
            raise NotRenderable(f"{name}: {file}: jsonnet is not rendered by the plan")
        if not file.endswith(constants.MANIFEST_SUFFIXES):
            continue
        text = (checkout / file).read_text(encoding="utf-8")
        objects.extend((obj, file) for obj in load_manifests(text, file))
    return objects


_HELM_SOURCE: Final = re.compile(r"^# Source: (\S+)\s*$", re.MULTILINE)
_DOCUMENT_START: Final = re.compile(r"^---[ \t]*$", re.MULTILINE)


def _helm_objects(text: str, chart_path: str, what: str) -> list[tuple[dict[str, Any], str | None]]:
    """The objects of ``helm template`` output, each with the repository file of the template
    that made it (helm heads each document with ``# Source: <chart>/templates/...``; the chart's
    own name is replaced by its folder)."""
    objects: list[tuple[dict[str, Any], str | None]] = []
    for chunk in _DOCUMENT_START.split(text):
        found = _HELM_SOURCE.search(chunk)
        origin = None
        if found:
            inside = found.group(1).partition("/")[2]
            origin = clean_path(posixpath.join(chart_path, inside)) if inside else None
        objects.extend((obj, origin) for obj in load_manifests(chunk, what))
    return objects


def render_with_sources(
    application: dict[str, Any], checkout: Path, repo_url: str, target: TargetCluster
) -> list[tuple[dict[str, Any], str | None]]:
    """:func:`render_application`'s objects in the tools' order, each with the repository file
    it comes from where the render says so (a directory source's file, a chart's template);
    ``None`` for kustomize output, which does not."""
    source = _main_source(application, repo_url)
    name = _name(application)
    kind = _kind(checkout, source)
    try:
        if kind == "kustomize":
            text = _render_kustomize(source, checkout, name)
            return [(obj, None) for obj in load_manifests(text, f"{name} (kustomize)")]
        if kind == "helm":
            text = _render_helm(application, source, checkout, target)
            chart_path = clean_path(str(source.get("path", ".")))
            return _helm_objects(text, chart_path, f"{name} (helm)")
        return list(_read_directory(source, checkout, name))
    except ValidationError as exc:
        raise InputError(f"{name}: {exc}".replace("\n", "; ")) from None


def render_application(
    application: dict[str, Any], checkout: Path, repo_url: str, target: TargetCluster
) -> list[dict[str, Any]]:
    """The objects Argo CD's repo-server generates for ``application`` from ``checkout`` (the
    repository at the revision the Application tracks), sorted by :func:`object_key`.

    ``checkout`` is edited the way the repo-server edits its own checkout (``kustomize edit
    set replicas``) for the build only, then restored. Raises :class:`ToolMissing`,
    :class:`NotRenderable` or :class:`InputError` (a tool's own error, one line)."""
    objects = [obj for obj, _ in render_with_sources(application, checkout, repo_url, target)]
    return sorted(objects, key=object_key)
