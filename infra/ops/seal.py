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

Everything here is pure given the certificate (no cluster, no network) except
:func:`fetch_certificate` (the controller's ``/v1/cert.pem`` through the API server's service
proxy, as ``kubeseal --fetch-cert`` does) and :func:`write_sealed` (writes the files).

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
import datetime as dt
import io
import os
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra import constants
from infra.catalog.loader import KUSTOMIZATION_FILES
from infra.catalog.models import App, DirectorySource, HelmSource, KustomizeSource
from infra.errors import PlatformError
from infra.yamlio import dump_all

__all__ = [
    "SealError",
    "SealResult",
    "SealTarget",
    "add_kustomize_resource",
    "fetch_certificate",
    "hybrid_encrypt",
    "load_public_key",
    "parse_values",
    "require_enabled",
    "seal_target",
    "sealed_secret",
    "write_sealed",
]

SESSION_KEY_BYTES: Final = 32
MAX_SECRET_BYTES: Final = 1024 * 1024
"""The API server refuses Secrets larger than 1 MiB."""
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
DNS1123_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
SEALED_API_VERSION: Final = "bitnami.com/v1alpha1"
REQUEST_TIMEOUT_SECONDS: Final = 60
SEALED_KIND: Final = "SealedSecret"


class SealError(PlatformError):
    """Sealing could not be done; the message names the flag or file at fault."""


# -- inputs ----------------------------------------------------------------------------------


def parse_values(
    literals: Sequence[str],
    files: Sequence[str],
    *,
    read: Callable[[Path], bytes] = Path.read_bytes,
) -> dict[str, bytes]:
    """``--from-literal KEY=VALUE`` and ``--from-file [KEY=]PATH`` (as ``kubectl create secret``:
    without ``KEY=`` the key is the file's name) into key -> value bytes."""
    values: dict[str, bytes] = {}
    origin: dict[str, str] = {}

    def add(key: str, value: bytes, flag: str) -> None:
        if not SECRET_KEY.match(key):
            raise SealError(
                f"{flag}: key {key!r} is not a valid Secret key (letters, digits, '-', '_', '.')"
            )
        if key in values:
            raise SealError(f"{flag}: key {key!r} is already given by {origin[key]}")
        values[key] = value
        origin[key] = flag

    for item in literals:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SealError(f"--from-literal {item.split('=', 1)[0]!r}: expected KEY=VALUE")
        add(key, value.encode("utf-8"), f"--from-literal {key}=...")
    for item in files:
        key, sep, path_text = item.partition("=")
        if not sep:
            key, path_text = Path(item).name, item
        if not path_text:
            raise SealError(f"--from-file {item!r}: expected [KEY=]PATH")
        flag = f"--from-file {item}"
        path = Path(path_text).expanduser()
        try:
            data = read(path)
        except IsADirectoryError:
            raise SealError(f"{flag}: {path_text} is a directory, not a file") from None
        except OSError as exc:
            raise SealError(f"{flag}: cannot read {path_text}: {exc.strerror}") from None
        add(key, data, flag)
    if not values:
        raise SealError("give at least one --from-literal KEY=VALUE or --from-file [KEY=]PATH")
    total = sum(len(v) for v in values.values())
    if total > MAX_SECRET_BYTES:
        raise SealError(
            f"the values add up to {total} bytes; a Secret holds at most {MAX_SECRET_BYTES}"
        )
    return values


def load_public_key(pem: bytes, source: str, *, now: dt.datetime | None = None) -> rsa.RSAPublicKey:
    """The RSA public key of the first certificate in ``pem`` (the controller's
    ``/v1/cert.pem``); refused when it is not PEM, not RSA or expired (as ``kubeseal`` does)."""
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise SealError(f"{source}: not a PEM certificate (no BEGIN CERTIFICATE block)")
    try:
        certificate = x509.load_pem_x509_certificates(pem)[0]
    except ValueError as exc:
        raise SealError(f"{source}: not a valid PEM certificate: {exc}") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealError(
            f"{source}: the certificate holds a {type(key).__name__}, "
            "expected the controller's RSA key"
        )
    moment = now or dt.datetime.now(dt.UTC)
    if moment > certificate.not_valid_after_utc:
        raise SealError(
            f"{source}: the certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}; "
            "fetch the controller's current one"
        )
    return key


# -- the encryption --------------------------------------------------------------------------


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
    rsa_ciphertext = public_key.encrypt(
        session_key,
        padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label
        ),
    )
    # The session key is used once, so the zero nonce is safe (as upstream).
    aes_ciphertext = AESGCM(session_key).encrypt(bytes(12), plaintext, None)
    return struct.pack(">H", len(rsa_ciphertext)) + rsa_ciphertext + aes_ciphertext


def strict_label(namespace: str, name: str) -> bytes:
    """The OAEP label of the strict scope (the default of kubeseal and the controller)."""
    return f"{namespace}/{name}".encode()


def sealed_secret(
    public_key: rsa.RSAPublicKey,
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
    ``existing`` already-sealed values (``--merge``) that ``values`` do not replace."""
    if not DNS1123_SUBDOMAIN.match(name):
        raise SealError(
            f"--name: {name!r} is not a valid Secret name "
            "(lower-case letters, digits, '-', '.'; at most 253 characters)"
        )
    label = strict_label(namespace, name)
    encrypted = dict(existing or {})
    for key, value in values.items():
        ciphertext = hybrid_encrypt(public_key, value, label, random_bytes=random_bytes)
        encrypted[key] = base64.b64encode(ciphertext).decode("ascii")
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


def _join(*parts: str) -> str:
    out: list[str] = []
    for part in parts:
        for piece in part.split("/"):
            if piece in ("", "."):
                continue
            if piece == "..":
                raise SealError(f"source.path {part!r} leaves the app folder")
            out.append(piece)
    return "/".join(out)


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
    filename = f"sealed-{name}.yaml"
    if isinstance(source, KustomizeSource):
        overlay = _join(app.folder, source.path, constants.OVERLAYS_DIR, env)
        found = next((f for f in KUSTOMIZATION_FILES if (root / overlay / f).is_file()), None)
        if found is None:
            raise SealError(f"{app.file}: overlay {overlay}/kustomization.yaml does not exist")
        return SealTarget(f"{overlay}/{filename}", f"{overlay}/{found}")
    if isinstance(source, DirectorySource):
        folder = _join(app.folder, source.path)
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


def existing_values(path: Path, display: str, name: str, namespace: str) -> dict[str, str]:
    """The sealed values of an existing SealedSecret file (for ``--merge``)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SealError(f"{display}: cannot read the existing sealed secret: {exc}") from None
    if not isinstance(document, dict) or document.get("kind") != SEALED_KIND:
        raise SealError(f"{display}: exists and is not a SealedSecret; refusing to overwrite it")
    meta = document.get("metadata") or {}
    if meta.get("name") != name or meta.get("namespace") != namespace:
        raise SealError(
            f"{display}: holds {meta.get('namespace')}/{meta.get('name')}, not {namespace}/{name}"
        )
    data = (document.get("spec") or {}).get("encryptedData") or {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SealError(f"{display}: spec.encryptedData is not a mapping of strings")
    return {str(k): v for k, v in data.items()}


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
    in the overlay's kustomization. An existing file is refused unless ``merge``."""
    path = root / target.manifest
    existing: dict[str, str] = {}
    if path.exists():
        if not merge:
            raise SealError(
                f"{target.manifest} exists; pass --merge to add or replace keys in it "
                "(the others are kept), or delete it first"
            )
        existing = existing_values(path, target.manifest, name, namespace)
    manifest = build(existing)
    text = dump_all([manifest])
    changed = False
    new_kustomization: str | None = None
    if target.kustomization is not None:
        kpath = root / target.kustomization
        try:
            ktext = kpath.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SealError(f"{target.kustomization}: cannot read: {exc}") from None
        new_kustomization = add_kustomize_resource(ktext, path.name, target.kustomization)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if target.kustomization is not None and new_kustomization is not None:
            (root / target.kustomization).write_text(new_kustomization, encoding="utf-8")
            changed = True
    except OSError as exc:
        raise SealError(f"cannot write {exc.filename}: {exc.strerror}") from None
    keys = tuple(sorted(manifest["spec"]["encryptedData"]))
    return SealResult(
        manifest=target.manifest,
        kustomization=target.kustomization,
        kustomization_changed=changed,
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
        pem: bytes = response.data
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
    return pem
