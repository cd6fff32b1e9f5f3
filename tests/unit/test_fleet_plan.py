"""The PR plan of a hub's spokes, on real git history through `platformctl plan`: removing a
spoke names every Application that disappears with it, and is refused while its entry does not
allow removal (as `pulumi up` refuses it); a spoke's label change names the Applications that
leave it and the ones that reach it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli.app import app
from tests.unit.gitrepo import git, isolate_git, stack_file, write_files
from tests.unit.test_plan import _directory_app


def _stack(*spokes: dict[str, Any]) -> str:
    fleet = {"gitops-platform:fleet": {"clusters": list(spokes)}}
    return stack_file("dev", branch="dev") + yaml.safe_dump({"config": fleet})[len("config:\n") :]


def _spoke(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kubeconfig": {"context": name}, **fields}


def _gold_app(name: str) -> dict[str, str]:
    files = _directory_app(name)
    app_file = f"apps/{name}/app.yaml"
    files[app_file] += "placement:\n  clusterSelector:\n    matchLabels:\n      tier: gold\n"
    return files


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A base ``dev`` with spokes eu (gold) and us, apps ``site`` (everywhere) and ``shop``
    (gold only); the checked-out ``feature`` is the head, edited by each test."""
    isolate_git(monkeypatch, tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=dev")
    write_files(
        repo,
        {
            "Pulumi.yaml": "name: gitops-platform\nruntime: python\n",
            "Pulumi.dev.yaml": _stack(_spoke("eu", labels={"tier": "gold"}), _spoke("us")),
            **_directory_app("site"),
            **_gold_app("shop"),
        },
    )
    _commit(repo, "fleet")
    git(repo, "checkout", "--quiet", "-b", "feature")
    monkeypatch.chdir(repo)
    return repo


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)


def _plan(repo: Path, stack: str) -> tuple[int, dict[str, Any] | None, str]:
    (repo / "Pulumi.dev.yaml").write_text(stack)
    _commit(repo, "the pull request")
    result = CliRunner().invoke(app, ["plan", "--base", "dev", "--output", "json"])
    assert "Traceback" not in result.output + result.stderr
    report = json.loads(result.stdout) if result.exit_code == 0 else None
    return result.exit_code, report, result.stderr


def _warnings(report: dict[str, Any] | None, kind: str) -> list[str]:
    assert report is not None
    return [w["message"] for w in report["warnings"] if w["kind"] == kind]


def test_removing_a_spoke_that_does_not_allow_it_is_refused_naming_it(repo: Path) -> None:
    code, _, err = _plan(repo, _stack(_spoke("eu", labels={"tier": "gold"})))
    assert code == 1
    assert err.startswith(
        "head (HEAD): Pulumi.dev.yaml: gitops-platform:fleet.clusters: spoke us is "
        "removed, but its entry does not set allowRemoval: true"
    ), err
    assert len(err.strip().splitlines()) == 1


def test_removing_an_allowed_spoke_names_the_applications_that_disappear(repo: Path) -> None:
    (repo / "Pulumi.dev.yaml").write_text(
        _stack(_spoke("eu", labels={"tier": "gold"}, allowRemoval=True), _spoke("us"))
    )
    _commit(repo, "eu may go")
    git(repo, "branch", "--quiet", "-f", "dev", "HEAD")
    code, report, err = _plan(repo, _stack(_spoke("us")))
    assert code == 0, err
    (removed,) = _warnings(report, "spoke-removed")
    assert removed.startswith("spoke `eu` is removed: its 2 Application(s) disappear")
    assert "`shop-eu`, `site-eu`" in removed and "workloads stay on the spoke" in removed


def test_a_label_change_names_the_applications_leaving_and_arriving(repo: Path) -> None:
    code, report, err = _plan(repo, _stack(_spoke("eu"), _spoke("us", labels={"tier": "gold"})))
    assert code == 0, err
    moves = sorted(_warnings(report, "spoke-labels"))
    assert len(moves) == 2, moves
    eu, us = moves
    assert eu.startswith("spoke `eu`'s labels change (tier: gold → (none))")
    assert "leaving it: `shop-eu`" in eu and "arriving: none" in eu
    assert "leaving it: none" in us and "arriving: `shop-us`" in us


def test_a_label_change_that_moves_nothing_is_not_a_warning(repo: Path) -> None:
    code, report, err = _plan(
        repo, _stack(_spoke("eu", labels={"tier": "gold"}, region="eu-west-1"), _spoke("us"))
    )
    assert code == 0, err
    assert _warnings(report, "spoke-labels") == []


def test_validate_warns_of_an_app_placed_on_no_spoke(repo: Path, tools: None) -> None:
    (repo / "Pulumi.dev.yaml").write_text(_stack(_spoke("eu"), _spoke("us")))
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: apps/shop/app.yaml: placement: stack 'dev' places shop on none of its spokes "
        "(eu, us): it has no Application there"
    ]
    (repo / "Pulumi.dev.yaml").write_text(_stack(_spoke("eu", labels={"tier": "gold"})))
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 0 and result.stderr == "", result.output
