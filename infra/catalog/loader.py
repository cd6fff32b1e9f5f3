"""Load and validate the app catalog (``apps/``): pure, reports every problem at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from infra import constants
from infra.catalog.kube_names import is_dns_label
from infra.catalog.models import (
    App,
    AppDefinition,
    CanaryStep,
    Checks,
    DirectorySource,
    HelmSource,
    KustomizeSource,
)
from infra.catalog.remote_refs import remote_reference_problems
from infra.catalog.safe_paths import entry_problem, path_problem, tree_problems
from infra.catalog.secrets_scan import plain_secret_problems
from infra.errors import Problem, ValidationError, problems_from_pydantic
from infra.yamlio import load_file

__all__ = ["Catalog", "load_catalog"]


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


_UNIONS = {"source": ("kustomize", "directory", "helm")}
"""The discriminated unions of an app definition: field -> tags (pydantic puts the tag in the
location; users write ``source.path``, not ``source.helm.path``)."""

# Readable rules for patterns users get wrong most, by the last part of the field.
_PATTERN_HINTS = {
    "image": "expected <repository>:<tag> (optionally @sha256:<digest>), lower-case repository",
    "path": "expected an absolute request path such as /healthz (no spaces, no fragment)",
    "duration": "expected a number and a unit: 30s, 5m, 1h",
    "activeService": "expected a Service name (DNS-1035: starts with a letter)",
    "previewService": "expected a Service name (DNS-1035: starts with a letter)",
    "jsonPointers": "expected a JSON pointer such as /spec/replicas",
    "kind": "expected a kind such as Deployment",
    "group": "expected an API group such as apps, or empty for the core group",
}


def _hint(loc: Sequence[int | str]) -> str | None:
    if not loc or loc[0] not in ("strategy", "ignoreDifferences"):
        return None
    key = next((str(part) for part in reversed(loc) if isinstance(part, str)), "")
    return _PATTERN_HINTS.get(key)


def _reworded(error: Mapping[str, Any], default: str) -> str | None:
    if error["type"] == "union_tag_not_found":
        return "`type` is required: one of kustomize, directory, helm"
    if error["type"] == "literal_error" and error["loc"] and error["loc"][0] == "environments":
        return f"unknown environment; expected one of {', '.join(constants.ENVIRONMENTS)}"
    if error["type"] == "string_type" and error["loc"] and error["loc"][0] == "placement":
        return 'a label value is a string: quote it ("true", "1")'
    return None


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
            values = root / app.values_path(env)
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
        if source.path is None:
            return problems  # an external chart: nothing more in this repository
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
    assert source.path is not None
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
            overlay = root / app.overlay_path(env)
            if not any((overlay / f).is_file() for f in constants.KUSTOMIZATION_FILES):
                rel = _display(overlay, root)
                problems.append(
                    Problem(
                        app.file,
                        f"environments.{env}",
                        f"overlay {rel}/kustomization.yaml does not exist",
                        _line_for(lines, f"environments.{env}"),
                    )
                )
    if isinstance(source, HelmSource) and not (target / constants.HELM_CHART_FILE).is_file():
        problems.append(
            Problem(
                app.file,
                "source.path",
                f"{_display(target, root)}/Chart.yaml does not exist (a Helm chart's folder)",
                _line_for(lines, "source.path"),
            )
        )
    if isinstance(source, DirectorySource) and not any(
        p.suffix in constants.MANIFEST_SUFFIXES for p in target.iterdir()
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
    if not is_dns_label(name):
        problems.append(
            Problem(
                _display(app_dir, root),
                "(folder name)",
                f"{name!r} is not a DNS-1123 label (lower-case letters, digits, '-')",
            )
        )
    unreadable = [Problem(_display(path, root), "", why) for path, why in tree_problems(app_dir)]
    if unreadable:
        # Nothing of an app holding a link, FIFO or device is read, its app.yaml included.
        return None, {}, problems + unreadable
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
        problems.extend(
            problems_from_pydantic(
                display,
                exc,
                unions=_UNIONS,
                line_for=lambda field: _line_for(loaded.lines, field),
                hint_for=_hint,
                message_for=_reworded,
            )
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
    problems.extend(
        Problem(display, field, message, _line_for(loaded.lines, field))
        for field, message in _strategy_problems(name, definition)
    )
    app = App(name=name, file=display, folder=_display(app_dir, root), definition=definition)
    problems.extend(_check_paths(app, root, app_dir, loaded.lines))
    return (None if problems else app), loaded.lines, problems


_BLUE_GREEN_ONLY = (
    "activeService",
    "previewService",
    "autoPromotionEnabled",
    "scaleDownDelaySeconds",
)
_CANARY_ONLY = ("steps",)
_MAX_NAME = 63


def _strategy_problems(name: str, definition: AppDefinition) -> list[tuple[str, str]]:
    """What the schema cannot say about ``strategy``: which fields go with which type, the
    canary step order, and what the generated Rollout needs. ``(field, message)`` pairs."""
    strategy = definition.strategy
    given = strategy.model_fields_set
    out: list[tuple[str, str]] = []
    kind = strategy.type
    for field in _BLUE_GREEN_ONLY:
        if field in given and kind != "blueGreen":
            out.append((f"strategy.{field}", f"only for type blueGreen, not {kind}"))
    for field in _CANARY_ONLY:
        if field in given and kind != "canary":
            out.append((f"strategy.{field}", f"only for type canary, not {kind}"))
    if not strategy.progressive:
        if "checks" in given:
            out.append(("strategy.checks", "only for types blueGreen and canary, not rolling"))
        return out
    if not isinstance(definition.source, KustomizeSource):
        out.append(
            (
                "strategy.type",
                f"{kind} needs a kustomize source (the generated kustomization wraps "
                f"overlays/<env>); this app's source is {definition.source.type}",
            )
        )
    checks = strategy.checks
    generated: list[tuple[str, str]] = []
    if kind == "blueGreen":
        active = strategy.activeService or name
        preview = strategy.previewService or f"{name}-preview"
        if active == preview:
            out.append(("strategy.previewService", f"must differ from activeService ({active!r})"))
        if checks is None and strategy.previewService is not None:
            out.append(
                (
                    "strategy.previewService",
                    "needs strategy.checks.port: the generated preview Service exposes that port",
                )
            )
        if checks is not None:
            generated.append(("strategy.previewService", preview))
    else:
        out.extend(_canary_step_problems(strategy.steps, checks))
        if checks is not None:
            generated += [("strategy.type", f"{name}-canary"), ("strategy.type", f"{name}-stable")]
    for field, service in generated:
        if len(service) > _MAX_NAME or not service[0].isalpha():
            out.append(
                (
                    field,
                    f"the generated Service name {service!r} is not a valid Service name "
                    f"(DNS-1035 label, at most {_MAX_NAME} characters); use a shorter app name"
                    + (" or set previewService" if kind == "blueGreen" else ""),
                )
            )
    return out


def _canary_step_problems(
    steps: Sequence[CanaryStep] | None, checks: Checks | None
) -> list[tuple[str, str]]:
    if steps is None:
        return [("strategy.steps", "required for type canary: at least one step")]
    out: list[tuple[str, str]] = []
    last_weight: int | None = None
    analysis_steps = 0
    for index, step in enumerate(steps):
        where = f"strategy.steps[{index}]"
        if step.setWeight is not None:
            if last_weight is not None and step.setWeight <= last_weight:
                out.append(
                    (
                        f"{where}.setWeight",
                        f"weights must increase: {step.setWeight} comes after {last_weight}",
                    )
                )
            last_weight = step.setWeight
        if step.analysis is not None:
            analysis_steps += 1
            if checks is None or not checks.checks_something():
                out.append(
                    (
                        f"{where}.analysis",
                        "needs strategy.checks with http checks or a smokeJob (what to run)",
                    )
                )
            elif last_weight is None:
                out.append(
                    (
                        f"{where}.analysis",
                        "comes before any setWeight: no canary pod exists yet to check",
                    )
                )
    if checks is not None and checks.checks_something() and analysis_steps == 0:
        out.append(
            (
                "strategy.checks",
                "declared but never run: a canary runs its checks in `analysis: {}` steps",
            )
        )
    return out


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


_SERVICE_FIELDS: dict[str, str] = {
    "active": "strategy.activeService",
    "preview": "strategy.previewService",
}


def _chosen(app: App, role: str) -> bool:
    """The app's file names this Service itself (not a default the platform derives)."""
    field = _SERVICE_FIELDS.get(role, "")
    return getattr(app.definition.strategy, field.rpartition(".")[2], None) is not None


def _service_problems(apps: Iterable[tuple[App, dict[str, int]]]) -> list[Problem]:
    """A Rollout takes over the selector of each Service it names: a name that is another
    app's (its own Service, ``<app>``, or one its Rollout names) in the same namespace would
    let one app steer the other's traffic. The app whose file chose the name is the one
    refused; a derived name is refused only when no file chose it."""
    claims: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)
    listed = list(apps)
    for app, _ in listed:
        claims[(app.definition.namespace, app.name)][app.name] = False
        for role, name in app.service_names().items():
            claims[(app.definition.namespace, name)][app.name] = _chosen(app, role)
    problems = []
    for app, lines in listed:
        for role, name in app.service_names().items():
            others = claims[(app.definition.namespace, name)]
            mine = _chosen(app, role)
            owners = sorted(
                o for o, chosen in others.items() if o != app.name and not (chosen and not mine)
            )
            if not owners:
                continue
            field = _SERVICE_FIELDS.get(role, "strategy") if mine else "strategy"
            problems.append(
                Problem(
                    app.file,
                    field,
                    f"Service {name!r} is app {' and '.join(owners)}'s in namespace "
                    f"{app.definition.namespace!r}: the Rollout would take over its selector "
                    "and steer that app's traffic; name a Service of this app",
                    _line_for(lines, field),
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
    unsafe = path_problem(apps_path, root)
    elsewhere = apps_path.is_absolute() and ".." not in apps_path.parts
    if unsafe is not None and unsafe[1] == "leaves the repository" and elsewhere:
        # An absolute catalog folder elsewhere (tests do this): itself not a link, FIFO...
        why = entry_problem(apps_path)
        unsafe = None if why is None else (apps_path, why)
    if unsafe is not None:
        where, why = unsafe
        raise ValidationError([Problem(_display(where, root), "", f"catalog folder: {why}")])
    if not apps_path.is_dir():
        raise ValidationError([Problem(display_dir, "", "apps directory does not exist")])
    problems: list[Problem] = []
    loaded: list[tuple[App, dict[str, int]]] = []
    for entry in sorted(apps_path.iterdir()):
        if entry.name.startswith("."):
            continue
        unreadable = entry_problem(entry)
        if unreadable is not None:
            problems.append(Problem(_display(entry, root), "", unreadable))
            continue
        if entry.is_file() and entry.suffix.lower() == ".md":
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
    problems.extend(_service_problems(loaded))
    problems.extend(plain_secret_problems(root, apps_path))
    problems.extend(remote_reference_problems(root, apps_path))
    if problems:
        raise ValidationError(problems)
    return Catalog(apps=tuple(app for app, _ in loaded))
