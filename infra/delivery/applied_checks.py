"""What Argo CD would apply, judged before it is: no Secret with values, nothing outside the
team's AppProject (issue 20).

The file checks of the catalog loader (:mod:`infra.catalog.secrets_scan`,
:mod:`infra.catalog.remote_refs`) read files as they are; this module reads what Argo CD's
repo-server makes of them. Each Application the stack's ApplicationSets generate is rendered
the way the repo-server renders it (:func:`~infra.delivery.render_app.render_with_sources`:
the toolchain's kustomize and helm with Argo CD's options, a directory source's own file
rules) and every object of the output is judged:

* **Secrets.** A core ``Secret`` with a non-empty ``data`` or ``stringData`` is refused,
  whatever made it: a hidden file, a file a kustomization lists under any suffix, a Component,
  a generator, an inline or JSON 6902 patch, Helm values a chart turns into objects, a
  template that builds it with ``tpl`` or ``printf``. The problem names the Application, the
  file where the object can be traced and the keys, never a value.
* **Tenancy**, judged against the AppProject the stack generates for the app's team: the
  object Argo CD enforces at sync, so ``validate`` and the controller judge by one rule. A
  namespaced object lands in one of the project's destination namespaces (its own
  ``metadata.namespace``, else the Application's); a cluster-scoped kind
  (:data:`~infra.constants.CLUSTER_SCOPED_KINDS`) is on the project's
  ``clusterResourceWhitelist`` (for a team: its own Namespaces, by name); no kind is on the
  project's ``namespaceResourceBlacklist`` (quotas, Argo CD's own kinds).

An external chart cannot be rendered here (no network): its values files are file-checked
only. A render that fails (a kustomize or helm error) is a problem too: Argo CD would fail
the same way, at sync time.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Final

from infra import constants
from infra.bounded import read_text_file
from infra.delivery.render_app import (
    NotRenderable,
    ToolMissing,
    input_files,
    render_with_sources,
    target_cluster,
)
from infra.errors import InputError, Problem
from infra.settings import StackSettings
from infra.specs.expand import ClusterParams, applications
from infra.specs.fleet import generator_params
from infra.yamlio import read_documents

__all__ = ["applied_problems", "object_problems"]

VALUE_FIELDS: Final = ("data", "stringData")
MAX_TRACED_BYTES: Final = 1024 * 1024
_HASH_SUFFIX: Final = re.compile(r"-[a-z0-9]{10}$")
_SEAL: Final = "commit Secret values sealed: `platformctl seal` (docs/secrets.md)"


def _group(api_version: Any) -> str:
    text = str(api_version or "")
    return text.rpartition("/")[0] if "/" in text else ""


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _items(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The object, or the items of a ``List`` (Argo CD applies each item)."""
    kind = str(obj.get("kind") or "")
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            if isinstance(item, dict):
                yield from _items(item)
    else:
        yield obj


def _value_keys(obj: dict[str, Any]) -> list[str]:
    """``data.<key>``/``stringData.<key>`` for every value a core Secret holds (names only)."""
    if obj.get("kind") != "Secret" or _group(obj.get("apiVersion")) != "":
        return []
    keys: list[str] = []
    for field in VALUE_FIELDS:
        values = obj.get(field)
        if isinstance(values, dict):
            keys.extend(
                f"{field}.{key}" for key, value in values.items() if value not in ("", None)
            )
        elif values not in (None, "", [], {}):
            keys.append(field)
    return keys


@dataclass(frozen=True)
class Destination:
    """Where an Application applies and the AppProject that governs it."""

    application: str
    namespace: str
    project_name: str
    project: dict[str, Any]
    """The AppProject's ``spec``."""


def _listed(entries: Any, group: str, kind: str, name: str | None = None) -> bool:
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        if not fnmatchcase(group, str(entry.get("group", ""))):
            continue
        if not fnmatchcase(kind, str(entry.get("kind", ""))):
            continue
        if name is not None and entry.get("name") and not fnmatchcase(name, str(entry["name"])):
            continue
        return True
    return False


def _namespaces(project: dict[str, Any]) -> list[str]:
    return [
        str(d.get("namespace")) for d in project.get("destinations") or [] if d.get("namespace")
    ]


def object_problems(obj: dict[str, Any], origin: str, where: Destination) -> list[Problem]:
    """Why Argo CD must not apply ``obj`` (rendered for ``where.application``, traced to the
    repository file ``origin``): plain Secret values, or anything outside its AppProject.
    Pure; messages hold names and keys, never values."""
    kind = str(obj.get("kind") or "")
    group = _group(obj.get("apiVersion"))
    metadata = _metadata(obj)
    name = str(metadata.get("name") or "")
    scoped = (group, kind) in constants.CLUSTER_SCOPED_KINDS
    namespace = "" if scoped else str(metadata.get("namespace") or where.namespace)
    label = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
    for_app = f"in what Argo CD would apply for {where.application}"
    project = where.project
    problems: list[Problem] = []
    keys = _value_keys(obj)
    if keys:
        problems.append(
            Problem(origin, label, f"holds plain values ({', '.join(keys)}) {for_app}: {_SEAL}")
        )
    gk = f"{group}/{kind}" if group else kind
    if scoped:
        if not _listed(project.get("clusterResourceWhitelist"), group, kind, name):
            problems.append(
                Problem(
                    origin,
                    label,
                    f"is cluster-scoped and not on AppProject {where.project_name}'s "
                    f"clusterResourceWhitelist {for_app}: the controller refuses the sync; a "
                    "team may create only its own Namespaces",
                )
            )
        return problems
    if _listed(project.get("namespaceResourceBlacklist"), group, kind):
        why = (
            "Argo CD's own kinds would let a team reach past its AppProject"
            if group == constants.ARGOCD_API_GROUP
            else "quotas and limits are the platform's"
        )
        problems.append(
            Problem(
                origin,
                label,
                f"kind {gk} is on AppProject {where.project_name}'s namespaceResourceBlacklist "
                f"{for_app}: {why}",
            )
        )
    if not any(fnmatchcase(namespace, ns) for ns in _namespaces(project)):
        problems.append(
            Problem(
                origin,
                label,
                f"is in namespace {namespace}, not one of AppProject {where.project_name}'s "
                f"destinations {for_app}: a team's objects stay in its own namespaces",
            )
        )
    return problems


# -- tracing an object to a file ---------------------------------------------------------------


@dataclass
class _Trace:
    """(kind, name) -> the repository files that declare or patch such an object; ``True``
    when the declaration there carries Secret values."""

    found: dict[tuple[str, str], list[tuple[str, bool]]]

    def add(self, kind: Any, name: Any, file: str, values: bool) -> None:
        if isinstance(kind, str) and isinstance(name, str) and name:
            self.found.setdefault((kind, name), []).append((file, values))

    def lookup(self, kind: str, name: str) -> str | None:
        candidates = self.found.get((kind, name)) or self.found.get(
            (kind, _HASH_SUFFIX.sub("", name))
        )
        if not candidates:
            candidates = [
                hit
                for (k, n), hits in self.found.items()
                if k == kind and n in name
                for hit in hits
            ]
        if not candidates:
            return None
        return sorted(candidates, key=lambda hit: not hit[1])[0][0]


def _index_kustomization(trace: _Trace, document: dict[str, Any], file: str) -> None:
    for field, kind in (("secretGenerator", "Secret"), ("configMapGenerator", "ConfigMap")):
        for entry in document.get(field) or []:
            if isinstance(entry, dict):
                trace.add(kind, entry.get("name"), file, kind == "Secret")
    for field in ("patches", "patchesJson6902", "patchesStrategicMerge"):
        for entry in document.get(field) or []:
            if isinstance(entry, str) and "\n" in entry:
                _index_documents(trace, entry, file)
            if not isinstance(entry, dict):
                continue
            target = entry.get("target") if isinstance(entry.get("target"), dict) else {}
            assert isinstance(target, dict)
            patch = entry.get("patch")
            touches = isinstance(patch, str) and any(f"/{f}" in patch for f in VALUE_FIELDS)
            where = file
            if isinstance(entry.get("path"), str):
                where = posixpath.normpath(posixpath.join(posixpath.dirname(file), entry["path"]))
            trace.add(target.get("kind"), target.get("name"), where, touches)
            if isinstance(patch, str):
                _index_documents(trace, patch, file)


def _index_documents(trace: _Trace, text: str, file: str) -> None:
    for document in read_documents(text, file, strict=False).documents:
        for item in document if isinstance(document, list) else [document]:
            if not isinstance(item, dict):
                continue
            if posixpath.basename(file) in constants.KUSTOMIZATION_FILES or item.get("kind") in (
                "Kustomization",
                "Component",
            ):
                _index_kustomization(trace, item, file)
            if item.get("kind") in ("SecretGenerator", "ConfigMapGenerator"):
                made = str(item["kind"]).removesuffix("Generator")
                trace.add(made, _metadata(item).get("name"), file, made == "Secret")
            for obj in _items(item):
                trace.add(obj.get("kind"), _metadata(obj).get("name"), file, bool(_value_keys(obj)))


def _trace(files: list[str], checkout: Path) -> _Trace:
    trace = _Trace({})
    for file in files:
        text = read_text_file(checkout / file, file, MAX_TRACED_BYTES)
        if isinstance(text, Problem):
            continue  # too large or unreadable: nothing traced from it
        _index_documents(trace, text, file)
    return trace


def _source_folder(application: dict[str, Any], repo_url: str) -> str:
    spec = application.get("spec") or {}
    sources = spec.get("sources") or [spec.get("source") or {}]
    for source in sources:
        if isinstance(source, dict) and source.get("repoURL") == repo_url and not source.get("ref"):
            return str(source.get("path") or ".")
    return "."


def _fallback(folder: str, checkout: Path) -> str:
    for name in constants.KUSTOMIZATION_FILES:
        if (checkout / folder / name).is_file():
            return posixpath.join(folder, name)
    return folder


# -- the stack ---------------------------------------------------------------------------------


def _destinations(
    objects: list[dict[str, Any]], clusters: ClusterParams
) -> Iterator[tuple[dict[str, Any], Destination]]:
    projects = {
        o["metadata"]["name"]: o.get("spec") or {} for o in objects if o["kind"] == "AppProject"
    }
    for application in applications(objects, clusters):
        spec = application.get("spec") or {}
        project_name = str(spec.get("project") or "")
        yield (
            application,
            Destination(
                application=str(_metadata(application).get("name")),
                namespace=str((spec.get("destination") or {}).get("namespace") or ""),
                project_name=project_name,
                project=projects.get(project_name, {}),
            ),
        )


def applied_problems(
    objects: list[dict[str, Any]], settings: StackSettings, checkout: Path
) -> list[Problem]:
    """Every problem of what Argo CD would apply for the stack's Applications (``objects``: what
    :func:`infra.specs.argocd_objects` declares), rendered from ``checkout`` (the working
    tree). Raises :class:`~infra.delivery.render_app.ToolMissing` when kustomize or helm is not
    on ``PATH``."""
    target = target_cluster(settings)
    problems: list[Problem] = []
    for application, where in _destinations(objects, generator_params(settings)):
        folder = _source_folder(application, settings.repo_url)
        try:
            rendered = render_with_sources(application, checkout, settings.repo_url, target)
        except NotRenderable:
            continue  # an external chart: no network; its values files were file-checked
        except ToolMissing:
            raise  # one line for the whole run, not one per app
        except InputError as exc:
            problems.append(
                Problem(
                    _fallback(folder, checkout),
                    "source",
                    f"Argo CD could not render {where.application} either: {exc}",
                )
            )
            continue
        trace: _Trace | None = None
        for document, origin in rendered:
            for obj in _items(document):
                found = origin
                if found is None:
                    if trace is None:
                        files = input_files(application, checkout, settings.repo_url)
                        trace = _trace(files, checkout)
                    found = trace.lookup(
                        str(obj.get("kind") or ""), str(_metadata(obj).get("name") or "")
                    )
                problems.extend(object_problems(obj, found or _fallback(folder, checkout), where))
    return list(dict.fromkeys(problems))
