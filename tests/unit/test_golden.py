"""Golden render output per stack: a reviewed snapshot of what each stack declares.

A change to specs or apps/ that alters the render fails here until the goldens are
regenerated (`make goldens`) and the diff is reviewed with the change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.app import app
from tests.support import REPO

GOLDEN = REPO / "tests" / "golden"


@pytest.mark.parametrize("command", ["render", "expand"])
@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_render_matches_golden(stack: str, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, [command, "--stack", stack])
    assert result.exit_code == 0, result.output
    golden: Path = GOLDEN / f"{command}-{stack}.yaml"
    if os.environ.get("UPDATE_GOLDENS"):
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text(), f"{golden.name} is stale: run `make goldens`"
