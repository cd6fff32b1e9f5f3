"""platformctl bump against real git repositories: a bare remote, clones, the real git CLI.

Covers the round trip on tricky YAML (the commit changes exactly one line), idempotency, every
error path (exit code, message, no commit), pushing when the branch moved meanwhile, and twenty
pipelines bumping at once (the same app, and different apps): nothing is lost and the end state
is deterministic.
"""

from __future__ import annotations

import random
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.catalog.image_ref import Version, parse_version, validate_digest
from infra.delivery.bump import Backoff, BumpRequest, BumpResult, bump
from infra.delivery.git import BOT_EMAIL, BOT_NAME, Git, GitResult
from infra.errors import GitError, InputError
from tests.signing import require_tool
from tests.support import REPO
from tests.unit.factories import run_cli
from tests.unit.gitrepo import (
    TEST_EMAIL,
    TEST_NAME,
    Remote,
    cache_values,
    changed_lines,
    git,
    isolate_git,
    make_remote,
    numstat,
    refs,
    service_app_files,
    static_manifests,
    web_api_overlay,
)

WEB_DEV = "apps/web-api/overlays/dev/kustomization.yaml"
CACHE_DEV = "apps/cache/values/dev.yaml"
STATIC = "apps/static/manifests/site.yaml"
FAST = Backoff(base=0.005, cap=0.1)


def show(repo: Path, ref: str, path: str) -> bytes:
    done = subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=repo, capture_output=True, check=True
    )
    return done.stdout


def run_bump(repo: Path, app: str, env: str, tag: str, **kwargs: object) -> BumpResult:
    request = BumpRequest(app=app, env=env, tag=tag, repo=repo, **kwargs)  # type: ignore[arg-type]
    return bump(request, backoff=FAST)


# --- round trip: exactly one line ---------------------------------------------------------------


def test_kustomize_bump_changes_only_the_tag_line(remote: Remote) -> None:
    clone = remote.clone()
    before = (clone / WEB_DEV).read_bytes()

    code, out, err = run_cli(
        "bump", "--app", "web-api", "--env", "dev", "--tag", "1.1.0", "--repo", str(clone)
    )

    assert (code, err) == (0, ""), err
    assert "web-api dev: 1.0.0 -> 1.1.0" in out
    after = (clone / WEB_DEV).read_bytes()
    # Byte for byte the old file with the one value replaced: comments, the four-space indent,
    # the quotes, the flow mapping and the other image entry are untouched.
    assert after == before.replace(b'newTag: "1.0.0"', b'newTag: "1.1.0"')
    assert after.decode() == web_api_overlay("1.1.0")
    assert numstat(clone) == [f"1\t1\t{WEB_DEV}"]
    assert changed_lines(clone) == [
        (
            '      newTag: "1.0.0"  # set by platformctl bump',
            '      newTag: "1.1.0"  # set by platformctl bump',
        ),
    ]
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip() == "dev"
    author = git(clone, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    assert author == f"{BOT_NAME} <{BOT_EMAIL}>|{BOT_NAME} <{BOT_EMAIL}>"
    # The user's identity is not changed: it is passed per command, never written.
    assert git(clone, "config", "user.name").strip() == TEST_NAME
    assert git(clone, "config", "user.email").strip() == TEST_EMAIL
    assert "user.name" not in (clone / ".git" / "config").read_text()


def test_helm_values_with_anchors_keep_everything_but_the_tag(remote: Remote) -> None:
    clone = remote.clone()

    result = run_bump(clone, "cache", "dev", "7.4.2")

    assert result.changed and result.old_tag == "7.4.1"
    assert (clone / CACHE_DEV).read_text() == cache_values("7.4.2")
    assert "defaults: &resources" in (clone / CACHE_DEV).read_text()
    assert numstat(clone) == [f"1\t1\t{CACHE_DEV}"]
    assert changed_lines(clone) == [
        (
            "  tag: '7.4.1'   # the line the handoff bumps",
            "  tag: '7.4.2'   # the line the handoff bumps",
        ),
    ]


def test_multi_document_crlf_manifest_keeps_crlf_and_other_images(remote: Remote) -> None:
    clone = remote.clone()
    sha = "3f9c2a1b7d4e5f60718293a4b5c6d7e8f9012345"

    result = run_bump(clone, "static", "prod", sha)

    assert result.changed and result.files == (STATIC,)
    # Committed on prod without switching to it: HEAD, index and files of dev stay.
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip() == "dev"
    assert (clone / STATIC).read_bytes() == static_manifests("1.0.0").encode()
    raw = show(clone, "prod", STATIC)
    assert raw == static_manifests(sha).encode()
    assert raw.count(b"\r\n") == static_manifests("x").count("\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"image: docker.io/library/busybox:1.36\r\n" in raw
    assert numstat(clone, "prod") == [f"1\t1\t{STATIC}"]
    [(removed, added)] = changed_lines(clone, "prod")
    assert removed == "          image: ghcr.io/example-org/static:1.0.0\r"
    assert added == f"          image: ghcr.io/example-org/static:{sha}\r"


@pytest.mark.parametrize(
    ("written", "tag", "expected"),
    [
        ("1.0.0", "1.10", '"1.10"'),  # plain 1.10 would read back as the float 1.1
        ("1.0.0", "true", '"true"'),
        ("1.0.0", "20250101", '"20250101"'),
        ("1.0.0", "1e5", '"1e5"'),
        ("1.0.0", "v2.0.0-rc.1", "v2.0.0-rc.1"),
        ('"1.0.0"', "1.10", '"1.10"'),
        ("'1.0.0'", "2.0.0", "'2.0.0'"),
    ],
)
def test_quoting_keeps_the_style_unless_the_value_would_change_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str, tag: str, expected: str
) -> None:
    isolate_git(monkeypatch, tmp_path)
    overlay = "apps/svc-a/overlays/dev/kustomization.yaml"
    files = service_app_files("svc-a")
    files[overlay] = files[overlay].replace("newTag: 0.0.1", f"newTag: {written}")
    remote = make_remote(tmp_path, files)
    clone = remote.clone()

    run_bump(clone, "svc-a", "dev", tag)

    assert f"    newTag: {expected}\n" in (clone / overlay).read_text()
    assert numstat(clone) == [f"1\t1\t{overlay}"]


def test_same_tag_again_is_a_no_op(remote: Remote) -> None:
    clone = remote.clone()
    run_bump(clone, "web-api", "dev", "1.1.0", push=True)
    head = git(clone, "rev-parse", "HEAD")

    for extra in ([], ["--push"]):
        code, out, err = run_cli(
            "bump",
            "--app",
            "web-api",
            "--env",
            "dev",
            "--tag",
            "1.1.0",
            "--repo",
            str(clone),
            *extra,
        )

        assert code == 0, err
        assert "already at 1.1.0" in out and "nothing to commit" in out
        assert git(clone, "rev-parse", "HEAD") == head
        assert git(clone, "status", "--porcelain") == ""
    # Nothing more was pushed: one bump commit on top of the seed.
    assert remote.log("dev") == ["deploy(dev): web-api 1.1.0", "catalog"]


def test_custom_message_and_local_branch_created_from_remote(remote: Remote) -> None:
    clone = remote.clone()
    assert "prod" not in git(clone, "branch", "--list")

    run_bump(clone, "web-api", "prod", "0.9.1", message="deploy web-api 0.9.1")

    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip() == "dev"  # HEAD stays
    assert git(clone, "log", "-1", "--format=%B", "prod").strip() == "deploy web-api 0.9.1"
    assert git(clone, "rev-parse", "--abbrev-ref", "prod@{upstream}").strip() == "origin/prod"


# --- digests: --digest records the image's digest with the tag --------------------------------

DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER_DIGEST = "sha256:" + "fedcba9876543210" * 4


@pytest.mark.parametrize(
    ("app", "env", "file", "removed", "added"),
    [
        (
            "web-api",
            "dev",
            WEB_DEV,
            '      newTag: "1.0.0"  # set by platformctl bump',
            f'      newTag: "2.0.0@{DIGEST}"  # set by platformctl bump',
        ),
        (
            "cache",
            "dev",
            CACHE_DEV,
            "  tag: '7.4.1'   # the line the handoff bumps",
            f"  tag: '2.0.0@{DIGEST}'   # the line the handoff bumps",
        ),
        (
            "static",
            "prod",
            STATIC,
            "          image: ghcr.io/example-org/static:1.0.0\r",
            f"          image: ghcr.io/example-org/static:2.0.0@{DIGEST}\r",
        ),
    ],
)
def test_digest_is_written_into_the_tag_line(
    remote: Remote, app: str, env: str, file: str, removed: str, added: str
) -> None:
    clone = remote.clone()

    code, out, err = run_cli(
        "bump",
        "--app",
        app,
        "--env",
        env,
        "--tag",
        "2.0.0",
        "--digest",
        DIGEST,
        "--repo",
        str(clone),
    )

    assert (code, err) == (0, ""), err
    assert f" -> 2.0.0@{DIGEST} ({file})" in out
    ref = "HEAD" if env == "dev" else env
    assert numstat(clone, ref) == [f"1\t1\t{file}"]
    assert changed_lines(clone, ref) == [(removed, added)]
    assert git(clone, "log", "-1", "--format=%s", ref).strip() == f"deploy({env}): {app} 2.0.0"
    assert f"-> 2.0.0@{DIGEST}" in git(clone, "log", "-1", "--format=%b", ref)


def test_same_tag_and_digest_again_is_a_no_op(remote: Remote) -> None:
    clone = remote.clone()
    run_bump(clone, "web-api", "dev", "2.0.0", digest=DIGEST, push=True)
    head = git(clone, "rev-parse", "HEAD")

    for extra in ([], ["--push"]):
        code, out, err = run_cli(
            "bump",
            "--app",
            "web-api",
            "--env",
            "dev",
            "--tag",
            "2.0.0",
            "--digest",
            DIGEST,
            "--repo",
            str(clone),
            *extra,
        )

        assert code == 0, err
        assert f"already at 2.0.0@{DIGEST}" in out and "nothing to commit" in out
        assert git(clone, "rev-parse", "HEAD") == head
    assert remote.log("dev") == ["deploy(dev): web-api 2.0.0", "catalog"]


def test_a_bump_without_digest_never_keeps_a_recorded_digest(remote: Remote) -> None:
    """The value becomes exactly what was asked: tag B never carries tag A's digest, and the
    same tag without --digest drops the digest too (bump cannot vouch for it)."""
    clone = remote.clone()
    run_bump(clone, "web-api", "dev", "2.0.0", digest=DIGEST)

    result = run_bump(clone, "web-api", "dev", "2.1.0")  # a new tag, no digest

    assert (result.old_tag, result.old_digest, result.digest) == ("2.0.0", DIGEST, None)
    assert (clone / WEB_DEV).read_text() == web_api_overlay("2.1.0")
    assert numstat(clone) == [f"1\t1\t{WEB_DEV}"]

    run_bump(clone, "web-api", "dev", "2.1.0", digest=OTHER_DIGEST)
    result = run_bump(clone, "web-api", "dev", "2.1.0")  # the same tag, no digest
    assert result.changed and result.old_digest == OTHER_DIGEST
    assert (clone / WEB_DEV).read_text() == web_api_overlay("2.1.0")

    # A new digest under the same tag (a rebuilt image) is one changed line as well.
    run_bump(clone, "web-api", "dev", "2.1.0", digest=DIGEST)
    result = run_bump(clone, "web-api", "dev", "2.1.0", digest=OTHER_DIGEST)
    assert (result.old_digest, result.digest) == (DIGEST, OTHER_DIGEST)
    assert changed_lines(clone) == [
        (
            f'      newTag: "2.1.0@{DIGEST}"  # set by platformctl bump',
            f'      newTag: "2.1.0@{OTHER_DIGEST}"  # set by platformctl bump',
        )
    ]


def test_a_digest_written_by_hand_in_a_manifest_is_replaced(remote: Remote) -> None:
    clone = remote.clone()
    site = clone / STATIC
    site.write_bytes(site.read_bytes().replace(b"static:1.0.0", f"static:1.0.0@{DIGEST}".encode()))
    git(clone, "commit", "--quiet", "-am", "pin by hand")

    result = run_bump(clone, "static", "dev", "1.0.1")

    assert (result.old_tag, result.old_digest) == ("1.0.0", DIGEST)
    assert site.read_bytes() == static_manifests("1.0.1").encode()


def test_an_image_pinned_by_digest_alone_needs_a_digest(remote: Remote) -> None:
    clone = remote.clone()
    site = clone / STATIC
    site.write_bytes(site.read_bytes().replace(b"static:1.0.0", f"static@{DIGEST}".encode()))
    git(clone, "commit", "--quiet", "-am", "pin by digest alone")
    before = refs(clone)

    code, out, err = run_cli(
        "bump", "--app", "static", "--env", "dev", "--tag", "1.0.1", "--repo", str(clone)
    )

    assert code == 1, (out, err)
    assert f"{STATIC}:" in err and "pinned by digest alone" in err and "--digest" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    assert refs(clone) == before and git(clone, "status", "--porcelain") == ""

    result = run_bump(clone, "static", "dev", "1.0.1", digest=OTHER_DIGEST)

    assert (result.old_digest, result.tag, result.digest) == (DIGEST, "1.0.1", OTHER_DIGEST)
    assert f"static:1.0.1@{OTHER_DIGEST}".encode() in site.read_bytes()


@pytest.mark.parametrize(
    ("digest", "hint"),
    [
        ("sha256:abc", ""),
        ("", ""),
        ("sha512:" + "0" * 128, ""),
        ("sha256:" + "A" * 64, "must be lower case"),
        ("0" * 64, "starts with sha256:"),
        (f"ghcr.io/example-org/web-api@{DIGEST}", "without the image name"),
        (DIGEST + "\n", ""),
        (DIGEST + "0", ""),
    ],
)
def test_an_invalid_digest_is_refused_naming_the_flag(
    remote: Remote, digest: str, hint: str
) -> None:
    clone = remote.clone()
    before = refs(clone)

    code, out, err = run_cli(
        "bump",
        "--app",
        "web-api",
        "--env",
        "dev",
        "--tag",
        "2.0.0",
        "--digest",
        digest,
        "--repo",
        str(clone),
    )

    assert code == 1, (out, err)
    assert err.startswith(f"error: --digest: {digest!r} is not an image digest (sha256: and 64")
    assert hint in err and "Traceback" not in err
    assert refs(clone) == before
    assert git(clone, "status", "--porcelain") == ""


def test_validate_digest_and_parse_version() -> None:
    assert validate_digest(DIGEST) == DIGEST
    with pytest.raises(InputError, match="--digest: 'x' is not an image digest"):
        validate_digest("x")
    assert parse_version("1.0") == Version("1.0")
    assert parse_version(f"1.0@{DIGEST}") == Version("1.0", DIGEST)
    assert str(Version("1.0", DIGEST)) == f"1.0@{DIGEST}"
    assert Version("1.0", DIGEST).short() == f"1.0@{DIGEST[:19]}"


def test_kustomize_and_helm_render_the_recorded_digest(remote: Remote, tmp_path: Path) -> None:
    """The real tools (Argo CD's versions: kustomize v5.7.0, helm v3.18.4) render the bumped
    files as <repository>:<tag>@<digest>."""
    kustomize = require_tool("kustomize")
    helm = require_tool("helm")
    clone = remote.clone()
    run_bump(clone, "web-api", "dev", "2.0.0", digest=DIGEST)
    run_bump(clone, "cache", "dev", "7.4.2", digest=DIGEST)

    built = tool(kustomize, "build", str(clone / "apps/web-api/overlays/dev"))
    assert f"image: ghcr.io/example-org/web-api:2.0.0@{DIGEST}\n" in built

    # The catalog's own in-repository chart writes "{{ repository }}:{{ tag }}".
    values = tmp_path / "values.yaml"
    values.write_bytes((clone / CACHE_DEV).read_bytes())
    chart = str(REPO / "apps/metrics-cache/chart")
    rendered = tool(helm, "template", "cache", chart, "-f", str(values))
    assert f'image: "bitnami/redis:7.4.2@{DIGEST}"\n' in rendered  # the values' repository

    # Without --digest the tag alone renders, as before.
    run_bump(clone, "web-api", "dev", "2.0.1")
    built = tool(kustomize, "build", str(clone / "apps/web-api/overlays/dev"))
    assert "image: ghcr.io/example-org/web-api:2.0.1\n" in built


def tool(binary: str, *args: str) -> str:
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- error paths: exit code, message naming the problem, no commit -------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--tag", "-bad"], 1, "--tag: '-bad' is not a valid image tag"),
        (["--tag", ".hidden"], 1, "is not a valid image tag"),
        (["--tag", "a" * 129], 1, "is not a valid image tag"),
        (["--tag", "has space"], 1, "is not a valid image tag"),
        (["--tag", "tag:colon"], 1, "is not a valid image tag"),
        (["--tag", ""], 1, "is not a valid image tag"),
        (["--app", "nope"], 1, "--app: unknown app 'nope': apps/nope/app.yaml does not exist"),
        (["--app", "Bad_Name"], 1, "unknown app 'Bad_Name'"),
        (
            ["--env", "staging"],
            1,
            "--env: unknown environment 'staging'; expected one of dev, prod",
        ),
        (["--app", "lab", "--env", "prod"], 1, "app 'lab' is not enabled in prod"),
        (["--push", "--remote", "upstream"], 3, "--remote: "),
    ],
)
def test_invalid_requests_fail_clearly_without_a_commit(
    remote: Remote, args: list[str], code: int, message: str
) -> None:
    clone = remote.clone()
    options = {"--app": "web-api", "--env": "dev", "--tag": "1.2.3"}
    flags = []
    rest = list(args)
    while rest:
        item = rest.pop(0)
        if item in options:
            options[item] = rest.pop(0)
        else:
            flags.append(item)
            if item == "--remote":
                flags.append(rest.pop(0))
    before = refs(clone)

    exit_code, out, err = run_cli(
        "bump", *[part for pair in options.items() for part in pair], *flags, "--repo", str(clone)
    )

    assert exit_code == code, (out, err)
    assert message in err
    assert "Traceback" not in err + out
    assert refs(clone) == before
    assert git(clone, "status", "--porcelain") == ""


def test_unknown_app_lists_the_apps_there(remote: Remote) -> None:
    code, _, err = run_cli(
        "bump", "--app", "nope", "--env", "dev", "--tag", "1.0.0", "--repo", str(remote.clone())
    )
    assert code == 1
    assert "(apps there: cache, lab, static, web-api)" in err


def test_dirty_working_tree_is_refused(remote: Remote) -> None:
    clone = remote.clone()
    (clone / "apps/web-api/app.yaml").write_text(
        (clone / "apps/web-api/app.yaml").read_text() + "# local edit\n"
    )
    before = refs(clone)

    code, _, err = run_cli(
        "bump", "--app", "web-api", "--env", "dev", "--tag", "1.0.1", "--repo", str(clone)
    )

    assert code == 3
    assert "uncommitted changes (apps/web-api/app.yaml)" in err
    assert refs(clone) == before
    assert (clone / WEB_DEV).read_text() == web_api_overlay("1.0.0")


def test_missing_branch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = tmp_path / "only-dev"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=dev")
    remote = make_remote(tmp_path)
    git(repo, "pull", "--quiet", str(remote.bare), "dev")
    before = refs(repo)

    code, _, err = run_cli(
        "bump", "--app", "web-api", "--env", "prod", "--tag", "1.0.1", "--repo", str(repo)
    )

    assert code == 3
    assert "branch 'prod' does not exist" in err
    assert refs(repo) == before


def test_not_a_git_working_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, err = run_cli(
        "bump", "--app", "web-api", "--env", "dev", "--tag", "1.0.1", "--repo", str(plain)
    )
    assert code == 3
    assert "is not a git working copy (--repo)" in err


def test_local_commits_are_not_pushed_along(remote: Remote) -> None:
    clone = remote.clone()
    (clone / "NOTES.md").write_text("local work\n")
    git(clone, "add", "NOTES.md")
    git(clone, "commit", "--quiet", "-m", "local work")
    before = refs(clone)

    code, _, err = run_cli(
        "bump", "--app", "web-api", "--env", "dev", "--tag", "1.0.1", "--repo", str(clone), "--push"
    )

    assert code == 3
    assert "has 1 commit(s) that are not on origin/dev" in err
    assert refs(clone) == before
    assert remote.log("dev") == ["catalog"]


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        (
            WEB_DEV,
            web_api_overlay("1.0.0").replace("example-org/web-api", "example-org/other"),
            "images has no entry with name: ghcr.io/example-org/web-api (names there: "
            "ghcr.io/example-org/log-shipper, ghcr.io/example-org/other)",
        ),
        (
            WEB_DEV,
            web_api_overlay("1.0.0").replace(
                '      newTag: "1.0.0"  # set by platformctl bump\n', ""
            ),
            "has no newTag",
        ),
        (
            WEB_DEV,
            web_api_overlay("1.0.0").replace(
                '      newTag: "1.0.0"', '      digest: sha256:abc\n      newTag: "1.0.0"'
            ),
            "has its own digest field, which the handoff would leave behind",
        ),
        (
            CACHE_DEV,
            cache_values("7.4.1").replace("  tag: '7.4.1'", "  version: '7.4.1'"),
            "apps/cache/values/dev.yaml: image.tag is not set",
        ),
        (
            CACHE_DEV,
            "image: &img\n  tag: '1'\nsidecar: *img\n",
            "image.tag (line 2) is shared through a YAML anchor",
        ),
        (CACHE_DEV, "image:\n  tag: |\n    1.0\n", "is a block scalar"),
        (CACHE_DEV, "image:\n  tag:\n", "has no value"),
        (CACHE_DEV, "image: [unclosed\n", "apps/cache/values/dev.yaml: (file): invalid YAML"),
        (STATIC, "kind: Deployment\nspec: {}\n", "uses image ghcr.io/example-org/static:<tag>"),
        ("apps/web-api/app.yaml", "team: web\n", "apps/web-api/app.yaml: "),
    ],
)
def test_files_that_do_not_hold_one_tag_are_refused(
    remote: Remote, path: str, text: str, message: str
) -> None:
    clone = remote.clone()
    (clone / path).write_text(text)
    git(clone, "commit", "--quiet", "-am", "break it")
    before = refs(clone)
    app = path.split("/")[1]

    code, _, err = run_cli(
        "bump", "--app", app, "--env", "dev", "--tag", "9.9.9", "--repo", str(clone)
    )

    assert code == 1, err
    assert message in err
    assert "Traceback" not in err
    assert refs(clone) == before


# --- pushing -------------------------------------------------------------------------------------


def test_push_lands_on_the_remote(remote: Remote) -> None:
    clone = remote.clone()
    result = run_bump(clone, "web-api", "dev", "1.5.0", push=True)
    assert result.pushed and result.attempts == 1
    assert remote.rev("dev") == result.commit
    assert remote.read("dev", WEB_DEV).decode() == web_api_overlay("1.5.0")
    assert remote.read("prod", "apps/web-api/overlays/prod/kustomization.yaml").decode() == (
        web_api_overlay("0.9.0")
    )


def push_first(monkeypatch: pytest.MonkeyPatch, other: Path) -> None:
    """Make the branch move between the bump's fetch and its first push: just before that push,
    ``other`` (a clone holding an unpushed bump commit) pushes its dev branch."""
    original = Git.push
    calls: list[str] = []

    def push(self: Git, remote: str, local: str, branch: str) -> GitResult:
        if not calls:
            git(other, "push", "--quiet", "origin", "dev")
        calls.append(branch)
        return original(self, remote, local, branch)

    monkeypatch.setattr(Git, "push", push)


def test_push_after_the_branch_moved_rebases_onto_it(
    remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = remote.clone("other")
    first = run_bump(other, "cache", "dev", "7.5.0")  # committed, not pushed yet
    push_first(monkeypatch, other)

    second = run_bump(remote.clone("mine"), "web-api", "dev", "2.0.0", push=True)

    # The first push was refused (the branch moved); the commit was rebased and landed.
    assert second.pushed and second.attempts == 2
    assert second.old_tag == "1.0.0"
    assert git(remote.bare, "rev-parse", "dev~1").strip() == first.commit
    assert remote.read("dev", CACHE_DEV).decode() == cache_values("7.5.0")
    assert remote.read("dev", WEB_DEV).decode() == web_api_overlay("2.0.0")
    assert numstat(remote.bare, "dev") == [f"1\t1\t{WEB_DEV}"]


def test_conflicting_bump_of_the_same_line_is_redone_and_the_last_push_wins(
    remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = remote.clone("other")
    run_bump(other, "web-api", "dev", "2.0.0")
    push_first(monkeypatch, other)

    result = run_bump(remote.clone("mine"), "web-api", "dev", "3.0.0", push=True)

    assert result.pushed and result.attempts == 2
    assert result.old_tag == "2.0.0"  # redone on top of the other bump, not rebased
    assert remote.log("dev") == [
        "deploy(dev): web-api 3.0.0",
        "deploy(dev): web-api 2.0.0",
        "catalog",
    ]
    assert remote.read("dev", WEB_DEV).decode() == web_api_overlay("3.0.0")
    assert changed_lines(remote.bare, "dev") == [
        (
            '      newTag: "2.0.0"  # set by platformctl bump',
            '      newTag: "3.0.0"  # set by platformctl bump',
        ),
    ]


def test_bump_that_another_pipeline_already_made_is_not_duplicated(
    remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = remote.clone("other")
    run_bump(other, "web-api", "dev", "2.0.0", message="other pipeline: web-api 2.0.0")
    push_first(monkeypatch, other)

    result = run_bump(remote.clone("mine"), "web-api", "dev", "2.0.0", push=True)

    assert not result.changed and not result.pushed
    assert "already at 2.0.0" in result.summary()
    assert remote.log("dev") == ["other pipeline: web-api 2.0.0", "catalog"]


def refusing_hook(remote: Remote, words: str = "refused by policy") -> Path:
    """A ``pre-receive`` hook that refuses every push and counts the attempts."""
    counter = remote.tmp / "pushes"
    counter.write_text("")
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho x >> '{counter}'\necho '{words}' >&2\nexit 1\n")
    hook.chmod(0o755)
    return counter


def local_state(repo: Path) -> tuple[str, str, str, str, bytes]:
    """Everything a failed bump must leave alone: local branches and tags, HEAD, the index,
    the working tree's status (remote-tracking refs are the remote's news, not local work)."""
    heads = git(
        repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags"
    )
    head = git(repo, "rev-parse", "--symbolic-full-name", "HEAD", "HEAD")
    index = git(repo, "ls-files", "--stage")
    status = git(repo, "status", "--porcelain", "--untracked-files=all")
    return heads, head, index, status, (repo / WEB_DEV).read_bytes()


@pytest.mark.parametrize("words", ["temporarily unavailable", "You may not push to dev"])
def test_a_refused_push_is_not_retried_and_leaves_the_clone_as_it_was(
    remote: Remote, words: str
) -> None:
    clone = remote.clone()
    git(clone, "checkout", "--quiet", "-b", "feature")  # HEAD on another branch
    counter = refusing_hook(remote, words)
    before, remote_before = local_state(clone), remote.rev("dev")

    with pytest.raises(GitError) as caught:
        bump(
            BumpRequest(app="web-api", env="dev", tag="4.0.0", repo=clone, push=True),
            attempts=5,
            backoff=FAST,
        )

    assert caught.value.exit_code == 3
    assert "was refused after 1 attempt(s)" in str(caught.value)
    assert words in str(caught.value)
    assert len(counter.read_text().splitlines()) == 1  # one push, no retry of a refusal
    assert local_state(clone) == before
    assert git(clone, "branch", "--list").split() == ["dev", "*", "feature"]
    assert remote.rev("dev") == remote_before


def test_the_checked_out_branch_is_untouched_by_a_refused_push(remote: Remote) -> None:
    clone = remote.clone()  # on dev, the branch the bump targets
    refusing_hook(remote)
    before = local_state(clone)

    code, out, err = run_cli(
        "bump", "--app", "web-api", "--env", "dev", "--tag", "4.0.0", "--repo", str(clone), "--push"
    )

    assert code == 3, (out, err)
    assert err.startswith("error: push of web-api dev 4.0.0 to origin/dev was refused")
    assert "Traceback" not in out + err
    assert local_state(clone) == before


def test_a_lock_on_the_remote_is_retried_until_it_is_gone(remote: Remote) -> None:
    clone = remote.clone()
    lock = remote.bare / "refs" / "heads" / "dev.lock"
    lock.write_text("")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            lock.unlink()  # the other push that held the lock is done

    result = bump(
        BumpRequest(app="web-api", env="dev", tag="4.1.0", repo=clone, push=True),
        backoff=Backoff(base=0.001, cap=0.01, sleep=sleep),
    )

    assert result.pushed and result.attempts == 3
    assert remote.read("dev", WEB_DEV).decode() == web_api_overlay("4.1.0")
    assert git(clone, "rev-parse", "dev").strip() == result.commit  # local branch follows


def test_a_lock_that_stays_gives_up_after_the_attempts(remote: Remote) -> None:
    clone = remote.clone()
    (remote.bare / "refs" / "heads" / "dev.lock").write_text("")
    before = local_state(clone)

    with pytest.raises(GitError) as caught:
        bump(
            BumpRequest(app="web-api", env="dev", tag="4.2.0", repo=clone, push=True),
            attempts=3,
            backoff=FAST,
        )

    assert "still failed after 3 attempt(s)" in str(caught.value)
    assert local_state(clone) == before


def test_a_detached_head_is_refused(remote: Remote) -> None:
    clone = remote.clone()
    git(clone, "checkout", "--quiet", "--detach")
    (clone / "notes.txt").write_text("work in progress\n")
    git(clone, "add", "notes.txt")
    git(clone, "commit", "--quiet", "-m", "a commit only HEAD holds")
    before = local_state(clone)

    code, out, err = run_cli(
        "bump", "--app", "web-api", "--env", "dev", "--tag", "5.0.0", "--repo", str(clone)
    )

    assert code == 3, (out, err)
    assert "HEAD of" in err and "is detached" in err and "check out a branch" in err
    assert local_state(clone) == before


def test_local_commits_the_push_would_leave_behind_are_refused(remote: Remote) -> None:
    clone = remote.clone()
    (clone / "notes.txt").write_text("not pushed\n")
    git(clone, "add", "notes.txt")
    git(clone, "commit", "--quiet", "-m", "local work")
    before = local_state(clone)

    with pytest.raises(GitError, match="1 commit\\(s\\) that are not on origin/dev"):
        run_bump(clone, "web-api", "dev", "5.1.0", push=True)

    assert local_state(clone) == before


# --- twenty pipelines at once --------------------------------------------------------------------

PIPELINES = 20


def _race(clones: list[Path], jobs: list[tuple[str, str]]) -> list[BumpResult]:
    """Run one bump per clone, all released at the same moment, each with --push."""
    start = threading.Barrier(len(clones))

    def pipeline(index: int) -> BumpResult:
        app, tag = jobs[index]
        start.wait()
        backoff = Backoff(base=0.01, cap=0.3, rng=random.Random(index))
        return bump(
            BumpRequest(app=app, env="dev", tag=tag, repo=clones[index], push=True),
            backoff=backoff,
        )

    with ThreadPoolExecutor(max_workers=len(clones)) as pool:
        return list(pool.map(pipeline, range(len(clones))))


def test_twenty_pipelines_bumping_the_same_app_all_land(remote: Remote) -> None:
    clones = [remote.clone(f"p{i:02d}") for i in range(PIPELINES)]
    tags = [f"3.{i}.0" for i in range(PIPELINES)]

    results = _race(clones, [("web-api", tag) for tag in tags])

    assert all(r.changed and r.pushed for r in results), [r for r in results if not r.pushed]
    subjects = remote.log("dev")
    # Every bump is one commit in the remote history, none lost, none duplicated.
    assert sorted(subjects[:-1]) == sorted(f"deploy(dev): web-api {tag}" for tag in tags)
    assert subjects[-1] == "catalog"
    assert {r.commit for r in results} <= set(git(remote.bare, "rev-list", "dev").split())
    # Deterministic end state: the tag of the last commit (the last push) wins.
    last_tag = subjects[0].rsplit(" ", 1)[1]
    assert remote.read("dev", WEB_DEV).decode() == web_api_overlay(last_tag)
    # Every commit of the race changed exactly the one line.
    for rev in git(remote.bare, "rev-list", "dev", f"^dev~{PIPELINES}").split():
        assert numstat(remote.bare, rev) == [f"1\t1\t{WEB_DEV}"]
    assert max(r.attempts for r in results) <= PIPELINES


def test_twenty_pipelines_bumping_different_apps_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    names = [f"svc-{i:02d}" for i in range(PIPELINES)]
    extra: dict[str, str] = {}
    for name in names:
        extra.update(service_app_files(name))
    remote = make_remote(tmp_path, extra)
    clones = [remote.clone(f"p{i:02d}") for i in range(PIPELINES)]

    results = _race(clones, [(name, f"2.{i}.0") for i, name in enumerate(names)])

    assert all(r.changed and r.pushed for r in results), [r for r in results if not r.pushed]
    subjects = remote.log("dev")
    assert len(subjects) == PIPELINES + 1
    assert sorted(subjects[:-1]) == sorted(
        f"deploy(dev): {name} 2.{i}.0" for i, name in enumerate(names)
    )
    for i, name in enumerate(names):
        overlay = remote.read("dev", f"apps/{name}/overlays/dev/kustomization.yaml").decode()
        assert f"    newTag: 2.{i}.0\n" in overlay
    # prod was never touched.
    assert remote.log("prod") == ["catalog"]
