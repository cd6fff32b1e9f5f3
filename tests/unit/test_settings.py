"""Stack settings: defaults, and one clear error per bad or missing key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.errors import ValidationError
from infra.settings import (
    KindCluster,
    KwokCluster,
    load_stack_file,
    parse_settings,
    settings_from_engine,
)
from tests.support import REPO
from tests.unit.factories import MINIMAL_STACK, settings_problems


def test_real_stack_files() -> None:
    dev = load_stack_file(REPO, "dev")
    prod = load_stack_file(REPO, "prod")
    assert isinstance(dev.cluster, KindCluster)
    assert dev.branch == "dev" and prod.branch == "prod"
    assert dev.sync.automated and dev.sync.selfHeal and dev.sync.prune
    assert not prod.sync.automated and not prod.sync.prune
    assert prod.argocd.ha and prod.argocd.protect and not dev.argocd.ha
    assert prod.admission.signer is not None and prod.admission.enabled  # docs/admission.md


def test_defaults() -> None:
    s = parse_settings("dev", MINIMAL_STACK, "Pulumi.dev.yaml")
    assert isinstance(s.cluster, KwokCluster)
    assert s.environment == "dev" and s.branch == "dev"
    assert s.cluster_name == "gitops-dev"
    assert s.argocd.chart.version == "10.1.1" and s.argocd.namespace == "argocd"
    assert s.sync.applicationsSync == "create-update" and not s.sync.automated
    assert s.adminPassword.rotation == "1"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {**MINIMAL_STACK, "colour": "blue"},
            "Pulumi.x.yaml: gitops-platform:colour: unknown key; expected one of",
        ),
        (
            {"git": MINIMAL_STACK["git"]},
            "Pulumi.x.yaml: gitops-platform:cluster: required key is missing",
        ),
        (
            {**MINIMAL_STACK, "cluster": {"provider": "eks"}},
            "Pulumi.x.yaml: gitops-platform:cluster: unknown provider 'eks'; expected one of kind, kwok, existing",
        ),
        (
            {**MINIMAL_STACK, "cluster": {"provider": "existing"}},
            "Pulumi.x.yaml: gitops-platform:cluster.context: required key is missing",
        ),
        (
            {**MINIMAL_STACK, "cluster": {"provider": "kind", "nodes": 0}},
            "Pulumi.x.yaml: gitops-platform:cluster.nodes: Input should be greater than or equal to 1",
        ),
        (
            {**MINIMAL_STACK, "argocd": {"chart": {"version": "10.x"}}},
            "Pulumi.x.yaml: gitops-platform:argocd.chart.version: String should match pattern",
        ),
        (
            {**MINIMAL_STACK, "sync": {"automated": "yes"}},
            "Pulumi.x.yaml: gitops-platform:sync.automated: Input should be a valid boolean",
        ),
        (
            {**MINIMAL_STACK, "sync": {"selfheal": True}},
            "Pulumi.x.yaml: gitops-platform:sync.selfheal: unknown key",
        ),
    ],
    ids=[
        "unknown-top-key",
        "missing-cluster",
        "bad-provider",
        "existing-needs-context",
        "nodes-range",
        "chart-version",
        "bool-type",
        "misspelt-key",
    ],
)
def test_bad_settings(values: dict[str, object], expected: str) -> None:
    found = settings_problems(values, "dev", "Pulumi.x.yaml")
    assert any(m.startswith(expected) for m in found), found


def test_stack_not_named_after_an_environment_must_say_which() -> None:
    assert settings_problems(MINIMAL_STACK, "sandbox", "Pulumi.x.yaml") == [
        "Pulumi.x.yaml: gitops-platform:environment: required for stack 'sandbox': one of dev, prod"
    ]
    s = parse_settings("sandbox", {**MINIMAL_STACK, "environment": "dev"}, "Pulumi.sandbox.yaml")
    assert s.branch == "dev" and s.cluster_name == "gitops-sandbox"


def test_engine_config_matches_stack_file() -> None:
    """The program (engine config: JSON text) and platformctl (the YAML file) agree."""
    import yaml

    raw = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"]
    engine = {k: json.dumps(v) for k, v in raw.items()}
    assert settings_from_engine("prod", engine, "Pulumi.prod.yaml", REPO) == load_stack_file(
        REPO, "prod"
    )


def test_missing_stack_file(tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError, match=r"Pulumi\.nope\.yaml: \(file\): stack file not found"
    ):
        load_stack_file(tmp_path, "nope")


def test_every_key_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    from pydantic import BaseModel

    from infra.settings import KNOWN_KEYS, StackSettings

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        keys = []
        for name, field in model.model_fields.items():
            if name in ("stack", "root"):
                continue
            keys.append(f"{prefix}{name}")
            ann = field.annotation
            for sub in getattr(ann, "__args__", ()) or (ann,):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    keys += walk(sub, f"{prefix}{name}.")
        return keys

    assert set(KNOWN_KEYS) <= set(StackSettings.model_fields)
    missing = [k for k in walk(StackSettings, "") if f"`{k}`" not in readme]
    assert not missing, f"README 'Stack configuration' lacks: {missing}"
