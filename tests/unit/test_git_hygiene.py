"""The git runner works on the repository it is given and nothing else: the environment cannot
redirect it (``GIT_DIR`` and friends) or sign the bot's commits with another name, the
repository's configuration cannot make it run a program (``core.fsmonitor``), and a branch that
another worktree has checked out is never moved under that worktree's files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.app import app as cli
from infra.delivery.git import BOT_EMAIL, BOT_NAME, git_environment
from tests.unit.gitrepo import Remote, git, refs

WEB_DEV = "apps/web-api/overlays/dev/kustomization.yaml"


def bump(clone: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["bump", "--app", "web-api", "--env", "dev", "--tag", "9.9.9", "--repo", str(clone),
         *extra],
    )  # fmt: skip
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    "variable", ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                 "GIT_COMMON_DIR", "GIT_CONFIG_PARAMETERS", "GIT_AUTHOR_NAME", "GIT_NAMESPACE"],
)  # fmt: skip
def test_the_environment_cannot_redirect_git(variable: str) -> None:
    kept = git_environment({variable: "/elsewhere", "PATH": "/bin", "GIT_SSH_COMMAND": "ssh -i k"})
    assert variable not in kept
    assert kept["PATH"] == "/bin" and kept["GIT_SSH_COMMAND"] == "ssh -i k"


def test_bump_commits_into_its_repository_as_the_bot_whatever_git_dir_says(
    remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone, other = remote.clone("clone"), remote.clone("other")
    other_before = refs(other)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Someone Else")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "someone@example.invalid")

    code, err = bump(clone)

    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert code == 0, err
    assert refs(other) == other_before
    assert 'newTag: "9.9.9"' in (clone / WEB_DEV).read_text()
    author = git(clone, "log", "-1", "--format=%an <%ae> / %cn <%ce>", "dev").strip()
    assert author == f"{BOT_NAME} <{BOT_EMAIL}> / {BOT_NAME} <{BOT_EMAIL}>"


def test_the_repositorys_fsmonitor_never_runs(remote: Remote, tmp_path: Path) -> None:
    clone = remote.clone()
    marker = tmp_path / "fsmonitor-ran"
    hook = tmp_path / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    hook.chmod(0o755)
    git(clone, "config", "core.fsmonitor", str(hook))
    git(clone, "status", "--porcelain")  # the hook is live: git itself runs it
    assert marker.exists()
    marker.unlink()

    code, err = bump(clone)

    assert code == 0, err
    assert not marker.exists()


def test_a_branch_checked_out_in_another_worktree_is_never_moved(
    remote: Remote, tmp_path: Path
) -> None:
    clone = remote.clone()
    git(clone, "checkout", "--quiet", "-b", "work")
    worktree = tmp_path / "dev-worktree"
    git(clone, "worktree", "add", "--quiet", str(worktree), "dev")
    before = refs(clone), (worktree / WEB_DEV).read_bytes()

    code, err = bump(clone)

    assert code == 3, err
    assert f"branch 'dev' is checked out in another worktree ({worktree})" in err
    assert len(err.strip().splitlines()) == 1, err
    assert (refs(clone), (worktree / WEB_DEV).read_bytes()) == before
    # From that worktree itself, the same bump moves its own checked-out branch.
    code, err = bump(worktree)
    assert code == 0, err
    assert 'newTag: "9.9.9"' in (worktree / WEB_DEV).read_text()
