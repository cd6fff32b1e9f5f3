"""Where an app's image tag lives in one environment, what it is, and the edit that changes it.

The handoff contract (``apps/README.md``):

* ``kustomize``: ``apps/<app>/<path>/overlays/<env>/kustomization.yaml``, the ``images:`` entry
  whose ``name`` is the app's ``image.repository``: its ``newTag``;
* ``helm``: ``apps/<app>/values/<env>.yaml``, at the dotted key ``source.imageTagKey``;
* ``directory``: the ``image:`` of every container (``containers``, ``initContainers``,
  ``ephemeralContainers``) in the manifests under ``apps/<app>/<path>/`` whose repository is
  the app's ``image.repository`` (``repo:tag``).

A digest recorded by ``bump --digest`` is part of the same scalar: ``newTag: 1.4.2@sha256:...``
(kustomize appends ``newTag`` after ``:``), ``tag: 1.4.2@sha256:...`` (the chart writes
``repository:tag``), ``image: repo:1.4.2@sha256:...``. One value, so a change of tag and digest
is one line, and a new tag can never keep the old tag's digest.

Pure apart from reading through a :class:`~infra.delivery.tree.Tree`: nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infra import constants
from infra.catalog.image_ref import Version, parse_image_ref, parse_version
from infra.catalog.kube_names import is_dns_label
from infra.catalog.models import App, DirectorySource, HelmSource
from infra.delivery.catalog_view import load_tree_catalog
from infra.delivery.tree import Tree, clean_path
from infra.errors import InputError
from infra.yaml_roundtrip import (
    NULL_WORDS,
    Located,
    YamlDocument,
    display_path,
    verify_edit,
)

__all__ = ["FileEdit", "TagPlan", "TagSite", "load_app", "locate_tag"]


@dataclass(frozen=True)
class TagSite:
    """One place the tag is written."""

    file: str
    located: Located
    tag: str
    """The tag written there now (``""`` when the value is null)."""
    repository: str | None = None
    """For ``repo:tag`` values (directory sources): the repository part, kept on edit."""
    digest: str | None = None
    """The digest written there with the tag (``...@sha256:...``), if any."""

    @property
    def where(self) -> str:
        return f"{self.file}: {display_path(self.located.path)} (line {self.located.line})"

    @property
    def version(self) -> Version:
        return Version(self.tag, self.digest)

    def new_value(self, version: Version) -> str:
        return str(version) if self.repository is None else f"{self.repository}:{version}"


@dataclass(frozen=True)
class FileEdit:
    """The new text of one file, and the lines it changes."""

    file: str
    old_text: str
    new_text: str
    lines: tuple[int, ...]
    old_versions: tuple[Version, ...]

    @property
    def old_tags(self) -> tuple[str, ...]:
        return tuple(version.tag for version in self.old_versions)


@dataclass(frozen=True)
class TagPlan:
    """Every place an app's tag is written for one environment, in one tree."""

    app: App
    env: str
    tree_label: str
    documents: dict[str, YamlDocument]
    sites: tuple[TagSite, ...]

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(site.file for site in self.sites))

    def current_tag(self) -> str:
        """The one tag the environment runs; an error when its places disagree."""
        return self.current().tag

    def current(self) -> Version:
        """The one tag (and digest) the environment runs; an error when its places disagree."""
        versions = sorted({site.version for site in self.sites}, key=str)
        if len(versions) != 1:
            places = "; ".join(
                f"{site.where}: {str(site.version) or '(empty)'}" for site in self.sites
            )
            raise InputError(
                f"{self.app.name} has different image tags in {self.env} ({self.tree_label}): "
                f"{places}"
            )
        return versions[0]

    def edits(self, tag: str, digest: str | None = None) -> tuple[FileEdit, ...]:
        """The edits that set every place to ``tag`` (and ``digest``: without one, a digest
        written there is dropped); empty when all already hold exactly that."""
        wanted = Version(tag, digest)
        pinned = [s for s in self.sites if s.digest is not None and not s.tag]
        if digest is None and pinned:
            raise InputError(
                f"{pinned[0].where} is pinned by digest alone ({pinned[0].version.short()}); "
                "a tag alone would unpin it: give --digest with --tag (the handoff then writes "
                "<tag>@<digest>)"
            )
        out = []
        for file in self.files:
            sites = [s for s in self.sites if s.file == file and s.version != wanted]
            if not sites:
                continue
            document = self.documents[file]
            targets = [(site.located, site.new_value(wanted)) for site in sites]
            new_text = document.replaced(targets)
            verify_edit(document, new_text, targets)
            out.append(
                FileEdit(
                    file=file,
                    old_text=document.text,
                    new_text=new_text,
                    lines=tuple(sorted({s.located.line for s in sites})),
                    old_versions=tuple(s.version for s in sites),
                )
            )
        return tuple(out)


def load_app(
    tree: Tree,
    name: str,
    apps_dir: str = constants.APPS_DIR,
    reserved_namespaces: Iterable[str] = (),
) -> App:
    """The app ``name`` of the catalog in ``tree`` (``apps_dir``: the stack's
    ``catalog.appsDir``), loaded and checked by the catalog loader
    (:func:`infra.catalog.load_catalog`): an app ``pulumi up`` would refuse is refused here
    too. An unknown app is an :class:`InputError` listing the apps there."""
    folder = clean_path(apps_dir)
    file = f"{folder}/{name}/{constants.APP_FILE}"
    text = tree.read(file) if is_dns_label(name) else None
    if text is None:
        known = _known_apps(tree, folder)
        listing = ", ".join(known) if known else "none"
        raise InputError(
            f"--app: unknown app {name!r}: {file} does not exist in {tree.label} "
            f"(apps there: {listing})"
        )
    catalog = load_tree_catalog(tree, folder, reserved_namespaces)
    return next(app for app in catalog.apps if app.name == name)


def locate_tag(tree: Tree, app: App, env: str, flag: str = "--env") -> TagPlan:
    """Find every place ``app``'s image tag is written for ``env`` in ``tree`` (``flag``: the
    option that named the environment, for the message when the app is not enabled there)."""
    if app.environment(env) is None:
        raise InputError(
            f"{flag}: app {app.name!r} is not enabled in {env} "
            f"({app.file}: environments.{env} is missing or has enabled: false)"
        )
    source = app.definition.source
    repository = app.definition.image.repository
    documents: dict[str, YamlDocument] = {}
    sites: list[TagSite] = []
    if isinstance(source, HelmSource):
        file = f"{app.folder}/{constants.HELM_VALUES_DIR}/{env}.yaml"
        document = _parse(tree, file, documents, what="values file")
        sites.append(_helm_site(document, source.imageTagKey))
    elif isinstance(source, DirectorySource):
        folder = app.source_folder()
        manifests = [
            f
            for f in tree.files(folder, recursive=source.recurse)
            if f.endswith(constants.MANIFEST_SUFFIXES)
        ]
        for file in manifests:
            document = _parse(tree, file, documents, what="manifest")
            sites.extend(_container_sites(document, repository))
        if not sites:
            raise InputError(
                f"{app.file}: no container in {folder}/ ({len(manifests)} manifest file(s) in "
                f"{tree.label}) uses image {repository}:<tag>"
            )
    else:
        overlay = app.overlay_path(env)
        file = next(
            (
                f"{overlay}/{name}"
                for name in constants.KUSTOMIZATION_FILES
                if tree.read(f"{overlay}/{name}") is not None
            ),
            f"{overlay}/{constants.KUSTOMIZATION_FILES[0]}",
        )
        document = _parse(tree, file, documents, what="kustomization")
        sites.append(_kustomize_site(document, repository))
    return TagPlan(app, env, tree.label, documents, tuple(sites))


# -- internals ---------------------------------------------------------------------------------


def _known_apps(tree: Tree, folder: str) -> list[str]:
    suffix = f"/{constants.APP_FILE}"
    depth = folder.count("/") + 2
    return sorted(
        path.split("/")[depth - 1]
        for path in tree.files(folder, recursive=True)
        if path.endswith(suffix) and path.count("/") == depth
    )


def _parse(tree: Tree, file: str, documents: dict[str, YamlDocument], *, what: str) -> YamlDocument:
    text = tree.read(file)
    if text is None:
        raise InputError(f"{what} {file} does not exist in {tree.label} (it holds the image tag)")
    document = YamlDocument(text, file)
    documents[file] = document
    return document


def _site(document: YamlDocument, located: Located, repository: str | None = None) -> TagSite:
    if document.shared(located):
        raise InputError(
            f"{document.file}: {display_path(located.path)} (line {located.line}) is shared "
            "through a YAML anchor (&/*/<<); changing it would change the other places too. "
            "Write the tag there literally."
        )
    value = located.value
    if repository is not None:
        ref = parse_image_ref(value)
        return TagSite(document.file, located, ref.tag or "", repository, ref.digest)
    if located.node.style is None and value in NULL_WORDS:
        return TagSite(document.file, located, "")
    version = parse_version(value)
    return TagSite(document.file, located, version.tag, None, version.digest)


def _helm_site(document: YamlDocument, key: str) -> TagSite:
    path = tuple(key.split("."))
    found = [
        located
        for index in range(len(document.documents))
        if (located := document.lookup(index, path)) is not None
    ]
    if len(found) != 1:
        why = "is not set" if not found else f"is set in {len(found)} YAML documents"
        hint = ""
        if not found and any(document.has_merge_key(node) for node in _mappings(document)):
            hint = " directly (a merge key << does not count)"
        raise InputError(
            f"{document.file}: {key} {why}{hint}; the handoff changes that one value "
            "(source.imageTagKey in app.yaml names it)"
        )
    return _site(document, found[0])


def _kustomize_site(document: YamlDocument, repository: str) -> TagSite:
    entries: list[tuple[int, int]] = []
    names: list[str] = []
    for index in range(len(document.documents)):
        images = document.lookup(index, ("images",))
        if images is None or not isinstance(images.node.value, list):
            continue
        for position in range(len(images.node.value)):
            name = document.lookup(index, ("images", position, "name"))
            if name is None:
                continue
            names.append(name.value)
            if name.value == repository:
                entries.append((index, position))
    if len(entries) != 1:
        listed = ", ".join(names) if names else "none"
        why = "has no" if not entries else f"has {len(entries)}"
        raise InputError(
            f"{document.file}: images {why} entry with name: {repository} (names there: {listed})"
        )
    index, position = entries[0]
    if document.lookup(index, ("images", position, "digest")) is not None:
        raise InputError(
            f"{document.file}: images[{position}] ({repository}) has its own digest field, "
            "which the handoff would leave behind on the next tag; remove it (bump --digest "
            "records the digest in newTag: <tag>@sha256:...)"
        )
    located = document.lookup(index, ("images", position, "newTag"))
    if located is None:
        raise InputError(
            f"{document.file}: images[{position}] ({repository}) has no newTag; add "
            "`newTag: <current tag>` once, the handoff changes that line"
        )
    return _site(document, located)


def _container_sites(document: YamlDocument, repository: str) -> list[TagSite]:
    sites = []
    for located in document.walk():
        path = located.path
        if len(path) < 3 or path[-1] != "image" or path[-3] not in constants.CONTAINER_LISTS:
            continue
        if not located.is_scalar:
            continue
        ref = parse_image_ref(located.value)
        if ref.repository != repository:
            continue
        sites.append(_site(document, located, repository))
    return sites


def _mappings(document: YamlDocument) -> Iterable[Any]:
    return (located.node for located in document.walk())
