"""platformctl app-diff: which Argo CD Applications a change adds, changes or removes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli.app import app as cli
from infra.delivery.appdiff import (
    MARKER,
    AppChange,
    diff_applications,
    load_applications,
    render_markdown,
)
from infra.errors import InputError


def application(
    name: str, *, revision: str = "dev", replicas: int = 1, ns: str = "web"
) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": {"team": "web"}},
        "spec": {
            "project": "web",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": ns},
            "source": {
                "repoURL": "https://github.com/example-org/gitops-platform.git",
                "targetRevision": revision,
                "path": f"apps/{name}/overlays/dev",
                "kustomize": {"replicas": [{"name": name, "count": replicas}]},
            },
        },
    }


def helm_application(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "data",
            "destination": {"namespace": "data"},
            "sources": [
                {"repoURL": "https://charts.example", "chart": "redis", "targetRevision": "20.6.2"},
                {"repoURL": "https://github.com/x/y.git", "targetRevision": "dev", "ref": "values"},
            ],
        },
    }


def dump(*apps: dict[str, Any]) -> str:
    return yaml.safe_dump_all(apps, explicit_start=True, sort_keys=False)


def test_added_changed_removed_and_unchanged() -> None:
    base = load_applications(
        dump(application("api"), application("old"), application("same")), "base.yaml"
    )
    head = load_applications(
        dump(application("api", replicas=3), application("same"), helm_application("cache")),
        "head.yaml",
    )

    changes = diff_applications(base, head)

    assert [(c.kind, c.key) for c in changes] == [
        ("added", "argocd/cache"),
        ("changed", "argocd/api"),
        ("removed", "argocd/old"),
    ]
    assert changes[0].details == ("namespace `data`, project `data`, `chart redis@20.6.2`",)
    assert changes[1].details == ("`spec.source.kustomize.replicas[0].count`: `1` → `3`",)
    assert changes[2].details == ("namespace `web`, project `web`, `apps/old/overlays/dev@dev`",)


def test_field_added_and_removed_and_long_values() -> None:
    old = application("api")
    new = application("api")
    del new["metadata"]["labels"]
    new["spec"]["syncPolicy"] = {"automated": {"prune": True}}
    new["spec"]["source"]["path"] = "x" * 100

    [change] = diff_applications({"a": old}, {"a": new})

    assert change.details[0] == "`metadata.labels.team`: removed (was `web`)"
    assert change.details[1].startswith("`spec.source.path`: `apps/api/overlays/dev` → `xxx")
    assert change.details[1].endswith("...`")
    assert change.details[2] == "`spec.syncPolicy.automated.prune`: added `true`"


def test_many_field_changes_are_capped() -> None:
    old = application("api")
    new = application("api")
    new["metadata"]["labels"] = {f"l{i}": str(i) for i in range(20)}
    [change] = diff_applications({"a": old}, {"a": new})
    assert len(change.details) == 8
    assert change.details[-1] == "... and 14 more"


def test_markdown_table() -> None:
    changes = [
        AppChange("argocd/new", "added", ("namespace `web`",)),
        AppChange("argocd/api", "changed", ("`a`: `1` → `2`", "`b|c`: added `x`")),
    ]
    text = render_markdown(changes, total_base=3, total_head=4, title="Applications (dev)")
    assert text.splitlines() == [
        MARKER,
        "### Applications (dev)",
        "",
        "1 added, 1 changed, 0 removed, 2 unchanged (3 before, 4 after).",
        "",
        "| Application | Change | Details |",
        "| --- | --- | --- |",
        "| `argocd/new` | added | namespace `web` |",
        "| `argocd/api` | changed | `a`: `1` → `2`<br>`b\\|c`: added `x` |",
    ]


def test_no_changes() -> None:
    text = render_markdown([], total_base=2, total_head=2, title="T")
    assert "0 added, 0 changed, 0 removed, 2 unchanged" in text
    assert "No Argo CD Application appears, changes or disappears." in text
    assert "| Application |" not in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [\n", "f.yaml: invalid YAML"),
        ("--- 3\n", "f.yaml: document 1 is not a mapping"),
        ("kind: Application\nmetadata: {}\n", "document 1 (Application) has no metadata.name"),
        (
            "kind: Application\nmetadata: {name: a}\n---\nkind: Application\nmetadata: {name: a}\n",
            "Application a appears twice",
        ),
    ],
)
def test_invalid_input(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_applications(text, "f.yaml")


def test_other_kinds_and_empty_documents_are_ignored() -> None:
    text = "---\n---\nkind: ConfigMap\nmetadata: {name: x}\n" + dump(application("api"))
    assert list(load_applications(text, "f.yaml")) == ["argocd/api"]
    assert load_applications("", "empty.yaml") == {}


def test_cli(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    head = tmp_path / "head.yaml"
    base.write_text(dump(application("api")))
    head.write_text(dump(application("api", revision="prod"), application("web")))

    result = CliRunner().invoke(cli, ["app-diff", str(base), str(head), "--title", "dev stack"])

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(MARKER + "\n### dev stack\n")
    assert "| `argocd/web` | added |" in result.stdout
    assert "`spec.source.targetRevision`: `dev` → `prod`" in result.stdout


def test_cli_missing_file(tmp_path: Path) -> None:
    head = tmp_path / "head.yaml"
    head.write_text("")
    result = CliRunner().invoke(cli, ["app-diff", str(tmp_path / "nope.yaml"), str(head)])
    assert result.exit_code == 1
    assert "nope.yaml: file does not exist" in result.stderr
    assert "Traceback" not in result.stderr
