"""Is the image a promotion proposes signed by the target stack's signer? (``cosign verify``)

``platformctl promote`` runs this when the target stack has ``gitops-platform:admission``
enabled, before anything is committed: the same question Kyverno asks at admission
(docs/admission.md), asked early, so that an unsigned image never becomes a pull request.

1. The image must be under one of ``admission.trustedRegistries`` (Kyverno refuses any
   other, signed or not): pure, no network.
2. Its digest: the one the catalog records (``<tag>@sha256:...``, ``bump --digest``), else the
   tag resolved in the registry (``cosign triangulate``).
3. ``cosign verify`` of ``<repository>@<digest>`` with the stack's signer: ``--key`` (the PEM
   in a temporary file) or keyless (``--certificate-oidc-issuer``, and the Kyverno wildcard
   subject as an anchored ``--certificate-identity-regexp``); ``--insecure-ignore-tlog`` only
   with ``signer.transparencyLog: false``; ``--allow-insecure-registry`` only for an image
   under one of ``admission.insecure_registries`` (loopback, plain HTTP).

Outcomes: verified; refused (:class:`SignatureError`: unsigned, signed by someone else, no
such tag, any other cosign failure, cosign missing or too slow); or *unreachable*: cosign's
error is a connection failure (refused, no such host, no route, a dial timeout) to the
image's own registry. Only that proceeds, with a warning: the check did not happen, and the
cluster's admission still checks the image before it runs. A network error about another
host (the Sigstore TUF root, Rekor) is not "the registry is unreachable" and is refused.

The argv builders and the classification of cosign's exit status and stderr are pure
(unit tested); :func:`check_signature` is the edge that runs cosign.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from infra.catalog.image_ref import DIGEST_PATTERN, Version
from infra.errors import InputError
from infra.settings import AdmissionSettings, SignerSettings

__all__ = [
    "COSIGN_TIMEOUT_SECONDS",
    "SignatureCheck",
    "SignatureError",
    "check_signature",
    "classify",
    "cosign_error",
    "identity_regexp",
    "insecure",
    "registry_host",
    "resolve_argv",
    "signer_label",
    "trusted_registry",
    "verify_argv",
]

COSIGN_TIMEOUT_SECONDS: Final = 120
"""Per cosign call. Longer than Go's 30 s dial timeout, so a registry that drops packets shows
as a dial timeout (unreachable) rather than as cosign running out of time (refused)."""

# cosign's exit codes (cmd/cosign/errors/exit_codes.go).
EXIT_NO_SIGNATURE: Final = 10
EXIT_NO_TAG: Final = 11
EXIT_NO_MATCHING_SIGNATURE: Final = 12
EXIT_NO_CERTIFICATE: Final = 13

NETWORK_FAILURES: Final = (
    "connection refused",
    "no such host",
    "server misbehaving",
    "temporary failure in name resolution",
    "network is unreachable",
    "no route to host",
    "i/o timeout",
    "tls handshake timeout",
    "connection reset by peer",
)
"""Go's words for "could not talk to that host" (net.OpError, net.DNSError)."""

DOCKER_HUB_HOSTS: Final = ("index.docker.io", "registry-1.docker.io", "auth.docker.io")

Outcome = Literal["verified", "unsigned", "mismatch", "missing", "unreachable", "error"]
Status = Literal["verified", "unreachable", "skipped"]


class SignatureError(InputError):
    """The image may not be promoted: not trusted, not signed by the signer, or not checkable
    (exit 1; nothing was changed)."""


@dataclass(frozen=True)
class SignatureCheck:
    """What was checked, for the result (``--json``) and the warning line."""

    status: Status
    image: str
    """``repository:tag`` (and ``@digest`` when the catalog records it)."""
    digest: str | None
    """The digest verified (or resolved); ``None`` when it could not be resolved."""
    signer: str
    detail: str = ""

    @property
    def warning(self) -> str | None:
        if self.status == "verified":
            return None
        digest = self.digest or "not resolved"
        if self.status == "skipped":
            why = "--skip-signature-check"
        else:
            why = f"its registry cannot be reached ({self.detail})"
        return (
            f"signature of {self.image} (digest {digest}) NOT checked against {self.signer}: "
            f"{why}; admission in the cluster still checks it before it runs"
        )


# --- pure ---------------------------------------------------------------------------------------


def _under(repository: str, prefix: str) -> bool:
    """Kyverno's ``<prefix>/*``: strictly below the prefix."""
    return repository.startswith(prefix.rstrip("/") + "/")


def trusted_registry(repository: str, registries: Sequence[str]) -> str | None:
    """The trusted registry prefix ``repository`` is under, or ``None``."""
    return next((prefix for prefix in registries if _under(repository, prefix)), None)


def insecure(repository: str, admission: AdmissionSettings) -> bool:
    """Whether the image is under one of the stack's loopback registries (plain HTTP)."""
    return any(_under(repository, prefix) for prefix in admission.insecure_registries)


def registry_host(repository: str) -> str:
    """``127.0.0.1:5000/org/app`` -> ``127.0.0.1:5000`` (trusted registries name their host)."""
    return repository.partition("/")[0]


def key_fingerprint(pem: str) -> str:
    """``sha256:<hex>`` of the key's DER SubjectPublicKeyInfo (stable across PEM wrapping)."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    key = load_pem_public_key(pem.strip().encode("ascii"))
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def signer_label(signer: SignerSettings) -> str:
    """The signer, for messages: the key's fingerprint, or the keyless identity."""
    if signer.keyless is not None:
        return f"keyless signer {signer.keyless.subject} (issuer {signer.keyless.issuer})"
    assert signer.publicKey is not None  # SignerSettings: exactly one
    return f"public key {key_fingerprint(signer.publicKey)[:23]} (admission.signer.publicKey)"


def identity_regexp(subject: str) -> str:
    """Kyverno's wildcard subject (``*`` any run of characters, ``?`` one character) as an
    anchored Go (RE2) regular expression; every other ASCII punctuation is escaped."""
    out = []
    for char in subject:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char.isascii() and not char.isalnum() and char.isprintable() and char != " ":
            out.append("\\" + char)
        else:
            out.append(char)
    return "^" + "".join(out) + "$"


def _registry_options(repository: str, admission: AdmissionSettings) -> list[str]:
    return ["--allow-insecure-registry"] if insecure(repository, admission) else []


def verify_argv(
    cosign: str,
    repository: str,
    digest: str,
    admission: AdmissionSettings,
    key_file: str | None,
) -> list[str]:
    """``cosign verify`` of ``repository@digest`` against the stack's signer (``key_file``: the
    public key written to a file, for a key signer)."""
    signer = admission.signer
    if signer is None:
        raise InputError("admission.signer is not set")  # settings refuse enabled without it
    argv = [cosign, "verify"]
    if signer.keyless is not None:
        argv += [
            "--certificate-oidc-issuer",
            signer.keyless.issuer,
            "--certificate-identity-regexp",
            identity_regexp(signer.keyless.subject),
        ]
    else:
        if key_file is None:
            raise ValueError("a key signer needs key_file")
        argv += ["--key", key_file]
    if not signer.transparencyLog:
        argv.append("--insecure-ignore-tlog")
    argv += _registry_options(repository, admission)
    return [*argv, f"{repository}@{digest}"]


def resolve_argv(cosign: str, repository: str, tag: str, admission: AdmissionSettings) -> list[str]:
    """``cosign triangulate repository:tag``: prints ``repository:sha256-<hex>.sig``, where the
    signature of the digest the tag names is stored (so: the digest)."""
    return [cosign, "triangulate", *_registry_options(repository, admission), f"{repository}:{tag}"]


def cosign_error(stderr: str) -> str:
    """cosign's own error (its last ``Error:`` line), not its warnings (which mention network
    failures of their own, such as the TUF root it could not refresh)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line[len("Error:") :].strip() for line in lines if line.startswith("Error:")]
    if errors:
        return errors[-1]
    rest = [line for line in lines if not line.startswith("WARNING")]
    return rest[-1] if rest else "(no message)"


def _names_registry(error: str, registry: str) -> bool:
    hosts = [registry, *(DOCKER_HUB_HOSTS if registry == "docker.io" else ())]
    return any(f"://{host}/" in error or f"://{host}:" in error for host in hosts)


def classify(returncode: int, stderr: str, registry: str) -> Outcome:
    """What a cosign exit status and stderr mean for the image in ``registry`` (its host)."""
    if returncode == 0:
        return "verified"
    if returncode == EXIT_NO_SIGNATURE:
        return "unsigned"
    if returncode in (EXIT_NO_MATCHING_SIGNATURE, EXIT_NO_CERTIFICATE):
        return "mismatch"
    if returncode == EXIT_NO_TAG:
        return "missing"
    error = cosign_error(stderr)
    lowered = error.lower()
    if any(word in lowered for word in NETWORK_FAILURES) and _names_registry(error, registry):
        return "unreachable"
    if "MANIFEST_UNKNOWN" in error or "NAME_UNKNOWN" in error:
        return "missing"
    return "error"


def parse_triangulated(stdout: str) -> str | None:
    """The digest in ``repo:sha256-<hex>.sig`` (cosign triangulate), or ``None``."""
    match = re.search(r":sha256-([0-9a-f]{64})\.sig\s*$", stdout.strip())
    return f"sha256:{match.group(1)}" if match else None


def verified_digests(stdout: str) -> set[str] | None:
    """The ``docker-manifest-digest`` of every payload ``cosign verify`` printed (JSON), or
    ``None`` when the output is not that JSON."""
    for line in stdout.splitlines():
        if not line.startswith("["):
            continue
        try:
            payloads = json.loads(line)
            return {str(p["critical"]["image"]["docker-manifest-digest"]) for p in payloads}
        except (ValueError, KeyError, TypeError):
            return None
    return None


# --- the edge: running cosign -------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    returncode: int
    stdout: str
    stderr: str


def _run(argv: list[str], timeout: float) -> _Run:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise SignatureError(
            f"`{' '.join(argv[:2])} ...` did not finish within {timeout:g} s, so the signature "
            "was not checked; nothing was changed (retry, or pass --skip-signature-check: "
            "admission in the cluster still checks it)"
        ) from None
    except OSError as exc:
        raise SignatureError(f"cannot run {argv[0]}: {exc}; nothing was changed") from None
    return _Run(done.returncode, done.stdout, done.stderr)


def check_signature(
    repository: str,
    version: Version,
    admission: AdmissionSettings,
    *,
    where: str,
    skip: bool = False,
    cosign: str | None = None,
    timeout: float = COSIGN_TIMEOUT_SECONDS,
) -> SignatureCheck:
    """Check that ``repository:version`` may be promoted to a stack with ``admission``
    (``where``: the stack, for messages, e.g. ``stack prod (Pulumi.prod.yaml)``). Returns the
    check (verified, skipped, or unreachable: the caller warns); raises :class:`SignatureError`
    when it is refused. ``cosign``: the binary (default: ``cosign`` on ``PATH``)."""
    signer = admission.signer
    if signer is None:
        raise SignatureError(f"{where}: admission.signer is not set")
    label = signer_label(signer)
    image = f"{repository}:{version}"
    registries = admission.trustedRegistries
    if trusted_registry(repository, registries) is None:
        raise SignatureError(
            f"refused: {image} is not under a trusted registry of {where} "
            f"(admission.trustedRegistries: {', '.join(registries)}), so admission there "
            "would refuse it; nothing was changed"
        )
    if skip:
        return SignatureCheck("skipped", image, version.digest, label)
    binary = cosign or shutil.which("cosign")
    if binary is None:
        raise SignatureError(
            f"cosign is not on PATH: promote checks that {image} is signed by {label} "
            f"({where} enables admission) before proposing it. Install cosign (`make "
            "toolchain` builds v2.6.5 into `toolchain/build.sh --bin-dir`) or pass "
            "--skip-signature-check (admission in the cluster still checks it); nothing was "
            "changed"
        )
    host = registry_host(repository)

    def unreachable(digest: str | None, stderr: str) -> SignatureCheck:
        return SignatureCheck("unreachable", image, digest, label, cosign_error(stderr))

    digest = version.digest
    if digest is None:
        run = _run(resolve_argv(binary, repository, version.tag, admission), timeout)
        outcome = classify(run.returncode, run.stderr, host)
        if outcome == "unreachable":
            return unreachable(None, run.stderr)
        if outcome == "missing":
            raise SignatureError(
                f"refused: {image} does not exist in its registry (cosign: "
                f"{cosign_error(run.stderr)}); nothing was changed"
            )
        digest = parse_triangulated(run.stdout) if run.returncode == 0 else None
        if digest is None:
            raise SignatureError(
                f"refused: cannot resolve the digest of {image} (cosign triangulate exited "
                f"{run.returncode}: {cosign_error(run.stderr)}); nothing was changed"
            )
    elif DIGEST_PATTERN.fullmatch(digest) is None:
        raise SignatureError(f"refused: {image}: {digest!r} is not an image digest")

    with tempfile.TemporaryDirectory(prefix="platformctl-cosign-") as tmp:
        key_file = None
        if signer.publicKey is not None:
            key_path = Path(tmp) / "signer.pub"
            key_path.write_text(signer.publicKey.strip() + "\n", encoding="ascii")
            key_file = str(key_path)
        run = _run(verify_argv(binary, repository, digest, admission, key_file), timeout)
    outcome = classify(run.returncode, run.stderr, host)
    if outcome == "verified":
        seen = verified_digests(run.stdout)
        if seen is not None and seen != {digest}:
            raise SignatureError(
                f"refused: cosign verified {', '.join(sorted(seen))}, not {digest} ({image}); "
                "nothing was changed"
            )
        return SignatureCheck("verified", image, digest, label)
    if outcome == "unreachable":
        return unreachable(digest, run.stderr)
    why = {
        "unsigned": "has no signature",
        "mismatch": "has no signature that verifies",
        "missing": "does not exist in its registry",
    }.get(outcome, f"could not be verified (cosign exited {run.returncode})")
    hint = " (--skip-signature-check skips the check)" if outcome == "error" else ""
    raise SignatureError(
        f"refused: {image} (digest {digest}) {why}; {where} admits only images signed by "
        f"{label} (cosign: {cosign_error(run.stderr)}); nothing was changed{hint}"
    )
