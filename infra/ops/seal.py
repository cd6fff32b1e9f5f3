"""Seal a Secret for an app, as the Sealed Secrets controller expects it (``platformctl seal``).

The encryption is Sealed Secrets' own (``pkg/crypto/crypto.go``, ``HybridEncrypt``, and
``NewSealedSecret`` in ``pkg/apis/sealedsecrets/v1alpha1``), per value:

- a random 32-byte session key; the value encrypted with AES-256-GCM under that key with a zero
  nonce (safe: each key encrypts exactly one value);
- the session key encrypted with RSA-OAEP (SHA-256, MGF1-SHA-256) under the controller's public
  key, with the label ``<namespace>/<name>`` (strict scope: the controller refuses to decrypt
  it under any other namespace or name);
- the value's ciphertext: 2-byte big-endian length of the RSA ciphertext || RSA ciphertext ||
  AES-GCM ciphertext (with its 16-byte tag), base64 (standard alphabet) in
  ``spec.encryptedData.<key>``.

Two sealers produce that ciphertext; everything around it (the manifest, its labels and
template, where it goes, ``--merge``) is the same code for both:

- ``builtin`` (:class:`BuiltinSealer`, **the default**): the scheme above in Python with the
  ``cryptography`` library. It is the default because ``platformctl`` is installed by ``make
  install`` alone (a venv) while ``kubeseal`` comes only with the toolchain, a long cold build
  that sealing a secret should not need; because it behaves the same on every machine,
  whatever ``kubeseal`` (of whatever version) happens to be on ``PATH``; and because it is
  proven against the real thing: ``tests/unit/test_kubeseal.py`` opens what it seals with
  ``kubeseal --recovery-unseal`` and opens what ``kubeseal`` seals, with the toolchain's
  ``kubeseal``, the version of the controller the stacks install (0.36.6). A controller upgrade
  that changed the format would fail those tests once the toolchain is bumped with the chart.
- ``kubeseal`` (:class:`KubesealSealer`): upstream's own code does the encryption
  (``kubeseal --cert <pem> --scope strict --format yaml``, the Secret on stdin, never on the
  command line), for whoever wants upstream's implementation to be the one that encrypts. The
  binary is looked up on ``PATH``, then in the toolchain (``toolchain/build.sh --bin-dir``).

:func:`select_sealer` picks one by name; both refuse the same certificates first
(:func:`load_public_key`: not PEM, not RSA, shorter than 2048 bits, expired or not yet valid).

Hostile input is refused with one :class:`SealError` naming the flag or file, before anything
is written: values are read with a bound (:data:`MAX_SECRET_BYTES`; a FIFO, a device or
anything else that is not a regular file is refused, stdin (``--from-file KEY=-``) is read with
the same bound), names and keys are checked as Kubernetes checks them (full match: a trailing
newline is not allowed). :func:`write_sealed` writes the manifest to a temporary file and
renames it into place, and edits the kustomization only once the manifest is ready; when
anything fails, what was there before is restored.

Everything here is pure given the certificate (no cluster, no network) except
:func:`fetch_certificate` (the controller's ``/v1/cert.pem`` through the API server's service
proxy, as ``kubeseal --fetch-cert`` does), :func:`write_sealed` (writes the files) and the
``kubeseal`` sealer (runs the binary).

Where the manifest goes (``apps/<app>/...``, relative to the repository):

- kustomize: ``<path>/overlays/<env>/sealed-<name>.yaml``, added to that overlay's
  ``resources:`` (a round-trip edit: comments and layout kept);
- directory: ``<path>/sealed-<name>.yaml``. One folder serves every environment (the branch
  differs), so the file belongs on ``<env>``'s branch only: the other environment's controller
  has another key and cannot decrypt it;
- helm: refused. Argo CD reads only ``values/<env>.yaml`` from this repository for a helm app
  (the chart is the only manifest source), so a file here would never reach the cluster. Use
  ``--output`` to write the manifest elsewhere (``-``: stdout), e.g. into a chart value that
  takes extra manifests.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import errno
import io
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Protocol

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra import constants
from infra.atomic import temp_beside
from infra.catalog.loader import KUSTOMIZATION_FILES
from infra.catalog.models import (
    DNS1123_LABEL,
    App,
    DirectorySource,
    HelmSource,
    KustomizeSource,
)
from infra.errors import PlatformError
from infra.yamlio import dump_all, load_strict

__all__ = [
    "SEALERS",
    "BuiltinSealer",
    "KubesealSealer",
    "SealError",
    "SealResult",
    "SealTarget",
    "Sealer",
    "add_kustomize_resource",
    "fetch_certificate",
    "fetch_local_certificate",
    "find_kubeseal",
    "hybrid_decrypt",
    "hybrid_encrypt",
    "kubeseal_encrypt",
    "load_public_key",
    "parse_values",
    "read_certificate",
    "render_sealed",
    "require_enabled",
    "seal_target",
    "sealed_secret",
    "select_sealer",
    "validate_key",
    "validate_name",
    "validate_namespace",
    "write_sealed",
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
SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
"""Kubernetes' ``IsConfigMapKey`` (Secret data keys); used with ``fullmatch`` only."""
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
"""Secret names; used with ``fullmatch`` only (``re.match`` with ``$`` lets ``"db\\n"`` in)."""
"""Namespaces; used with ``fullmatch`` only."""
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


# -- names -----------------------------------------------------------------------------------


def validate_name(name: str, flag: str = "--name") -> None:
    """A Secret name: a DNS-1123 subdomain of at most 253 characters."""
    if len(name) > MAX_NAME_LENGTH:
        raise SealError(
            f"{flag}: the Secret name is {len(name)} characters long; "
            f"Kubernetes allows at most {MAX_NAME_LENGTH}"
        )
    if not DNS1123_SUBDOMAIN.fullmatch(name):
        raise SealError(
            f"{flag}: {name!r} is not a valid Secret name "
            "(lower-case letters, digits, '-', '.'; at most 253 characters)"
        )


def validate_namespace(namespace: str, field_name: str = "namespace") -> None:
    """A namespace: a DNS-1123 label of at most 63 characters."""
    if len(namespace) > MAX_NAMESPACE_LENGTH or not DNS1123_LABEL.fullmatch(namespace):
        raise SealError(
            f"{field_name}: {namespace!r} is not a valid namespace (a DNS-1123 label: "
            f"lower-case letters, digits, '-'; at most {MAX_NAMESPACE_LENGTH} characters)"
        )


def validate_key(key: str, flag: str) -> None:
    """A Secret data key, as Kubernetes' ``IsConfigMapKey``."""
    if len(key) > MAX_NAME_LENGTH:
        raise SealError(
            f"{flag}: the key is {len(key)} characters long; "
            f"Kubernetes allows at most {MAX_NAME_LENGTH}"
        )
    if not SECRET_KEY.fullmatch(key):
        raise SealError(
            f"{flag}: key {key!r} is not a valid Secret key (letters, digits, '-', '_', '.')"
        )
    if key in (".", "..") or key.startswith(".."):
        raise SealError(f"{flag}: key {key!r} is not a valid Secret key (may not start with '..')")


# -- inputs ----------------------------------------------------------------------------------


def _read_bounded(stream: IO[bytes], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``stream``: one more than allowed tells "too large"."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        block = stream.read(min(left, 1024 * 1024))
        if not block:
            break
        chunks.append(block)
        left -= len(block)
    return b"".join(chunks)


def _read_regular(
    path: Path, display: str, limit: int, *, named: bool = True, hint: str = ""
) -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path``; refused (``SealError`` naming
    ``display``, and the path unless ``named`` is false) when it is not a regular file (a FIFO,
    a device, a socket: they block or never end). Opened without blocking and checked on the
    open descriptor, so a FIFO swapped in after a check cannot hang the read either."""
    subject = f" {path}" if named else ""
    lead = f"{path} is " if named else ""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise SealError(f"{display}: {lead}a directory, not a file") from None
    except OSError as exc:
        raise SealError(f"{display}: cannot read{subject}: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise SealError(f"{display}: {lead}a directory, not a file")
        raise SealError(f"{display}: {lead}not a regular file (a FIFO, device or socket){hint}")
    with os.fdopen(fd, "rb", buffering=0) as stream:
        os.set_blocking(fd, True)
        try:
            return _read_bounded(stream, limit)
        except OSError as exc:
            raise SealError(f"{display}: cannot read{subject}: {exc.strerror}") from None


def read_regular_file(path: Path, display: str, limit: int, *, named: bool = True) -> bytes:
    """The bytes of the regular file ``path``; refused when it is not one (see
    :func:`_read_regular`) or holds more than ``limit`` bytes."""
    data = _read_regular(path, display, limit, named=named)
    if len(data) > limit:
        lead = f"{path} is " if named else ""
        raise SealError(f"{display}: {lead}larger than {limit} bytes")
    return data


def read_certificate(path: Path, flag: str = "--cert") -> bytes:
    """``--cert PEM_FILE``, read with a bound (:data:`MAX_CERT_BYTES`), regular files only."""
    return read_regular_file(path.expanduser(), f"{flag} {path}", MAX_CERT_BYTES, named=False)


def _shown(text: str) -> str:
    """``text`` as typed, or quoted when it holds what a terminal would not show as is (a
    newline, a control character): an error message stays one readable line."""
    return text if text.isprintable() else repr(text)


def parse_values(
    literals: Sequence[str],
    files: Sequence[str],
    *,
    stdin: IO[bytes] | None = None,
) -> dict[str, bytes]:
    """``--from-literal KEY=VALUE`` and ``--from-file [KEY=]PATH`` (as ``kubectl create secret``:
    without ``KEY=`` the key is the file's name) into key -> value bytes. ``KEY=-`` (or
    ``KEY=/dev/stdin``) reads the value from ``stdin`` (default: the process's), at most once.
    Every read is bounded: the values together may hold :data:`MAX_SECRET_BYTES`."""
    values: dict[str, bytes] = {}
    origin: dict[str, str] = {}
    total = 0

    def too_large(flag: str) -> SealError:
        return SealError(
            f"{flag}: the values add up to more than {MAX_SECRET_BYTES} bytes; "
            f"a Secret holds at most {MAX_SECRET_BYTES}"
        )

    def add(key: str, value: bytes, flag: str) -> None:
        nonlocal total
        if key in values:
            raise SealError(f"{flag}: key {key!r} is already given by {origin[key]}")
        values[key] = value
        origin[key] = flag
        total += len(value)
        if total > MAX_SECRET_BYTES:
            raise too_large(flag)

    for item in literals:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SealError(f"--from-literal {item.split('=', 1)[0]!r}: expected KEY=VALUE")
        flag = f"--from-literal {_shown(key)}=..."
        validate_key(key, flag)
        add(key, value.encode("utf-8", "surrogateescape"), flag)
    stdin_used: str | None = None
    for item in files:
        key, sep, path_text = item.partition("=")
        if not sep:
            key, path_text = Path(item).name, item
        if not path_text:
            raise SealError(f"--from-file {item!r}: expected [KEY=]PATH")
        flag = f"--from-file {_shown(item)}"
        if key in values:  # before reading anything
            raise SealError(f"{flag}: key {key!r} is already given by {origin[key]}")
        if path_text in STDIN_PATHS:
            if not sep or not key:
                raise SealError(f"{flag}: stdin has no file name; give the key: KEY=-")
            validate_key(key, flag)
            if stdin_used is not None:
                raise SealError(f"{flag}: stdin is already read by {stdin_used}")
            stdin_used = flag
            stream = stdin if stdin is not None else sys.stdin.buffer
            if stream.isatty():
                raise SealError(f"{flag}: stdin is a terminal; pipe the value in")
            data = _read_bounded(stream, MAX_SECRET_BYTES - total)
            if total + len(data) > MAX_SECRET_BYTES:
                raise too_large(flag)
        else:
            validate_key(key, flag)
            path = Path(path_text).expanduser()
            data = _read_regular(
                path,
                flag,
                MAX_SECRET_BYTES - total,
                hint="; give a file, or pipe the value into stdin with KEY=-",
            )
            if total + len(data) > MAX_SECRET_BYTES:
                raise too_large(flag)
        add(key, data, flag)
    if not values:
        raise SealError("give at least one --from-literal KEY=VALUE or --from-file [KEY=]PATH")
    return values


def load_public_key(pem: bytes, source: str, *, now: dt.datetime | None = None) -> rsa.RSAPublicKey:
    """The RSA public key of the first certificate in ``pem`` (the controller's
    ``/v1/cert.pem``); refused when it is not PEM, not RSA, shorter than 2048 bits (or absurdly
    long), expired or not yet valid. ``kubeseal`` refuses only the expired ones."""
    if len(pem) > MAX_CERT_BYTES:
        raise SealError(f"{source}: larger than {MAX_CERT_BYTES} bytes; not a certificate")
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise SealError(f"{source}: not a PEM certificate (no BEGIN CERTIFICATE block)")
    try:
        certificate = x509.load_pem_x509_certificates(pem)[0]
    except ValueError as exc:
        raise SealError(f"{source}: not a valid PEM certificate: {exc}") from None
    try:
        key = certificate.public_key()
    except (ValueError, TypeError) as exc:  # an unknown or malformed key algorithm
        raise SealError(f"{source}: the certificate's public key cannot be read: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealError(
            f"{source}: the certificate holds a {type(key).__name__}, "
            "expected the controller's RSA key"
        )
    if key.key_size < MIN_RSA_BITS:
        raise SealError(
            f"{source}: the certificate's RSA key has {key.key_size} bits; at least "
            f"{MIN_RSA_BITS} are needed (the controller makes 4096-bit keys)"
        )
    if key.key_size > MAX_RSA_BITS:
        raise SealError(
            f"{source}: the certificate's RSA key has {key.key_size} bits; more than "
            f"{MAX_RSA_BITS} is not a controller key"
        )
    moment = now or dt.datetime.now(dt.UTC)
    if moment > certificate.not_valid_after_utc:
        raise SealError(
            f"{source}: the certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}; "
            "fetch the controller's current one"
        )
    if moment < certificate.not_valid_before_utc:
        raise SealError(
            f"{source}: the certificate is not valid before "
            f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC (a wrong clock here or on "
            "the controller?)"
        )
    return key


# -- the encryption --------------------------------------------------------------------------


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


@dataclass(frozen=True)
class KubesealSealer:
    """Upstream's ``kubeseal`` binary does the encryption (:func:`kubeseal_encrypt`)."""

    binary: str
    pem: bytes
    key_bytes: int
    """Length of the RSA ciphertext the certificate's key makes (checked in the output)."""
    timeout: float = KUBESEAL_TIMEOUT_SECONDS
    description: str = "kubeseal"

    def encrypt(
        self,
        *,
        name: str,
        namespace: str,
        values: Mapping[str, bytes],
        secret_type: str,
        labels: Mapping[str, str],
    ) -> dict[str, str]:
        return kubeseal_encrypt(
            self.binary,
            self.pem,
            name=name,
            namespace=namespace,
            values=values,
            secret_type=secret_type,
            labels=labels,
            key_bytes=self.key_bytes,
            timeout=self.timeout,
        )


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


# -- where it goes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SealTarget:
    """Where a sealed secret of an app goes, relative to the repository root."""

    manifest: str
    kustomization: str | None
    """The overlay kustomization that must list the manifest (kustomize apps)."""
    note: str | None = None
    """What the user must know about this place (printed after writing)."""


def require_enabled(app: App, env: str) -> None:
    if app.environment(env) is None:
        raise SealError(
            f"--env: app {app.name!r} is not enabled in {env} "
            f"({app.file}: environments.{env} is missing or has enabled: false)"
        )


def seal_target(app: App, env: str, name: str, root: Path) -> SealTarget:
    """The file a sealed secret ``name`` of ``app`` in ``env`` is written to."""
    require_enabled(app, env)
    source = app.definition.source
    validate_name(name)
    filename = f"sealed-{name}.yaml"
    if len(filename.encode()) > MAX_FILENAME_LENGTH:
        raise SealError(
            f"--name: {filename} would be {len(filename)} characters long, more than a file "
            f"name may be ({MAX_FILENAME_LENGTH}); choose a shorter name, or write it "
            "elsewhere with --output FILE"
        )
    if isinstance(source, KustomizeSource):
        overlay = app.overlay_path(env)
        found = next((f for f in KUSTOMIZATION_FILES if (root / overlay / f).is_file()), None)
        if found is None:
            raise SealError(f"{app.file}: overlay {overlay}/kustomization.yaml does not exist")
        return SealTarget(f"{overlay}/{filename}", f"{overlay}/{found}")
    if isinstance(source, DirectorySource):
        folder = app.source_folder()
        return SealTarget(
            f"{folder}/{filename}",
            None,
            note=(
                f"{folder}/ is applied in every environment (only the branch differs): commit "
                f"this file on the {env} branch only; the other environment's controller "
                "cannot decrypt it"
            ),
        )
    assert isinstance(source, HelmSource)
    raise SealError(
        f"--app {app.name}: a helm app's manifests come from its chart; Argo CD reads only "
        f"{app.folder}/{constants.HELM_VALUES_DIR}/{env}.yaml from this repository, so a "
        "sealed secret written there would never be applied. Write it with --output FILE (or "
        "--output - for stdout) and pass it to the chart (e.g. a value that takes extra "
        "manifests); see docs/secrets.md"
    )


def add_kustomize_resource(text: str, entry: str, file: str) -> str | None:
    """``text`` (a kustomization) with ``entry`` appended to ``resources:``; ``None`` when it
    is already listed. A ruamel round trip: comments, quoting and key order are kept."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    loader = YAML()
    loader.preserve_quotes = True
    loader.width = 4096
    # Match the file's sequence style: "  - item" (indented) or "- item".
    indented = re.search(r"^[A-Za-z][\w.-]*:[ \t]*\n[ ]+- ", text, re.MULTILINE) is not None
    loader.indent(mapping=2, sequence=4 if indented else 2, offset=2 if indented else 0)
    try:
        document = loader.load(text)
    except YAMLError as exc:
        raise SealError(
            f"{file}: invalid YAML, add {entry} to resources: by hand ({exc})"
        ) from None
    if not isinstance(document, dict):
        raise SealError(f"{file}: not a kustomization mapping; add {entry} to resources: by hand")
    resources = document.get("resources")
    if resources is None:
        document["resources"] = [entry]
    elif not isinstance(resources, list):
        raise SealError(f"{file}: resources: is not a list; add {entry} to it by hand")
    elif entry in resources:
        return None
    else:
        resources.append(entry)
    out = io.StringIO()
    loader.dump(document, out)
    new_text = out.getvalue()
    # Nothing but resources: may differ (a guard against a surprising round trip).
    before, after = yaml.safe_load(text) or {}, yaml.safe_load(new_text)
    before.pop("resources", None)
    added = after.pop("resources", None)
    if before != after or not isinstance(added, list) or added[-1:] != [entry]:
        raise SealError(f"{file}: could not add {entry} to resources: safely; add it by hand")
    return new_text


def render_sealed(manifest: Mapping[str, Any]) -> str:
    """The manifest as YAML that Go's YAML parser reads back unchanged
    (:func:`infra.yamlio.dump_all` quotes ``y``/``n``)."""
    return dump_all([manifest])


@dataclass(frozen=True)
class SealResult:
    manifest: str
    kustomization: str | None
    kustomization_changed: bool
    keys: tuple[str, ...]
    """Every key in the written manifest."""
    kept: tuple[str, ...]
    """Keys of the existing file (``--merge``) kept as they were."""
    note: str | None


def _read_text(path: Path, display: str, what: str) -> tuple[bytes, str]:
    """A regular file of at most :data:`MAX_MANIFEST_BYTES`, as bytes and as UTF-8 text."""
    raw = read_regular_file(path, display, MAX_MANIFEST_BYTES)
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SealError(f"{display}: cannot read {what}: not UTF-8") from None


def existing_values(path: Path, display: str, name: str, namespace: str) -> dict[str, str]:
    """The sealed values of an existing SealedSecret file (for ``--merge``); read with a bound
    and strictly (no duplicate keys, no anchors or aliases)."""
    _, text = _read_text(path, display, "the existing sealed secret")
    loaded = load_strict(text, display)
    if loaded.problems:
        raise SealError(
            f"cannot read the existing sealed secret: {'; '.join(map(str, loaded.problems))}"
        )
    document = loaded.data
    if not isinstance(document, dict) or document.get("kind") != SEALED_KIND:
        raise SealError(f"{display}: exists and is not a SealedSecret; refusing to overwrite it")
    meta = document.get("metadata") or {}
    if not isinstance(meta, dict):
        raise SealError(f"{display}: metadata is not a mapping")
    if meta.get("name") != name or meta.get("namespace") != namespace:
        raise SealError(
            f"{display}: holds {meta.get('namespace')}/{meta.get('name')}, not {namespace}/{name}"
        )
    spec = document.get("spec") or {}
    data = (spec.get("encryptedData") if isinstance(spec, dict) else None) or {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SealError(f"{display}: spec.encryptedData is not a mapping of strings")
    return {str(k): v for k, v in data.items()}


def _place_new(temp: Path, path: Path, display: str) -> None:
    """Move ``temp`` to ``path``, which must not exist (a file created there meanwhile is not
    overwritten: a hard link fails when the name is taken)."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise SealError(
            f"{display} exists; pass --merge to add or replace keys in it "
            "(the others are kept), or delete it first"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if path.exists():  # a file system without hard links: check, then rename
            raise SealError(f"{display} exists; pass --merge, or delete it first") from None
        os.replace(temp, path)
        return
    temp.unlink()


def _make_parents(directory: Path, created: list[Path]) -> None:
    """``mkdir -p directory``, noting in ``created`` each folder it made, deepest first (to
    remove them on failure)."""
    missing: list[Path] = []
    here = directory
    while not here.exists():
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        folder.mkdir()
        created.insert(0, folder)


def _undo(
    path: Path, old: bytes | None, placed: bool, temps: list[Path], created: list[Path]
) -> bool:
    """Undo a failed :func:`write_sealed`; ``False`` when the manifest could not be restored."""
    restored = True
    for temp in temps:
        with contextlib.suppress(OSError):
            temp.unlink()
    if placed:
        try:
            if old is None:
                path.unlink()
            else:
                os.replace(temp_beside(path, old), path)
        except OSError:
            restored = False
    for folder in created:
        with contextlib.suppress(OSError):
            folder.rmdir()
    return restored


def write_sealed(
    root: Path,
    target: SealTarget,
    build: Callable[[Mapping[str, str]], dict[str, Any]],
    *,
    name: str,
    namespace: str,
    new_keys: Sequence[str],
    merge: bool,
) -> SealResult:
    """Write the manifest ``build(existing sealed values)`` returns at ``target`` and list it
    in the overlay's kustomization. An existing file is refused unless ``merge``.

    All or nothing: the manifest and the new kustomization are fully written to temporary files
    first; then the manifest is renamed into place, then the kustomization. When any step fails
    (or is interrupted) the temporary files are removed, a manifest already renamed is put back
    as it was (removed, or its old content restored) and folders made for it are removed."""
    path = root / target.manifest
    existing: dict[str, str] = {}
    old_manifest: bytes | None = None
    if path.exists() or path.is_symlink():
        if not merge:
            raise SealError(
                f"{target.manifest} exists; pass --merge to add or replace keys in it "
                "(the others are kept), or delete it first"
            )
        existing = existing_values(path, target.manifest, name, namespace)
        old_manifest = read_regular_file(path, target.manifest, MAX_MANIFEST_BYTES)
    manifest = build(existing)
    text = render_sealed(manifest)
    new_kustomization: str | None = None
    kpath: Path | None = None
    if target.kustomization is not None:
        kpath = root / target.kustomization
        _, ktext = _read_text(kpath, target.kustomization, "the kustomization")
        new_kustomization = add_kustomize_resource(ktext, path.name, target.kustomization)

    temps: list[Path] = []
    created: list[Path] = []
    placed = False
    writing = target.manifest
    try:
        _make_parents(path.parent, created)
        manifest_temp = temp_beside(path, text.encode("utf-8"))
        temps.append(manifest_temp)
        kustomization_temp: Path | None = None
        if kpath is not None and new_kustomization is not None:
            writing = str(target.kustomization)
            kustomization_temp = temp_beside(kpath, new_kustomization.encode("utf-8"))
            temps.append(kustomization_temp)
        # Everything is written; now the renames, manifest first.
        writing = target.manifest
        if old_manifest is None:
            _place_new(manifest_temp, path, target.manifest)
        else:
            os.replace(manifest_temp, path)
        temps.remove(manifest_temp)
        placed = True
        if kpath is not None and kustomization_temp is not None:
            writing = str(target.kustomization)
            os.replace(kustomization_temp, kpath)
            temps.remove(kustomization_temp)
    except BaseException as exc:
        restored = _undo(path, old_manifest, placed, temps, created)
        if isinstance(exc, OSError):
            outcome = (
                "nothing was changed"
                if restored
                else f"and {target.manifest} could not be put back as it was: check it"
            )
            raise SealError(f"cannot write {writing}: {exc.strerror}; {outcome}") from None
        raise
    keys = tuple(sorted(manifest["spec"]["encryptedData"]))
    return SealResult(
        manifest=target.manifest,
        kustomization=target.kustomization,
        kustomization_changed=new_kustomization is not None,
        keys=keys,
        kept=tuple(sorted(k for k in existing if k not in new_keys)),
        note=target.note,
    )


# -- the certificate from the cluster --------------------------------------------------------


def fetch_certificate(api_client: Any, namespace: str, name: str) -> bytes:
    """The controller's public certificate, ``GET /v1/cert.pem`` through the API server's
    service proxy (``services/http:<name>:<port>/proxy``), as ``kubeseal --fetch-cert``.
    ``api_client`` is a ``kubernetes.client.ApiClient`` bound to the cluster."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    where = f"service {name!r} in namespace {namespace!r}"
    try:
        service = core.read_namespaced_service(
            name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )
        ports = (service.spec.ports if service.spec else None) or []
        port = (ports[0].name or str(ports[0].port)) if ports else ""
        # Unparsed (_preload_content=False): a urllib3 response whose .data is the PEM.
        response: Any = core.connect_get_namespaced_service_proxy_with_path(
            f"http:{name}:{port}",
            namespace,
            "v1/cert.pem",
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
        pem = _read_response(response, MAX_CERT_BYTES)
    except ApiException as exc:
        if exc.status == 404:
            raise SealError(
                f"no Sealed Secrets controller: {where} not found (is sealedSecrets.enabled "
                "set for this stack? right --context / --controller-namespace?)"
            ) from None
        if exc.status in (502, 503):
            raise SealError(
                f"the controller behind {where} does not answer ({exc.status}); is it running? "
                f"kubectl -n {namespace} get pods; or pass --cert PEM_FILE"
            ) from None
        raise SealError(
            f"the cluster refused to serve the certificate ({exc.status} {exc.reason}); "
            "pass --cert PEM_FILE"
        ) from None
    except Exception as exc:  # urllib3 connection errors and the like
        raise SealError(f"cannot reach the cluster: {exc}") from None
    if len(pem) > MAX_CERT_BYTES:
        raise SealError(
            f"{where} served more than {MAX_CERT_BYTES} bytes as its certificate; "
            "not a Sealed Secrets controller?"
        )
    return pem


def fetch_local_certificate(port: int) -> bytes:
    """The certificate of a controller the local runtime runs on this machine:
    ``GET http://127.0.0.1:<port>/v1/cert.pem`` (the API server's service proxy cannot reach
    a process outside the cluster)."""
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{port}/v1/cert.pem"
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            pem = _read_bounded(response, MAX_CERT_BYTES)
    except (urllib.error.URLError, OSError) as exc:
        raise SealError(
            f"the local Sealed Secrets controller at {url} did not answer ({exc}); is the "
            "stack up (`make up`)?"
        ) from None
    if len(pem) > MAX_CERT_BYTES:
        raise SealError(f"{url} served more than {MAX_CERT_BYTES} bytes as its certificate")
    return pem


def _read_response(response: Any, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of an unparsed (urllib3) response, then it is released."""
    try:
        return _read_bounded(response, limit)
    finally:
        release = getattr(response, "release_conn", None)
        if callable(release):
            release()


# -- the kubeseal sealer ---------------------------------------------------------------------

SEALERS: Final = ("builtin", "kubeseal")
"""The names :func:`select_sealer` takes (``--sealer``); the first is the default."""
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def find_kubeseal(root: Path | None = None) -> str | None:
    """``kubeseal`` on ``PATH``, else the toolchain's (``<root>/toolchain/build.sh --bin-dir``,
    which builds nothing), else ``None``."""
    found = shutil.which("kubeseal")
    if found:
        return found
    build = root / "toolchain" / "build.sh" if root is not None else None
    if build is None or not build.is_file():
        return None
    try:
        done = subprocess.run(
            [str(build), "--bin-dir"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    candidate = Path(done.stdout.strip()) / "kubeseal"
    if done.returncode == 0 and candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


def select_sealer(
    pem: bytes,
    source: str,
    sealer: str = SEALERS[0],
    *,
    root: Path | None = None,
    now: dt.datetime | None = None,
) -> Sealer:
    """The sealer named ``sealer`` (``--sealer builtin|kubeseal``) for the certificate ``pem``
    (from ``source``, for messages). The certificate is checked by :func:`load_public_key` for
    both: ``kubeseal`` itself would accept a short or not-yet-valid key."""
    if sealer not in SEALERS:
        raise SealError(
            f"--sealer: unknown sealer {sealer!r}; expected one of {', '.join(SEALERS)}"
        )
    public_key = load_public_key(pem, source, now=now)
    if sealer == "builtin":
        return BuiltinSealer(public_key)
    binary = find_kubeseal(root)
    if binary is None:
        raise SealError(
            "--sealer kubeseal: kubeseal is neither on PATH nor in the toolchain (`make "
            "toolchain` builds it); or seal with --sealer builtin"
        )
    return KubesealSealer(
        binary, pem, key_bytes=(public_key.key_size + 7) // 8, description=f"kubeseal ({binary})"
    )


@dataclass(frozen=True)
class _Run:
    returncode: int | None
    """``None``: killed (timed out or too much output)."""
    stdout: bytes
    stderr: bytes
    timed_out: bool
    overflow: bool


def _run_bounded(
    argv: Sequence[str], stdin: bytes, *, limit: int, timeout: float, env: Mapping[str, str]
) -> _Run:
    """Run ``argv`` with ``stdin``; keep at most ``limit`` bytes of each output stream (the
    process is killed when it writes more) and kill it after ``timeout`` seconds."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        close_fds=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    outputs = {"stdout": bytearray(), "stderr": bytearray()}
    overflow = threading.Event()

    def feed(pipe: IO[bytes]) -> None:
        with contextlib.suppress(OSError):  # BrokenPipe: it exited before reading it all
            pipe.write(stdin)
        with contextlib.suppress(OSError):
            pipe.close()

    def drain(pipe: IO[bytes], into: bytearray) -> None:
        while True:
            block = pipe.read(65536)
            if not block:
                return
            into.extend(block[: max(0, limit + 1 - len(into))])
            if len(into) > limit:
                overflow.set()
                with contextlib.suppress(OSError):
                    proc.kill()
                return

    threads = [
        threading.Thread(target=feed, args=(proc.stdin,), daemon=True),
        threading.Thread(target=drain, args=(proc.stdout, outputs["stdout"]), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, outputs["stderr"]), daemon=True),
    ]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    for thread in threads:
        thread.join(timeout=5)
    for pipe in (proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            pipe.close()
    killed = timed_out or overflow.is_set()
    return _Run(
        None if killed else proc.returncode,
        bytes(outputs["stdout"][:limit]),
        bytes(outputs["stderr"][:limit]),
        timed_out,
        overflow.is_set(),
    )


def _safe_message(stderr: bytes, values: Mapping[str, bytes]) -> str:
    """kubeseal's error message, without anything that could be a value: base64 runs (the
    Secret's ``data``) and every value's text are cut out; when a short value (under 4
    bytes, too short to cut out everywhere) still appears, the message is withheld."""
    text = stderr.decode("utf-8", "replace").strip()
    text = _BASE64_RUN.sub("<redacted>", text)
    short: list[str] = []
    for value in values.values():
        for form in (value.decode("utf-8", "replace"), base64.b64encode(value).decode()):
            if len(form) >= 4:
                text = text.replace(form, "<redacted>")
            elif form:
                short.append(form)
    if any(re.search(rf"(?<![\w]){re.escape(s)}(?![\w])", text) for s in short):
        return "(its message is withheld: it may contain a secret value)"
    lines = [line for line in text.splitlines() if line.strip()]
    message = " / ".join(lines[:5])
    return message[:500] or "(no message)"


def kubeseal_encrypt(
    binary: str,
    pem: bytes,
    *,
    name: str,
    namespace: str,
    values: Mapping[str, bytes],
    secret_type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
    key_bytes: int,
    timeout: float = KUBESEAL_TIMEOUT_SECONDS,
) -> dict[str, str]:
    """``spec.encryptedData`` of ``values`` as ``kubeseal --cert <pem> --scope strict --format
    yaml`` seals them: the Secret manifest goes to its stdin (never on the command line, which
    other users can read), its output is bounded (:data:`MAX_MANIFEST_BYTES`) and checked (the
    SealedSecret for ``namespace/name``, strict scope, exactly these keys, each ciphertext as
    long as the scheme makes it for ``key_bytes``-byte RSA). Errors never show a value."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": secret_type,
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in values.items()},
    }
    # kubeseal takes flags from SEALED_SECRETS_* variables and a namespace from a kubeconfig;
    # neither may change what is sealed here.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALED_SECRETS_")}
    env["KUBECONFIG"] = os.devnull
    what = f"--sealer kubeseal: {binary}"
    with tempfile.TemporaryDirectory(prefix="platformctl-seal-") as folder:
        cert = Path(folder) / "cert.pem"
        cert.write_bytes(pem)
        argv = [binary, "--cert", str(cert), "--scope", "strict", "--format", "yaml"]
        try:
            run = _run_bounded(
                argv,
                json.dumps(secret).encode(),
                limit=MAX_MANIFEST_BYTES,
                timeout=timeout,
                env=env,
            )
        except OSError as exc:
            raise SealError(f"{what}: cannot run it: {exc.strerror}") from None
    if run.timed_out:
        raise SealError(f"{what}: did not finish within {timeout:g} seconds; it was stopped")
    if run.overflow:
        raise SealError(f"{what}: wrote more than {MAX_MANIFEST_BYTES} bytes; it was stopped")
    if run.returncode != 0:
        raise SealError(
            f"{what}: failed (exit {run.returncode}): {_safe_message(run.stderr, values)}"
        )
    return _kubeseal_output(
        run.stdout, what, name, namespace, values, secret_type, labels, key_bytes
    )


def _kubeseal_output(
    out: bytes,
    what: str,
    name: str,
    namespace: str,
    values: Mapping[str, bytes],
    secret_type: str,
    labels: Mapping[str, str] | None,
    key_bytes: int,
) -> dict[str, str]:
    """The ``encryptedData`` of kubeseal's output, after checking it is what was asked for."""

    def bad(why: str) -> SealError:
        return SealError(f"{what}: unexpected output ({why}); nothing was written")

    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("not UTF-8") from None
    loaded = load_strict(text, "kubeseal")
    document = loaded.data
    if loaded.problems or not isinstance(document, dict):
        raise bad("not one YAML mapping")
    if document.get("apiVersion") != SEALED_API_VERSION or document.get("kind") != SEALED_KIND:
        raise bad(f"not a {SEALED_API_VERSION} {SEALED_KIND}")
    meta = document.get("metadata")
    if not isinstance(meta, dict) or (meta.get("name"), meta.get("namespace")) != (name, namespace):
        raise bad(f"not sealed for {namespace}/{name}")
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict) or any(
        str(annotations.get(a)).lower() == "true" for a in SCOPE_ANNOTATIONS
    ):
        raise bad("not the strict scope")
    spec = document.get("spec")
    data = spec.get("encryptedData") if isinstance(spec, dict) else None
    if not isinstance(data, dict) or set(data) != set(values):
        raise bad("not exactly the keys given")
    template = spec.get("template") if isinstance(spec, dict) else None
    tmeta = template.get("metadata") if isinstance(template, dict) else None
    if (
        not isinstance(template, dict)
        or not isinstance(tmeta, dict)
        or template.get("type", "Opaque") != secret_type
        or (tmeta.get("labels") or {}) != dict(labels or {})
    ):
        raise bad("not the Secret's type and labels")
    encrypted: dict[str, str] = {}
    for key, value in values.items():
        sealed = data[key]
        try:
            raw = base64.b64decode(sealed, validate=True) if isinstance(sealed, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        expected = 2 + key_bytes + len(value) + 16
        if len(raw) != expected or struct.unpack(">H", raw[:2]) != (key_bytes,):
            raise bad(f"the value of {key!r} is not a strict-scope ciphertext of its length")
        encrypted[key] = sealed
    return encrypted
