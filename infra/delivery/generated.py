"""The generated Rollout manifests on disk: compare them with the catalog, write them, remove
the stale ones (``platformctl generate``; ``--check`` and ``validate`` only compare).

For every blueGreen/canary app and every environment it is enabled in, the files
:func:`infra.specs.rollout.generated_files` computes go to ``apps/<app>/generated/<env>/``. The
folder ``apps/<app>/generated/`` belongs to the generator: files that start with its header
and are no longer generated (an environment disabled, the app back to ``rolling``) are
removed; a file there that the generator did not write is reported, never touched.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra.atomic import folder_lock, write_files_atomically
from infra.catalog import Catalog, load_catalog
from infra.constants import GENERATED_DIR
from infra.delivery.stacks import apps_dirs, stack_names
from infra.errors import PlatformError, Problem, ValidationError
from infra.settings import load_stack_file
from infra.specs.rollout import HEADER, catalog_generated_files

__all__ = ["GeneratedPlan", "generate", "generated_problems", "plan_generated"]

_RERUN = "run `platformctl generate`"


@dataclass
class GeneratedPlan:
    """What ``generate`` would do to bring the tree in line with the catalog."""

    root: Path
    write: dict[Path, str] = field(default_factory=dict)
    """Missing or stale files and their content."""
    missing: set[Path] = field(default_factory=set)
    remove: list[Path] = field(default_factory=list)
    """Generator-owned files that are no longer generated."""
    foreign: list[Path] = field(default_factory=list)
    """Files under a ``generated/`` folder that the generator did not write."""
    unsafe: list[Path] = field(default_factory=list)
    """Symbolic links where the generator would write."""
    unchanged: int = 0

    def display(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def problems(self) -> list[Problem]:
        out = [
            Problem(
                self.display(path),
                "",
                f"missing: {_RERUN}"
                if path in self.missing
                else f"stale (differs from what the app definition generates): {_RERUN}",
            )
            for path in self.write
        ]
        out += [
            Problem(self.display(path), "", f"no longer generated: {_RERUN} to remove it")
            for path in self.remove
        ]
        out += self.refusals()
        return out

    def refusals(self) -> list[Problem]:
        """What ``generate`` will not fix by itself."""
        out = [
            Problem(
                self.display(path),
                "",
                f"not written by platformctl generate: {GENERATED_DIR}/ holds generated files "
                "only; move or remove it",
            )
            for path in self.foreign
        ]
        out += [
            Problem(self.display(path), "", "is a symbolic link; refusing to write through it")
            for path in self.unsafe
        ]
        return out


def _owned(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            first = handle.readline(len(HEADER) + 2)
    except OSError:
        return False
    return first.rstrip(b"\r\n") == HEADER.encode()


def plan_generated(root: Path, apps_dir: Path, catalog: Catalog) -> GeneratedPlan:
    """Compare the generated files on disk with what the catalog generates (reads only)."""
    plan = GeneratedPlan(root=root)
    expected: dict[Path, str] = {}
    for app_name, files in catalog_generated_files(catalog).items():
        for relative, text in files.items():
            expected[apps_dir / app_name / relative] = text
    seen: set[Path] = set()
    for app_dir in sorted(p for p in apps_dir.iterdir() if p.is_dir()):
        generated = app_dir / GENERATED_DIR
        if generated.is_symlink():
            plan.unsafe.append(generated)
            continue
        if not generated.is_dir():
            continue
        for directory, dirs, names in os.walk(generated):
            here = Path(directory)
            for name in sorted(dirs):
                if (here / name).is_symlink():
                    plan.unsafe.append(here / name)
            dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
            for name in sorted(names):
                path = here / name
                seen.add(path)
                if path.is_symlink():
                    plan.unsafe.append(path)
                elif path in expected:
                    if path.read_bytes() == expected[path].encode():
                        plan.unchanged += 1
                    else:
                        plan.write[path] = expected[path]
                elif _owned(path):
                    plan.remove.append(path)
                else:
                    plan.foreign.append(path)
    for path, text in expected.items():
        if path not in seen:
            plan.write[path] = text
            plan.missing.add(path)
    return plan


def generated_problems(root: Path, apps_dir: Path, catalog: Catalog) -> list[Problem]:
    """``generate --check`` as problems (for ``platformctl validate``)."""
    return plan_generated(root, apps_dir, catalog).problems()


def _write_all(plan: GeneratedPlan) -> None:
    """Every missing or stale file, all or nothing: a failure (a full disk) leaves every file
    as it was and removes the folders made for them."""
    created: list[Path] = []
    try:
        for path in sorted(plan.write):
            missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                created.insert(0, folder)
        write_files_atomically(
            {path: text.encode("utf-8") for path, text in sorted(plan.write.items())}
        )
    except OSError as exc:
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        where = plan.display(Path(exc.filename)) if exc.filename else "the generated files"
        raise PlatformError(f"cannot write {where}: {exc.strerror}; nothing was changed") from None


def _apply(plan: GeneratedPlan, apps_dir: Path) -> list[str]:
    """Write and remove what ``plan`` says; a line for each file (created, updated, removed)."""
    _write_all(plan)
    lines = [
        f"{'created' if path in plan.missing else 'updated'} {plan.display(path)}"
        for path in sorted(plan.write)
    ]
    for path in plan.remove:
        path.unlink()
        lines.append(f"removed {plan.display(path)}")
        # Drop folders the removal emptied, up to and including generated/ itself.
        parent = path.parent
        while parent != apps_dir and parent.name != "" and not any(parent.iterdir()):
            parent.rmdir()
            if parent.name == GENERATED_DIR:
                break
            parent = parent.parent
    return lines


def generate(
    root: Path,
    apps_dir: Path | None,
    stack: str | None,
    *,
    check: bool,
    report: Callable[[str], None],
) -> None:
    """Bring the generated files of every stack's catalog folder (``stack``: only its; with
    ``apps_dir``, that folder) in line with the catalog; with ``check``, only compare. Each
    change and each folder's summary goes to ``report`` as it happens; what is stale (with
    ``check``) or cannot be fixed is a :class:`ValidationError`."""
    names = [stack] if stack is not None else stack_names(root)
    stacks = [load_stack_file(root, name) for name in names]
    for apps in apps_dirs(root, stacks, apps_dir):
        _generate_one(root, apps, check=check, report=report)


def _generate_one(root: Path, apps: Path, *, check: bool, report: Callable[[str], None]) -> None:
    catalog = load_catalog(root, apps)
    if check:
        _check(plan_generated(root, apps, catalog), report)
        return
    # Two runs at once take turns: the second plans against what the first wrote.
    with folder_lock(apps):
        _write(plan_generated(root, apps, catalog), apps, report)


def _check(plan: GeneratedPlan, report: Callable[[str], None]) -> None:
    problems = plan.problems()
    if problems:
        raise ValidationError(problems)
    report(f"ok: {plan.unchanged} generated files up to date")


def _write(plan: GeneratedPlan, apps: Path, report: Callable[[str], None]) -> None:
    refusals = plan.refusals()
    if plan.unsafe:
        raise ValidationError(refusals)
    for line in _apply(plan, apps):
        report(line)
    if refusals:
        raise ValidationError(refusals)
    changed = len(plan.write) + len(plan.remove)
    report(f"ok: {changed} changed, {plan.unchanged} up to date")
