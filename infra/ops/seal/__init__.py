"""Seal a Secret for an app, as the Sealed Secrets controller expects it (``platformctl seal``).

:func:`seal` runs one :class:`SealRequest`: the values are encrypted with the controller's
public key for ``<namespace>/<name>`` only (strict scope), the SealedSecret manifest is written
into the app's folder (or to ``--output``), and only that cluster's controller can decrypt it.
By responsibility:

- :mod:`~infra.ops.seal.limits`: :class:`SealError` and the limits every part shares;
- :mod:`~infra.ops.seal.names`: Secret names, namespaces and keys, checked as Kubernetes does;
- :mod:`~infra.ops.seal.inputs`: the values and the certificate, each read with a bound
  (:data:`MAX_SECRET_BYTES`; FIFOs, devices and sockets refused), and the certificate's
  checks (:func:`load_public_key`);
- :mod:`~infra.ops.seal.crypto`: Sealed Secrets' hybrid RSA-OAEP/AES-GCM scheme, the builtin
  sealer (the default) and the manifest (:func:`sealed_secret`);
- :mod:`~infra.ops.seal.kubeseal`: the ``kubeseal`` sealer (upstream's binary, run bounded)
  and :func:`select_sealer` (``--sealer builtin|kubeseal``);
- :mod:`~infra.ops.seal.placement`: where the manifest goes (kustomize overlay, directory
  folder; helm refused) and :func:`write_sealed`, all or nothing with the kustomization edit;
- :mod:`~infra.ops.seal.certificate`: which certificate (``--cert``, ``--context``, the
  stack's local controller) and fetching it;
- :mod:`~infra.ops.seal.request`: :class:`SealRequest` and :func:`seal`.

Hostile input is refused with one :class:`SealError` naming the flag or file, before anything
is written. Everything is pure given the certificate (no cluster, no network) except fetching
the certificate, :func:`write_sealed` (writes the files) and the ``kubeseal`` sealer (runs the
binary).
"""

from __future__ import annotations

from infra.ops.seal.certificate import (
    fetch_certificate,
    fetch_local_certificate,
    resolve_certificate,
)
from infra.ops.seal.crypto import (
    BuiltinSealer,
    Sealer,
    hybrid_decrypt,
    hybrid_encrypt,
    sealed_secret,
    strict_label,
)
from infra.ops.seal.inputs import load_public_key, parse_values, read_certificate
from infra.ops.seal.kubeseal import (
    SEALERS,
    KubesealSealer,
    find_kubeseal,
    kubeseal_encrypt,
    select_sealer,
)
from infra.ops.seal.limits import MAX_CERT_BYTES, MAX_SECRET_BYTES, SealError
from infra.ops.seal.names import validate_key, validate_name, validate_namespace
from infra.ops.seal.placement import (
    SealResult,
    SealTarget,
    add_kustomize_resource,
    render_sealed,
    require_enabled,
    seal_target,
    write_sealed,
)
from infra.ops.seal.request import SealRequest, seal

__all__ = [
    "MAX_CERT_BYTES",
    "MAX_SECRET_BYTES",
    "SEALERS",
    "BuiltinSealer",
    "KubesealSealer",
    "SealError",
    "SealRequest",
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
    "resolve_certificate",
    "seal",
    "seal_target",
    "sealed_secret",
    "select_sealer",
    "strict_label",
    "validate_key",
    "validate_name",
    "validate_namespace",
    "write_sealed",
]
