"""platformctl promote against real git repositories: the tag dev runs, proposed for prod on a
promotion branch based on prod (also when prod moved meanwhile), one changed line, clear errors.

The prod stack of these repositories enables admission (keyless, ghcr.io): the git tests skip
the cosign part (``--skip-signature-check``; the trusted-registry check still runs), which
test_signature.py exercises with a real registry and real signatures. Here: what happens
without cosign, with the flag, without admission, and the recorded digest carried along.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.app import app as cli
from infra.delivery.bump import Backoff, BumpRequest, bump
from infra.delivery.git import BOT_EMAIL, BOT_NAME
from infra.delivery.promote import PromoteRequest, promote
from tests.unit.gitrepo import (
    Remote,
    cache_values,
    changed_lines,
    git,
    isolate_git,
    make_remote,
    numstat,
    refs,
    stack_file,
    static_manifests,
    web_api_overlay,
    write_files,
)

WEB_PROD = "apps/web-api/overlays/prod/kustomization.yaml"
CACHE_PROD = "apps/cache/values/prod.yaml"
STATIC = "apps/static/manifests/site.yaml"


def ship(remote: Remote, app: str, env: str, tag: str) -> None:
    """What an app's pipeline does: bump and push from its own clone."""
    clone = remote.clone()
    bump(
        BumpRequest(app=app, env=env, tag=tag, repo=clone, push=True),
        backoff=Backoff(base=0.005, cap=0.05),
    )


def run_cli(*args: str, check: bool = False) -> tuple[int, str, str]:
    """``platformctl ARGS``; a promote without ``check`` skips cosign (see the docstring)."""
    argv = list(args)
    if argv[:1] == ["promote"] and not check:
        argv.append("--skip-signature-check")
    result = CliRunner().invoke(cli, argv)
    return result.exit_code, result.stdout, result.stderr


def request(**kwargs: object) -> PromoteRequest:
    return PromoteRequest(skip_signature_check=True, **kwargs)  # type: ignore[arg-type]


def test_promote_locally_reads_dev_and_branches_off_prod(remote: Remote) -> None:
    clone = remote.clone()
    bump(BumpRequest(app="web-api", env="dev", tag="1.4.0", repo=clone))  # local dev only
    git(clone, "checkout", "--quiet", "-b", "prod", "origin/prod")

    code, out, err = run_cli(
        "promote", "--app", "web-api", "--from", "dev", "--to", "prod", "--repo", str(clone)
    )

    assert code == 0, err
    assert "web-api dev -> prod: 0.9.0 -> 1.4.0" in out
    assert WEB_PROD in out
    assert "branch promote/web-api-1.4.0" in out and "not pushed" in out
    # The branch is created, HEAD does not move to it.
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip() == "prod"
    branch = "promote/web-api-1.4.0"
    assert git(clone, "rev-parse", f"{branch}~1").strip() == git(clone, "rev-parse", "prod").strip()
    assert numstat(clone, branch) == [f"1\t1\t{WEB_PROD}"]
    assert (clone / WEB_PROD).read_text() == web_api_overlay("0.9.0")
    assert (
        git(clone, "log", "-1", "--format=%an <%ae>", branch).strip() == f"{BOT_NAME} <{BOT_EMAIL}>"
    )
    assert git(clone, "log", "-1", "--format=%s", branch).strip() == "promote(prod): web-api 1.4.0"
    # dev and prod themselves are untouched; nothing left on the remote.
    assert remote.log("prod") == ["catalog"]


def test_promote_push_bases_the_branch_on_a_prod_that_moved(remote: Remote) -> None:
    stale = remote.clone("stale")  # cloned before anything below happened
    ship(remote, "web-api", "dev", "2.0.0")
    # Meanwhile prod moved: another app's promotion and a comment edit in web-api's overlay.
    ship(remote, "cache", "prod", "7.9.9")
    other = remote.clone("other")
    git(other, "checkout", "--quiet", "prod")
    overlay = other / WEB_PROD
    overlay.write_text(overlay.read_text().replace("keep the comments", "keep ALL comments"))
    git(other, "commit", "--quiet", "-am", "reword a comment")
    git(other, "push", "--quiet", "origin", "prod")
    prod_tip = remote.rev("prod")

    code, out, err = run_cli(
        "promote", "--app", "web-api", "--repo", str(stale), "--push", "--json"
    )

    assert code == 0, err
    result = json.loads(out)
    assert result["branch"] == "promote/web-api-2.0.0"
    assert (result["old_tag"], result["tag"]) == ("0.9.0", "2.0.0")
    assert (result["source_ref"], result["base_ref"]) == ("origin/dev", "origin/prod")
    assert result["base_commit"] == prod_tip and result["pushed"] is True
    branch = "promote/web-api-2.0.0"
    assert remote.rev(branch) == result["commit"]
    assert remote.rev(f"{branch}~1") == prod_tip
    # Exactly one line against the moved prod; prod's own changes are all there.
    assert numstat(remote.bare, branch) == [f"1\t1\t{WEB_PROD}"]
    assert changed_lines(remote.bare, branch) == [
        (
            '      newTag: "0.9.0"  # set by platformctl bump',
            '      newTag: "2.0.0"  # set by platformctl bump',
        ),
    ]
    promoted = remote.read(branch, WEB_PROD).decode()
    assert "keep ALL comments" in promoted and 'newTag: "2.0.0"' in promoted
    assert remote.read(branch, CACHE_PROD).decode() == cache_values("7.9.9")
    # prod itself only changes when the pull request is merged.
    assert remote.rev("prod") == prod_tip


def test_promote_crlf_directory_manifest(remote: Remote) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    ship(remote, "static", "dev", sha)
    clone = remote.clone()

    result = promote(request(app="static", repo=clone, push=True))

    assert result.changed and result.old_tag == "1.0.0" and result.tag == sha
    assert remote.read(result.branch or "", STATIC) == static_manifests(sha).encode()
    assert numstat(remote.bare, result.branch or "") == [f"1\t1\t{STATIC}"]


def test_nothing_to_promote_when_prod_runs_the_tag(remote: Remote) -> None:
    ship(remote, "web-api", "dev", "3.0.0")
    ship(remote, "web-api", "prod", "3.0.0")
    clone = remote.clone()
    before = refs(clone)

    code, out, err = run_cli("promote", "--app", "web-api", "--repo", str(clone), "--push")

    assert code == 0, err
    assert "prod already runs 3.0.0" in out and "nothing to promote" in out
    assert refs(clone) == before
    assert "promote/" not in git(remote.bare, "branch", "--list")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--app", "lab"], 1, "--to: app 'lab' is not enabled in prod"),
        (["--app", "ghost"], 1, "--app: unknown app 'ghost'"),
        (["--app", "web-api", "--to", "dev"], 1, "--from and --to must name different"),
        (
            ["--app", "web-api", "--to", "qa"],
            1,
            "--to: no stack 'qa': Pulumi.qa.yaml does not exist",
        ),
        (["--app", "web-api", "--branch", "bad..name"], 1, "--branch: 'bad..name' is not a valid"),
        (["--app", "web-api", "--push", "--remote", "nope"], 3, "no remote named 'nope'"),
    ],
)
def test_invalid_promotions_fail_clearly_without_a_branch(
    remote: Remote, args: list[str], code: int, message: str
) -> None:
    ship(remote, "web-api", "dev", "1.5.0")
    clone = remote.clone()
    before = refs(clone)

    exit_code, out, err = run_cli("promote", *args, "--repo", str(clone))

    assert exit_code == code, (out, err)
    assert message in err
    assert "Traceback" not in out + err
    assert refs(clone) == before
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip() == "dev"


def test_existing_promotion_branch_is_refused(remote: Remote) -> None:
    ship(remote, "web-api", "dev", "1.5.0")
    first = remote.clone()
    promote(request(app="web-api", repo=first, push=True))
    second = remote.clone()
    before = refs(second)

    code, _, err = run_cli("promote", "--app", "web-api", "--repo", str(second), "--push")

    assert code == 3
    assert "branch 'promote/web-api-1.5.0' already exists on origin" in err
    assert refs(second) == before

    code, _, err = run_cli("promote", "--app", "web-api", "--repo", str(first))
    assert code == 3
    assert "branch 'promote/web-api-1.5.0' already exists in" in err


def test_dirty_tree_is_refused(remote: Remote) -> None:
    clone = remote.clone()
    (clone / "apps/cache/values/dev.yaml").write_text("image:\n  tag: local\n")

    code, _, err = run_cli("promote", "--app", "cache", "--repo", str(clone))

    assert code == 3
    assert "uncommitted changes (apps/cache/values/dev.yaml)" in err


def test_missing_source_branch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    remote = make_remote(tmp_path)
    repo = tmp_path / "prod-only"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=prod")
    git(repo, "pull", "--quiet", str(remote.bare), "prod")

    code, _, err = run_cli("promote", "--app", "web-api", "--repo", str(repo))

    assert code == 3
    assert "branch 'dev' does not exist" in err


def test_dev_tag_that_is_not_a_valid_tag_is_not_promoted(remote: Remote) -> None:
    clone = remote.clone()
    values = clone / "apps/cache/values/dev.yaml"
    values.write_text(values.read_text().replace("tag: '7.4.1'", "tag: 'not a tag!'"))
    git(clone, "commit", "--quiet", "-am", "broken tag")
    git(clone, "checkout", "--quiet", "-b", "prod", "origin/prod")

    code, _, err = run_cli("promote", "--app", "cache", "--repo", str(clone))

    assert code == 1
    assert "apps/cache/values/dev.yaml on dev: 'not a tag!' is not a valid image tag" in err


def test_a_refused_promotion_push_is_not_retried_and_leaves_no_branch(remote: Remote) -> None:
    clone = remote.clone()
    bump(BumpRequest(app="web-api", env="dev", tag="1.6.0", repo=clone, push=True))
    counter = remote.tmp / "pushes"
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho x >> '{counter}'\necho 'no pushes here' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = git(clone, "for-each-ref", "refs/heads") + git(clone, "rev-parse", "HEAD")

    code, out, err = run_cli("promote", "--app", "web-api", "--push", "--repo", str(clone))

    assert code == 3, (out, err)
    assert "was refused after 1 attempt(s)" in err and "no pushes here" in err
    assert "Traceback" not in out + err
    assert len(counter.read_text().splitlines()) == 1
    assert git(clone, "for-each-ref", "refs/heads") + git(clone, "rev-parse", "HEAD") == before
    assert git(clone, "status", "--porcelain") == ""


def test_promote_reads_each_stack_branch_from_its_settings(remote: Remote) -> None:
    clone = remote.clone()
    write_files(clone, {"Pulumi.prod-eu.yaml": stack_file("prod", branch="release")})
    git(clone, "add", "Pulumi.prod-eu.yaml")
    git(clone, "commit", "--quiet", "-m", "prod-eu stack")
    git(clone, "branch", "release", "origin/prod")
    bump(BumpRequest(app="web-api", env="dev", tag="1.7.0", repo=clone, stack="dev"))

    code, out, err = run_cli(
        "promote", "--app", "web-api", "--from", "dev", "--to", "prod-eu", "--repo", str(clone)
    )

    assert code == 0, err
    assert "based on release" in out
    branch = "promote/web-api-1.7.0"
    assert (
        git(clone, "rev-parse", f"{branch}~1").strip() == git(clone, "rev-parse", "release").strip()
    )


# --- the signature check's edges (the check itself: test_signature.py) --------------------------

DIGEST = "sha256:" + "5e" * 32


def git_only_path(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH holding git and nothing else (no cosign)."""
    found = shutil.which("git")
    assert found is not None
    folder = tmp / "git-only-bin"
    folder.mkdir()
    (folder / "git").symlink_to(found)
    monkeypatch.setenv("PATH", str(folder))


def test_without_cosign_a_checked_promotion_is_refused(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ship(remote, "web-api", "dev", "1.8.0")
    clone = remote.clone()
    git_only_path(tmp_path, monkeypatch)
    before = refs(clone)

    code, out, err = run_cli("promote", "--app", "web-api", "--repo", str(clone), check=True)

    assert code == 1, (out, err)
    assert "error: cosign is not on PATH" in err
    assert "ghcr.io/example-org/web-api:1.8.0" in err and "keyless signer https://" in err
    assert "--skip-signature-check" in err and "Traceback" not in err
    assert refs(clone) == before


def test_skip_signature_check_promotes_with_a_warning(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ship(remote, "web-api", "dev", "1.8.1")
    clone = remote.clone()
    git_only_path(tmp_path, monkeypatch)  # cosign is not even looked for

    code, out, err = run_cli(
        "promote",
        "--app",
        "web-api",
        "--repo",
        str(clone),
        "--json",
        "--skip-signature-check",
        check=True,
    )

    assert code == 0, err
    assert err.startswith("warning: signature of ghcr.io/example-org/web-api:1.8.1")
    assert "NOT checked" in err and "--skip-signature-check" in err
    assert "admission in the cluster still checks it" in err
    result = json.loads(out)
    assert result["signature"]["status"] == "skipped" and result["changed"] is True
    assert result["warnings"] == [err.strip().removeprefix("warning: ")]


def test_a_target_without_admission_is_not_checked(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # prod -> dev: the dev stack does not enable admission, so cosign is not needed.
    ship(remote, "web-api", "prod", "0.9.5")
    clone = remote.clone()
    git_only_path(tmp_path, monkeypatch)

    code, out, err = run_cli(
        "promote",
        "--app",
        "web-api",
        "--from",
        "prod",
        "--to",
        "dev",
        "--repo",
        str(clone),
        "--json",
        check=True,
    )

    assert (code, err) == (0, ""), err
    result = json.loads(out)
    assert result["signature"] is None and result["warnings"] == []
    assert (result["old_tag"], result["tag"]) == ("1.0.0", "0.9.5")


def test_the_recorded_digest_is_promoted_with_the_tag(remote: Remote) -> None:
    clone = remote.clone()
    bump(BumpRequest(app="web-api", env="dev", tag="2.1.0", digest=DIGEST, repo=clone, push=True))

    code, out, err = run_cli("promote", "--app", "web-api", "--repo", str(clone), "--push")

    assert code == 0, err
    assert f"0.9.0 -> 2.1.0@{DIGEST}" in out
    branch = "promote/web-api-2.1.0"
    assert changed_lines(remote.bare, branch) == [
        (
            '      newTag: "0.9.0"  # set by platformctl bump',
            f'      newTag: "2.1.0@{DIGEST}"  # set by platformctl bump',
        ),
    ]
    # prod then runs exactly that: promoting again is nothing to do.
    git(remote.bare, "update-ref", "refs/heads/prod", remote.rev(branch))
    again = remote.clone()
    code, out, err = run_cli("promote", "--app", "web-api", "--repo", str(again), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] is False and result["digest"] == DIGEST


def test_a_digest_in_dev_that_is_not_a_digest_is_not_promoted(remote: Remote) -> None:
    clone = remote.clone()
    values = clone / "apps/cache/values/dev.yaml"
    values.write_text(values.read_text().replace("tag: '7.4.1'", "tag: '7.4.1@sha256:abc'"))
    git(clone, "commit", "--quiet", "-am", "bad digest")
    git(clone, "checkout", "--quiet", "-b", "prod", "origin/prod")
    before = refs(clone)

    code, _, err = run_cli("promote", "--app", "cache", "--repo", str(clone))

    assert code == 1
    assert "apps/cache/values/dev.yaml on dev: '7.4.1@sha256:abc' records 'sha256:abc'" in err
    assert "not an image digest" in err
    assert refs(clone) == before
