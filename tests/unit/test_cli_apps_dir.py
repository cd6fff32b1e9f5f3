"""Every command that reads the catalog reads the stack's ``catalog.appsDir``, alike: what CI
validates is what ``pulumi up`` deploys."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli.app import app as cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project whose dev stack keeps its catalog in ``catalog/`` (no apps/)."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    document["config"]["gitops-platform:catalog"] = {"appsDir": "catalog"}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    shutil.copytree(REPO / "apps", tmp_path / "catalog")
    monkeypatch.chdir(tmp_path)
    # The generated files name their app.yaml (now under catalog/): generate writes them there.
    code, out, err = run("generate")
    assert code == 0, err
    assert "updated catalog/" in out
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["generate", "--check"],
        ["generate", "--check", "--stack", "dev"],
        ["render", "--stack", "dev"],
        ["expand", "--stack", "dev"],
    ],
)
def test_commands_read_the_stacks_apps_dir(project: Path, args: list[str]) -> None:
    code, out, err = run(*args)
    assert code == 0, err
    assert "Traceback" not in out + err


def test_a_broken_app_in_the_stacks_apps_dir_fails_every_command(project: Path) -> None:
    app = project / "catalog" / "hello-web" / "app.yaml"
    app.write_text(app.read_text() + "unknownField: 1\n")
    for args in (["validate"], ["generate", "--check"], ["render", "--stack", "dev"]):
        code, out, err = run(*args)
        assert code == 1, (args, out, err)
        assert "catalog/hello-web/app.yaml: unknownField: unknown field" in err, args
        assert "Traceback" not in out + err
