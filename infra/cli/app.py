"""The platformctl Typer app: registers one module per command; main() runs it through the
one exit path of :mod:`infra.cli.edge`."""

from __future__ import annotations

import sys

import typer

from infra.cli import (
    admin_password,
    appdiff,
    bump,
    edge,
    generate,
    plan,
    promote,
    render,
    seal,
    status,
    validate,
)

app = typer.Typer(
    name="platformctl",
    help="Validate, render and operate the gitops-platform catalog. Needs no cluster and no "
    "Pulumi engine, except `admin-password reset`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("validate")(validate.validate)
app.command("render")(render.render)
app.command("expand")(render.expand_cmd)
app.command("generate")(generate.generate)
app.command("bump")(bump.bump_cmd)
app.command("promote")(promote.promote_cmd)
app.command("app-diff")(appdiff.app_diff)
app.command("plan")(plan.plan_cmd)
app.command("seal")(seal.seal_cmd)
app.command("status")(status.status_cmd)
app.add_typer(admin_password.app, name="admin-password")


def main() -> None:
    """The console script: every failure at the edge ends in one line (infra.cli.edge)."""
    sys.exit(edge.run(app, sys.argv[1:]))
