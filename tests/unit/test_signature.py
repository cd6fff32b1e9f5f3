"""The signature check of ``platformctl promote`` (infra/delivery/signature.py): the cosign
argv built from the admission settings and the reading of cosign's exit status and stderr
(pure), then the real thing: ``crane registry serve`` on 127.0.0.1, images pushed with
``crane append``, signed with ``cosign sign --key`` (no transparency log), verified by the
real ``cosign verify`` and promoted (or refused) through real git repositories.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.catalog.image_ref import Version
from infra.delivery.bump import BumpRequest, bump
from infra.delivery.signature import (
    SignatureError,
    check_signature,
    classify,
    cosign_error,
    identity_regexp,
    key_fingerprint,
    parse_triangulated,
    resolve_argv,
    signer_label,
    trusted_registry,
    verified_digests,
    verify_argv,
)
from infra.settings import AdmissionSettings
from tests.signing import Registry, key_pair, require_tool
from tests.support import PROD_ADMISSION
from tests.unit.factories import ec_pem, run_cli
from tests.unit.gitrepo import Remote, git, isolate_git, make_remote, refs, stack_file

PEM = ec_pem()


def admission(**changes: Any) -> AdmissionSettings:
    data: dict[str, Any] = {
        "enabled": True,
        "trustedRegistries": ["127.0.0.1:5000/example-org", "ghcr.io/example-org"],
        "signer": {"publicKey": PEM, "transparencyLog": False},
    }
    data.update(changes)
    return AdmissionSettings.model_validate(data)


KEYLESS = AdmissionSettings.model_validate(PROD_ADMISSION)
DIGEST = "sha256:" + "ab" * 32


# --- pure: the argv -----------------------------------------------------------------------------


def test_key_signer_offline_on_a_loopback_registry() -> None:
    argv = verify_argv("cosign", "127.0.0.1:5000/example-org/app", DIGEST, admission(), "/k.pub")
    assert argv == [
        "cosign",
        "verify",
        "--key",
        "/k.pub",
        "--insecure-ignore-tlog",
        "--allow-insecure-registry",
        f"127.0.0.1:5000/example-org/app@{DIGEST}",
    ]


def test_a_remote_registry_never_gets_the_insecure_flag() -> None:
    # Same stack (one loopback registry trusted too), an image on ghcr.io: no insecure flag.
    argv = verify_argv("cosign", "ghcr.io/example-org/app", DIGEST, admission(), "/k.pub")
    assert "--allow-insecure-registry" not in argv
    assert argv[-1] == f"ghcr.io/example-org/app@{DIGEST}"
    # The transparency log is required unless the settings say transparencyLog: false.
    strict = admission(signer={"publicKey": PEM})
    argv = verify_argv("cosign", "ghcr.io/example-org/app", DIGEST, strict, "/k.pub")
    assert argv == ["cosign", "verify", "--key", "/k.pub", f"ghcr.io/example-org/app@{DIGEST}"]


def test_keyless_signer() -> None:
    argv = verify_argv("/bin/cosign", "ghcr.io/example-org/app", DIGEST, KEYLESS, None)
    assert argv == [
        "/bin/cosign",
        "verify",
        "--certificate-oidc-issuer",
        "https://token.actions.githubusercontent.com",
        "--certificate-identity-regexp",
        identity_regexp("https://github.com/example-org/gitops-platform/.github/workflows/*"),
        f"ghcr.io/example-org/app@{DIGEST}",
    ]


def test_resolve_argv() -> None:
    assert resolve_argv("cosign", "127.0.0.1:5000/example-org/app", "1.0", admission()) == [
        "cosign",
        "triangulate",
        "--allow-insecure-registry",
        "127.0.0.1:5000/example-org/app:1.0",
    ]
    assert resolve_argv("cosign", "ghcr.io/example-org/app", "1.0", admission()) == [
        "cosign",
        "triangulate",
        "ghcr.io/example-org/app:1.0",
    ]


@pytest.mark.parametrize(
    ("subject", "matches", "differs"),
    [
        (
            "https://github.com/example-org/gitops-platform/.github/workflows/app-delivery.yml@*",
            [
                "https://github.com/example-org/gitops-platform/.github/workflows/"
                "app-delivery.yml@refs/heads/prod",
                "https://github.com/example-org/gitops-platform/.github/workflows/"
                "app-delivery.yml@",
            ],
            [
                # Anchored: nothing before, and '.' is a dot, not "any character".
                "xhttps://github.com/example-org/gitops-platform/.github/workflows/"
                "app-delivery.yml@refs/heads/prod",
                "https://github.com/example-org/gitops-platform/.github/workflows/"
                "app-deliveryXyml@refs/heads/prod",
                "https://github.com/example-org/gitops-platform-fork/.github/workflows/"
                "app-delivery.yml@refs/heads/prod",
            ],
        ),
        ("ci-?@example.com", ["ci-1@example.com"], ["ci-12@example.com", "ci-@example.com"]),
        ("a+b (c)[d]{2}|$^\\", ["a+b (c)[d]{2}|$^\\"], ["aab (c)[d]{2}|$^\\", "a+b cd"]),
    ],
)
def test_identity_regexp_is_the_kyverno_wildcard_anchored(
    subject: str, matches: list[str], differs: list[str]
) -> None:
    # Python's re reads this subset (escaped ASCII punctuation, '.', '.*', anchors) as RE2 does.
    pattern = re.compile(identity_regexp(subject))
    for text in matches:
        assert pattern.search(text), text
    for text in differs:
        assert not pattern.search(text), text


def test_trusted_registries_are_prefixes_of_whole_path_segments() -> None:
    registries = ["127.0.0.1:5000/example-org", "ghcr.io/example-org"]
    assert trusted_registry("ghcr.io/example-org/app", registries) == "ghcr.io/example-org"
    assert trusted_registry("ghcr.io/example-org/team/app", registries) == "ghcr.io/example-org"
    assert trusted_registry("ghcr.io/example-organisation/app", registries) is None
    assert trusted_registry("ghcr.io/example-org", registries) is None  # Kyverno: prefix/*
    assert trusted_registry("127.0.0.1:5001/example-org/app", registries) is None


def test_signer_label_names_the_key_fingerprint_or_the_identity() -> None:
    key = admission().signer
    assert key is not None
    assert signer_label(key) == (
        f"public key {key_fingerprint(PEM)[:23]} (admission.signer.publicKey)"
    )
    # The fingerprint is of the key, not of its PEM text.
    assert key_fingerprint("\n" + PEM + "\n\n") == key_fingerprint(PEM)
    assert KEYLESS.signer is not None
    assert signer_label(KEYLESS.signer).startswith(
        "keyless signer https://github.com/example-org/gitops-platform/"
    )


# --- pure: what cosign's exit status and stderr mean (texts cosign v2.6.5 printed here) -------

TUF_WARNING = (
    "WARNING: Could not fetch trusted_root.json from the TUF repository. Continuing with "
    "individual targets. Error from TUF: error getting live trusted root: failed to create TUF "
    'client failed to load metadata: tuf refresh failed: Get "https://tuf-repo-cdn.sigstore.dev'
    '/14.root.json": dial tcp: lookup tuf-repo-cdn.sigstore.dev on 10.255.255.53:53: no such host'
)
REFUSED = (
    'Error: Get "https://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection '
    'refused; Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection '
    "refused\nerror during command execution: ..."
)
NO_HOST = (
    'Error: Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid on '
    "10.255.255.53:53: no such host"
)
REKOR = (
    "Error: getting Rekor public keys: updating local metadata and targets: error updating to "
    'TUF remote mirror: tuf: failed to download 13.root.json: Get "https://tuf-repo-cdn.sigstore'
    '.dev/13.root.json": dial tcp: lookup tuf-repo-cdn.sigstore.dev on 10.255.255.53:53: no such '
    "host"
)


@pytest.mark.parametrize(
    ("code", "stderr", "registry", "outcome"),
    [
        (0, TUF_WARNING, "127.0.0.1:5055", "verified"),
        (10, f"{TUF_WARNING}\nError: no signatures found", "127.0.0.1:5055", "unsigned"),
        (
            12,
            f"{TUF_WARNING}\nError: no matching signatures: invalid signature when validating "
            "ASN.1 encoded signature",
            "127.0.0.1:5055",
            "mismatch",
        ),
        (11, "Error: image tag not found: ... MANIFEST_UNKNOWN", "127.0.0.1:5055", "missing"),
        (
            1,
            "Error: GET http://127.0.0.1:5055/v2/a/manifests/3.0: MANIFEST_UNKNOWN",
            "x",
            "missing",
        ),
        (1, f"{TUF_WARNING}\n{REFUSED}", "127.0.0.1:5999", "unreachable"),
        (1, NO_HOST, "registry.invalid", "unreachable"),
        # A network failure, but of another host (the Sigstore TUF root): not the registry.
        (1, f"{TUF_WARNING}\n{REKOR}", "127.0.0.1:5055", "error"),
        # The TUF warning alone does not make a failure "unreachable".
        (1, f"{TUF_WARNING}\nError: UNAUTHORIZED: authentication required", "ghcr.io", "error"),
        # Another registry's host named in the error (a port that differs) is not this one.
        (1, REFUSED, "127.0.0.1:59", "error"),
    ],
)
def test_classify(code: int, stderr: str, registry: str, outcome: str) -> None:
    assert classify(code, stderr, registry) == outcome


def test_cosign_error_is_the_last_error_line_not_a_warning() -> None:
    assert cosign_error(f"{TUF_WARNING}\nError: no signatures found\nerror during ...") == (
        "no signatures found"
    )
    assert cosign_error(TUF_WARNING) == "(no message)"


def test_the_outputs_cosign_prints_are_read() -> None:
    hexdigits = "ab" * 32
    assert parse_triangulated(f"127.0.0.1:5055/example-org/app:sha256-{hexdigits}.sig\n") == (
        f"sha256:{hexdigits}"
    )
    assert parse_triangulated("something else") is None
    payload = (
        '[{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":'
        f'"{DIGEST}"}},"type":"cosign container image signature"}},"optional":null}}]'
    )
    assert verified_digests(f"\n{payload}\n") == {DIGEST}
    assert verified_digests("not json") is None


# --- the real tools -----------------------------------------------------------------------------


@dataclass
class Signed:
    """A loopback registry holding example-org/app in several states, and two keys."""

    registry: Registry
    cosign: str
    key: Path
    pem: str
    other_key: Path
    other_pem: str
    digests: dict[str, str]

    @property
    def repository(self) -> str:
        return f"{self.registry.host}/example-org/app"

    def settings(self, **signer: Any) -> AdmissionSettings:
        return AdmissionSettings.model_validate(
            {
                "enabled": True,
                "trustedRegistries": [f"{self.registry.host}/example-org"],
                "signer": {"publicKey": self.pem, "transparencyLog": False, **signer},
            }
        )


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    cosign = require_tool("cosign")
    crane = require_tool("crane")
    work = tmp_path_factory.mktemp("signing")
    registry = Registry(crane, cosign, work).start()
    try:
        key, pem = key_pair(cosign, work / "key")
        other_key, other_pem = key_pair(cosign, work / "other-key")
        digests = {
            "1.0": registry.push("example-org/app:1.0", b"signed\n"),
            "2.0": registry.push("example-org/app:2.0", b"never signed\n"),
            "3.0": registry.push("example-org/app:3.0", b"signed by another key\n"),
            "moved-from": registry.push("example-org/app:4.0", b"signed, then the tag moved\n"),
        }
        registry.sign(key, "example-org/app", digests["1.0"])
        registry.sign(other_key, "example-org/app", digests["3.0"])
        registry.sign(key, "example-org/app", digests["moved-from"])
        digests["4.0"] = registry.push("example-org/app:4.0", b"unsigned content under 4.0\n")
        assert digests["4.0"] != digests["moved-from"]
        yield Signed(registry, cosign, key, pem, other_key, other_pem, digests)
    finally:
        registry.stop()


def check(signed: Signed, version: Version, **settings: Any) -> Any:
    return check_signature(
        signed.repository,
        version,
        signed.settings(**settings),
        where="stack prod (Pulumi.prod.yaml)",
        cosign=signed.cosign,
        timeout=30,
    )


def test_a_signed_tag_is_verified_by_its_digest(signed: Signed) -> None:
    result = check(signed, Version("1.0"))
    assert (result.status, result.digest) == ("verified", signed.digests["1.0"])
    assert result.warning is None


def test_a_recorded_digest_is_verified(signed: Signed) -> None:
    result = check(signed, Version("1.0", signed.digests["1.0"]))
    assert (result.status, result.digest) == ("verified", signed.digests["1.0"])


@pytest.mark.parametrize(
    ("version", "digest", "why"),
    [
        ("2.0", "2.0", "has no signature"),
        ("3.0", "3.0", "has no signature that verifies"),
        # The tag moved to unsigned content: what it names now is checked.
        ("4.0", "4.0", "has no signature"),
    ],
)
def test_unsigned_or_signed_by_another_key_is_refused(
    signed: Signed, version: str, digest: str, why: str
) -> None:
    with pytest.raises(SignatureError) as raised:
        check(signed, Version(version))
    message = str(raised.value)
    assert f"refused: {signed.repository}:{version} (digest {signed.digests[digest]})" in message
    assert why in message
    assert f"public key {key_fingerprint(signed.pem)[:23]}" in message  # the signer
    assert "nothing was changed" in message


def test_a_recorded_digest_wins_over_a_moved_tag(signed: Signed) -> None:
    # 4.0 now names unsigned content, but the catalog pins the signed digest: that is what runs.
    result = check(signed, Version("4.0", signed.digests["moved-from"]))
    assert (result.status, result.digest) == ("verified", signed.digests["moved-from"])
    with pytest.raises(SignatureError, match="has no signature"):
        check(signed, Version("1.0", signed.digests["2.0"]))


def test_the_other_key_verifies_only_its_own_image(signed: Signed) -> None:
    result = check(signed, Version("3.0"), publicKey=signed.other_pem)
    assert result.status == "verified"
    with pytest.raises(SignatureError, match="has no signature that verifies"):
        check(signed, Version("1.0"), publicKey=signed.other_pem)


def test_a_missing_tag_is_refused(signed: Signed) -> None:
    with pytest.raises(SignatureError, match=r"app:9\.9 does not exist in its registry"):
        check(signed, Version("9.9"))


def test_an_untrusted_registry_is_refused_before_cosign(signed: Signed) -> None:
    with pytest.raises(SignatureError, match="is not under a trusted registry"):
        check_signature(
            f"{signed.registry.host}/other-org/app",
            Version("1.0"),
            signed.settings(),
            where="stack prod",
            cosign="/nonexistent/cosign",
        )


def test_transparency_log_required_but_not_reachable_is_refused_not_skipped(
    signed: Signed,
) -> None:
    # transparencyLog: true and a signature without a Rekor entry: whether Sigstore answers
    # (no entry) or not (this machine), the registry is reachable, so this is refused.
    with pytest.raises(
        SignatureError, match=r"refused: .* (could not be verified|has no signature that verifies)"
    ):
        check(signed, Version("1.0"), transparencyLog=True)


def test_a_stopped_registry_is_unreachable_not_unsigned(signed: Signed, tmp_path: Path) -> None:
    registry = Registry(signed.registry.crane, signed.cosign, tmp_path).start()
    digest = registry.push("example-org/app:1.0", b"signed, registry stopped later\n")
    registry.sign(signed.key, "example-org/app", digest)
    registry.stop()
    settings = AdmissionSettings.model_validate(
        {
            "enabled": True,
            "trustedRegistries": [f"{registry.host}/example-org"],
            "signer": {"publicKey": signed.pem, "transparencyLog": False},
        }
    )
    for version in (Version("1.0"), Version("1.0", digest)):
        result = check_signature(
            f"{registry.host}/example-org/app",
            version,
            settings,
            where="stack prod",
            cosign=signed.cosign,
            timeout=30,
        )
        assert result.status == "unreachable"
        assert "connection refused" in result.detail
        assert result.warning is not None and "NOT checked" in result.warning
        assert "admission in the cluster still checks it" in result.warning


def test_a_registry_name_that_does_not_resolve_is_unreachable(signed: Signed) -> None:
    settings = AdmissionSettings.model_validate(
        {
            "enabled": True,
            "trustedRegistries": ["registry.invalid/example-org"],  # RFC 6761: never resolves
            "signer": {"publicKey": signed.pem, "transparencyLog": False},
        }
    )
    result = check_signature(
        "registry.invalid/example-org/app",
        Version("1.0", DIGEST),
        settings,
        where="stack prod",
        cosign=signed.cosign,
        timeout=30,
    )
    assert result.status == "unreachable", result
    assert "registry.invalid" in result.detail


# --- promote, end to end: git + registry + cosign ---------------------------------------------

APP = "signed-app"
PROD_OVERLAY = f"apps/{APP}/overlays/prod/kustomization.yaml"


def signed_catalog(signed: Signed, repository: str | None = None) -> dict[str, str]:
    repository = repository or signed.repository
    key = [f"        {line}" for line in signed.pem.strip().splitlines()]
    prod = stack_file(
        "prod",
        admission=(
            "    enabled: true",
            "    trustedRegistries:",
            f"      - {signed.registry.host}/example-org",
            "    signer:",
            "      transparencyLog: false",
            "      publicKey: |",
            *key,
        ),
    )
    overlay = (
        "resources:\n  - ../../base\nimages:\n"
        f'  - name: {repository}\n    newTag: "0.1"  # the handoff\'s line\n'
    )
    return {
        "Pulumi.prod.yaml": prod,
        f"apps/{APP}/app.yaml": (
            f"team: web\nnamespace: signed\nimage:\n  repository: {repository}\n"
            "source:\n  type: kustomize\nenvironments:\n  dev: {}\n  prod: {}\n"
        ),
        f"apps/{APP}/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        f"apps/{APP}/base/deployment.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: signed-app\nspec:\n"
            "  template:\n    spec:\n      containers:\n        - name: app\n"
            f"          image: {repository}\n"
        ),
        f"apps/{APP}/overlays/dev/kustomization.yaml": overlay,
        f"apps/{APP}/overlays/prod/kustomization.yaml": overlay,
    }


@pytest.fixture
def remote(signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Remote:
    isolate_git(monkeypatch, tmp_path)
    monkeypatch.setenv("PATH", f"{Path(signed.cosign).parent}:{os.environ['PATH']}")
    return make_remote(tmp_path, signed_catalog(signed))


def ship_dev(remote: Remote, tag: str, digest: str | None = None) -> Path:
    clone = remote.clone()
    bump(BumpRequest(app=APP, env=None, stack="dev", tag=tag, digest=digest, repo=clone, push=True))
    return clone


def test_promote_a_signed_digest(signed: Signed, remote: Remote) -> None:
    digest = signed.digests["1.0"]
    clone = ship_dev(remote, "1.0", digest)

    code, out, err = run_cli("promote", "--app", APP, "--repo", str(clone), "--push")

    assert code == 0, err
    assert err == ""  # verified: no warning
    assert f"0.1 -> 1.0@{digest}" in out
    assert f"signature of {digest} verified (public key sha256:" in out
    branch = f"promote/{APP}-1.0"
    promoted = remote.read(branch, PROD_OVERLAY).decode()
    assert f'newTag: "1.0@{digest}"  # the handoff\'s line' in promoted
    assert f"Signature of {digest} verified" in git(remote.bare, "log", "-1", "--format=%B", branch)


@pytest.mark.parametrize(
    ("tag", "why"), [("2.0", "has no signature;"), ("3.0", "has no signature that verifies")]
)
def test_promote_refuses_an_image_not_signed_by_the_stack_signer(
    signed: Signed, remote: Remote, tag: str, why: str
) -> None:
    clone = ship_dev(remote, tag)
    git(clone, "fetch", "--quiet")
    before = refs(clone)

    code, out, err = run_cli("promote", "--app", APP, "--repo", str(clone), "--push")

    assert code == 1, (out, err)
    assert f"{signed.repository}:{tag} (digest {signed.digests[tag]}) {why}" in err
    assert "public key sha256:" in err and "nothing was changed" in err
    assert "Traceback" not in out + err
    assert refs(clone) == before
    assert "promote/" not in git(remote.bare, "branch", "--list")


def test_promote_proceeds_with_a_warning_when_the_registry_is_unreachable(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    monkeypatch.setenv("PATH", f"{Path(signed.cosign).parent}:{os.environ['PATH']}")
    registry = Registry(signed.registry.crane, signed.cosign, tmp_path / "registry").start()
    digest = registry.push("example-org/app:1.0", b"signed, then the registry stops\n")
    registry.sign(signed.key, "example-org/app", digest)
    registry.stop()
    stopped = Signed(registry, signed.cosign, signed.key, signed.pem, signed.key, "", {})
    remote = make_remote(tmp_path, signed_catalog(stopped))
    clone = ship_dev(remote, "1.0", digest)

    code, out, err = run_cli("promote", "--app", APP, "--repo", str(clone), "--json")

    assert code == 0, err
    assert err.startswith(f"warning: signature of {registry.host}/example-org/app:1.0@{digest}")
    assert "NOT checked" in err and "connection refused" in err
    assert "admission in the cluster still checks it" in err
    result = json.loads(out)
    assert result["signature"]["status"] == "unreachable"
    assert result["warnings"] and result["changed"] is True


def test_promote_refuses_an_app_outside_the_trusted_registries(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    remote = make_remote(
        tmp_path, signed_catalog(signed, repository=f"{signed.registry.host}/elsewhere/app")
    )
    clone = ship_dev(remote, "1.0")
    before = refs(clone)

    code, _, err = run_cli("promote", "--app", APP, "--repo", str(clone), "--skip-signature-check")

    assert code == 1
    assert f"{signed.registry.host}/elsewhere/app:1.0 is not under a trusted registry" in err
    assert refs(clone) == before
