"""``platformctl seal`` after its flags are parsed: :class:`SealRequest` in, :func:`seal` runs
it (the stack, the app, the values, the certificate, the sealer, the write) and returns a
:class:`infra.ops.seal.placement.SealResult` for the caller to report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra import constants
from infra.delivery.app_tag import load_app
from infra.delivery.stacks import find_stack
from infra.delivery.tree import WorkTree
from infra.ops.seal.certificate import resolve_certificate
from infra.ops.seal.crypto import sealed_secret
from infra.ops.seal.inputs import parse_values
from infra.ops.seal.kubeseal import SEALERS, select_sealer
from infra.ops.seal.limits import SealError
from infra.ops.seal.placement import (
    SealResult,
    SealTarget,
    render_sealed,
    require_enabled,
    seal_target,
    write_sealed,
)
from infra.specs.addons import SEALED_SECRETS_CONTROLLER

__all__ = ["SealRequest", "seal"]


@dataclass(frozen=True, kw_only=True)
class SealRequest:
    """One Secret to seal for one app in one environment (the flags of ``platformctl seal``)."""

    root: Path
    """The repository: its stack files, ``apps/`` and toolchain."""
    app: str
    """The app (``--app``, its folder under the stack's ``catalog.appsDir``)."""
    name: str
    """The Secret's name (``--name``)."""
    stack: str | None = None
    env: str | None = None
    """The environment: checks ``stack``'s, or without ``stack`` finds the stack (none:
    defaults)."""
    literals: tuple[str, ...] = ()
    """``--from-literal KEY=VALUE``."""
    files: tuple[str, ...] = ()
    """``--from-file [KEY=]PATH`` (``KEY=-``: stdin)."""
    cert: Path | None = None
    """A saved certificate (``--cert``); else fetched (see :func:`resolve_certificate`)."""
    kubeconfig: Path | None = None
    context: str | None = None
    """The cluster to fetch the certificate from (``--context``, in ``kubeconfig``)."""
    controller_namespace: str | None = None
    """Default: the stack's ``sealedSecrets.namespace``."""
    controller_name: str = SEALED_SECRETS_CONTROLLER
    secret_type: str = "Opaque"
    sealer: str = SEALERS[0]
    """``builtin`` or ``kubeseal`` (:func:`select_sealer`)."""
    merge: bool = False
    """Add or replace keys in an existing sealed file (the others are kept)."""
    output: str | None = None
    """Write here instead of the app's folder (``-``: the result's ``text``, nothing written)."""


def seal(request: SealRequest) -> SealResult:
    """Seal the values of ``request`` and write the manifest (see :mod:`infra.ops.seal`).
    Raises :class:`SealError` (or the delivery errors of loading the stack and the app)
    before anything is written; a failed write restores what was there."""
    root = request.root
    settings = find_stack(root, request.stack, request.env)
    env = settings.environment if settings else request.env
    assert env is not None  # find_stack refuses neither --stack nor --env
    apps_dir = settings.catalog.appsDir if settings else constants.APPS_DIR
    reserved = settings.platform_namespaces if settings else frozenset()
    app = load_app(WorkTree(root), request.app, apps_dir, reserved_namespaces=reserved)
    namespace = app.definition.namespace
    values = parse_values(request.literals, request.files)
    if request.output is None:
        target = seal_target(app, env, request.name, root)
    else:
        require_enabled(app, env)
        target = SealTarget(str(Path(request.output).expanduser().absolute()), None)
    pem, source = resolve_certificate(
        settings,
        cert=request.cert,
        kubeconfig=request.kubeconfig,
        context=request.context,
        controller_namespace=request.controller_namespace,
        controller_name=request.controller_name,
    )
    sealer = select_sealer(pem, source, request.sealer, root=root)

    def build(existing: Any) -> dict[str, Any]:
        return sealed_secret(
            sealer,
            name=request.name,
            namespace=namespace,
            values=values,
            secret_type=request.secret_type,
            labels={constants.LABEL_APP: app.name},
            existing=existing,
        )

    if request.output == "-":
        if request.merge:
            raise SealError("--merge needs a file: it cannot read back --output -")
        manifest = build({})
        return SealResult(
            manifest="-",
            kustomization=None,
            kustomization_changed=False,
            keys=tuple(sorted(manifest["spec"]["encryptedData"])),
            kept=(),
            note=None,
            namespace=namespace,
            source=source,
            text=render_sealed(manifest),
        )
    result = write_sealed(
        root,
        target,
        build,
        name=request.name,
        namespace=namespace,
        new_keys=list(values),
        merge=request.merge,
    )
    return replace(result, source=source)
