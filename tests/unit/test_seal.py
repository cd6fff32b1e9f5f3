"""platformctl seal: Sealed Secrets' hybrid encryption (round trip with a key made here), the
manifest, where it is written, and the CLI's errors (exit 1, a message, never a traceback)."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import shutil
import struct
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from typer.testing import CliRunner

from infra.catalog.models import App
from infra.cli.app import app as cli
from infra.delivery.app_tag import load_app
from infra.delivery.tree import WorkTree
from infra.ops.seal import (
    MAX_CERT_BYTES,
    MAX_SECRET_BYTES,
    SealError,
    SealTarget,
    add_kustomize_resource,
    fetch_certificate,
    hybrid_encrypt,
    load_public_key,
    parse_values,
    read_certificate,
    seal_target,
    sealed_secret,
    write_sealed,
)
from tests.support import REPO, copy_example_catalog
from tests.unit.factories import certificate

runner = CliRunner()
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def cert_pem(key: rsa.RSAPrivateKey) -> bytes:
    return certificate(key)


def hybrid_decrypt(key: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes:
    """The controller's HybridDecrypt (pkg/crypto/crypto.go), written from its source, not
    from the code under test: 2-byte big-endian RSA length, RSA-OAEP(SHA-256) session key with
    the label, AES-256-GCM with a zero nonce."""
    (rsa_len,) = struct.unpack(">H", ciphertext[:2])
    rsa_part, aes_part = ciphertext[2 : 2 + rsa_len], ciphertext[2 + rsa_len :]
    session_key = key.decrypt(
        rsa_part,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label),
    )
    assert len(session_key) == 32
    return AESGCM(session_key).decrypt(b"\0" * 12, aes_part, None)


# -- the encryption ------------------------------------------------------------------------------


def test_round_trip(key: rsa.RSAPrivateKey) -> None:
    label = b"payments/db"
    for plaintext in (b"hunter2", b"", bytes(range(256)) * 40):
        sealed = hybrid_encrypt(key.public_key(), plaintext, label)
        assert hybrid_decrypt(key, sealed, label) == plaintext


def test_wire_format(key: rsa.RSAPrivateKey) -> None:
    session_key = bytes(range(32))
    sealed = hybrid_encrypt(key.public_key(), b"value", b"ns/n", random_bytes=lambda n: session_key)
    assert sealed[:2] == b"\x01\x00"  # 256: the RSA ciphertext of a 2048-bit key
    assert len(sealed) == 2 + 256 + len(b"value") + 16  # GCM appends a 16-byte tag
    # The AES part is the value under the session key with a zero nonce, as upstream.
    assert sealed[258:] == AESGCM(session_key).encrypt(bytes(12), b"value", None)


def test_strict_scope_label_binds_namespace_and_name(key: rsa.RSAPrivateKey) -> None:
    sealed = hybrid_encrypt(key.public_key(), b"secret", b"payments/db")
    for other in (b"payments/other", b"other/db", b"payments", b""):
        with pytest.raises(ValueError):
            hybrid_decrypt(key, sealed, other)


def test_controller_sized_key_round_trip() -> None:
    """The controller generates 4096-bit keys."""
    big = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    sealed = hybrid_encrypt(big.public_key(), b"x" * 1000, b"a/b")
    assert struct.unpack(">H", sealed[:2]) == (512,)
    assert hybrid_decrypt(big, sealed, b"a/b") == b"x" * 1000


def test_sealed_secret_manifest(key: rsa.RSAPrivateKey) -> None:
    manifest = sealed_secret(
        key.public_key(),
        name="db",
        namespace="payments",
        values={"user": b"app", "password": b"hunter2"},
        labels={"platform.gitops/app": "payments-api"},
        existing={"old": "AgAAAA=="},
    )
    assert manifest["apiVersion"] == "bitnami.com/v1alpha1" and manifest["kind"] == "SealedSecret"
    assert manifest["metadata"] == {"name": "db", "namespace": "payments"}
    template = manifest["spec"]["template"]
    assert template == {
        "metadata": {
            "name": "db",
            "namespace": "payments",
            "labels": {"platform.gitops/app": "payments-api"},
        },
        "type": "Opaque",
    }
    data = manifest["spec"]["encryptedData"]
    assert list(data) == ["old", "password", "user"]
    assert data["old"] == "AgAAAA=="
    for k, v in (("user", b"app"), ("password", b"hunter2")):
        assert hybrid_decrypt(key, base64.b64decode(data[k]), b"payments/db") == v
    # Fresh randomness per value: the same value never seals to the same text twice.
    again = sealed_secret(
        key.public_key(), name="db", namespace="payments", values={"user": b"app"}
    )
    assert again["spec"]["encryptedData"]["user"] != data["user"]


def test_invalid_secret_name(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(SealError, match=r"--name: 'DB_creds' is not a valid Secret name"):
        sealed_secret(key.public_key(), name="DB_creds", namespace="ns", values={"a": b"b"})


# -- the certificate ------------------------------------------------------------------------------


def test_load_public_key(key: rsa.RSAPrivateKey) -> None:
    public = load_public_key(certificate(key, start=NOW), "--cert c.pem", now=NOW)
    assert public.public_numbers() == key.public_key().public_numbers()


def test_certificate_errors(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(SealError, match=r"^--cert c\.pem: not a PEM certificate"):
        load_public_key(b"hello", "--cert c.pem", now=NOW)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(SealError, match=r"not a PEM certificate"):
        load_public_key(public_pem, "--cert c.pem", now=NOW)
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(SealError, match=r"not a valid PEM certificate"):
        load_public_key(broken, "--cert c.pem", now=NOW)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SealError, match=r"expected the controller's RSA key"):
        load_public_key(certificate(ec_key, start=NOW), "--cert c.pem", now=NOW)
    old = certificate(key, days=10, start=NOW - dt.timedelta(days=100))
    with pytest.raises(SealError, match=r"--cert c\.pem: the certificate expired on 2026-03-03"):
        load_public_key(old, "--cert c.pem", now=NOW)


# -- the values -----------------------------------------------------------------------------------


def test_parse_values(tmp_path: Path) -> None:
    (tmp_path / "tls.key").write_bytes(b"\x00binary")
    values = parse_values(
        ["user=app", "dsn=postgres://u:p@h/db?x=1", "empty="],
        [f"{tmp_path / 'tls.key'}", f"renamed={tmp_path / 'tls.key'}"],
    )
    assert values == {
        "user": b"app",
        "dsn": b"postgres://u:p@h/db?x=1",
        "empty": b"",
        "tls.key": b"\x00binary",
        "renamed": b"\x00binary",
    }


@pytest.mark.parametrize(
    ("literals", "files", "message"),
    [
        ([], [], "give at least one --from-literal KEY=VALUE or --from-file [KEY=]PATH"),
        (["novalue"], [], "--from-literal 'novalue': expected KEY=VALUE"),
        (["=v"], [], "--from-literal '': expected KEY=VALUE"),
        (
            ["a b=c"],
            [],
            "--from-literal a b=...: key 'a b' is not a valid Secret key (letters, digits, '-', '_', '.')",
        ),
        (
            ["a=1", "a=2"],
            [],
            "--from-literal a=...: key 'a' is already given by --from-literal a=...",
        ),
        (
            [],
            ["k=/nonexistent/file"],
            "--from-file k=/nonexistent/file: cannot read /nonexistent/file: No such file or directory",
        ),
        ([], ["k="], "--from-file 'k=': expected [KEY=]PATH"),
        ([], ["k=/"], "--from-file k=/: / is a directory, not a file"),
    ],
    ids=["none", "no-equals", "no-key", "bad-key", "duplicate", "missing-file", "no-path", "dir"],
)
def test_parse_values_errors(literals: list[str], files: list[str], message: str) -> None:
    with pytest.raises(SealError) as info:
        parse_values(literals, files)
    assert str(info.value) == message


def test_values_larger_than_a_secret_are_refused() -> None:
    with pytest.raises(SealError, match=r"a Secret holds at most 1048576"):
        parse_values([f"a={'x' * (1024 * 1024 + 1)}"], [])


# -- where it goes -------------------------------------------------------------------------------


def example_app(name: str) -> App:
    return load_app(WorkTree(REPO), name)


def test_targets_per_source_shape() -> None:
    kustomize = seal_target(example_app("payments-api"), "prod", "db", REPO)
    assert kustomize.manifest == "apps/payments-api/overlays/prod/sealed-db.yaml"
    assert kustomize.kustomization == "apps/payments-api/overlays/prod/kustomization.yaml"
    directory = seal_target(example_app("hello-web"), "dev", "db", REPO)
    assert directory.manifest == "apps/hello-web/manifests/sealed-db.yaml"
    assert directory.kustomization is None
    assert (
        directory.note is not None and "commit this file on the dev branch only" in directory.note
    )
    with pytest.raises(SealError, match=r"^--app metrics-cache: a helm app's manifests come from"):
        seal_target(example_app("metrics-cache"), "dev", "db", REPO)
    with pytest.raises(SealError, match=r"^--env: app 'experiments' is not enabled in prod"):
        seal_target(example_app("experiments"), "prod", "db", REPO)


KUSTOMIZATION = """\
# The dev overlay.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base   # the shared manifests
images:
  - name: ghcr.io/example-org/payments-api
    newTag: "1.4.2"   # bumped by CI
"""


def test_add_kustomize_resource_keeps_everything_else() -> None:
    new = add_kustomize_resource(KUSTOMIZATION, "sealed-db.yaml", "k.yaml")
    assert new == KUSTOMIZATION.replace(
        "  - ../../base   # the shared manifests\n",
        "  - ../../base   # the shared manifests\n  - sealed-db.yaml\n",
    )
    assert new is not None
    assert add_kustomize_resource(new, "sealed-db.yaml", "k.yaml") is None


def test_add_kustomize_resource_other_layouts() -> None:
    flush = "resources:\n- ../../base\nnamePrefix: dev-\n"
    assert add_kustomize_resource(flush, "s.yaml", "k") == (
        "resources:\n- ../../base\n- s.yaml\nnamePrefix: dev-\n"
    )
    none = "namePrefix: dev-\n"
    assert add_kustomize_resource(none, "s.yaml", "k") == "namePrefix: dev-\nresources:\n- s.yaml\n"
    with pytest.raises(SealError, match=r"^k: resources: is not a list; add s.yaml to it by hand"):
        add_kustomize_resource("resources: ../../base\n", "s.yaml", "k")
    with pytest.raises(SealError, match=r"^k: not a kustomization mapping"):
        add_kustomize_resource("- a\n", "s.yaml", "k")
    with pytest.raises(SealError, match=r"^k: invalid YAML, add s.yaml to resources: by hand"):
        add_kustomize_resource("resources: [\n", "s.yaml", "k")


# -- the certificate from the cluster --------------------------------------------------------------


class FakeCore:
    """CoreV1Api: a sealed-secrets-controller Service whose proxy serves a PEM."""

    calls: ClassVar[list[tuple[str, ...]]] = []
    status: ClassVar[int | None] = None
    body: ClassVar[bytes | None] = b"PEM"
    """``None``: a proxy that never stops sending."""

    def __init__(self, api_client: Any) -> None:
        pass

    def read_namespaced_service(self, name: str, namespace: str, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        if self.status:
            raise ApiException(status=self.status, reason="Not Found")
        port = SimpleNamespace(name="http", port=8080)
        return SimpleNamespace(spec=SimpleNamespace(ports=[port]))

    def connect_get_namespaced_service_proxy_with_path(
        self, name: str, namespace: str, path: str, **kwargs: Any
    ) -> Any:
        FakeCore.calls.append((name, namespace, path))
        return EndlessZeros() if FakeCore.body is None else io.BytesIO(FakeCore.body)


def test_fetch_certificate_through_the_service_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes import client

    monkeypatch.setattr(client, "CoreV1Api", FakeCore)
    FakeCore.calls, FakeCore.status = [], None
    assert fetch_certificate(object(), "kube-system", "sealed-secrets-controller") == b"PEM"
    assert FakeCore.calls == [("http:sealed-secrets-controller:http", "kube-system", "v1/cert.pem")]
    FakeCore.status = 404
    with pytest.raises(SealError, match=r"^no Sealed Secrets controller: service 'x' in namespace"):
        fetch_certificate(object(), "kube-system", "x")


# -- the command ----------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cert_pem: bytes) -> Path:
    copy_example_catalog(tmp_path)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> Any:
    return runner.invoke(cli, ["seal", *args])


def test_seal_kustomize_app(repo: Path, key: rsa.RSAPrivateKey) -> None:
    (repo / "pw").write_text("hunter2")
    result = invoke(
        "--app", "payments-api", "--env", "dev", "--name", "db",
        "--from-literal", "user=app", "--from-file", "password=pw", "--cert", "cert.pem",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    overlay = repo / "apps" / "payments-api" / "overlays" / "dev"
    assert "wrote apps/payments-api/overlays/dev/sealed-db.yaml" in result.stdout
    assert (
        "added sealed-db.yaml to resources: in apps/payments-api/overlays/dev/kustomization.yaml"
        in result.stdout
    )
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["../../base", "sealed-db.yaml"]
    manifest = yaml.safe_load((overlay / "sealed-db.yaml").read_text())
    assert manifest["metadata"] == {"name": "db", "namespace": "payments"}
    data = manifest["spec"]["encryptedData"]
    assert hybrid_decrypt(key, base64.b64decode(data["password"]), b"payments/db") == b"hunter2"
    assert hybrid_decrypt(key, base64.b64decode(data["user"]), b"payments/db") == b"app"

    # Again: refused without --merge; with it, one key replaced and the other kept.
    again = invoke("--app", "payments-api", "--env", "dev", "--name", "db",
                   "--from-literal", "user=new", "--cert", "cert.pem")  # fmt: skip
    assert again.exit_code == 1
    assert "sealed-db.yaml exists; pass --merge" in again.stderr
    merged = invoke("--app", "payments-api", "--env", "dev", "--name", "db",
                    "--from-literal", "user=new", "--cert", "cert.pem", "--merge")  # fmt: skip
    assert merged.exit_code == 0, merged.output
    assert "kept the sealed values already there: password" in merged.stdout
    assert "already lists sealed-db.yaml" in merged.stdout
    data2 = yaml.safe_load((overlay / "sealed-db.yaml").read_text())["spec"]["encryptedData"]
    assert data2["password"] == data["password"]
    assert hybrid_decrypt(key, base64.b64decode(data2["user"]), b"payments/db") == b"new"

    # The validation accepts sealed secrets (and only those).
    assert runner.invoke(cli, ["validate"]).exit_code == 0


def test_seal_directory_app_and_stdout(repo: Path, key: rsa.RSAPrivateKey) -> None:
    result = invoke("--app", "hello-web", "--env", "prod", "--name", "api",
                    "--from-literal", "k=v", "--cert", "cert.pem")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (repo / "apps" / "hello-web" / "manifests" / "sealed-api.yaml").is_file()
    assert "commit this file on the prod branch only" in result.stderr
    out = invoke("--app", "metrics-cache", "--env", "dev", "--name", "api",
                 "--from-literal", "k=v", "--cert", "cert.pem", "--output", "-")  # fmt: skip
    assert out.exit_code == 0, out.output
    manifest = yaml.safe_load(out.stdout)
    assert manifest["kind"] == "SealedSecret" and manifest["metadata"]["namespace"] == "data"
    assert (
        hybrid_decrypt(key, base64.b64decode(manifest["spec"]["encryptedData"]["k"]), b"data/api")
        == b"v"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app", "nope", "--env", "dev"], "error: --app: unknown app 'nope'"),
        (
            ["--app", "hello-web", "--env", "qa"],
            "error: --env: unknown environment 'qa'; expected one of dev, prod",
        ),
        (
            ["--app", "experiments", "--env", "prod"],
            "error: --env: app 'experiments' is not enabled in prod",
        ),
        (
            ["--app", "metrics-cache", "--env", "dev"],
            "error: --app metrics-cache: a helm app's manifests come from its chart",
        ),
        (
            ["--app", "hello-web", "--env", "dev", "--cert", "missing.pem"],
            "error: --cert missing.pem: cannot read: No such file or directory",
        ),
        (
            ["--app", "hello-web", "--env", "dev", "--cert", "cert.pem", "--context", "c"],
            "error: --cert and --kubeconfig/--context exclude each other",
        ),
        (
            ["--app", "hello-web", "--env", "dev"],
            "error: give --cert PEM_FILE (the controller's certificate), or --context C",
        ),
        (
            ["--app", "hello-web", "--env", "dev", "--context", "c", "--kubeconfig", "nokube"],
            "error: --context c: cannot load --kubeconfig nokube",
        ),
        (
            ["--app", "hello-web", "--env", "dev", "--cert", "app.pem"],
            "error: --cert app.pem: not a PEM certificate",
        ),
    ],
    ids=[
        "app",
        "env",
        "not-enabled",
        "helm",
        "cert-missing",
        "both-sources",
        "no-source",
        "kubeconfig",
        "not-pem",
    ],
)
def test_seal_errors_exit_1_with_a_message(repo: Path, args: list[str], message: str) -> None:
    (repo / "app.pem").write_text("not a certificate")
    result = invoke(*args, "--name", "db", "--from-literal", "a=b")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.output
    assert not list((repo / "apps").rglob("sealed-*.yaml"))


def test_seal_usage_error_exit_2(repo: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "infra.cli", "seal", "--app", "hello-web"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


# -- hostile input (issue 9): one clear error each, nothing written --------------------------------


def test_weak_and_odd_certificates_are_refused(key: rsa.RSAPrivateKey) -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(SealError, match=r"^--cert c\.pem: the certificate's RSA key has 1024 bits"):
        load_public_key(certificate(short, start=NOW), "--cert c.pem", now=NOW)
    # A giant modulus (no private key needed to put it in a certificate: a throwaway key signs
    # it, the sealer reads only the subject's public key).
    giant = rsa.RSAPublicNumbers(65537, (1 << 20000) + 1).public_key()
    signed_by_another = certificate(weak_free_key(), public_key=giant, start=NOW, days=30)
    with pytest.raises(SealError, match=r"has 20001 bits; more than 16384 is not a controller"):
        load_public_key(signed_by_another, "--cert c.pem", now=NOW)
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_cert = certificate(ed, common_name="x", start=NOW, days=1)
    with pytest.raises(SealError, match=r"holds a Ed25519PublicKey, expected the controller's RSA"):
        load_public_key(ed_cert, "--cert c.pem", now=NOW)
    future = certificate(key, start=NOW + dt.timedelta(days=10))
    with pytest.raises(
        SealError, match=r"^--cert c\.pem: the certificate is not valid before 2026-06-10"
    ):
        load_public_key(future, "--cert c.pem", now=NOW)
    # Garbage in PEM clothing: no END line; base64 that is no DER; a huge file.
    with pytest.raises(SealError, match=r"^--cert c\.pem: not a valid PEM certificate"):
        load_public_key(b"-----BEGIN CERTIFICATE-----\nMIIB\n", "--cert c.pem", now=NOW)
    noise = base64.encodebytes(bytes(range(256)) * 4).decode()
    garbage = f"-----BEGIN CERTIFICATE-----\n{noise}-----END CERTIFICATE-----\n".encode()
    with pytest.raises(SealError, match=r"^--cert c\.pem: not a valid PEM certificate"):
        load_public_key(garbage, "--cert c.pem", now=NOW)
    huge = certificate(key, start=NOW) + b"\n" * (MAX_CERT_BYTES + 1)
    with pytest.raises(SealError, match=r"^--cert c\.pem: larger than 65536 bytes"):
        load_public_key(huge, "--cert c.pem", now=NOW)


def test_read_certificate_bounded_and_regular_only(tmp_path: Path, cert_pem: bytes) -> None:
    (tmp_path / "c.pem").write_bytes(cert_pem)
    assert read_certificate(tmp_path / "c.pem") == cert_pem
    with open(tmp_path / "big.pem", "wb") as big:
        big.truncate(MAX_CERT_BYTES + 1)
    with pytest.raises(SealError, match=r"^--cert .*big\.pem: larger than 65536 bytes$"):
        read_certificate(tmp_path / "big.pem")
    with pytest.raises(SealError, match=r"^--cert /dev/zero: not a regular file \(a FIFO"):
        read_certificate(Path("/dev/zero"))
    with pytest.raises(SealError, match=r"^--cert nope\.pem: cannot read: No such file or"):
        read_certificate(Path("nope.pem"))


def in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    """``func(*args)`` with a deadline: a call that blocks (a FIFO opened for reading) fails the
    test instead of hanging it."""
    import threading

    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(func(*args, **kwargs))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), f"{func.__name__} blocked"
    return outcome[0]


def test_fifo_and_devices_as_value_files_are_refused(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    error = in_thread(parse_values, [], [f"k={fifo}"])
    assert isinstance(error, SealError), error
    assert str(error) == (
        f"--from-file k={fifo}: {fifo} is not a regular file (a FIFO, device or socket); "
        "give a file, or pipe the value into stdin with KEY=-"
    )
    for device in ("/dev/zero", "/dev/urandom"):
        error = in_thread(parse_values, [], [f"k={device}"])
        assert isinstance(error, SealError) and "is not a regular file" in str(error), error


def test_large_value_files_are_read_with_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra import bounded

    big = tmp_path / "big"
    with open(big, "wb") as out:
        out.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of zeros on no disk
    asked: list[int] = []
    real = bounded.read_at_most

    def spy(stream: Any, limit: int) -> bytes:
        data = real(stream, limit)
        asked.append(len(data))
        return data

    monkeypatch.setattr(bounded, "read_at_most", spy)
    with pytest.raises(
        SealError, match=r"^--from-file k=.*: the values add up to more than 1048576"
    ):
        parse_values([], [f"k={big}"])
    assert asked == [MAX_SECRET_BYTES + 1]  # never the whole file
    # Two files, each small enough, too large together; the second read is bounded by what is left.
    half = tmp_path / "half"
    half.write_bytes(b"x" * (MAX_SECRET_BYTES // 2 + 1))
    asked.clear()
    with pytest.raises(SealError, match=r"^--from-file b=.*: the values add up to more than"):
        parse_values([], [f"a={half}", f"b={half}"])
    assert asked == [MAX_SECRET_BYTES // 2 + 1, MAX_SECRET_BYTES // 2]


class EndlessZeros(io.RawIOBase):
    """An endless stdin (``< /dev/zero``) that counts what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.read_bytes > 4 * MAX_SECRET_BYTES:
            raise AssertionError("stdin read without a bound")
        n = len(buffer)
        buffer[:n] = bytes(n)
        self.read_bytes += n
        return n


def test_stdin_value_is_bounded() -> None:
    assert parse_values([], ["token=-"], stdin=io.BytesIO(b"s3cret\n")) == {"token": b"s3cret\n"}
    assert parse_values([], ["token=/dev/stdin"], stdin=io.BytesIO(b"x")) == {"token": b"x"}
    endless = EndlessZeros()
    with pytest.raises(SealError, match=r"^--from-file token=-: the values add up to more than"):
        parse_values(["a=1"], ["token=-"], stdin=endless)  # type: ignore[arg-type]
    assert endless.read_bytes <= MAX_SECRET_BYTES  # 1 byte is already taken by a=1

    class Terminal(io.BytesIO):
        def isatty(self) -> bool:
            return True

    with pytest.raises(
        SealError, match=r"^--from-file k=-: stdin is a terminal; pipe the value in"
    ):
        parse_values([], ["k=-"], stdin=Terminal())
    with pytest.raises(
        SealError, match=r"^--from-file b=-: stdin is already read by --from-file a=-"
    ):
        parse_values([], ["a=-", "b=-"], stdin=io.BytesIO(b""))
    with pytest.raises(SealError, match=r"^--from-file -: stdin has no file name; give the key"):
        parse_values([], ["-"], stdin=io.BytesIO(b""))


@pytest.mark.parametrize(
    ("literals", "files", "message"),
    [
        (["key\n=v"], [], "--from-literal 'key\\n'=...: key 'key\\n' is not a valid Secret key"),
        (["pässword=v"], [], "--from-literal pässword=...: key 'pässword' is not a valid"),
        (["..x=v"], [], "--from-literal ..x=...: key '..x' is not a valid Secret key (may not"),
        (["..=v"], [], "--from-literal ..=...: key '..' is not a valid Secret key (may not"),
        ([f"{'k' * 254}=v"], [], f"--from-literal {'k' * 254}=...: the key is 254 characters"),
        ([], ["key\n=/dev/null"], "--from-file 'key\\n=/dev/null': key 'key\\n' is not a valid"),
        ([], ["bad key=-"], "--from-file bad key=-: key 'bad key' is not a valid Secret key"),
        (["pw=1"], ["pw=/etc/hostname"], "--from-file pw=/etc/hostname: key 'pw' is already given"),
        (["pw=1"], ["pw=/dev/zero"], "--from-file pw=/dev/zero: key 'pw' is already given"),
    ],
    ids=["newline", "unicode", "dotdot-prefix", "dotdot", "too-long", "file-newline",
         "stdin-key", "literal-vs-file", "duplicate-before-reading"],
)  # fmt: skip
def test_invalid_keys(literals: list[str], files: list[str], message: str) -> None:
    with pytest.raises(SealError) as info:
        parse_values(literals, files, stdin=io.BytesIO(b""))
    assert str(info.value).startswith(message), str(info.value)


def test_key_limits_accepted() -> None:
    values = parse_values([f"{'k' * 253}=v", ".dotfile=v", "a-b_c.d=v", "x=\udcff"], [])
    assert set(values) == {"k" * 253, ".dotfile", "a-b_c.d", "x"}
    assert values["x"] == b"\xff"  # a non-UTF-8 argument is sealed as the bytes given


@pytest.mark.parametrize(
    ("name", "namespace", "message"),
    [
        ("db\n", "ns", "--name: 'db\\n' is not a valid Secret name"),
        ("a" * 254, "ns", "--name: the Secret name is 254 characters long; Kubernetes allows at"),
        ("-db", "ns", "--name: '-db' is not a valid Secret name"),
        ("db..x", "ns", "--name: 'db..x' is not a valid Secret name"),
        ("db", "ns\n", "namespace: 'ns\\n' is not a valid namespace"),
        ("db", "Payments", "namespace: 'Payments' is not a valid namespace"),
        ("db", "a.b", "namespace: 'a.b' is not a valid namespace"),
        ("db", "n" * 64, f"namespace: '{'n' * 64}' is not a valid namespace"),
        ("db", "", "namespace: '' is not a valid namespace"),
    ],
    ids=["name-newline", "name-too-long", "name-dash", "name-dots", "ns-newline", "ns-upper",
         "ns-dot", "ns-too-long", "ns-empty"],
)  # fmt: skip
def test_invalid_names_and_namespaces(
    key: rsa.RSAPrivateKey, name: str, namespace: str, message: str
) -> None:
    with pytest.raises(SealError) as info:
        sealed_secret(key.public_key(), name=name, namespace=namespace, values={"a": b"b"})
    assert str(info.value).startswith(message), str(info.value)


def test_name_limits_and_empty_values(key: rsa.RSAPrivateKey) -> None:
    long_name = ".".join(["a" * 63] * 4)[:253]
    assert len(long_name) == 253
    manifest = sealed_secret(
        key.public_key(), name=long_name, namespace="n" * 63, values={"a": b""}
    )
    assert manifest["metadata"]["name"] == long_name
    with pytest.raises(SealError, match=r"^no values to seal: give at least one key"):
        sealed_secret(key.public_key(), name="db", namespace="ns", values={})
    with pytest.raises(SealError, match=r"^key 'a\\n': key 'a\\n' is not a valid Secret key"):
        sealed_secret(key.public_key(), name="db", namespace="ns", values={"a\n": b""})


def test_a_name_too_long_for_a_file_is_refused_before_writing() -> None:
    name = "a" * 250  # a valid Secret name, but sealed-<name>.yaml has 262 characters
    with pytest.raises(SealError, match=r"^--name: sealed-a+\.yaml would be 262 characters long"):
        seal_target(example_app("payments-api"), "dev", name, REPO)
    with pytest.raises(SealError, match=r"^--name: the Secret name is 254 characters long"):
        seal_target(example_app("payments-api"), "dev", "a" * 254, REPO)


def test_fetched_certificate_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes import client

    monkeypatch.setattr(client, "CoreV1Api", FakeCore)
    FakeCore.calls, FakeCore.status = [], None
    for body in (b"x" * (10 * MAX_CERT_BYTES), None):
        monkeypatch.setattr(FakeCore, "body", body)
        with pytest.raises(SealError, match=r"served more than 65536 bytes as its certificate"):
            fetch_certificate(object(), "kube-system", "sealed-secrets-controller")


# -- nothing written on failure ----------------------------------------------------------------


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def kustomize_target(root: Path) -> SealTarget:
    return seal_target(load_app(WorkTree(root), "payments-api"), "dev", "db", root)


def builder(key: rsa.RSAPrivateKey, values: dict[str, bytes]) -> Any:
    def build(existing: Any) -> dict[str, Any]:
        return sealed_secret(
            key.public_key(), name="db", namespace="payments", values=values, existing=existing
        )

    return build


def test_write_sealed_is_atomic_when_the_kustomization_cannot_be_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: rsa.RSAPrivateKey
) -> None:
    import os

    copy_example_catalog(tmp_path)
    before = snapshot(tmp_path)
    target = kustomize_target(tmp_path)
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if str(dst).endswith("kustomization.yaml"):
            raise OSError(28, "No space left on device", str(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(SealError) as info:
        write_sealed(tmp_path, target, builder(key, {"a": b"1"}), name="db",
                     namespace="payments", new_keys=["a"], merge=False)  # fmt: skip
    assert str(info.value) == (
        f"cannot write {target.kustomization}: No space left on device; nothing was changed"
    )
    assert snapshot(tmp_path) == before  # no manifest, no temp file, kustomization untouched


def test_write_sealed_merge_restores_the_old_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: rsa.RSAPrivateKey
) -> None:
    import os

    copy_example_catalog(tmp_path)
    target = kustomize_target(tmp_path)
    write_sealed(tmp_path, target, builder(key, {"a": b"1"}), name="db",
                 namespace="payments", new_keys=["a"], merge=False)  # fmt: skip
    # Someone took it out of resources: by hand; a merge must put it back, and fails doing so.
    kpath = tmp_path / str(target.kustomization)
    kpath.write_text(kpath.read_text().replace("  - sealed-db.yaml\n", ""))
    before = snapshot(tmp_path)
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if str(dst).endswith("kustomization.yaml"):
            raise OSError(5, "Input/output error", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(SealError, match=r"Input/output error; nothing was changed$"):
        write_sealed(tmp_path, target, builder(key, {"a": b"2", "b": b"3"}), name="db",
                     namespace="payments", new_keys=["a", "b"], merge=True)  # fmt: skip
    assert snapshot(tmp_path) == before  # the old manifest is back, byte for byte


def test_write_sealed_leaves_nothing_when_writing_fails_or_is_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: rsa.RSAPrivateKey
) -> None:
    import os

    copy_example_catalog(tmp_path)
    before = snapshot(tmp_path)
    target = kustomize_target(tmp_path)
    real_fsync = os.fsync
    for failure in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        calls = 0

        def fsync(fd: int, failure: BaseException = failure) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:  # the manifest's temp file is written; the kustomization's fails
                raise failure
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        with pytest.raises((SealError, KeyboardInterrupt)):
            write_sealed(tmp_path, target, builder(key, {"a": b"1"}), name="db",
                         namespace="payments", new_keys=["a"], merge=False)  # fmt: skip
        assert snapshot(tmp_path) == before, failure
    # A failing sealer (kubeseal) writes nothing either; a folder made for --output is removed.
    monkeypatch.setattr(os, "fsync", real_fsync)

    def broken(existing: Any) -> dict[str, Any]:
        raise SealError("--sealer kubeseal: failed")

    with pytest.raises(SealError, match="failed"):
        write_sealed(tmp_path, target, broken, name="db", namespace="payments", new_keys=["a"],
                     merge=False)  # fmt: skip
    assert snapshot(tmp_path) == before
    out = SealTarget(str(tmp_path / "new" / "deeper" / "s.yaml"), None)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "full")))
    with pytest.raises(SealError, match=r"^cannot write .*s\.yaml: full; nothing was changed"):
        write_sealed(tmp_path, out, builder(key, {"a": b"1"}), name="db", namespace="payments",
                     new_keys=["a"], merge=False)  # fmt: skip
    assert not (tmp_path / "new").exists()


def test_a_file_created_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    from infra.ops.seal.placement import _place_new

    (tmp_path / "temp").write_text("new")
    (tmp_path / "sealed-db.yaml").write_text("someone else's")
    with pytest.raises(SealError, match=r"^sealed-db\.yaml exists; pass --merge"):
        _place_new(tmp_path / "temp", tmp_path / "sealed-db.yaml", "sealed-db.yaml")
    assert (tmp_path / "sealed-db.yaml").read_text() == "someone else's"


def test_merge_refuses_a_non_regular_or_hostile_existing_file(
    tmp_path: Path, key: rsa.RSAPrivateKey
) -> None:
    import os

    target = SealTarget("sealed-db.yaml", None)
    os.mkfifo(tmp_path / "sealed-db.yaml")
    error = in_thread(write_sealed, tmp_path, target, builder(key, {"a": b"1"}), name="db",
                      namespace="payments", new_keys=["a"], merge=True)  # fmt: skip
    assert isinstance(error, SealError) and "is not a regular file" in str(error), error
    (tmp_path / "sealed-db.yaml").unlink()
    bomb = "kind: SealedSecret\nmetadata: &m {name: db, namespace: payments}\nother: *m\n"
    (tmp_path / "sealed-db.yaml").write_text(bomb)
    with pytest.raises(SealError, match=r"YAML anchors \(&\) are not allowed"):
        write_sealed(tmp_path, target, builder(key, {"a": b"1"}), name="db",
                     namespace="payments", new_keys=["a"], merge=True)  # fmt: skip
    assert (tmp_path / "sealed-db.yaml").read_text() == bomb


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "db\n", "--from-literal", "a=b"], "error: --name: 'db\\n' is not a valid"),
        (["--name", "x" * 254, "--from-literal", "a=b"], "error: --name: the Secret name is 254"),
        (["--name", "db", "--from-literal", "a\n=b"], "error: --from-literal 'a\\n'=...: key 'a\\n'"),
        (["--name", "db", "--from-file", "k=/dev/zero"], "error: --from-file k=/dev/zero: /dev/zero is not a regular file"),
        (["--name", "db", "--from-file", "k=fifo"], "error: --from-file k=fifo: fifo is not a regular file"),
        (["--name", "db", "--from-file", "k=big"], "error: --from-file k=big: the values add up to more than"),
        (["--name", "db", "--from-literal", "a=1", "--from-file", "a=pw"], "error: --from-file a=pw: key 'a' is already given"),
        (["--name", "db", "--from-literal", "a=b", "--cert", "weak.pem"], "error: --cert weak.pem: the certificate's RSA key has 1024 bits"),
        (["--name", "db", "--from-literal", "a=b", "--cert", "future.pem"], "error: --cert future.pem: the certificate is not valid before"),
    ],
    ids=["name-newline", "name-long", "key-newline", "dev-zero", "fifo", "huge", "duplicate",
         "weak-cert", "future-cert"],
)  # fmt: skip
def test_seal_hostile_input_exits_1_and_writes_nothing(
    repo: Path, args: list[str], message: str
) -> None:
    import os

    (repo / "pw").write_text("pw")
    os.mkfifo(repo / "fifo")
    with open(repo / "big", "wb") as big:
        big.truncate(8 * MAX_SECRET_BYTES)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (repo / "weak.pem").write_bytes(certificate(weak))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    (repo / "future.pem").write_bytes(certificate(weak_free_key(), start=later))
    before = snapshot(repo)
    cert = [] if "--cert" in args else ["--cert", "cert.pem"]
    result = in_thread(invoke, "--app", "payments-api", "--env", "dev", *args, *cert)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.output
    assert snapshot(repo) == before


@functools.cache
def weak_free_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_seal_value_from_stdin(repo: Path, key: rsa.RSAPrivateKey) -> None:
    result = runner.invoke(
        cli,
        ["seal", "--app", "hello-web", "--env", "dev", "--name", "api",
         "--from-file", "token=-", "--cert", "cert.pem"],
        input=b"from-a-pipe",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load((repo / "apps/hello-web/manifests/sealed-api.yaml").read_text())
    sealed = base64.b64decode(manifest["spec"]["encryptedData"]["token"])
    assert hybrid_decrypt(key, sealed, b"web/api") == b"from-a-pipe"


def test_write_sealed_keeps_the_kustomization_mode(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    copy_example_catalog(tmp_path)
    target = kustomize_target(tmp_path)
    kpath = tmp_path / str(target.kustomization)
    kpath.chmod(0o640)
    write_sealed(tmp_path, target, builder(key, {"a": b"1"}), name="db",
                 namespace="payments", new_keys=["a"], merge=False)  # fmt: skip
    assert kpath.stat().st_mode & 0o777 == 0o640
    assert "sealed-db.yaml" in kpath.read_text()
    assert not [p for p in kpath.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_local_stack_without_its_runtime_says_so_and_writes_nothing(repo: Path) -> None:
    """A stack whose controllers run on this machine (kwok, controllers: local) gets the
    certificate from its local controller; with no runtime up, one clear error."""
    shutil.copy(REPO / "Pulumi.local.yaml", repo / "Pulumi.local.yaml")
    result = invoke(
        "--app", "hello-web", "--stack", "local", "--name", "db", "--from-literal", "a=b"
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "no local runtime in" in result.stderr and "or give --cert PEM_FILE" in result.stderr
    assert "Traceback" not in result.output
    assert not list((repo / "apps").rglob("sealed-*.yaml"))
