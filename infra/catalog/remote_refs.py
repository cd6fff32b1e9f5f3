"""An app's sources stay inside this repository (pure reads).

The AppProject's ``sourceRepos`` restricts only the Application's top-level source; what that
source then pulls in is up to kustomize and Helm on Argo CD's repo-server. So every reference
inside an app folder that would fetch from elsewhere or run a program at render time is refused
here, naming the file and the field:

* kustomizations (``kustomization.yaml``, ``.yml``, ``Kustomization``; Components too):
  ``resources``, ``bases``, ``components``, ``crds``, ``configurations``, ``generators``,
  ``transformers``, ``validators``, ``openapi.path``, patch and replacement ``path`` s,
  ``patchesStrategicMerge`` entries and the files of ``configMapGenerator``/``secretGenerator``
  must be files or folders inside this repository: a URL (``https://``, ``git::``, ``ssh://``),
  ``git@host:``, GitHub shorthand (``github.com/org/repo``, ``gh:``), a ``?ref=`` or ``//``
  subfolder, or a path leaving the repository is refused. ``helmCharts`` (inflation fetches the
  chart and runs helm), ``helmChartInflationGenerator`` and every generator, transformer or
  validator that is not one of kustomize's built-ins (KRM functions, exec and container
  plugins) are refused.
* charts kept in this repository (``Chart.yaml``): a dependency's ``repository`` must be
  empty or ``file://`` a folder inside this repository (not ``https://``, ``oci://`` or an
  ``@alias``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from infra import constants
from infra.bounded import read_text_file
from infra.catalog.safe_paths import tree_problems
from infra.errors import Problem
from infra.yamlio import read_documents

__all__ = ["remote_reference_problems"]

_LIST_FIELDS: Final = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
_PATH_LISTS: Final = ("patches", "patchesJson6902", "replacements")
_PLUGIN_FIELDS: Final = ("generators", "transformers", "validators")
_BUILTIN_KINDS: Final = frozenset(
    {
        "AnnotationsTransformer",
        "ConfigMapGenerator",
        "HashTransformer",
        "IAMPolicyGenerator",
        "ImageTagTransformer",
        "LabelTransformer",
        "NamespaceTransformer",
        "PatchJson6902Transformer",
        "PatchStrategicMergeTransformer",
        "PatchTransformer",
        "PrefixSuffixTransformer",
        "PrefixTransformer",
        "ReplacementTransformer",
        "ReplicaCountTransformer",
        "SecretGenerator",
        "SortOrderTransformer",
        "SuffixTransformer",
        "ValueAddTransformer",
    }
)
_FUNCTION_ANNOTATIONS: Final = ("config.kubernetes.io/function", "config.k8s.io/function")
_REMOTE: Final = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*::?//|[a-z][a-z0-9+.-]*::|git@|gh:)|\?ref=|\?version=|[^:/]//", re.I
)
_HOST_LIKE: Final = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?::\d+)?/", re.I)
_MAX_BYTES: Final = 1024 * 1024


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _read(path: Path, display: str) -> tuple[list[Any], list[Problem]]:
    text = read_text_file(path, display, _MAX_BYTES)
    if isinstance(text, Problem):
        return [], [text]
    read = read_documents(text, display, strict=False)
    return read.documents, read.problems


class _Checker:
    def __init__(self, root: Path) -> None:
        self.root = os.path.normpath(root.absolute())
        self.problems: list[Problem] = []

    def problem(self, file: str, field: str, message: str) -> None:
        self.problems.append(Problem(file, field, message))

    def reference(self, ref: Any, base: Path, file: str, field: str) -> Path | None:
        """Check one reference; the local path it names (``None`` when refused or inline)."""
        if not isinstance(ref, str) or not ref.strip():
            return None
        text = ref.strip()
        if "\n" in text or text.startswith(("{", "[")) or ": " in text:
            return None  # an inline patch, not a reference
        local = Path(os.path.normpath(base / text))
        if _REMOTE.search(text) or (_HOST_LIKE.search(text) and not local.exists()):
            self.problem(
                file,
                field,
                "refers to a source outside this repository (kustomize would fetch it at render "
                "time, past the AppProject's sourceRepos); commit what it refers to under the "
                "app's folder",
            )
            return None
        if os.path.isabs(text) or not (
            str(local) == self.root or str(local).startswith(self.root + os.sep)
        ):
            self.problem(file, field, "leaves this repository; sources stay inside it")
            return None
        return local

    def kustomization(self, path: Path) -> None:
        file = _display(path, Path(self.root))
        documents, problems = _read(path, file)
        self.problems.extend(problems)
        data = documents[0] if len(documents) == 1 else None
        if not isinstance(data, dict):
            return
        base = path.parent
        for name in ("helmCharts", "helmChartInflationGenerator", "helmGlobals"):
            if data.get(name):
                self.problem(
                    file,
                    name,
                    "Helm chart inflation inside kustomize fetches the chart and runs helm at "
                    "render time; use a `type: helm` source in app.yaml instead",
                )
        for name in _LIST_FIELDS:
            items = data.get(name)
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                field = f"{name}[{index}]"
                if name in _PLUGIN_FIELDS and isinstance(item, dict):
                    self.plugin(item, file, field)
                    continue
                local = self.reference(item, base, file, field)
                if local is not None and name in _PLUGIN_FIELDS and local.is_file():
                    self.plugin_file(local, file, field)
        for name in _PATH_LISTS:
            items = data.get(name)
            if isinstance(items, list):
                for index, item in enumerate(items):
                    if isinstance(item, dict):
                        self.reference(item.get("path"), base, file, f"{name}[{index}].path")
        openapi = data.get("openapi")
        if isinstance(openapi, dict):
            self.reference(openapi.get("path"), base, file, "openapi.path")
        for name in ("configMapGenerator", "secretGenerator"):
            generators = data.get(name)
            if not isinstance(generators, list):
                continue
            for index, generator in enumerate(generators):
                if not isinstance(generator, dict):
                    continue
                for key in ("files", "envs"):
                    entries = generator.get(key)
                    for at, entry in enumerate(entries if isinstance(entries, list) else []):
                        if isinstance(entry, str):
                            target = entry.split("=", 1)[-1] if key == "files" else entry
                            self.reference(target, base, file, f"{name}[{index}].{key}[{at}]")
                self.reference(generator.get("env"), base, file, f"{name}[{index}].env")

    def plugin(self, document: dict[str, Any], file: str, field: str) -> None:
        metadata = document.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if isinstance(annotations, dict) and any(a in annotations for a in _FUNCTION_ANNOTATIONS):
            self.problem(file, field, "a KRM function runs a program at render time; refused")
            return
        kind = document.get("kind")
        if document.get("apiVersion") != "builtin" or kind not in _BUILTIN_KINDS:
            self.problem(
                file,
                field,
                f"{kind or 'this plugin'} is not one of kustomize's built-in generators or "
                "transformers (apiVersion: builtin); plugins run programs at render time",
            )

    def plugin_file(self, path: Path, file: str, field: str) -> None:
        documents, problems = _read(path, _display(path, Path(self.root)))
        self.problems.extend(problems)
        for document in documents:
            if isinstance(document, dict):
                self.plugin(document, file, f"{field} ({_display(path, Path(self.root))})")

    def chart(self, path: Path) -> None:
        file = _display(path, Path(self.root))
        documents, problems = _read(path, file)
        self.problems.extend(problems)
        data = documents[0] if len(documents) == 1 else None
        dependencies = data.get("dependencies") if isinstance(data, dict) else None
        for index, dependency in enumerate(dependencies if isinstance(dependencies, list) else []):
            if not isinstance(dependency, dict):
                continue
            repository = dependency.get("repository")
            field = f"dependencies[{index}].repository"
            if repository in (None, ""):
                continue
            if not isinstance(repository, str) or not repository.startswith("file://"):
                self.problem(
                    file,
                    field,
                    "a chart dependency from a repository (https://, oci://, @alias) is fetched "
                    "at render time; vendor it under charts/ or use file:// inside this "
                    "repository",
                )
                continue
            self.reference(repository.removeprefix("file://"), path.parent, file, field)


def _files(folder: Path) -> Iterator[Path]:
    for current, folders, names in os.walk(folder):
        folders.sort()
        for name in sorted(names):
            yield Path(current) / name


def remote_reference_problems(repo_root: Path, apps_dir: Path) -> list[Problem]:
    """Every reference under ``apps_dir`` that reaches outside this repository or runs a
    program at render time (see the module docstring). Reads files only; never raises."""
    checker = _Checker(repo_root)
    if not apps_dir.is_dir():
        return []
    unsafe = {path for path, _ in tree_problems(apps_dir)}
    for path in _files(apps_dir):
        if path in unsafe or not path.is_file() or path.is_symlink():
            continue
        if path.name in constants.KUSTOMIZATION_FILES:
            checker.kustomization(path)
        elif path.name == constants.HELM_CHART_FILE:
            checker.chart(path)
    return checker.problems
