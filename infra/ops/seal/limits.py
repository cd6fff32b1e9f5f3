"""The error and the constants every part of sealing shares: size and length limits,
timeouts, and the names of the SealedSecret resource."""

from __future__ import annotations

from typing import Final

from infra.errors import PlatformError

__all__ = [
    "KUBESEAL_TIMEOUT_SECONDS",
    "MAX_CERT_BYTES",
    "MAX_FILENAME_LENGTH",
    "MAX_MANIFEST_BYTES",
    "MAX_NAMESPACE_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_RSA_BITS",
    "MAX_SECRET_BYTES",
    "MIN_RSA_BITS",
    "REQUEST_TIMEOUT_SECONDS",
    "SCOPE_ANNOTATIONS",
    "SEALED_API_VERSION",
    "SEALED_KIND",
    "SESSION_KEY_BYTES",
    "STDIN_PATHS",
    "SealError",
]

SESSION_KEY_BYTES: Final = 32
MAX_SECRET_BYTES: Final = 1024 * 1024
"""The API server refuses Secrets larger than 1 MiB."""
MAX_CERT_BYTES: Final = 64 * 1024
"""A controller certificate is about 2 KiB of PEM; anything far larger is not one."""
MAX_MANIFEST_BYTES: Final = 4 * MAX_SECRET_BYTES
"""Bound of a sealed manifest read back (``--merge``), of a kustomization and of kubeseal's
output: a SealedSecret of 1 MiB of values is about 1.4 MiB."""
MIN_RSA_BITS: Final = 2048
"""Shorter RSA keys are breakable; the controller makes 4096-bit keys."""
MAX_RSA_BITS: Final = 16384
"""No controller key is longer; a giant key only makes sealing slow."""
MAX_NAME_LENGTH: Final = 253
MAX_NAMESPACE_LENGTH: Final = 63
MAX_FILENAME_LENGTH: Final = 255
"""Of one path component (``sealed-<name>.yaml``) on Linux and macOS file systems."""
STDIN_PATHS: Final = ("-", "/dev/stdin")
SEALED_API_VERSION: Final = "bitnami.com/v1alpha1"
REQUEST_TIMEOUT_SECONDS: Final = 60
KUBESEAL_TIMEOUT_SECONDS: Final = 60
SEALED_KIND: Final = "SealedSecret"
SCOPE_ANNOTATIONS: Final = (
    "sealedsecrets.bitnami.com/namespace-wide",
    "sealedsecrets.bitnami.com/cluster-wide",
)


class SealError(PlatformError):
    """Sealing could not be done; the message names the flag or file at fault."""
