"""The stack's settings are the one source of truth for the delivery commands: its branch
(``git.branch``), its environment and its catalog folder (``catalog.appsDir``); and a
:class:`GitTree` reads only files."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.delivery.bump import Backoff, BumpRequest, bump
from infra.delivery.git import Git
from infra.delivery.tree import GitTree
from tests.unit.factories import run_cli
from tests.unit.gitrepo import (
    Remote,
    git,
    isolate_git,
    make_remote,
    stack_file,
    web_api_overlay,
    write_files,
)

FAST = Backoff(base=0.001, cap=0.01)
WEB_PROD = "apps/web-api/overlays/prod/kustomization.yaml"


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Remote:
    isolate_git(monkeypatch, tmp_path)
    made = make_remote(tmp_path, {"Pulumi.prod-eu.yaml": stack_file("prod", branch="release")})
    seed = tmp_path / "seed"
    git(seed, "push", "--quiet", str(made.bare), "prod:refs/heads/release")
    return made


def test_bump_commits_on_the_stacks_git_branch(remote: Remote) -> None:
    clone = remote.clone()

    result = bump(
        BumpRequest(app="web-api", env=None, stack="prod-eu", tag="3.0.0", repo=clone, push=True),
        backoff=FAST,
    )

    assert (result.env, result.stack, result.branch) == ("prod", "prod-eu", "release")
    assert remote.read("release", WEB_PROD).decode() == web_api_overlay("3.0.0")
    assert remote.read("prod", WEB_PROD).decode() == web_api_overlay("0.9.0")  # not prod's
    assert remote.log("release")[0] == "deploy(prod): web-api 3.0.0"


def test_env_alone_finds_the_one_stack_or_asks_for_stack(remote: Remote) -> None:
    clone = remote.clone()
    code, _, err = run_cli(
        "bump", "--app", "web-api", "--env", "prod", "--tag", "3.0.1", "--repo", str(clone)
    )
    assert code == 1
    assert "several stacks deploy environment prod (prod, prod-eu); pass --stack" in err
    assert "Traceback" not in err

    code, out, err = run_cli(
        "bump", "--app", "web-api", "--env", "dev", "--tag", "3.0.1", "--repo", str(clone)
    )
    assert code == 0, err
    assert "on branch dev" in out


def test_env_that_contradicts_the_stack_is_refused(remote: Remote) -> None:
    code, _, err = run_cli(
        "bump",
        "--app",
        "web-api",
        "--stack",
        "prod-eu",
        "--env",
        "dev",
        "--tag",
        "3.0.2",
        "--repo",
        str(remote.clone()),
    )
    assert code == 1
    assert "--env dev does not match --stack prod-eu" in err
    assert "gitops-platform:environment" in err


def test_unknown_stack_and_no_stack_at_all(remote: Remote) -> None:
    clone = remote.clone()
    code, _, err = run_cli(
        "bump", "--app", "web-api", "--stack", "qa", "--tag", "3.0.3", "--repo", str(clone)
    )
    assert code == 1
    assert "--stack: no stack 'qa': Pulumi.qa.yaml does not exist" in err
    code, _, err = run_cli("bump", "--app", "web-api", "--tag", "3.0.3", "--repo", str(clone))
    assert code == 2
    assert "give --stack STACK" in err


def test_bump_reads_the_catalog_from_the_stacks_apps_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    remote = make_remote(tmp_path)
    clone = remote.clone()
    git(clone, "mv", "apps", "catalog")
    write_files(clone, {"Pulumi.dev.yaml": stack_file("dev", apps_dir="catalog")})
    git(clone, "commit", "--quiet", "-am", "catalog in catalog/")

    code, out, err = run_cli(
        "bump", "--app", "web-api", "--stack", "dev", "--tag", "3.1.0", "--repo", str(clone)
    )

    assert code == 0, err
    assert "catalog/web-api/overlays/dev/kustomization.yaml" in out
    # With the default apps/ the app is not found: appsDir is really what is read.
    write_files(clone, {"Pulumi.dev.yaml": stack_file("dev")})
    git(clone, "commit", "--quiet", "-am", "back to apps/")
    code, _, err = run_cli(
        "bump", "--app", "web-api", "--stack", "dev", "--tag", "3.1.1", "--repo", str(clone)
    )
    assert code == 1
    assert "apps/web-api/app.yaml does not exist" in err


def test_bump_refuses_an_app_the_catalog_loader_refuses(remote: Remote) -> None:
    """The one loader: a namespace claimed by two teams is a catalog error, so bump refuses
    it too (the old private loader only validated the one app.yaml)."""
    clone = remote.clone()
    app = clone / "apps" / "cache" / "app.yaml"
    app.write_text(app.read_text().replace("namespace: data", "namespace: web"))
    git(clone, "commit", "--quiet", "-am", "cache into web's namespace")

    code, _, err = run_cli(
        "bump", "--app", "web-api", "--stack", "dev", "--tag", "3.2.0", "--repo", str(clone)
    )

    assert code == 1
    assert "claimed by several teams" in err
    assert "Traceback" not in err


def test_git_tree_reads_files_only(remote: Remote) -> None:
    clone = remote.clone()
    tree = GitTree(Git(clone), "refs/heads/dev")
    assert tree.read("apps/web-api/app.yaml") is not None
    # `git show dev:apps` exits 0 and prints the folder's listing: that is not a file.
    assert git(clone, "show", "dev:apps").startswith("tree dev:apps")
    assert tree.read("apps") is None
    assert tree.read("apps/web-api/overlays/dev") is None
    assert tree.read("apps/missing.yaml") is None
