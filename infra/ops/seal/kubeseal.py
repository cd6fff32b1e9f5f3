"""The ``kubeseal`` sealer, and choosing a sealer (``--sealer builtin|kubeseal``).

:class:`KubesealSealer` has upstream's own code do the encryption (``kubeseal --cert <pem>
--scope strict --format yaml``, the Secret on stdin, never on the command line), for whoever
wants upstream's implementation to be the one that encrypts. The binary is looked up on
``PATH``, then in the toolchain (``toolchain/build.sh --bin-dir``). It runs bounded (killed
after a timeout or too much output), without the ``SEALED_SECRETS_*`` variables and kubeconfig
that would change what it seals; its output is checked before anything is written, and its
error messages never show a value.

The builtin sealer (:class:`infra.ops.seal.crypto.BuiltinSealer`) is the default: ``platformctl``
is installed by ``make install`` alone (a venv) while ``kubeseal`` comes only with the
toolchain, a long cold build that sealing a secret should not need; it behaves the same on
every machine, whatever ``kubeseal`` (of whatever version) happens to be on ``PATH``; and it
is proven against the real thing: ``tests/unit/test_kubeseal.py`` opens what it seals with
``kubeseal --recovery-unseal`` and opens what ``kubeseal`` seals, with the toolchain's
``kubeseal``, the version of the controller the stacks install (0.36.6). A controller upgrade
that changed the format would fail those tests once the toolchain is bumped with the chart.

:func:`select_sealer` picks one by name; both refuse the same certificates first
(:func:`infra.ops.seal.inputs.load_public_key`: not PEM, not RSA, shorter than 2048 bits,
expired or not yet valid).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from infra.ops.seal.crypto import BuiltinSealer, Sealer
from infra.ops.seal.inputs import load_public_key
from infra.ops.seal.limits import (
    KUBESEAL_TIMEOUT_SECONDS,
    MAX_MANIFEST_BYTES,
    SCOPE_ANNOTATIONS,
    SEALED_API_VERSION,
    SEALED_KIND,
    SealError,
)
from infra.yamlio import load_strict

__all__ = ["SEALERS", "KubesealSealer", "find_kubeseal", "kubeseal_encrypt", "select_sealer"]

SEALERS: Final = ("builtin", "kubeseal")
"""The names :func:`select_sealer` takes (``--sealer``); the first is the default."""
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


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
