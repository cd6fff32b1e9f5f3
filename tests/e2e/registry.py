"""A stack with admission on, made testable here (the e2e harness uses it for any stack file
that enables admission).

The stack's trusted registry and signer (``ghcr.io/example-org``, a keyless identity) cannot
be reached from this machine: a real OCI registry on 127.0.0.1 and a test key stand in
(:mod:`tests.signing`: ``crane registry serve``, ``crane append``, ``cosign sign`` with no
transparency log). The project copy's catalog images are moved to that registry, the stack's
admission trusts exactly its prefix and the key, and images are published and signed on
demand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tests.signing import Registry, key_pair, require_tool

__all__ = ["CATALOG_REGISTRY", "CosignKey", "SignedImages"]

CATALOG_REGISTRY = "ghcr.io/example-org"
"""Where the example catalog's images live (unreachable here)."""


@dataclass
class CosignKey:
    """A cosign key pair (empty password)."""

    private: Path
    public_pem: str

    @classmethod
    def generate(cls, folder: Path) -> CosignKey:
        return cls(*key_pair(require_tool("cosign"), folder))


@dataclass
class SignedImages:
    registry: Registry
    signer: CosignKey
    _pushed: int = 0

    @classmethod
    def start(cls, directory: Path) -> SignedImages:
        registry = Registry(require_tool("crane"), require_tool("cosign"), directory).start()
        return cls(registry, CosignKey.generate(directory / "signer"))

    @property
    def trusted(self) -> str:
        return f"{self.registry.host}/example-org"

    def ref(self, name: str, tag: str) -> str:
        return f"{self.trusted}/{name}:{tag}"

    def image(self, ref: str) -> str:
        """The loopback registry's equivalent of a catalog image reference."""
        if ref.startswith(f"{CATALOG_REGISTRY}/"):
            return self.trusted + ref[len(CATALOG_REGISTRY) :]
        return ref

    def rewrite(self, folder: Path) -> None:
        """Every catalog image reference under ``folder`` moved to the loopback registry."""
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in (".yaml", ".yml"):
                text = path.read_text()
                if CATALOG_REGISTRY in text:
                    path.write_text(text.replace(f"{CATALOG_REGISTRY}/", f"{self.trusted}/"))

    def admission(self, current: dict[str, object]) -> dict[str, object]:
        """The stack's admission settings, trusting this registry and key."""
        return {
            **current,
            "trustedRegistries": [self.trusted],
            "signer": {"publicKey": self.signer.public_pem, "transparencyLog": False},
        }

    def push(self, ref: str) -> str:
        """Build an unsigned image (unique content) as ``ref`` (catalog or loopback
        reference); its digest."""
        self._pushed += 1
        local = self.image(ref)
        assert local.startswith(f"{self.registry.host}/"), f"{ref}: not in the loopback registry"
        content = f"{local} #{self._pushed} {time.time()}".encode()
        return self.registry.push(local[len(self.registry.host) + 1 :], content)

    def sign(self, ref: str, digest: str, key: CosignKey | None = None) -> None:
        """Sign ``ref``'s ``digest`` (by digest, never a tag) with the stack's key or ``key``."""
        repository = self.image(ref)[len(self.registry.host) + 1 :].rsplit(":", 1)[0]
        self.registry.sign((key or self.signer).private, repository, digest)

    def publish(self, ref: str, key: CosignKey | None = None) -> str:
        """Build and sign the image; its digest."""
        digest = self.push(ref)
        self.sign(ref, digest, key)
        return digest

    def digest(self, ref: str) -> str:
        from tests.signing import run

        local = self.image(ref)
        return run([self.registry.crane, "digest", local, "--insecure"]).stdout.strip()

    def stop(self) -> None:
        self.registry.stop()
