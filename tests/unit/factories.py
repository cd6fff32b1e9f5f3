"""Builders the unit tests share: stack settings from a few sections, the problems a stack's
values raise, and a self-signed certificate.

One of each, so that a change to what a stack needs (or to how settings are parsed) is made
here once, not in every test module that builds settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import NameOID

from infra.constants import stack_file
from infra.errors import ValidationError
from infra.settings import StackSettings, parse_settings
from tests.support import PROD_ADMISSION, REPO

# -- stack settings ------------------------------------------------------------------------------

MINIMAL_STACK: dict[str, Any] = {
    "cluster": {"provider": "kwok"},
    "git": {"repoURL": "https://example.com/r.git"},
}
"""The least a stack's values hold (keys without the ``gitops-platform:`` prefix): a cluster
provider and the platform's repository."""


def minimal_settings(
    env: str = "dev", *, root: Path | None = None, **sections: Any
) -> StackSettings:
    """The settings of a stack ``env`` holding :data:`MINIMAL_STACK` with ``sections`` added
    or replaced; a prod stack gets the valid admission section unless ``sections`` gives one
    (every prod stack must enable admission control). ``root``: the project folder, for the
    settings that name a path in it (the local mirror)."""
    if env == "prod":
        sections = {"admission": PROD_ADMISSION, **sections}
    return parse_settings(env, {**MINIMAL_STACK, **sections}, stack_file(env), root)


def repo_settings(stack: str, **sections: Any) -> StackSettings:
    """The settings of this repository's ``Pulumi.<stack>.yaml`` with ``sections`` replaced,
    parsed as ``platformctl`` parses the file."""
    config = yaml.safe_load((REPO / stack_file(stack)).read_text())["config"]
    values = {key.split(":", 1)[1]: value for key, value in config.items()}
    return parse_settings(stack, {**values, **sections}, stack_file(stack), REPO)


def settings_problems(
    values: Mapping[str, Any], env: str = "dev", file: str | None = None
) -> list[str]:
    """What :func:`parse_settings` reports about stack ``env``'s ``values`` (it must refuse
    them), one line a problem; ``file`` names the stack file (``Pulumi.<env>.yaml``)."""
    with pytest.raises(ValidationError) as info:
        parse_settings(env, values, file or stack_file(env))
    return [str(problem) for problem in info.value.problems]


# -- keys and certificates -----------------------------------------------------------------------


def public_pem(key: PrivateKeyTypes) -> str:
    """The public half of ``key`` as a PEM public key (what a stack's ``signer.publicKey``
    holds)."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@cache
def ec_pem(curve: type[ec.EllipticCurve] = ec.SECP256R1) -> str:
    """A PEM public key on ``curve`` (P-256: what ``cosign generate-key-pair`` makes), one per
    curve for the whole run."""
    return public_pem(ec.generate_private_key(curve()))


@cache
def rsa_pem(bits: int) -> str:
    """A PEM RSA public key of ``bits`` bits, one per size for the whole run."""
    return public_pem(rsa.generate_private_key(public_exponent=65537, key_size=bits))


def certificate(
    key: CertificateIssuerPrivateKeyTypes,
    *,
    public_key: CertificatePublicKeyTypes | None = None,
    common_name: str = "sealed-secret",
    start: dt.datetime | None = None,
    days: int = 3650,
) -> bytes:
    """A self-signed certificate in PEM, like the Sealed Secrets controller's (CN
    ``sealed-secret``): valid from a day before ``start`` (default: now) to ``days`` after it,
    holding ``public_key`` (default: ``key``'s own) and signed by ``key``."""
    start = start or dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    # Ed25519 and Ed448 sign without a separate hash; every other key signs a SHA-256.
    edwards = isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key or key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(days=1))
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, None if edwards else hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def run_cli(*args: str) -> tuple[int, str, str]:
    """``platformctl args``, in process: its exit code, standard output and standard error."""
    from typer.testing import CliRunner

    from infra.cli.app import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr
