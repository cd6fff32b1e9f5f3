"""The ``admission`` section: Kyverno lets only images signed by the stack's signer, from its
trusted registries, into the apps' namespaces (docs/admission.md). Pure."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from infra.catalog.kube_names import DnsLabel
from infra.catalog.strict import checked
from infra.catalog.urls import is_loopback
from infra.settings.base import HttpsURL, SettingsModel
from infra.settings.charts import AdmissionChartSettings

__all__ = [
    "DEFAULT_ADMISSION_NAMESPACE",
    "AdmissionSettings",
    "KeylessSigner",
    "SignerSettings",
    "is_loopback_registry",
]

DEFAULT_ADMISSION_NAMESPACE = "kyverno"

_REGISTRY_HOST = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
_REGISTRY_PATH = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
REGISTRY_PREFIX_PATTERN = rf"^{_REGISTRY_HOST}(:[0-9]{{1,5}})?(/{_REGISTRY_PATH})*$"
"""``host[:port]`` then optional ``/path`` segments (the image reference grammar's lower-case
repository components): no scheme, wildcard, trailing slash, tag, digest or credentials."""


def _registry_prefix_problem(prefix: str) -> str | None:
    """A registry prefix must name its registry host: ``example-org/app`` would be read as
    ``docker.io/example-org/app`` by the container runtime, but not by a prefix match."""
    host, _, _ = prefix.partition("/")
    name, _, port = host.partition(":")
    if port and not 0 < int(port) < 65536:
        return f"port {port} is out of range (1-65535)"
    if "." not in name and not port and name != "localhost":
        return (
            "must start with a registry host (a name with a dot, a port, or localhost), "
            "such as ghcr.io/example-org; docker.io/library for Docker Hub's official images"
        )
    return None


RegistryPrefix = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=REGISTRY_PREFIX_PATTERN),
    checked(_registry_prefix_problem),
]


def _public_key_problem(pem: str) -> str | None:
    """A cosign public key: one PEM ``PUBLIC KEY`` block, ECDSA P-256 (cosign's default) or
    RSA of at least 2048 bits."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = pem.strip()
    begin, end = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
    if not (text.startswith(begin) and text.endswith(end)) or text.count("-----BEGIN") != 1:
        return f"must be one PEM public key ({begin} ... {end}), as in cosign.pub"
    try:
        key = load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError):
        return "is not a readable PEM public key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return None
        return f"ECDSA key on curve {key.curve.name}; expected P-256 (cosign's default)"
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size >= 2048:
            return None
        return f"RSA key of {key.key_size} bits; expected at least 2048"
    return "must be an ECDSA P-256 or RSA (2048 bits or more) public key"


class KeylessSigner(SettingsModel):
    """A Sigstore keyless identity: the OIDC issuer and the certificate subject (for GitHub
    Actions, the workflow's ``job_workflow_ref`` as a URL)."""

    issuer: HttpsURL
    """OIDC issuer of the signing identity (``https://token.actions.githubusercontent.com``)."""
    subject: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    """Certificate subject; Kyverno wildcards (``*``, ``?``) allowed."""


class SignerSettings(SettingsModel):
    """Who must have signed an image: exactly one of ``publicKey`` and ``keyless``."""

    free_text = frozenset({"publicKey"})

    publicKey: (
        Annotated[str, StringConstraints(max_length=16 * 1024), checked(_public_key_problem)] | None
    ) = None
    """A cosign public key (PEM)."""
    keyless: KeylessSigner | None = None
    transparencyLog: bool = True
    """Require the signature's entry in the public transparency log (Rekor). ``false`` only
    with ``publicKey``, for signatures made where Rekor cannot be reached (an air-gapped
    pipeline, this machine's tests: ``cosign sign --tlog-upload=false``)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> SignerSettings:
        if (self.publicKey is None) == (self.keyless is None):
            raise ValueError("set exactly one of publicKey, keyless")
        if self.keyless is not None and not self.transparencyLog:
            raise ValueError(
                "transparencyLog: false needs publicKey: a keyless signature is only "
                "verifiable through its transparency log entry"
            )
        return self


class AdmissionSettings(SettingsModel, BaseModel):
    """Admission control with Kyverno: only signed images from trusted registries reach the
    apps' namespaces (docs/admission.md). Required (``enabled``) in prod."""

    enabled: bool = False
    namespace: DnsLabel = DEFAULT_ADMISSION_NAMESPACE
    chart: AdmissionChartSettings = AdmissionChartSettings()
    trustedRegistries: Annotated[list[RegistryPrefix], Field(max_length=20)] = []
    """Registry/repository prefixes (``ghcr.io/example-org``): an app's image must be under
    one of them and signed by ``signer``; any other image is refused."""
    signer: SignerSettings | None = None

    @property
    def insecure_registries(self) -> list[str]:
        """The trusted registries on this machine's loopback (``127.0.0.1``, ``localhost``):
        reached over plain HTTP (a local test registry); never a remote one."""
        return [r for r in self.trustedRegistries if is_loopback_registry(r)]


def is_loopback_registry(prefix: str) -> bool:
    """``127.0.0.1:5000/org`` and ``localhost/org`` are; ``ghcr.io/org`` is not."""
    return is_loopback(prefix.partition("/")[0].partition(":")[0])
