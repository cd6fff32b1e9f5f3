"""platformctl seal: write a SealedSecret for an app (the core: :func:`infra.ops.seal.seal`).

Exit codes: 0 written; 1 invalid input (app, environment, values, certificate, the target file,
the cluster could not give the certificate); 2 command-line usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import handle_errors, project_root
from infra.ops.seal import SealRequest, seal
from infra.specs.addons import SEALED_SECRETS_CONTROLLER

__all__ = ["seal_cmd"]


@handle_errors
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
    result = seal(
        SealRequest(
            root=project_root(),
            app=app,
            name=name,
            stack=stack,
            env=env,
            literals=tuple(from_literal or ()),
            files=tuple(from_file or ()),
            cert=cert,
            kubeconfig=kubeconfig,
            context=context,
            controller_namespace=controller_namespace,
            controller_name=controller_name,
            secret_type=secret_type,
            sealer=sealer,
            merge=merge,
            output=output,
        )
    )
    if result.text is not None:
        sys.stdout.write(result.text)
        return
    keys = ", ".join(result.keys)
    typer.echo(f"sealed {result.namespace}/{name} ({keys}) with {result.source}")
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
            f"(Argo CD applies only what the app's source lists), in namespace "
            f"{result.namespace}",
            err=True,
        )
