"""The real signing tools for the signature tests (both tiers): a loopback registry (``crane registry
serve``), images pushed with ``crane append``, keys and signatures made with ``cosign``.

The binaries are the toolchain's (``toolchain/build.sh --bin-dir``: cosign v2.6.5, crane
v0.22.1, kustomize, helm), else the ones on ``PATH``, as in ``test_kubeseal.py``. Without them
the tests that need them fail, saying which binary is missing (`make test` builds the toolchain
first, so a missing binary is a broken build): a tool a test needs is required, never skipped.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from tests.support import REPO

TIMEOUT = 60


@cache
def toolchain_bin() -> Path | None:
    try:
        done = subprocess.run(
            [str(REPO / "toolchain" / "build.sh"), "--bin-dir"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    folder = Path(done.stdout.strip())
    return folder if done.returncode == 0 and done.stdout.strip() and folder.is_dir() else None


def find_tool(name: str) -> str | None:
    """The toolchain's ``name`` first (the pinned version), then ``PATH``'s."""
    folder = toolchain_bin()
    if folder is not None and os.access(folder / name, os.X_OK):
        return str(folder / name)
    return shutil.which(name)


def require_tool(name: str) -> str:
    found = find_tool(name)
    if found is None:
        message = (
            f"{name} not found (neither in `toolchain/build.sh --bin-dir` nor on PATH): run "
            "`make toolchain`, which builds it (cosign v2.6.5, crane v0.22.1, kubeseal v0.36.6, "
            "helm, kustomize, actionlint)"
        )
        pytest.fail(message)  # required, never skipped: `make test` builds the toolchain first
    return found


def tools_on_path(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Put the folder of each required tool first on ``PATH``, for code that looks its tools up
    there itself (``platformctl plan`` runs kustomize and helm from ``PATH``)."""
    folders = dict.fromkeys(str(Path(require_tool(name)).parent) for name in names)
    monkeypatch.setenv("PATH", os.pathsep.join([*folders, os.environ.get("PATH", "")]))


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def layer(folder: Path, content: bytes) -> Path:
    """A one-file layer tarball (its content makes the image's digest)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"layer-{hashlib.sha256(content).hexdigest()[:16]}.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("content.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return path


@dataclass
class Registry:
    """``crane registry serve`` on 127.0.0.1, and the tools to fill it."""

    crane: str
    cosign: str
    work: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Registry:
        self.port = free_port()
        disk = self.work / f"disk-{self.port}"
        disk.mkdir(parents=True)
        self.process = subprocess.Popen(
            [self.crane, "registry", "serve", "--address", self.host, "--disk", str(disk)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError("crane registry serve exited") from None
                time.sleep(0.02)
        raise AssertionError(f"crane registry serve did not listen on {self.host}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def push(self, ref: str, content: bytes) -> str:
        """``crane append`` a one-layer image as ``<host>/<ref>`` (``repo:tag``); its digest."""
        tarball = layer(self.work / "layers", content)
        done = run(
            [self.crane, "append", "-f", str(tarball), "-t", f"{self.host}/{ref}", "--insecure"]
        )
        digest = done.stdout.strip().rpartition("@")[2]
        assert digest.startswith("sha256:"), done.stdout
        return digest

    def sign(self, key: Path, repository: str, digest: str) -> None:
        """``cosign sign`` by digest with ``key``, without the transparency log."""
        run(
            [
                self.cosign,
                "sign",
                "--key",
                str(key),
                "--tlog-upload=false",
                "--allow-insecure-registry",
                "--yes",
                f"{self.host}/{repository}@{digest}",
            ],
            COSIGN_PASSWORD="",
        )


def key_pair(cosign: str, folder: Path) -> tuple[Path, str]:
    """``cosign generate-key-pair`` (empty password) in ``folder``: the private key's path and
    the public key's PEM."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [cosign, "generate-key-pair"],
        cwd=folder,
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
        env={**os.environ, "COSIGN_PASSWORD": ""},
        stdin=subprocess.DEVNULL,
    )
    return folder / "cosign.key", (folder / "cosign.pub").read_text()
