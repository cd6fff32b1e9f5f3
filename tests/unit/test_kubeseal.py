"""platformctl seal against the real ``kubeseal`` (issue 10): byte-for-byte agreement both ways,
the strict scope as upstream enforces it, and the ``kubeseal`` sealer (its output, its errors).

The binary is the toolchain's (``toolchain/build.sh --bin-dir``: the controller's version,
0.36.6), else one on ``PATH``. Without it these tests fail when ``CI`` is set (CI builds the
toolchain, so a missing binary is a broken build) and are skipped otherwise.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.ops.seal import (
    SealError,
    hybrid_decrypt,
    hybrid_encrypt,
    kubeseal_encrypt,
    render_sealed,
    sealed_secret,
    select_sealer,
    strict_label,
)
from infra.yamlio import dump_all
from tests.signing import require_tool
from tests.unit.factories import certificate

VALUES: dict[str, bytes] = {
    "password": b"hunter2",
    "empty": b"",
    "binary": bytes(range(256)),
    "unicode": "pässwörd ✓".encode(),
    "large": os.urandom(200 * 1024),
    "with.dots-and_dashes": b"line1\nline2\n",
}
LABELS = {"platform.gitops/app": "payments-api"}


@pytest.fixture(scope="module")
def kubeseal() -> str:
    """The real kubeseal: the toolchain's first (the pinned version), then ``PATH``'s."""
    return require_tool("kubeseal")


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


@pytest.fixture(scope="module")
def cert_pem(key: rsa.RSAPrivateKey) -> bytes:
    """A self-signed certificate like the controller's (CN sealed-secret), valid now."""
    return certificate(key)


@pytest.fixture(scope="module")
def files(
    tmp_path_factory: pytest.TempPathFactory, key: rsa.RSAPrivateKey, cert_pem: bytes
) -> Path:
    folder = tmp_path_factory.mktemp("kubeseal")
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    (folder / "cert.pem").write_bytes(cert_pem)
    return folder


def run(argv: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALED_SECRETS_")}
    env["KUBECONFIG"] = os.devnull
    return subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=120, check=False, env=env
    )


def opened(secret: dict[str, Any]) -> dict[str, bytes]:
    """The Secret's values (Go prints an empty value, a nil slice, as null)."""
    return {k: base64.b64decode(v or "") for k, v in (secret.get("data") or {}).items()}


def recovery_unseal(kubeseal: str, files: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """``kubeseal --recovery-unseal``: upstream's decryption with the private key."""
    done = run(
        [kubeseal, "--recovery-unseal", "--recovery-private-key", str(files / "key.pem"),
         "-o", "yaml"],
        render_sealed(manifest),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    secret: dict[str, Any] = yaml.safe_load(done.stdout)
    return secret


def secret_manifest(name: str, namespace: str, values: dict[str, bytes]) -> str:
    return dump_all([{
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": LABELS},
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in values.items()},
    }])  # fmt: skip


def upstream_seal(kubeseal: str, files: Path, name: str, namespace: str) -> dict[str, Any]:
    done = run(
        [kubeseal, "--cert", str(files / "cert.pem"), "--scope", "strict", "-o", "yaml"],
        secret_manifest(name, namespace, VALUES),
    )
    assert done.returncode == 0, done.stderr
    manifest: dict[str, Any] = yaml.safe_load(done.stdout)
    return manifest


def without_data(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without its ciphertexts (random per seal) and kubeseal's null
    ``creationTimestamp`` fields (which mean "absent")."""

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: clean(v)
                for k, v in node.items()
                if not (k == "creationTimestamp" and v is None) and k != "encryptedData"
            }
        return node

    out: dict[str, Any] = clean(manifest)
    return out


# -- agreement, both ways ----------------------------------------------------------------------


def test_kubeseal_opens_what_the_builtin_sealer_seals(
    kubeseal: str, files: Path, key: rsa.RSAPrivateKey
) -> None:
    manifest = sealed_secret(
        key.public_key(), name="db", namespace="payments", values=VALUES, labels=LABELS
    )
    secret = recovery_unseal(kubeseal, files, manifest)
    assert opened(secret) == VALUES  # byte for byte, every key
    assert secret["metadata"]["name"] == "db" and secret["metadata"]["namespace"] == "payments"
    assert secret["metadata"]["labels"] == LABELS
    assert secret["type"] == "Opaque"


def test_the_builtin_decryption_opens_what_kubeseal_seals(
    kubeseal: str, files: Path, key: rsa.RSAPrivateKey
) -> None:
    manifest = upstream_seal(kubeseal, files, "db", "payments")
    data = manifest["spec"]["encryptedData"]
    assert set(data) == set(VALUES)
    for k, value in VALUES.items():
        raw = base64.b64decode(data[k], validate=True)
        assert raw[:2] == (512).to_bytes(2, "big")  # 4096-bit key: 512-byte RSA part
        assert len(raw) == 2 + 512 + len(value) + 16
        assert hybrid_decrypt(key, raw, b"payments/db") == value
    # And the manifest around the ciphertexts is the builtin sealer's, field for field.
    ours = sealed_secret(
        key.public_key(), name="db", namespace="payments", values=VALUES, labels=LABELS
    )
    assert without_data(manifest) == without_data(ours)


def test_one_ciphertext_wire_format_agrees(
    kubeseal: str, files: Path, key: rsa.RSAPrivateKey
) -> None:
    """A fixed session key: the AES-GCM part of our ciphertext is exactly determined, and
    kubeseal opens it; so does ours with kubeseal's (both directions at the byte level)."""
    session = bytes(range(32))
    raw = hybrid_encrypt(key.public_key(), b"exact bytes", b"ns/n", random_bytes=lambda n: session)
    manifest = sealed_secret(key.public_key(), name="n", namespace="ns", values={"k": b"x"})
    manifest["spec"]["encryptedData"] = {"k": base64.b64encode(raw).decode()}
    assert base64.b64decode(recovery_unseal(kubeseal, files, manifest)["data"]["k"]) == (
        b"exact bytes"
    )


# -- the strict scope ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"), [("name", "other"), ("namespace", "elsewhere")], ids=["name", "namespace"]
)
def test_kubeseal_refuses_a_relabelled_sealed_secret(
    kubeseal: str, files: Path, key: rsa.RSAPrivateKey, field: str, value: str
) -> None:
    manifest = sealed_secret(key.public_key(), name="db", namespace="payments", values=VALUES)
    manifest["metadata"][field] = value
    manifest["spec"]["template"]["metadata"][field] = value
    done = run(
        [kubeseal, "--recovery-unseal", "--recovery-private-key", str(files / "key.pem")],
        render_sealed(manifest),
    )
    assert done.returncode != 0
    assert "no key could decrypt secret" in done.stderr, done.stderr
    # The same holds for kubeseal's own seal, opened with the wrong label by us.
    upstream = upstream_seal(kubeseal, files, "db", "payments")
    raw = base64.b64decode(upstream["spec"]["encryptedData"]["password"])
    other = {"name": "payments/other", "namespace": "elsewhere/db"}[field].encode()
    with pytest.raises(ValueError):
        hybrid_decrypt(key, raw, other)
    assert hybrid_decrypt(key, raw, strict_label("payments", "db")) == b"hunter2"


# -- the kubeseal sealer ------------------------------------------------------------------------


def on_path(monkeypatch: pytest.MonkeyPatch, binary: str) -> None:
    monkeypatch.setenv("PATH", f"{Path(binary).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def test_kubeseal_sealer_makes_the_builtin_manifest(
    kubeseal: str, files: Path, key: rsa.RSAPrivateKey, cert_pem: bytes,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    on_path(monkeypatch, kubeseal)
    # Variables kubeseal reads as flags, and a kubeconfig that would block reading it, change
    # nothing: the sealer runs kubeseal without them.
    os.mkfifo(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("SEALED_SECRETS_NAMESPACE", "other")
    monkeypatch.setenv("SEALED_SECRETS_SEALED_SECRET_FILE", str(tmp_path / "leak.yaml"))
    sealer = select_sealer(cert_pem, "--cert c.pem", "kubeseal")
    assert sealer.description.startswith("kubeseal (")
    manifest = sealed_secret(
        sealer, name="db", namespace="payments", values=VALUES, labels=LABELS,
        existing={"kept": "AgBy"},
    )  # fmt: skip
    assert not (tmp_path / "leak.yaml").exists()
    builtin = sealed_secret(
        select_sealer(cert_pem, "--cert c.pem", "builtin"),
        name="db", namespace="payments", values=VALUES, labels=LABELS, existing={"kept": "AgBy"},
    )  # fmt: skip
    assert without_data(manifest) == without_data(builtin)
    assert list(manifest["spec"]["encryptedData"]) == list(builtin["spec"]["encryptedData"])
    assert manifest["spec"]["encryptedData"]["kept"] == "AgBy"
    del manifest["spec"]["encryptedData"]["kept"]
    secret = recovery_unseal(kubeseal, files, manifest)
    assert opened(secret) == VALUES


def test_kubeseal_sealer_selection_errors(
    cert_pem: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SealError, match=r"^--sealer kubeseal: kubeseal is neither on PATH nor"):
        select_sealer(cert_pem, "--cert c.pem", "kubeseal", root=tmp_path)
    with pytest.raises(SealError, match=r"^--sealer: unknown sealer 'openssl'; expected one of"):
        select_sealer(cert_pem, "--cert c.pem", "openssl")
    # The certificate is checked first, whichever sealer: kubeseal would take a short key.
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak = certificate(short, common_name="x", days=1)
    fake = fake_kubeseal(tmp_path, "exit 0")
    monkeypatch.setenv("PATH", str(Path(fake).parent))
    with pytest.raises(SealError, match=r"RSA key has 1024 bits"):
        select_sealer(weak, "--cert c.pem", "kubeseal")


def fake_kubeseal(folder: Path, body: str) -> str:
    """A stand-in ``kubeseal`` running the shell ``body``."""
    path = folder / "kubeseal"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


SECRET_VALUES = {"password": b"correct-horse-battery-staple", "pin": b"123"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("cat >&2; exit 3", "failed (exit 3): {"),
        (
            "echo 'error: cannot seal correct-horse-battery-staple' >&2; exit 1",
            "failed (exit 1): error: cannot seal <redacted>",
        ),
        (
            "echo 'error: bad pin 123' >&2; exit 1",
            "failed (exit 1): (its message is withheld: it may contain a secret value)",
        ),
        (
            """sed -n 's/.*"password": "\\([A-Za-z0-9+/]\\{20\\}\\).*/bad data \\1/p' >&2; exit 1""",
            "failed (exit 1): bad data <redacted>",
        ),
        ("exec sleep 30", "did not finish within 1 seconds; it was stopped"),
        ("exec cat /dev/zero", "wrote more than 4194304 bytes; it was stopped"),
        ("cat >/dev/null; echo 'not: [yaml'", "unexpected output (not one YAML mapping)"),
    ],
    ids=[
        "echoes-stdin",
        "echoes-a-value",
        "echoes-a-short-value",
        "echoes-base64-part",
        "hangs",
        "endless",
        "garbage",
    ],
)
def test_kubeseal_failures_are_clear_and_never_show_a_value(
    tmp_path: Path, cert_pem: bytes, body: str, message: str
) -> None:
    binary = fake_kubeseal(tmp_path, body)
    with pytest.raises(SealError) as info:
        kubeseal_encrypt(
            binary, cert_pem, name="db", namespace="payments", values=SECRET_VALUES,
            key_bytes=512, timeout=1,
        )  # fmt: skip
    text = str(info.value)
    assert text.startswith(f"--sealer kubeseal: {binary}: {message}"), text
    for value in SECRET_VALUES.values():
        assert value.decode() not in text.replace("exit 1", "")
        assert base64.b64encode(value).decode()[:16] not in text


def test_kubeseal_output_is_checked(
    kubeseal: str, tmp_path: Path, cert_pem: bytes, files: Path
) -> None:
    """A kubeseal whose output is not what was asked for (another name, another scope, other
    keys, short ciphertexts) is refused: its output is never trusted blindly."""
    real = upstream_seal(kubeseal, files, "db", "payments")
    cases: list[tuple[str, Any]] = []
    renamed = yaml.safe_load(yaml.safe_dump(real))
    renamed["metadata"]["name"] = "other"
    cases.append(("not sealed for payments/db", renamed))
    wide = yaml.safe_load(yaml.safe_dump(real))
    wide["metadata"]["annotations"] = {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    cases.append(("not the strict scope", wide))
    fewer = yaml.safe_load(yaml.safe_dump(real))
    del fewer["spec"]["encryptedData"]["password"]
    cases.append(("not exactly the keys given", fewer))
    relabelled = yaml.safe_load(yaml.safe_dump(real))
    relabelled["spec"]["template"]["metadata"]["labels"] = {"x": "y"}
    cases.append(("not the Secret's type and labels", relabelled))
    short = yaml.safe_load(yaml.safe_dump(real))
    short["spec"]["encryptedData"]["password"] = base64.b64encode(b"\x02\x00abc").decode()
    cases.append(("the value of 'password' is not a strict-scope ciphertext", short))
    for why, manifest in cases:
        (tmp_path / "out.yaml").write_text(yaml.safe_dump(manifest))
        binary = fake_kubeseal(tmp_path, f"cat >/dev/null; cat {tmp_path / 'out.yaml'}")
        with pytest.raises(SealError, match=rf"unexpected output \({why}"):
            kubeseal_encrypt(
                binary, cert_pem, name="db", namespace="payments", values=VALUES,
                labels=LABELS, key_bytes=512,
            )  # fmt: skip
    # The untouched output passes the same checks.
    (tmp_path / "out.yaml").write_text(yaml.safe_dump(real))
    binary = fake_kubeseal(tmp_path, f"cat >/dev/null; cat {tmp_path / 'out.yaml'}")
    sealed = kubeseal_encrypt(
        binary, cert_pem, name="db", namespace="payments", values=VALUES, labels=LABELS,
        key_bytes=512,
    )  # fmt: skip
    assert sealed == real["spec"]["encryptedData"]


def test_the_secret_goes_to_stdin_not_the_command_line(tmp_path: Path, cert_pem: bytes) -> None:
    """Other users can read a command line (``ps``); the values go through a pipe."""
    log = tmp_path / "argv"
    binary = fake_kubeseal(tmp_path, f'echo "$@" > {log}; cat > {tmp_path / "stdin"}; exit 1')
    with pytest.raises(SealError):
        kubeseal_encrypt(
            binary, cert_pem, name="db", namespace="payments", values=SECRET_VALUES, key_bytes=512
        )
    argv = log.read_text().split()
    assert argv[0] == "--cert" and argv[2:] == ["--scope", "strict", "--format", "yaml"]
    assert b"correct-horse" not in log.read_bytes()
    sent = yaml.safe_load((tmp_path / "stdin").read_text())
    assert base64.b64decode(sent["data"]["password"]) == SECRET_VALUES["password"]
    assert not Path(argv[1]).exists()  # the certificate's temporary folder is gone


def test_names_and_keys_go_reads_as_booleans_survive(
    kubeseal: str, files: Path, key: rsa.RSAPrivateKey
) -> None:
    """``y`` and ``n`` are valid Secret names, namespaces and keys, and booleans to Go's YAML
    1.1 parser (kubectl, Argo CD, kubeseal); the written manifest quotes them."""
    values = {"y": b"1", "N": b"2", "yes": b"3", "off": b"4"}
    manifest = sealed_secret(key.public_key(), name="y", namespace="n", values=values)
    text = render_sealed(manifest)
    assert "  name: 'y'\n" in text and "  namespace: 'n'\n" in text and "    'N': " in text
    assert yaml.safe_load(text) == manifest
    secret = recovery_unseal(kubeseal, files, manifest)
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("y", "n")
    assert opened(secret) == values
