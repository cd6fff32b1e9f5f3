"""Load and validate the app catalog (``apps/``): pure, reports every problem at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from infra import constants
from infra.catalog.models import (
    DNS1123_LABEL,
    App,
    AppDefinition,
    DirectorySource,
    HelmSource,
    KustomizeSource,
)
from infra.errors import Problem, ValidationError
from infra.yamlio import load_file

__all__ = ["Catalog", "load_catalog"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class Catalog:
    """The validated apps, sorted by name."""

    apps: tuple[App, ...]

    def enabled_in(self, env: str) -> tuple[App, ...]:
        return tuple(app for app in self.apps if app.environment(env) is not None)

    def teams(self) -> tuple[str, ...]:
        return tuple(sorted({app.definition.team for app in self.apps}))

    def by_team(self, env: str) -> dict[str, tuple[App, ...]]:
        grouped: dict[str, list[App]] = defaultdict(list)
        for app in self.enabled_in(env):
            grouped[app.definition.team].append(app)
        return {team: tuple(apps) for team, apps in sorted(grouped.items())}

    def namespaces(self, team: str) -> tuple[str, ...]:
        return tuple(
            sorted({a.definition.namespace for a in self.apps if a.definition.team == team})
        )


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"kustomize", "directory", "helm"} and out.endswith("source"):
            continue  # pydantic names the union member; users think of `source.<field>`
        elif part == "[key]":
            continue  # the problem is the key itself
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} is not valid here (expected pattern {error['ctx']['pattern']})"
    if kind == "union_tag_invalid":
        return f"unknown type {error['ctx']['tag']!r}; expected one of kustomize, directory, helm"
    if kind == "union_tag_not_found":
        return "`type` is required: one of kustomize, directory, helm"
    if kind == "literal_error" and error["loc"] and error["loc"][0] == "environments":
        return f"unknown environment; expected one of {', '.join(constants.ENVIRONMENTS)}"
    return str(error["msg"])


def _line_for(lines: dict[str, int], field: str) -> int | None:
    probe = field
    while probe:
        if probe in lines:
            return lines[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return lines.get("")


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def _check_paths(app: App, root: Path, app_dir: Path, lines: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    source = app.definition.source
    if isinstance(source, HelmSource):
        for env in app.enabled_environments():
            values = app_dir / constants.HELM_VALUES_DIR / f"{env}.yaml"
            if not values.is_file():
                problems.append(
                    Problem(
                        app.file,
                        f"environments.{env}",
                        f"values file {_display(values, root)} does not exist "
                        "(it holds the image tag)",
                        _line_for(lines, f"environments.{env}"),
                    )
                )
        return problems
    if isinstance(source, DirectorySource):
        for env in app.enabled_environments():
            if app.definition.environments[env].replicas is not None:  # type: ignore[index]
                problems.append(
                    Problem(
                        app.file,
                        f"environments.{env}.replicas",
                        "replicas needs a kustomize or helm source; set it in the manifests",
                        _line_for(lines, f"environments.{env}.replicas"),
                    )
                )
    raw = Path(source.path)
    if raw.is_absolute():
        return [
            Problem(
                app.file,
                "source.path",
                "must be relative to the app folder",
                _line_for(lines, "source.path"),
            )
        ]
    target = (app_dir / raw).resolve()
    if not _inside(target, app_dir.resolve()):
        escapes = "the repository" if not _inside(target, root.resolve()) else "the app folder"
        return [
            Problem(
                app.file,
                "source.path",
                f"{source.path!r} escapes {escapes}",
                _line_for(lines, "source.path"),
            )
        ]
    if not target.is_dir():
        return [
            Problem(
                app.file,
                "source.path",
                f"directory {source.path!r} does not exist",
                _line_for(lines, "source.path"),
            )
        ]
    if isinstance(source, KustomizeSource):
        for env in app.enabled_environments():
            overlay = target / constants.OVERLAYS_DIR / env
            if not any((overlay / f).is_file() for f in KUSTOMIZATION_FILES):
                rel = _display(overlay, root)
                problems.append(
                    Problem(
                        app.file,
                        f"environments.{env}",
                        f"overlay {rel}/kustomization.yaml does not exist",
                        _line_for(lines, f"environments.{env}"),
                    )
                )
    if isinstance(source, DirectorySource) and not any(
        p.suffix in {".yaml", ".yml", ".json"} for p in target.iterdir()
    ):
        problems.append(
            Problem(
                app.file,
                "source.path",
                f"directory {source.path!r} holds no manifests",
                _line_for(lines, "source.path"),
            )
        )
    return problems


def _load_app(
    app_dir: Path, root: Path, reserved: frozenset[str]
) -> tuple[App | None, dict[str, int], list[Problem]]:
    name = app_dir.name
    file_path = app_dir / constants.APP_FILE
    display = _display(file_path, root)
    problems: list[Problem] = []
    if not DNS1123_LABEL.match(name) or len(name) > 63:
        problems.append(
            Problem(
                _display(app_dir, root),
                "(folder name)",
                f"{name!r} is not a DNS-1123 label (lower-case letters, digits, '-')",
            )
        )
    if not file_path.is_file():
        problems.append(
            Problem(
                display,
                "",
                f"missing: every folder under {constants.APPS_DIR}/ needs an {constants.APP_FILE}",
            )
        )
        return None, {}, problems
    loaded = load_file(file_path, display, constants.MAX_APP_FILE_BYTES)
    problems.extend(loaded.problems)
    if loaded.problems:
        return None, loaded.lines, problems
    if not isinstance(loaded.data, dict):
        problems.append(Problem(display, "", "must be a mapping of fields (see apps/README.md)", 1))
        return None, loaded.lines, problems
    try:
        definition = AppDefinition.model_validate(loaded.data)
    except PydanticValidationError as exc:
        for error in exc.errors():
            field = _loc(error["loc"])
            problems.append(
                Problem(display, field, _message(error), _line_for(loaded.lines, field))
            )
        return None, loaded.lines, problems
    if definition.namespace in reserved:
        problems.append(
            Problem(
                display,
                "namespace",
                f"{definition.namespace!r} is reserved for the platform",
                _line_for(loaded.lines, "namespace"),
            )
        )
    if definition.strategy.type != "rolling":
        problems.append(
            Problem(
                display,
                "strategy.type",
                f"{definition.strategy.type!r} is reserved for the progressive-delivery "
                "golden path, which is not available yet; use 'rolling'",
                _line_for(loaded.lines, "strategy.type"),
            )
        )
    app = App(name=name, file=display, folder=_display(app_dir, root), definition=definition)
    problems.extend(_check_paths(app, root, app_dir, loaded.lines))
    return (None if problems else app), loaded.lines, problems


def _ownership_problems(apps: Iterable[tuple[App, dict[str, int]]]) -> list[Problem]:
    owners: dict[str, dict[str, list[tuple[App, dict[str, int]]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for app, lines in apps:
        owners[app.definition.namespace][app.definition.team].append((app, lines))
    problems = []
    for namespace, teams in sorted(owners.items()):
        if len(teams) < 2:
            continue
        names = ", ".join(sorted(teams))
        for claims in teams.values():
            for app, lines in claims:
                problems.append(
                    Problem(
                        app.file,
                        "namespace",
                        f"namespace {namespace!r} is claimed by several teams ({names})",
                        _line_for(lines, "namespace"),
                    )
                )
    return problems


def load_catalog(
    repo_root: Path,
    apps_dir: Path | None = None,
    *,
    reserved_namespaces: Iterable[str] = (),
) -> Catalog:
    """Load every ``apps/<name>/app.yaml`` under ``apps_dir`` (default ``<repo>/apps``).

    Raises :class:`ValidationError` listing every problem in every file; otherwise returns
    the catalog. Reads files only; never writes, never touches a cluster.
    """
    root = repo_root
    apps_path = apps_dir if apps_dir is not None else root / constants.APPS_DIR
    reserved = frozenset(constants.RESERVED_NAMESPACES) | frozenset(reserved_namespaces)
    display_dir = _display(apps_path, root)
    if not apps_path.is_dir():
        raise ValidationError([Problem(display_dir, "", "apps directory does not exist")])
    problems: list[Problem] = []
    loaded: list[tuple[App, dict[str, int]]] = []
    for entry in sorted(apps_path.iterdir()):
        if entry.name.startswith(".") or (entry.is_file() and entry.suffix.lower() == ".md"):
            continue
        if not entry.is_dir():
            problems.append(
                Problem(
                    _display(entry, root),
                    "",
                    f"unexpected file: {display_dir}/ holds one folder per app",
                )
            )
            continue
        app, lines, app_problems = _load_app(entry, root, reserved)
        problems.extend(app_problems)
        if app is not None:
            loaded.append((app, lines))
    problems.extend(_ownership_problems(loaded))
    if problems:
        raise ValidationError(problems)
    return Catalog(apps=tuple(app for app, _ in loaded))
