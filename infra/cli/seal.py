"""platformctl seal: write a SealedSecret for an app (see :mod:`infra.ops.seal`).

Exit codes: 0 written; 1 invalid input (app, environment, values, certificate, the target file,
the cluster could not give the certificate); 2 command-line usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from infra import constants
from infra.cli.bump import delivery_errors
from infra.cli.common import project_root
from infra.delivery.app_tag import load_app
from infra.delivery.stacks import find_stack
from infra.delivery.tree import WorkTree
from infra.ops.seal import (
    SealError,
    SealTarget,
    parse_values,
    read_certificate,
    render_sealed,
    require_enabled,
    seal_target,
    sealed_secret,
    select_sealer,
    write_sealed,
)
from infra.settings import DEFAULT_SEALED_SECRETS_NAMESPACE, StackSettings
from infra.specs.addons import SEALED_SECRETS_CONTROLLER

__all__ = ["seal_cmd"]


def _controller_namespace(settings: StackSettings | None) -> str:
    """``sealedSecrets.namespace`` of the stack, else the controller's default."""
    return settings.sealedSecrets.namespace if settings else DEFAULT_SEALED_SECRETS_NAMESPACE


def _certificate(
    settings: StackSettings | None,
    cert: Path | None,
    kubeconfig: Path | None,
    context: str | None,
    controller_namespace: str | None,
    controller_name: str,
) -> tuple[bytes, str]:
    """The controller's certificate (PEM) and where it came from, for messages."""
    if cert is not None:
        if kubeconfig is not None or context is not None:
            raise SealError(
                "--cert and --kubeconfig/--context exclude each other: seal with a saved "
                "certificate, or fetch it from the cluster"
            )
        return read_certificate(cert), f"--cert {cert}"
    if context is None and settings is not None and settings.local_controllers:
        # The stack runs its controllers on this machine: ask the local one.
        return _local_certificate(settings)
    if context is None:
        raise SealError(
            "give --cert PEM_FILE (the controller's certificate), or --context C (and "
            "--kubeconfig F) to fetch it from the cluster; the current context is never "
            "guessed"
        )
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    from infra.ops.seal import fetch_certificate

    try:
        api_client: Any = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig.expanduser()) if kubeconfig else None, context=context
        )
    except (ConfigException, OSError) as exc:
        where = f"--kubeconfig {kubeconfig}" if kubeconfig else "the default kubeconfig"
        raise SealError(f"--context {context}: cannot load {where}: {exc}") from None
    namespace = controller_namespace or _controller_namespace(settings)
    pem = fetch_certificate(api_client, namespace, controller_name)
    return pem, f"the controller {namespace}/{controller_name} (context {context})"


def _local_certificate(settings: StackSettings) -> tuple[bytes, str]:
    from infra.ops.seal import fetch_local_certificate
    from infra.runtime.status import RuntimeNotRunning, runtime_info

    if not settings.sealedSecrets.enabled:
        raise SealError(f"stack {settings.stack!r} does not enable sealedSecrets")
    try:
        info = runtime_info(settings)
    except RuntimeNotRunning as exc:
        raise SealError(f"{exc}; or give --cert PEM_FILE") from None
    port = info.ports.get("sealed-secrets")
    if port is None or "sealed-secrets-controller" not in info.processes:
        raise SealError(
            f"the local runtime of stack {settings.stack!r} runs no Sealed Secrets controller; "
            f"`make up STACK={settings.stack}` starts it"
        )
    pem = fetch_local_certificate(port)
    return pem, f"the local controller of stack {settings.stack!r} (127.0.0.1:{port})"


@delivery_errors
def seal_cmd(
    app: Annotated[str, typer.Option("--app", help="App name (folder under apps/).")],
    name: Annotated[str, typer.Option("--name", help="Name of the Secret to create.")],
    from_literal: Annotated[
        list[str] | None,
        typer.Option(
            "--from-literal",
            help="KEY=VALUE (repeatable). Lands in shell history: prefer --from-file.",
        ),
    ] = None,
    from_file: Annotated[
        list[str] | None,
        typer.Option(
            "--from-file", help="[KEY=]PATH (repeatable); the key defaults to the file's name."
        ),
    ] = None,
    cert: Annotated[
        Path | None,
        typer.Option("--cert", help="The controller's certificate (kubeseal --fetch-cert)."),
    ] = None,
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="Kubeconfig (default: $KUBECONFIG or ~/.kube/config)."),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option("--context", help="Kubeconfig context: fetch the certificate from there."),
    ] = None,
    controller_namespace: Annotated[
        str | None,
        typer.Option(
            "--controller-namespace",
            help="Namespace of the controller (default: sealedSecrets.namespace of the "
            "stack, else kube-system).",
        ),
    ] = None,
    controller_name: Annotated[
        str, typer.Option("--controller-name", help="Name of the controller's Service.")
    ] = SEALED_SECRETS_CONTROLLER,
    secret_type: Annotated[
        str, typer.Option("--type", help="Type of the Secret the controller creates.")
    ] = "Opaque",
    sealer: Annotated[
        str,
        typer.Option(
            "--sealer",
            help="What encrypts: builtin (Python, the default) or kubeseal (the binary, "
            "from PATH or the toolchain). See docs/secrets.md.",
        ),
    ] = "builtin",
    merge: Annotated[
        bool,
        typer.Option("--merge", help="Add or replace keys in an existing sealed file."),
    ] = False,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "-s",
            help="Stack (Pulumi.<stack>.yaml): its environment, catalog.appsDir and "
            "sealedSecrets.namespace.",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Environment (dev or prod): with --stack, must be the stack's; without, "
            "the one stack deploying it (none: defaults).",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Write here instead of the app's folder ('-': stdout); needed for helm apps.",
        ),
    ] = None,
) -> None:
    """Seal a Secret for APP in ENV and write it into the app's folder.

    kustomize apps: apps/<app>/<path>/overlays/<env>/sealed-<name>.yaml, added to
    the overlay's resources. directory apps: apps/<app>/<path>/sealed-<name>.yaml
    (commit it on the env's branch only). helm apps: --output is required.

    The values are encrypted with the controller's public key for the app's
    namespace and this name only (strict scope); only that cluster's controller
    can decrypt them. See docs/secrets.md.
    """
    root = project_root()
    settings = find_stack(root, stack, env)
    env = settings.environment if settings else env
    assert env is not None  # find_stack refuses neither --stack nor --env
    apps_dir = settings.catalog.appsDir if settings else constants.APPS_DIR
    reserved = settings.platform_namespaces if settings else frozenset()
    app_model = load_app(WorkTree(root), app, apps_dir, reserved_namespaces=reserved)
    namespace = app_model.definition.namespace
    values = parse_values(from_literal or [], from_file or [])
    if output is None:
        target = seal_target(app_model, env, name, root)
    else:
        require_enabled(app_model, env)
        target = SealTarget(str(Path(output).expanduser().absolute()), None)
    pem, source = _certificate(
        settings, cert, kubeconfig, context, controller_namespace, controller_name
    )
    public_key = select_sealer(pem, source, sealer, root=root)

    def build(existing: Any) -> dict[str, Any]:
        return sealed_secret(
            public_key,
            name=name,
            namespace=namespace,
            values=values,
            secret_type=secret_type,
            labels={constants.LABEL_APP: app_model.name},
            existing=existing,
        )

    if output == "-":
        if merge:
            raise SealError("--merge needs a file: it cannot read back --output -")
        sys.stdout.write(render_sealed(build({})))
        return
    result = write_sealed(
        root, target, build, name=name, namespace=namespace, new_keys=list(values), merge=merge
    )
    keys = ", ".join(result.keys)
    typer.echo(f"sealed {namespace}/{name} ({keys}) with {source}")
    typer.echo(f"wrote {result.manifest}")
    if result.kept:
        typer.echo(f"kept the sealed values already there: {', '.join(result.kept)}")
    if result.kustomization is not None:
        entry = Path(result.manifest).name
        if result.kustomization_changed:
            typer.echo(f"added {entry} to resources: in {result.kustomization}")
        else:
            typer.echo(f"{result.kustomization} already lists {entry}")
    if result.note:
        typer.echo(f"note: {result.note}", err=True)
    if output is not None:
        typer.echo(
            "note: written outside the app's folder; make sure it reaches the cluster "
            f"(Argo CD applies only what the app's source lists), in namespace {namespace}",
            err=True,
        )
