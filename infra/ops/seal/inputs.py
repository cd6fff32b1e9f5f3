"""What sealing reads, each read bounded: the values (``--from-literal``, ``--from-file``,
stdin) and the certificate file (``--cert``); and the certificate's checks.

A value file that is not a regular file (a FIFO, a device, a socket) is refused: it would
block or never end. Everything is read with a bound (:data:`MAX_SECRET_BYTES` for the values
together, :data:`MAX_CERT_BYTES` for a certificate), one byte more than allowed telling "too
large", so a huge or endless input is never read whole."""

from __future__ import annotations

import datetime as dt
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from infra import bounded
from infra.ops.seal.limits import (
    MAX_CERT_BYTES,
    MAX_RSA_BITS,
    MAX_SECRET_BYTES,
    MIN_RSA_BITS,
    STDIN_PATHS,
    SealError,
)
from infra.ops.seal.names import validate_key

__all__ = ["load_public_key", "parse_values", "read_certificate", "read_regular_file"]


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
            return bounded.read_at_most(stream, limit)
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
            data = bounded.read_at_most(stream, MAX_SECRET_BYTES - total)
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
