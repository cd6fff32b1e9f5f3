"""platformctl seal: Sealed Secrets' hybrid encryption (round trip with a key made here), the
manifest, where it is written, and the CLI's errors (exit 1, a message, never a traceback)."""

from __future__ import annotations

import base64
import datetime as dt
import struct
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from infra.catalog.models import App
from infra.cli.app import app as cli
from infra.delivery.app_tag import load_app
from infra.delivery.tree import WorkTree
from infra.ops.seal import (
    SealError,
    add_kustomize_resource,
    fetch_certificate,
    hybrid_encrypt,
    load_public_key,
    parse_values,
    seal_target,
    sealed_secret,
)
from tests.support import REPO, copy_example_catalog

runner = CliRunner()
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def certificate(key: Any, *, days: int = 3650, start: dt.datetime = NOW) -> bytes:
    """A self-signed certificate like the controller's (CN sealed-secret)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start - dt.timedelta(days=1))
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def cert_pem(key: rsa.RSAPrivateKey) -> bytes:
    return certificate(key, start=dt.datetime.now(dt.UTC))


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
    public = load_public_key(certificate(key), "--cert c.pem", now=NOW)
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
        load_public_key(certificate(ec_key), "--cert c.pem", now=NOW)
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
        return SimpleNamespace(data=b"PEM")


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
