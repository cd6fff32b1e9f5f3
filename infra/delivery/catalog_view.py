"""The catalog of a :class:`~infra.delivery.tree.Tree`, loaded by the one catalog loader.

:func:`infra.catalog.load_catalog` reads a folder on disk. A working tree is one; a commit
(``origin/dev``, read without checking it out) is first exported, only its catalog folder, into
a temporary folder with ``git archive`` (nothing in the repository changes). So ``bump``,
``promote`` and ``seal`` check an app exactly as ``validate`` and ``pulumi up`` do.

(A thin adapter: were the loader to take a file reader instead of a folder, this module would
reduce to one call.)
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from infra.catalog import Catalog, load_catalog
from infra.delivery.tree import GitTree, Tree, WorkTree
from infra.errors import InputError

__all__ = ["export_commit", "load_tree_catalog"]


def _plain_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Every member, refused unless a plain file or folder inside the archive (what
    ``extractall(filter="data")`` ensures, which Python 3.11 before 3.11.4 lacks): links,
    devices, FIFOs, absolute names and ``..`` never reach the disk."""
    members = archive.getmembers()
    for member in members:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise InputError(
                f"{member.name}: not a plain file or folder inside the catalog (a link, a "
                "device or a path leaving it); refused"
            )
        member.mode = 0o755 if member.isdir() else 0o644
    return members


def export_commit(tree: GitTree, path: str, dest: Path) -> bool:
    """Write ``path`` (a folder, ``.`` for everything) of the commit ``tree`` reads into
    ``dest``, plain files and folders only; ``False`` when the commit has no such path."""
    data = tree.git.archive(tree.ref, path)
    if data is None:
        return False
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(dest, members=_plain_members(archive))
    return True


def load_tree_catalog(tree: Tree, apps_dir: str, reserved_namespaces: Iterable[str]) -> Catalog:
    """Load and validate the catalog in ``apps_dir`` of ``tree`` (every problem at once, as a
    :class:`~infra.errors.ValidationError` naming the files as they are in the repository)."""
    if isinstance(tree, WorkTree):
        return load_catalog(
            tree.root, tree.root / apps_dir, reserved_namespaces=reserved_namespaces
        )
    if not isinstance(tree, GitTree):
        raise TypeError(f"cannot load a catalog from {type(tree).__name__}")
    with tempfile.TemporaryDirectory(prefix="gitops-platform-catalog-") as scratch:
        root = Path(scratch)
        export_commit(tree, apps_dir, root)
        return load_catalog(root, root / apps_dir, reserved_namespaces=reserved_namespaces)
