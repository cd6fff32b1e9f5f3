"""The pull-request plan: what merging ``head`` into ``base`` changes in each stack (no cluster).

For each stack, both revisions are read from git (``git archive`` of the commit into a private
folder; nothing in the repository changes) and go through the same functions as ``pulumi up``
and ``platformctl render/expand``: :func:`~infra.settings.load_stack_file`, the one catalog
loader, :func:`~infra.specs.argocd_objects`, :func:`~infra.specs.expand`. Then:

* the AppProjects and ApplicationSets that change, as unified diffs;
* the Applications that appear, change or disappear (appdiff's
  :func:`~infra.delivery.appdiff.diff_applications`);
* for every Application whose inputs changed (its spec, or any file :func:`input_files` says
  the render reads), its objects rendered at both revisions (:mod:`infra.delivery.render_app`)
  and compared object by object; the others are not rendered;
* blast-radius warnings (:func:`warnings`).

Pure but for git and the rendering tools; the Markdown and JSON are
:mod:`infra.delivery.plan_report`'s.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from infra import constants
from infra.delivery.appdiff import AppChange, diff_applications
from infra.delivery.catalog_view import export_commit, load_tree_catalog
from infra.delivery.fleet_plan import spoke_findings
from infra.delivery.git import Git
from infra.delivery.render_app import (
    NotRenderable,
    TargetCluster,
    ToolMissing,
    input_files,
    object_key,
    render_application,
    target_cluster,
)
from infra.delivery.stacks import stack_names
from infra.delivery.tree import GitTree, WorkTree
from infra.errors import InputError, PlatformError, Problem, ValidationError
from infra.settings import StackSettings, load_stack_file
from infra.specs import argocd_objects, expand
from infra.specs.fleet import generator_params
from infra.yamlio import dump_all

__all__ = [
    "AppRender",
    "ObjectDiff",
    "Plan",
    "Revision",
    "StackPlan",
    "StackSide",
    "Warning",
    "build_plan",
    "load_side",
    "open_revision",
    "resolve_ref",
]

Change = Literal["added", "changed", "removed"]
Status = Literal["rendered", "not-rendered", "error"]


@dataclass(frozen=True)
class Revision:
    label: str
    """``base`` or ``head``."""
    ref: str
    """What the user named (``origin/dev``)."""
    commit: str
    checkout: Path
    """The commit's project folder, exported (private: rendering edits it as Argo CD does)."""


@dataclass(frozen=True)
class ObjectDiff:
    key: str
    change: Change
    diff: str
    """Unified diff of the object's YAML (the whole object when added or removed)."""


@dataclass
class AppRender:
    application: str
    """``namespace/name`` of the Application."""
    status: Status
    note: str = ""
    inputs: list[str] = field(default_factory=list)
    """The input files that differ between the revisions."""
    objects: list[ObjectDiff] = field(default_factory=list)
    before: list[dict[str, Any]] = field(default_factory=list)
    after: list[dict[str, Any]] = field(default_factory=list)
    namespace: str = ""
    """The Application's destination namespace (at head, else at base): where an object whose
    manifest names no namespace is applied."""


@dataclass(frozen=True)
class Warning:
    stack: str
    kind: str
    message: str


@dataclass
class StackPlan:
    stack: str
    environment: str
    branch: str
    present: tuple[bool, bool]
    """Whether the stack file exists at base, at head."""
    argocd: list[ObjectDiff]
    applications: list[AppChange]
    renders: list[AppRender]
    total_base: int
    total_head: int
    target: TargetCluster | None


@dataclass
class Plan:
    base: Revision
    head: Revision
    stacks: list[StackPlan]
    warnings: list[Warning]


# -- revisions ---------------------------------------------------------------------------------


def resolve_ref(git: Git, ref: str, flag: str) -> str:
    """The commit ``ref`` names; a ref that looks like an option or names no commit is one
    :class:`InputError` naming the flag (never passed to git as an option)."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
        raise InputError(f"{flag}: {ref!r} is not a git revision")
    result = git.run(
        "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False
    )
    if not result.ok or not result.stdout.strip():
        raise InputError(f"{flag}: unknown revision {ref!r} in {git.repo} (no such commit)")
    return result.stdout.strip()


def open_revision(
    git: Git, label: str, ref: str, flag: str, prefix: str, scratch: Path
) -> Revision:
    """Export the commit ``ref`` names into ``scratch/<label>``; ``prefix``: the project's
    folder inside the repository (``""`` at its root)."""
    commit = resolve_ref(git, ref, flag)
    dest = scratch / label
    dest.mkdir(parents=True)
    try:
        export_commit(GitTree(git, commit), ".", dest)
    except PlatformError as exc:
        raise InputError(f"{flag} {ref}: {exc}") from None
    return Revision(label, ref, commit, dest / prefix if prefix else dest)


# -- one side of a stack -----------------------------------------------------------------------


@dataclass
class StackSide:
    """One stack at one revision: its settings (``None`` when the stack file is absent), its
    AppProjects and ApplicationSets, and the Applications they generate (``namespace/name``)."""

    settings: StackSettings | None
    objects: dict[str, dict[str, Any]]
    applications: dict[str, dict[str, Any]]
    generated_by: dict[str, str] = field(default_factory=dict)
    """The key (in ``objects``) of the ApplicationSet that generates each Application."""


def _at(revision: Revision, exc: ValidationError) -> ValidationError:
    where = f"{revision.label} ({revision.ref})"
    return ValidationError(
        Problem(f"{where}: {p.file}", p.field, p.message, p.line) for p in exc.problems
    )


def _argocd_key(obj: dict[str, Any]) -> str:
    return f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _app_key(app: dict[str, Any]) -> str:
    return f"{app['metadata'].get('namespace', '')}/{app['metadata']['name']}"


def load_side(revision: Revision, stack: str, root: Path) -> StackSide:
    """``stack`` at ``revision`` through the functions ``pulumi up`` and ``expand`` use
    (``root``: the project folder, for the settings that name local paths)."""
    if not (revision.checkout / constants.stack_file(stack)).is_file():
        return StackSide(None, {}, {})
    try:
        settings = load_stack_file(revision.checkout, stack)
        # The project root of this checkout, not the export: the local mirror's URL is a path.
        settings = settings.model_copy(update={"root": str(root)})
        catalog = load_tree_catalog(
            WorkTree(revision.checkout, revision.label),
            settings.catalog.appsDir,
            settings.platform_namespaces,
        )
        objects = argocd_objects(catalog, settings)
    except ValidationError as exc:
        raise _at(revision, exc) from None
    clusters = generator_params(settings)
    generated: dict[str, dict[str, Any]] = {}
    generated_by: dict[str, str] = {}
    for obj in objects:
        if obj["kind"] == "ApplicationSet":
            for app in expand(obj, clusters):
                generated[_app_key(app)] = app
                generated_by[_app_key(app)] = _argocd_key(obj)
    return StackSide(settings, {_argocd_key(o): o for o in objects}, generated, generated_by)


# -- diffs -------------------------------------------------------------------------------------


def _yaml(obj: dict[str, Any] | None) -> list[str]:
    return [] if obj is None else dump_all([obj]).splitlines(keepends=True)


def _diff(key: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> ObjectDiff:
    change: Change = "added" if before is None else "removed" if after is None else "changed"
    lines = difflib.unified_diff(_yaml(before), _yaml(after), f"base/{key}", f"head/{key}", n=3)
    return ObjectDiff(key, change, "".join(lines))


def diff_objects(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[ObjectDiff]:
    """One :class:`ObjectDiff` per key added, removed or changed, sorted by key."""
    return [
        _diff(key, before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


# -- rendering only what changed ---------------------------------------------------------------


def _digests(app: dict[str, Any] | None, side: StackSide, revision: Revision) -> dict[str, str]:
    if app is None or side.settings is None:
        return {}
    out = {}
    for path in input_files(app, revision.checkout, side.settings.repo_url):
        file = revision.checkout / path
        # A value file may be absent (a cluster's, with ignoreMissingValueFiles).
        out[path] = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else ""
    return out


def _render(
    app: dict[str, Any] | None, side: StackSide, revision: Revision
) -> list[dict[str, Any]]:
    if app is None or side.settings is None:
        return []
    return render_application(
        app, revision.checkout, side.settings.repo_url, target_cluster(side.settings)
    )


def _render_pair(
    key: str,
    before: tuple[dict[str, Any] | None, StackSide, Revision],
    after: tuple[dict[str, Any] | None, StackSide, Revision],
    inputs: list[str],
) -> AppRender:
    app = after[0] or before[0] or {}
    namespace = str(((app.get("spec") or {}).get("destination") or {}).get("namespace") or "")
    result = AppRender(key, "rendered", inputs=inputs, namespace=namespace)
    try:
        result.before = _render(*before)
        result.after = _render(*after)
    except ToolMissing:
        raise
    except NotRenderable as exc:
        result.status, result.note = "not-rendered", str(exc)
        return result
    except PlatformError as exc:
        result.status, result.note = "error", str(exc)
        return result
    result.objects = diff_objects(
        {object_key(o): o for o in result.before}, {object_key(o): o for o in result.after}
    )
    return result


def _changed_inputs(base: dict[str, str], head: dict[str, str]) -> list[str]:
    return sorted(p for p in base.keys() | head.keys() if base.get(p) != head.get(p))


def stack_plan(
    stack: str, base: Revision, head: Revision, root: Path
) -> tuple[StackPlan, list[Warning]]:
    """Everything :class:`StackPlan` holds for one stack (rendering what changed), and its
    blast-radius warnings."""
    before, after = load_side(base, stack, root), load_side(head, stack, root)
    settings = after.settings or before.settings
    assert settings is not None
    spokes, spoke_problems = spoke_findings(
        (before.settings, before.applications),
        (after.settings, after.applications),
        f"{head.label} ({head.ref})",
    )
    if spoke_problems:
        raise ValidationError(spoke_problems)
    targets = [target_cluster(s) if s else None for s in (before.settings, after.settings)]
    digests = {}
    for key in sorted(before.applications.keys() | after.applications.keys()):
        old, new = before.applications.get(key), after.applications.get(key)
        # Every input is hashed before anything renders (a render edits a kustomization for
        # its build, as the repo-server does, and restores it).
        digests[key] = (_digests(old, before, base), _digests(new, after, head))
    renders = []
    for key, (old_inputs, new_inputs) in digests.items():
        old, new = before.applications.get(key), after.applications.get(key)
        inputs = _changed_inputs(old_inputs, new_inputs)
        if old == new and not inputs and targets[0] == targets[1]:
            continue
        renders.append(_render_pair(key, (old, before, base), (new, after, head), inputs))
    plan = StackPlan(
        stack=stack,
        environment=settings.environment,
        branch=settings.branch,
        present=(before.settings is not None, after.settings is not None),
        argocd=diff_objects(before.objects, after.objects),
        applications=diff_applications(before.applications, after.applications),
        renders=renders,
        total_base=len(before.applications),
        total_head=len(after.applications),
        target=targets[1] or targets[0],
    )
    found = [Warning(stack, s.kind, s.message) for s in spokes]
    return plan, found + warnings(stack, before, after, renders)


# -- blast radius ------------------------------------------------------------------------------


def _namespaces(side: StackSide) -> set[str]:
    return {str(a["spec"]["destination"]["namespace"]) for a in side.applications.values()}


def _renamed(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """How a removed and an added Application look like one app renamed, or ``None``: the
    same spec once the old name is replaced by the new (paths included), else the same
    project, destination and kind of source (a guess, said as such)."""
    old_name, new_name = old["metadata"]["name"], new["metadata"]["name"]
    old_spec = dump_all([old["spec"]]).replace(old_name, new_name)
    if old_spec == dump_all([new["spec"]]):
        return "the same spec but for the name"

    def shape(app: dict[str, Any]) -> tuple[Any, ...]:
        spec = app["spec"]
        sources = spec.get("sources") or [spec.get("source") or {}]
        kinds = tuple(
            sorted(
                k for s in sources for k in ("chart", "helm", "kustomize", "directory") if k in s
            )
        )
        return spec.get("project"), spec["destination"].get("namespace"), kinds

    if shape(old) == shape(new):
        return "the same project, destination namespace and kind of source (a guess)"
    return None


def _automated_prune(app: dict[str, Any] | None) -> bool:
    automated = ((app or {}).get("spec", {}).get("syncPolicy") or {}).get("automated")
    return isinstance(automated, dict) and bool(automated.get("prune"))


def _generator(side: StackSide, key: str) -> dict[str, Any] | None:
    """The ApplicationSet that generates the Application ``key`` (``namespace/name``)."""
    owner = side.generated_by.get(key)
    return None if owner is None else side.objects.get(owner)


def _removal(settings: StackSettings, appset: dict[str, Any] | None) -> str:
    policy = ((appset or {}).get("spec") or {}).get("syncPolicy") or {}
    if settings.sync.applicationsSync in ("sync", "create-delete"):
        if policy.get("preserveResourcesOnDeletion"):
            kept = (
                "its resources stay in the cluster, unmanaged (the ApplicationSet's "
                "preserveResourcesOnDeletion)"
            )
        else:
            kept = "Argo CD deletes its resources with it (no preserveResourcesOnDeletion)"
        return (
            "the ApplicationSet controller deletes it (applicationsSync: "
            f"{settings.sync.applicationsSync}); {kept}"
        )
    return (
        f"applicationsSync: {settings.sync.applicationsSync} keeps the Application, no longer "
        "generated: delete it by hand (with cascade its resources are deleted)"
    )


def _handover(settings: StackSettings) -> str:
    """What happens to an Application another ApplicationSet generates from now on: an
    ApplicationSet updates only the Applications it owns."""
    if settings.sync.applicationsSync in ("sync", "create-delete"):
        return (
            "the old one deletes it (its resources stay: preserveResourcesOnDeletion) and the "
            "new one creates it again; meanwhile the new one reports it owned by the old one"
        )
    return (
        f"with applicationsSync: {settings.sync.applicationsSync} the old one keeps it and the "
        "new one cannot update it (the old one owns it): delete the Application by hand "
        "(it has no resources finalizer, its resources stay) and the new one creates it"
    )


def warnings(
    stack: str, before: StackSide, after: StackSide, renders: Iterable[AppRender]
) -> list[Warning]:
    """Blast-radius warnings of one stack (see docs/delivery.md, "The plan")."""
    out: list[Warning] = []

    def add(kind: str, message: str) -> None:
        out.append(Warning(stack, kind, message))

    settings = after.settings or before.settings
    assert settings is not None
    if after.settings is None:
        add(
            "stack-removed",
            f"{constants.stack_file(stack)} is removed: the stack's Argo CD objects are no "
            "longer declared",
        )
    removed = sorted(before.applications.keys() - after.applications.keys())
    added = sorted(after.applications.keys() - before.applications.keys())
    renames: dict[str, str] = {}
    for old in removed:
        for new in added:
            why = _renamed(before.applications[old], after.applications[new])
            if why and new not in renames.values():
                renames[old] = new
                add(
                    "rename",
                    f"Application `{old}` looks renamed to `{new}` ({why}): Argo CD sees one "
                    "Application removed and another created; the new one takes over objects "
                    "of the same names only after the old one's are gone or orphaned",
                )
                break
    for key in removed:
        appset = _generator(before, key)
        add("application-removed", f"Application `{key}` disappears: {_removal(settings, appset)}")
    for key in sorted(before.applications.keys() & after.applications.keys()):
        old_owner, new_owner = before.generated_by.get(key), after.generated_by.get(key)
        if old_owner and new_owner and old_owner != new_owner:
            add(
                "application-moved",
                f"Application `{key}` moves from ApplicationSet `{old_owner.split(' ', 1)[1]}` "
                f"to `{new_owner.split(' ', 1)[1]}` (its app's team changed): "
                f"{_handover(settings)}",
            )
    for namespace in sorted(_namespaces(before) - _namespaces(after)):
        add(
            "namespace-removed",
            f"no Application deploys to namespace `{namespace}` any more (its objects are no "
            "longer managed)",
        )
    for render in renders:
        app = after.applications.get(render.application)
        gone = [d.key for d in render.objects if d.change == "removed"]
        if gone and app is not None and _automated_prune(app):
            shown = ", ".join(f"`{k}`" for k in gone[:10]) + (" ..." if len(gone) > 10 else "")
            add(
                "prune",
                f"`{render.application}`: automated sync with prune deletes {len(gone)} "
                f"object(s): {shown}",
            )
        crds = [
            d.key
            for d in render.objects
            if d.change == "removed" and "/CustomResourceDefinition/" in d.key
        ]
        for crd in crds:
            add(
                "crd-removed",
                f"`{render.application}`: CustomResourceDefinition `{crd}` is removed "
                "(deleting a CRD deletes every object of its kind)",
            )
        if render.status == "error":
            add("render-error", f"`{render.application}` does not render: {render.note}")
    if settings.environment == constants.PROD_ENVIRONMENT and before.settings and after.settings:
        old_sync, new_sync = before.settings.sync.model_dump(), after.settings.sync.model_dump()
        for name in sorted(old_sync):
            if old_sync[name] != new_sync[name]:
                what = "sync windows" if name == "windows" else f"sync.{name}"
                add(
                    "prod-sync",
                    f"prod stack `{stack}`: {what} changes: {old_sync[name]} → {new_sync[name]}",
                )
    if settings.environment == constants.PROD_ENVIRONMENT:
        for key in sorted(before.applications.keys() & after.applications.keys()):
            old_policy = before.applications[key]["spec"].get("syncPolicy")
            new_policy = after.applications[key]["spec"].get("syncPolicy")
            if old_policy != new_policy:
                add("prod-sync", f"prod Application `{key}`: its sync policy changes")
    renamed = {
        before.applications[old]["metadata"]["name"]: after.applications[new]["metadata"]["name"]
        for old, new in renames.items()
    }
    out.extend(_appset_losses(stack, before, after, renamed))
    return out


def _appset_losses(
    stack: str, before: StackSide, after: StackSide, renamed: dict[str, str]
) -> list[Warning]:
    """ApplicationSets losing more than the set share of their Applications (one renamed
    within the same ApplicationSet, ``renamed``: old name -> new, is not lost)."""
    out = []
    generated_before, generated_after = _generated(before), _generated(after)
    for key, appset in before.objects.items():
        if appset["kind"] != "ApplicationSet":
            continue
        names = generated_before.get(key, set())
        kept = generated_after.get(key, set())
        lost = {n for n in names - kept if renamed.get(n) not in kept}
        if names and len(lost) / len(names) > constants.PLAN_APPSET_LOSS_SHARE:
            out.append(
                Warning(
                    stack,
                    "applicationset-loss",
                    f"ApplicationSet `{key.split(' ', 1)[1]}` loses {len(lost)} of its "
                    f"{len(names)} Applications (more than "
                    f"{constants.PLAN_APPSET_LOSS_SHARE:.0%}): {', '.join(sorted(lost))}",
                )
            )
    return out


def _generated(side: StackSide) -> dict[str, set[str]]:
    """The names of the Applications each ApplicationSet (by key) generates."""
    out: dict[str, set[str]] = {}
    for key, owner in side.generated_by.items():
        out.setdefault(owner, set()).add(str(side.applications[key]["metadata"]["name"]))
    return out


# -- the whole plan ----------------------------------------------------------------------------


def build_plan(base: Revision, head: Revision, stacks: list[str] | None, root: Path) -> Plan:
    """The plan of ``stacks`` (default: every stack file at either revision)."""
    known = sorted(set(stack_names(base.checkout)) | set(stack_names(head.checkout)))
    chosen = list(dict.fromkeys(stacks)) if stacks else known
    for stack in chosen:
        if stack not in known:
            raise InputError(
                f"--stack: no stack {stack!r}: {constants.stack_file(stack)} exists neither at "
                "base "
                f"({base.ref}) nor at head ({head.ref}) (stacks: {', '.join(known) or 'none'})"
            )
    plans: list[StackPlan] = []
    found: list[Warning] = []
    problems: list[Problem] = []
    for stack in chosen:
        try:
            plan, stack_warnings = stack_plan(stack, base, head, root)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        plans.append(plan)
        found.extend(stack_warnings)
    if problems:
        raise ValidationError(problems)
    return Plan(base, head, plans, found)
