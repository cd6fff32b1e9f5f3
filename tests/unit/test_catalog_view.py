"""A commit's catalog is exported to a scratch folder before the loader reads it: only plain
files and folders inside it reach the disk, on every Python 3.11 (``extractall``'s ``filter``
exists only from 3.11.4)."""

from __future__ import annotations

import io
import tarfile

import pytest

from infra.delivery.catalog_view import _plain_members
from infra.errors import InputError


def _archive(*members: tarfile.TarInfo) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer)


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    info.mode = 0o4777  # setuid and world-writable: not kept
    return info


def test_plain_files_and_folders_pass_with_plain_modes() -> None:
    folder = tarfile.TarInfo("apps/web")
    folder.type = tarfile.DIRTYPE
    members = _plain_members(_archive(folder, _file("apps/web/app.yaml")))
    assert [(m.name, m.mode) for m in members] == [
        ("apps/web", 0o755),
        ("apps/web/app.yaml", 0o644),
    ]


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo", "absolute", "dotdot"])
def test_links_devices_and_escaping_names_are_refused(kind: str) -> None:
    if kind in ("symlink", "hardlink", "fifo"):
        member = tarfile.TarInfo("apps/web/app.yaml")
        member.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                       "fifo": tarfile.FIFOTYPE}[kind]  # fmt: skip
        member.linkname = "/etc/passwd"
    else:
        member = _file("/etc/cron.d/x" if kind == "absolute" else "apps/../../x")
    with pytest.raises(InputError, match="not a plain file or folder"):
        _plain_members(_archive(member))
