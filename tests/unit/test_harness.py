"""The end-to-end harness never depends on the user's own state in the checkout (issue 19)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.e2e.harness import copy_project
from tests.support import REPO


def test_the_copy_keeps_the_configuration_and_leaves_the_user_s_state(tmp_path: Path) -> None:
    """`make up` then `make test` in one clone: `make up` wrote an `encryptionsalt` for the
    user's passphrase into Pulumi.local.yaml, and has state and a runtime folder; the test
    stack must not inherit any of it."""
    repo = tmp_path / "clone"
    repo.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", repo / "Pulumi.yaml")
    shutil.copytree(REPO / "apps", repo / "apps")
    (repo / "infra").mkdir()
    (repo / "__main__.py").write_text("")
    (repo / ".venv").mkdir()
    committed = yaml.safe_load((REPO / "Pulumi.local.yaml").read_text())
    (repo / "Pulumi.local.yaml").write_text(
        "encryptionsalt: v1:c2FsdA==:v1:aXY=:Y2lwaGVy\n"
        "secretsprovider: passphrase\n"
        "encryptedkey: a2V5\n" + yaml.safe_dump(committed, sort_keys=False)
    )
    for folder in (".pulumi-state/.pulumi/stacks", ".gitops-local/gitops-local/logs"):
        (repo / folder).mkdir(parents=True)
    (repo / ".pulumi-state" / ".passphrase").write_text("the user's\n")

    root = copy_project(repo, tmp_path / "project", "local")

    stack = yaml.safe_load((root / "Pulumi.local.yaml").read_text())
    assert stack == {"config": committed["config"]}
    assert sorted(p.name for p in root.iterdir()) == [
        ".venv",
        "Pulumi.local.yaml",
        "Pulumi.yaml",
        "__main__.py",
        "apps",
        "infra",
    ]
    assert (root / "infra").resolve() == (repo / "infra").resolve()
