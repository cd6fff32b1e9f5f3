"""Sealed Secrets' encryption (``pkg/crypto/crypto.go``, ``HybridEncrypt``, and
``NewSealedSecret`` in ``pkg/apis/sealedsecrets/v1alpha1``), the builtin sealer and the
SealedSecret manifest. Per value:

- a random 32-byte session key; the value encrypted with AES-256-GCM under that key with a zero
  nonce (safe: each key encrypts exactly one value);
- the session key encrypted with RSA-OAEP (SHA-256, MGF1-SHA-256) under the controller's public
  key, with the label ``<namespace>/<name>`` (strict scope: the controller refuses to decrypt
  it under any other namespace or name);
- the value's ciphertext: 2-byte big-endian length of the RSA ciphertext || RSA ciphertext ||
  AES-GCM ciphertext (with its 16-byte tag), base64 (standard alphabet) in
  ``spec.encryptedData.<key>``.

:class:`BuiltinSealer` (the default sealer) is that scheme in Python with the ``cryptography``
library; :func:`sealed_secret` builds the manifest around whichever :class:`Sealer` encrypts
(the other one is :class:`infra.ops.seal.kubeseal.KubesealSealer`). Pure: no files, no network.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.ops.seal.limits import SEALED_API_VERSION, SEALED_KIND, SESSION_KEY_BYTES, SealError
from infra.ops.seal.names import validate_key, validate_name, validate_namespace

__all__ = [
    "BuiltinSealer",
    "Sealer",
    "hybrid_decrypt",
    "hybrid_encrypt",
    "sealed_secret",
    "strict_label",
]


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label
    )


def hybrid_encrypt(
    public_key: rsa.RSAPublicKey,
    plaintext: bytes,
    label: bytes,
    *,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Sealed Secrets' ``HybridEncrypt``: ``len(rsa) (2 bytes, big-endian) || rsa || aes``."""
    session_key = random_bytes(SESSION_KEY_BYTES)
    if len(session_key) != SESSION_KEY_BYTES:
        raise SealError("the random source returned a short session key")
    rsa_ciphertext = public_key.encrypt(session_key, _oaep(label))
    # The session key is used once, so the zero nonce is safe (as upstream).
    aes_ciphertext = AESGCM(session_key).encrypt(bytes(12), plaintext, None)
    return struct.pack(">H", len(rsa_ciphertext)) + rsa_ciphertext + aes_ciphertext


def hybrid_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes:
    """Sealed Secrets' ``HybridDecrypt`` with one key (disaster recovery, tests); raises
    ``ValueError`` when the key or the label is not the one the value was sealed for."""
    if len(ciphertext) < 2:
        raise ValueError("SealedSecret data is too short")
    (rsa_len,) = struct.unpack(">H", ciphertext[:2])
    if len(ciphertext) < 2 + rsa_len:
        raise ValueError("SealedSecret data is too short")
    session_key = private_key.decrypt(ciphertext[2 : 2 + rsa_len], _oaep(label))
    return AESGCM(session_key).decrypt(bytes(12), ciphertext[2 + rsa_len :], None)


def strict_label(namespace: str, name: str) -> bytes:
    """The OAEP label of the strict scope (the default of kubeseal and the controller)."""
    return f"{namespace}/{name}".encode()


class Sealer(Protocol):
    """Turns values into ``spec.encryptedData`` (key -> base64 ciphertext), strict scope."""

    @property
    def description(self) -> str:
        """What sealed, for messages."""
        ...

    def encrypt(
        self,
        *,
        name: str,
        namespace: str,
        values: Mapping[str, bytes],
        secret_type: str,
        labels: Mapping[str, str],
    ) -> dict[str, str]: ...


@dataclass(frozen=True)
class BuiltinSealer:
    """The scheme in Python (:func:`hybrid_encrypt`), one fresh session key per value."""

    public_key: rsa.RSAPublicKey
    random_bytes: Callable[[int], bytes] = os.urandom
    description: str = "the builtin sealer"

    def encrypt(
        self,
        *,
        name: str,
        namespace: str,
        values: Mapping[str, bytes],
        secret_type: str,
        labels: Mapping[str, str],
    ) -> dict[str, str]:
        label = strict_label(namespace, name)
        return {
            key: base64.b64encode(
                hybrid_encrypt(self.public_key, value, label, random_bytes=self.random_bytes)
            ).decode("ascii")
            for key, value in values.items()
        }


def sealed_secret(
    sealer: Sealer | rsa.RSAPublicKey,
    *,
    name: str,
    namespace: str,
    values: Mapping[str, bytes],
    secret_type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
    existing: Mapping[str, str] | None = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> dict[str, Any]:
    """A strict-scope ``SealedSecret`` for ``namespace/name`` holding ``values``, plus the
    ``existing`` already-sealed values (``--merge``) that ``values`` do not replace. ``sealer``
    is a :class:`Sealer` or an RSA public key (the builtin sealer with that key)."""
    validate_name(name)
    validate_namespace(namespace)
    if not values:
        raise SealError("no values to seal: give at least one key")
    for key in values:
        validate_key(key, f"key {key!r}")
    chosen: Sealer = (
        BuiltinSealer(sealer, random_bytes=random_bytes)
        if isinstance(sealer, rsa.RSAPublicKey)
        else sealer
    )
    encrypted = dict(existing or {})
    encrypted.update(
        chosen.encrypt(
            name=name,
            namespace=namespace,
            values=values,
            secret_type=secret_type,
            labels=dict(labels or {}),
        )
    )
    template_meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        template_meta["labels"] = dict(labels)
    return {
        "apiVersion": SEALED_API_VERSION,
        "kind": SEALED_KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "encryptedData": dict(sorted(encrypted.items())),
            "template": {"metadata": template_meta, "type": secret_type},
        },
    }
