"""Where a sealed manifest goes, and writing it there (with the kustomization edit) all or
nothing.

Where the manifest goes (``apps/<app>/...``, relative to the repository):

- kustomize: ``<path>/overlays/<env>/sealed-<name>.yaml``, added to that overlay's
  ``resources:`` (a round-trip edit: comments and layout kept);
- directory: ``<path>/sealed-<name>.yaml``. One folder serves every environment (the branch
  differs), so the file belongs on ``<env>``'s branch only: the other environment's controller
  has another key and cannot decrypt it;
- helm: refused. Argo CD reads only ``values/<env>.yaml`` from this repository for a helm app
  (the chart is the only manifest source), so a file here would never reach the cluster. Use
  ``--output`` to write the manifest elsewhere (``-``: stdout), e.g. into a chart value that
  takes extra manifests.

:func:`write_sealed` writes the manifest to a temporary file and renames it into place, and
edits the kustomization only once the manifest is ready; when anything fails, what was there
before is restored.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import constants
from infra.atomic import temp_beside
from infra.catalog.models import App, DirectorySource, HelmSource, KustomizeSource
from infra.errors import ValidationError
from infra.ops.seal.inputs import read_regular_file
from infra.ops.seal.limits import MAX_FILENAME_LENGTH, MAX_MANIFEST_BYTES, SEALED_KIND, SealError
from infra.ops.seal.names import validate_name
from infra.yaml_roundtrip import RoundTrip
from infra.yamlio import dump_all, load_document, load_strict

__all__ = [
    "SealResult",
    "SealTarget",
    "add_kustomize_resource",
    "existing_values",
    "render_sealed",
    "require_enabled",
    "seal_target",
    "write_sealed",
]


@dataclass(frozen=True)
class SealTarget:
    """Where a sealed secret of an app goes, relative to the repository root."""

    manifest: str
    kustomization: str | None
    """The overlay kustomization that must list the manifest (kustomize apps)."""
    note: str | None = None
    """What the user must know about this place (printed after writing)."""


def require_enabled(app: App, env: str) -> None:
    if app.environment(env) is None:
        raise SealError(
            f"--env: app {app.name!r} is not enabled in {env} "
            f"({app.file}: environments.{env} is missing or has enabled: false)"
        )


def seal_target(app: App, env: str, name: str, root: Path) -> SealTarget:
    """The file a sealed secret ``name`` of ``app`` in ``env`` is written to."""
    require_enabled(app, env)
    source = app.definition.source
    validate_name(name)
    filename = f"sealed-{name}.yaml"
    if len(filename.encode()) > MAX_FILENAME_LENGTH:
        raise SealError(
            f"--name: {filename} would be {len(filename)} characters long, more than a file "
            f"name may be ({MAX_FILENAME_LENGTH}); choose a shorter name, or write it "
            "elsewhere with --output FILE"
        )
    if isinstance(source, KustomizeSource):
        overlay = app.overlay_path(env)
        found = next(
            (f for f in constants.KUSTOMIZATION_FILES if (root / overlay / f).is_file()), None
        )
        if found is None:
            raise SealError(f"{app.file}: overlay {overlay}/kustomization.yaml does not exist")
        return SealTarget(f"{overlay}/{filename}", f"{overlay}/{found}")
    if isinstance(source, DirectorySource):
        folder = app.source_folder()
        return SealTarget(
            f"{folder}/{filename}",
            None,
            note=(
                f"{folder}/ is applied in every environment (only the branch differs): commit "
                f"this file on the {env} branch only; the other environment's controller "
                "cannot decrypt it"
            ),
        )
    assert isinstance(source, HelmSource)
    raise SealError(
        f"--app {app.name}: a helm app's manifests come from its chart; Argo CD reads only "
        f"{app.folder}/{constants.HELM_VALUES_DIR}/{env}.yaml from this repository, so a "
        "sealed secret written there would never be applied. Write it with --output FILE (or "
        "--output - for stdout) and pass it to the chart (e.g. a value that takes extra "
        "manifests); see docs/secrets.md"
    )


def add_kustomize_resource(text: str, entry: str, file: str) -> str | None:
    """``text`` (a kustomization) with ``entry`` appended to ``resources:``; ``None`` when it
    is already listed. A round trip (:class:`infra.yaml_roundtrip.RoundTrip`): comments,
    quoting and key order are kept."""
    try:
        edit = RoundTrip(text)
    except ValueError as exc:
        raise SealError(
            f"{file}: invalid YAML, add {entry} to resources: by hand ({exc})"
        ) from None
    document = edit.data
    if not isinstance(document, dict):
        raise SealError(f"{file}: not a kustomization mapping; add {entry} to resources: by hand")
    resources = document.get("resources")
    if resources is None:
        document["resources"] = [entry]
    elif not isinstance(resources, list):
        raise SealError(f"{file}: resources: is not a list; add {entry} to it by hand")
    elif entry in resources:
        return None
    else:
        resources.append(entry)
    new_text = edit.dump()
    if not _only_added(text, new_text, entry, file):  # a guard against a surprising round trip
        raise SealError(f"{file}: could not add {entry} to resources: safely; add it by hand")
    return new_text


def _only_added(old: str, new: str, entry: str, file: str) -> bool:
    """Whether ``new`` reads as ``old`` with ``entry`` appended to ``resources:``, and nothing
    else changed."""
    try:
        before, after = load_document(old, file), load_document(new, file)
    except ValidationError:
        return False
    if not isinstance(before, dict) or not isinstance(after, dict):
        return False
    before.pop("resources", None)
    added = after.pop("resources", None)
    return before == after and isinstance(added, list) and added[-1:] == [entry]


def render_sealed(manifest: Mapping[str, Any]) -> str:
    """The manifest as YAML that Go's YAML parser reads back unchanged
    (:func:`infra.yamlio.dump_all` quotes ``y``/``n``)."""
    return dump_all([manifest])


@dataclass(frozen=True)
class SealResult:
    """What was sealed and where it went."""

    manifest: str
    """The file written (``-``: none, the manifest is in :attr:`text`)."""
    kustomization: str | None
    kustomization_changed: bool
    keys: tuple[str, ...]
    """Every key in the written manifest."""
    kept: tuple[str, ...]
    """Keys of the existing file (``--merge``) kept as they were."""
    note: str | None
    namespace: str
    """The Secret's namespace."""
    source: str = ""
    """Where the certificate came from, for messages (set by :func:`infra.ops.seal.seal`)."""
    text: str | None = None
    """The manifest itself when it went to no file (``--output -``): the caller prints it."""


def _read_text(path: Path, display: str, what: str) -> tuple[bytes, str]:
    """A regular file of at most :data:`MAX_MANIFEST_BYTES`, as bytes and as UTF-8 text."""
    raw = read_regular_file(path, display, MAX_MANIFEST_BYTES)
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SealError(f"{display}: cannot read {what}: not UTF-8") from None


def existing_values(path: Path, display: str, name: str, namespace: str) -> dict[str, str]:
    """The sealed values of an existing SealedSecret file (for ``--merge``); read with a bound
    and strictly (no duplicate keys, no anchors or aliases)."""
    _, text = _read_text(path, display, "the existing sealed secret")
    loaded = load_strict(text, display)
    if loaded.problems:
        raise SealError(
            f"cannot read the existing sealed secret: {'; '.join(map(str, loaded.problems))}"
        )
    document = loaded.data
    if not isinstance(document, dict) or document.get("kind") != SEALED_KIND:
        raise SealError(f"{display}: exists and is not a SealedSecret; refusing to overwrite it")
    meta = document.get("metadata") or {}
    if not isinstance(meta, dict):
        raise SealError(f"{display}: metadata is not a mapping")
    if meta.get("name") != name or meta.get("namespace") != namespace:
        raise SealError(
            f"{display}: holds {meta.get('namespace')}/{meta.get('name')}, not {namespace}/{name}"
        )
    spec = document.get("spec") or {}
    data = (spec.get("encryptedData") if isinstance(spec, dict) else None) or {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SealError(f"{display}: spec.encryptedData is not a mapping of strings")
    return {str(k): v for k, v in data.items()}


def _place_new(temp: Path, path: Path, display: str) -> None:
    """Move ``temp`` to ``path``, which must not exist (a file created there meanwhile is not
    overwritten: a hard link fails when the name is taken)."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise SealError(
            f"{display} exists; pass --merge to add or replace keys in it "
            "(the others are kept), or delete it first"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if path.exists():  # a file system without hard links: check, then rename
            raise SealError(f"{display} exists; pass --merge, or delete it first") from None
        os.replace(temp, path)
        return
    temp.unlink()


def _make_parents(directory: Path, created: list[Path]) -> None:
    """``mkdir -p directory``, noting in ``created`` each folder it made, deepest first (to
    remove them on failure)."""
    missing: list[Path] = []
    here = directory
    while not here.exists():
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        folder.mkdir()
        created.insert(0, folder)


def _undo(
    path: Path, old: bytes | None, placed: bool, temps: list[Path], created: list[Path]
) -> bool:
    """Undo a failed :func:`write_sealed`; ``False`` when the manifest could not be restored."""
    restored = True
    for temp in temps:
        with contextlib.suppress(OSError):
            temp.unlink()
    if placed:
        try:
            if old is None:
                path.unlink()
            else:
                os.replace(temp_beside(path, old), path)
        except OSError:
            restored = False
    for folder in created:
        with contextlib.suppress(OSError):
            folder.rmdir()
    return restored


def write_sealed(
    root: Path,
    target: SealTarget,
    build: Callable[[Mapping[str, str]], dict[str, Any]],
    *,
    name: str,
    namespace: str,
    new_keys: Sequence[str],
    merge: bool,
) -> SealResult:
    """Write the manifest ``build(existing sealed values)`` returns at ``target`` and list it
    in the overlay's kustomization. An existing file is refused unless ``merge``.

    All or nothing: the manifest and the new kustomization are fully written to temporary files
    first; then the manifest is renamed into place, then the kustomization. When any step fails
    (or is interrupted) the temporary files are removed, a manifest already renamed is put back
    as it was (removed, or its old content restored) and folders made for it are removed."""
    path = root / target.manifest
    existing: dict[str, str] = {}
    old_manifest: bytes | None = None
    if path.exists() or path.is_symlink():
        if not merge:
            raise SealError(
                f"{target.manifest} exists; pass --merge to add or replace keys in it "
                "(the others are kept), or delete it first"
            )
        existing = existing_values(path, target.manifest, name, namespace)
        old_manifest = read_regular_file(path, target.manifest, MAX_MANIFEST_BYTES)
    manifest = build(existing)
    text = render_sealed(manifest)
    new_kustomization: str | None = None
    kpath: Path | None = None
    if target.kustomization is not None:
        kpath = root / target.kustomization
        _, ktext = _read_text(kpath, target.kustomization, "the kustomization")
        new_kustomization = add_kustomize_resource(ktext, path.name, target.kustomization)

    temps: list[Path] = []
    created: list[Path] = []
    placed = False
    writing = target.manifest
    try:
        _make_parents(path.parent, created)
        manifest_temp = temp_beside(path, text.encode("utf-8"))
        temps.append(manifest_temp)
        kustomization_temp: Path | None = None
        if kpath is not None and new_kustomization is not None:
            writing = str(target.kustomization)
            kustomization_temp = temp_beside(kpath, new_kustomization.encode("utf-8"))
            temps.append(kustomization_temp)
        # Everything is written; now the renames, manifest first.
        writing = target.manifest
        if old_manifest is None:
            _place_new(manifest_temp, path, target.manifest)
        else:
            os.replace(manifest_temp, path)
        temps.remove(manifest_temp)
        placed = True
        if kpath is not None and kustomization_temp is not None:
            writing = str(target.kustomization)
            os.replace(kustomization_temp, kpath)
            temps.remove(kustomization_temp)
    except BaseException as exc:
        restored = _undo(path, old_manifest, placed, temps, created)
        if isinstance(exc, OSError):
            outcome = (
                "nothing was changed"
                if restored
                else f"and {target.manifest} could not be put back as it was: check it"
            )
            raise SealError(f"cannot write {writing}: {exc.strerror}; {outcome}") from None
        raise
    keys = tuple(sorted(manifest["spec"]["encryptedData"]))
    return SealResult(
        manifest=target.manifest,
        kustomization=target.kustomization,
        kustomization_changed=new_kustomization is not None,
        keys=keys,
        kept=tuple(sorted(k for k in existing if k not in new_keys)),
        note=target.note,
        namespace=namespace,
    )
