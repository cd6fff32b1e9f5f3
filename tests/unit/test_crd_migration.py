"""The state migration that lets one `up` move the CRDs to their owner without deleting any."""

from __future__ import annotations

from typing import Any

import pytest

from infra.ops import crd_migration
from infra.ops.crd_migration import CRD_RESOURCE_TYPE, retain_crds, unretained_crds

CRD = CRD_RESOURCE_TYPE


def resource(name: str, type_: str = CRD, **extra: Any) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:s::p::{type_}::{name}", "type": type_, **extra}


STATE: dict[str, Any] = {
    "version": 3,
    "deployment": {
        "manifest": {"time": "t"},
        "resources": [
            resource("argocd-chart:applications.argoproj.io", retainOnDelete=True),
            resource("admission-crds:clusterpolicies.kyverno.io"),
            resource("admission-crds:policyreports", delete=True),
            resource("argocd-namespace", "kubernetes:core/v1:Namespace"),
        ],
    },
}


def test_only_crd_resources_a_drop_would_delete_are_listed() -> None:
    assert unretained_crds(STATE) == [
        f"urn:pulumi:s::p::{CRD}::admission-crds:clusterpolicies.kyverno.io"
    ]
    assert unretained_crds({}) == [] and unretained_crds({"deployment": {}}) == []


def test_retaining_marks_every_crd_and_nothing_else() -> None:
    after = retain_crds(STATE)
    assert unretained_crds(after) == []
    kinds = {r["urn"]: r.get("retainOnDelete") for r in after["deployment"]["resources"]}
    assert kinds["urn:pulumi:s::p::kubernetes:core/v1:Namespace::argocd-namespace"] is None
    assert after["deployment"]["manifest"] == {"time": "t"}
    # The input is not changed.
    assert "retainOnDelete" not in STATE["deployment"]["resources"][1]


def test_migrate_imports_only_when_something_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    imported: list[dict[str, Any]] = []

    def pulumi(args: list[str], cwd: str | None = None) -> str:
        import json

        calls.append(args)
        if args[:2] == ["stack", "export"]:
            return json.dumps(state)
        with open(args[args.index("--file") + 1]) as f:
            imported.append(json.load(f))
        return ""

    monkeypatch.setattr(crd_migration, "_pulumi", pulumi)
    state: dict[str, Any] = STATE
    assert crd_migration.migrate("s") == unretained_crds(STATE)
    assert [c[:2] for c in calls] == [["stack", "export"], ["stack", "import"]]
    assert unretained_crds(imported[0]) == []
    calls.clear()
    state = retain_crds(STATE)
    assert crd_migration.migrate("s") == []
    assert [c[:2] for c in calls] == [["stack", "export"]], "nothing to change: no import"


def test_a_failing_pulumi_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert crd_migration.main(["--stack", "s"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: `pulumi` is not on PATH") and err.count("\n") == 1
