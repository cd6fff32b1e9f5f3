"""Admission control (issue 11): the ``admission`` settings, and the Kyverno objects built from
them (infra/specs/admission.py)."""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from infra.catalog import Catalog, load_catalog
from infra.errors import ValidationError
from infra.settings import StackSettings, load_stack_file, parse_settings, settings_from_engine
from infra.specs import (
    admission_policies,
    app_namespaces,
    excluded_namespaces,
    kyverno_config_overrides,
)
from infra.specs.admission import (
    ADMISSION_DEBUG_POLICY,
    ADMISSION_POLICY,
    REGISTRY_CRONJOBS_RULE,
    REGISTRY_RULE,
    REGISTRY_WORKLOADS_RULE,
    VERIFY_RULE,
    VERIFY_WORKLOADS_RULE,
    kyverno_configmap,
    kyverno_values,
)
from tests.support import PROD_ADMISSION, REPO, pinned_module, strict_json_schema
from tests.unit.factories import (
    MINIMAL_STACK,
    ec_pem,
    minimal_settings,
    public_pem,
    rsa_pem,
    settings_problems,
)

KEYLESS = PROD_ADMISSION["signer"]


def admission(**fields: Any) -> dict[str, Any]:
    return {**PROD_ADMISSION, **fields}


def settings(env: str = "prod", **fields: Any) -> StackSettings:
    """A minimal stack ``env`` whose admission section is :data:`PROD_ADMISSION` with
    ``fields`` replaced."""
    return minimal_settings(env, admission=admission(**fields))


def problems(values: dict[str, Any], env: str = "prod") -> list[str]:
    return settings_problems({**MINIMAL_STACK, **values}, env)


# -- settings -------------------------------------------------------------------------------


def test_defaults_and_the_real_stack_files() -> None:
    s = parse_settings("dev", MINIMAL_STACK, "Pulumi.dev.yaml")
    assert not s.admission.enabled and s.admission.namespace == "kyverno"
    assert s.admission.chart.version == "3.9.0"
    assert s.admission.chart.repository == "https://kyverno.github.io/kyverno/"
    assert s.admission.trustedRegistries == [] and s.admission.signer is None
    assert "kyverno" not in s.platform_namespaces

    prod = load_stack_file(REPO, "prod")
    assert prod.admission.enabled
    assert prod.admission.trustedRegistries == ["ghcr.io/example-org"]
    assert prod.admission.signer is not None and prod.admission.signer.keyless is not None
    keyless = prod.admission.signer.keyless
    assert keyless.issuer == "https://token.actions.githubusercontent.com"
    # The identity of the reusable workflow that signs (`cosign sign` in app-delivery.yml).
    assert keyless.subject.startswith(
        "https://github.com/example-org/gitops-platform/.github/workflows/app-delivery.yml@"
    )
    workflow = (REPO / ".github/workflows/app-delivery.yml").read_text()
    assert 'cosign sign --yes "$IMAGE@$DIGEST"' in workflow
    assert not load_stack_file(REPO, "dev").admission.enabled


def test_enabled_admission_joins_the_platform_namespaces() -> None:
    engine = {f"gitops-platform:{k}": json.dumps(v) for k, v in MINIMAL_STACK.items()}
    engine["gitops-platform:admission"] = json.dumps(PROD_ADMISSION)
    enabled = settings_from_engine("prod", engine, "Pulumi.prod.yaml")
    assert enabled.admission.enabled and "kyverno" in enabled.platform_namespaces


def test_enabled_needs_registries_and_a_signer() -> None:
    assert sorted(problems({"admission": {"enabled": True}}, env="dev")) == [
        "Pulumi.dev.yaml: gitops-platform:admission.signer: required with `enabled: true`: "
        "publicKey or keyless",
        "Pulumi.dev.yaml: gitops-platform:admission.trustedRegistries: required with "
        "`enabled: true`: at least one",
    ]
    found = problems({"admission": admission(trustedRegistries=[])})
    assert found == [
        "Pulumi.prod.yaml: gitops-platform:admission.trustedRegistries: required with "
        "`enabled: true`: at least one"
    ]
    # Disabled (dev): nothing else is required.
    assert not parse_settings("dev", {**MINIMAL_STACK, "admission": {}}, "x").admission.enabled


@pytest.mark.parametrize("admission_values", [{}, {"enabled": False}])
def test_prod_requires_admission(admission_values: dict[str, Any]) -> None:
    """Every stack deploying prod, whatever its name (environment, not stack name)."""
    values = {**MINIMAL_STACK, "admission": admission_values}
    assert problems(values) == [
        "Pulumi.prod.yaml: gitops-platform:admission.enabled: must be true for a stack "
        "deploying prod: only signed images from trusted registries reach prod "
        "(docs/admission.md)"
    ]
    with pytest.raises(ValidationError, match=r"Pulumi\.prod-eu\.yaml: .*admission\.enabled"):
        parse_settings("prod-eu", {**values, "environment": "prod"}, "Pulumi.prod-eu.yaml")
    assert parse_settings("prod", {**values, "environment": "dev"}, "x").environment == "dev"


@pytest.mark.parametrize(
    "registry",
    [
        "ghcr.io/example-org",
        "127.0.0.1:5000/shop",
        "localhost:5000",
        "docker.io/library",
        "registry.example.com/a/b-c/d_e",
        "quay.io",
    ],
)
def test_good_registry_prefixes(registry: str) -> None:
    assert settings(trustedRegistries=[registry]).admission.trustedRegistries == [registry]


@pytest.mark.parametrize(
    ("registry", "why"),
    [
        ("https://ghcr.io/example-org", "no scheme"),
        ("ghcr.io/example-org/", "no trailing slash"),
        ("ghcr.io/example-org\n", "no trailing newline"),
        (" ghcr.io/example-org", "no leading space"),
        ("user:secret@ghcr.io/example-org", "no credentials"),
        ("token@ghcr.io/example-org", "no user"),
        ("ghcr.io/example-org/*", "no wildcard"),
        ("ghcr.io/*", "no wildcard"),
        ("ghcr.io/example-org/app:1.0", "no tag"),
        ("ghcr.io/Example-Org", "lower case"),
        ("ghcr.io//example-org", "no empty segment"),
        ("", "not empty"),
        ("example-org/app", "names its registry host"),
        ("127.0.0.1:99999/shop", "port in range"),
        ("ghcr.io/{{x}}", "no template"),
    ],
)
def test_bad_registry_prefixes(registry: str, why: str) -> None:
    found = problems({"admission": admission(trustedRegistries=["ghcr.io/ok", registry])})
    assert len(found) == 1, (why, found)
    assert found[0].startswith(
        "Pulumi.prod.yaml: gitops-platform:admission.trustedRegistries[1]: "
    ), (why, found)
    assert "secret" not in found[0]


def test_good_public_keys() -> None:
    for pem in (ec_pem(), rsa_pem(2048), ec_pem().rstrip("\n")):
        signer = settings(signer={"publicKey": pem}).admission.signer
        assert signer is not None and signer.publicKey == pem and signer.keyless is None


@pytest.mark.parametrize(
    ("pem", "expected"),
    [
        (lambda: ec_pem(ec.SECP384R1), "curve secp384r1; expected P-256"),
        (lambda: rsa_pem(1024), "RSA key of 1024 bits; expected at least 2048"),
        (
            lambda: public_pem(ed25519.Ed25519PrivateKey.generate()),
            "must be an ECDSA P-256 or RSA",
        ),
        (lambda: "not a key", "must be one PEM public key"),
        (lambda: ec_pem() + ec_pem(), "must be one PEM public key"),
        (
            lambda: ec_pem().replace(ec_pem().splitlines()[1], "A" * 64),
            "is not a readable PEM public key",
        ),
        (
            lambda: (
                ec.generate_private_key(ec.SECP256R1())
                .private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                .decode()
            ),
            "must be one PEM public key",
        ),
    ],
    ids=["p384", "rsa1024", "ed25519", "garbage", "two-keys", "corrupt", "private-key"],
)
def test_bad_public_keys(pem: Any, expected: str) -> None:
    found = problems({"admission": admission(signer={"publicKey": pem()})})
    assert len(found) == 1, found
    assert found[0].startswith("Pulumi.prod.yaml: gitops-platform:admission.signer.publicKey: ")
    assert expected in found[0], found


@pytest.mark.parametrize(
    ("signer", "field", "expected"),
    [
        ({}, "signer", "set exactly one of publicKey, keyless"),
        (
            {"publicKey": ec_pem(), "keyless": KEYLESS["keyless"]},
            "signer",
            "set exactly one of publicKey, keyless",
        ),
        (
            {"keyless": {"issuer": "http://token.actions.githubusercontent.com", "subject": "x"}},
            "signer.keyless.issuer",
            "",
        ),
        (
            {"keyless": {"issuer": "https://u:p@issuer.example.com", "subject": "x"}},
            "signer.keyless.issuer",
            "must not hold credentials",
        ),
        (
            {"keyless": {"issuer": "https://issuer.example.com", "subject": "{{ .x }}"}},
            "signer.keyless.subject",
            "must not contain '{{'",
        ),
        (
            {"keyless": {"issuer": "https://issuer.example.com", "subject": ""}},
            "signer.keyless.subject",
            "",
        ),
        ({"keyless": {"issuer": "https://issuer.example.com"}}, "signer.keyless.subject", ""),
        ({"cert": "x"}, "signer.cert", "unknown key"),
    ],
    ids=[
        "neither",
        "both",
        "http-issuer",
        "issuer-creds",
        "template",
        "empty-subject",
        "no-subject",
        "unknown",
    ],
)
def test_bad_signers(signer: dict[str, Any], field: str, expected: str) -> None:
    found = problems({"admission": admission(signer=signer)})
    prefix = f"Pulumi.prod.yaml: gitops-platform:admission.{field}: "
    assert any(m.startswith(prefix) and expected in m for m in found), found


def test_keyless_subject_may_hold_wildcards() -> None:
    subject = "https://github.com/example-org/*/.github/workflows/app-delivery.yml@refs/heads/main"
    s = settings(signer={"keyless": {"issuer": KEYLESS["keyless"]["issuer"], "subject": subject}})
    assert s.admission.signer is not None and s.admission.signer.keyless is not None
    assert s.admission.signer.keyless.subject == subject


def test_admission_namespace_is_a_label_and_has_one_owner() -> None:
    assert settings(namespace="policy").platform_namespaces >= {"policy", "argocd"}
    found = problems({"admission": admission(namespace="Kyverno")})
    assert found[0].startswith("Pulumi.prod.yaml: gitops-platform:admission.namespace: ")
    found = problems({"admission": admission(namespace="argocd")})
    assert found == [
        "Pulumi.prod.yaml: gitops-platform:admission.namespace: 'argocd' is already the "
        "namespace of argocd.namespace; give each its own"
    ]
    found = problems({"admission": admission(chart={"version": "3.x"})})
    assert found[0].startswith("Pulumi.prod.yaml: gitops-platform:admission.chart.version: ")


# -- policies -------------------------------------------------------------------------------

KYVERNO = pinned_module("kyverno")
CRD = KYVERNO / "config/crds/kyverno/kyverno.io_clusterpolicies.yaml"


@cache
def catalog() -> Catalog:
    return load_catalog(REPO)


def prod_namespaces() -> list[str]:
    return sorted({a.definition.namespace for a in catalog().enabled_in("prod")})


def policies(s: StackSettings | None = None) -> list[dict[str, Any]]:
    return admission_policies(s or settings(), catalog())


def rules(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in policy["spec"]["rules"]}


def verify(policy: dict[str, Any], rule: str = VERIFY_RULE) -> dict[str, Any]:
    [entry] = rules(policy)[rule]["verifyImages"]
    return entry


POD_CONTROLLERS = ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"]


def test_no_policy_unless_enabled() -> None:
    dev = parse_settings("dev", MINIMAL_STACK, "Pulumi.dev.yaml")
    assert admission_policies(dev, catalog()) == []
    assert policies() != []


def test_app_namespaces_are_the_enabled_apps_of_the_environment() -> None:
    expected = prod_namespaces()
    assert expected and app_namespaces(settings(), catalog()) == expected
    dev = settings("dev")
    assert app_namespaces(dev, catalog()) == sorted(
        {a.definition.namespace for a in catalog().enabled_in("dev")}
    )
    disabled = {a.definition.namespace for a in catalog().apps} - set(expected)
    assert not disabled & set(app_namespaces(settings(), catalog()))


def test_policies_are_scoped_to_the_app_namespaces_and_exclude_the_platform() -> None:
    s = parse_settings(
        "prod",
        {
            **MINIMAL_STACK,
            "rollouts": {"enabled": True},
            "admission": admission(namespace="policy"),
        },
        "Pulumi.prod.yaml",
    )
    excluded = excluded_namespaces(s)
    assert {"kube-system", "argocd", "policy", "argo-rollouts"} <= set(excluded)
    found = policies(s)
    assert [p["metadata"]["name"] for p in found] == [ADMISSION_POLICY, ADMISSION_DEBUG_POLICY]
    workloads = [*POD_CONTROLLERS, "argoproj.io/v1alpha1/Rollout"]
    kinds = {
        VERIFY_RULE: ["Pod"],
        VERIFY_WORKLOADS_RULE: [*workloads, "CronJob"],
        REGISTRY_RULE: ["Pod"],
        REGISTRY_WORKLOADS_RULE: workloads,
        REGISTRY_CRONJOBS_RULE: ["CronJob"],
    }
    assert list(rules(found[0])) == list(kinds)
    assert list(rules(found[1])) == [VERIFY_RULE, REGISTRY_RULE]
    for policy in found:
        assert policy["apiVersion"] == "kyverno.io/v1" and policy["kind"] == "ClusterPolicy"
        assert policy["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "gitops-platform",
            "platform.gitops/environment": "prod",
        }
        # Autogen off: the workload rules are written out (no digest pin, Rollouts included).
        annotations = policy["metadata"]["annotations"]
        assert annotations["pod-policies.kyverno.io/autogen-controllers"] == "none"
        assert policy["spec"]["background"] is False
        assert policy["spec"]["webhookConfiguration"]["failurePolicy"] == "Fail"
        for rule in policy["spec"]["rules"]:
            expected = kinds[rule["name"]] if policy is found[0] else ["Pod/ephemeralcontainers"]
            assert rule["match"] == {
                "any": [{"resources": {"kinds": expected, "namespaces": prod_namespaces()}}]
            }
            assert rule["exclude"] == {"any": [{"resources": {"namespaces": excluded}}]}
            assert not set(prod_namespaces()) & set(excluded)


def test_rollouts_are_matched_only_where_their_crd_is_installed() -> None:
    """Kyverno refuses a policy naming a kind the API server does not serve."""
    [pod, _] = policies(settings())
    for rule in pod["spec"]["rules"]:
        assert "argoproj.io/v1alpha1/Rollout" not in rule["match"]["any"][0]["resources"]["kinds"]
        assert "imageExtractors" not in rule


def test_a_rollouts_images_are_extracted_for_verification() -> None:
    """Kyverno extracts images from Pods and the core controllers only: a Rollout's must be
    named (the real Kyverno admitted an unsigned Rollout otherwise)."""
    s = parse_settings(
        "prod", {**MINIMAL_STACK, "rollouts": {"enabled": True}, "admission": admission()}, "x"
    )
    rule = rules(policies(s)[0])[VERIFY_WORKLOADS_RULE]
    assert rule["imageExtractors"] == {
        "Rollout": [
            {"name": name, "path": f"/spec/template/spec/{name}/*", "value": "image", "key": "name"}
            for name in ("containers", "initContainers", "ephemeralContainers")
        ]
    }
    assert "imageExtractors" not in rules(policies(s)[0])[VERIFY_RULE]


def test_no_app_namespace_means_no_policy() -> None:
    """An empty `namespaces` would match every namespace."""
    assert admission_policies(settings(), Catalog(apps=())) == []


def test_pods_are_pinned_to_their_digest_and_workloads_verified_as_written() -> None:
    """Pods (what runs) are verified by digest and rewritten to it; Deployments, Rollouts...
    are verified as written and left as written: they are Argo CD's desired state from git,
    and a rewritten image would show as drift. No tag-keyed cache anywhere."""
    s = settings(trustedRegistries=["ghcr.io/example-org", "registry.example.com:5000/shop"])
    pod, debug = policies(s)
    for entry in (verify(pod), verify(debug), verify(pod, VERIFY_WORKLOADS_RULE)):
        assert entry["imageReferences"] == [
            "ghcr.io/example-org/*",
            "registry.example.com:5000/shop/*",
        ]
        assert entry["failureAction"] == "Enforce"
        assert entry["useCache"] is False
        assert "imageRegistryCredentials" not in entry
    for entry in (verify(pod), verify(debug)):
        assert entry["mutateDigest"] is True and entry["verifyDigest"] is True
        assert entry["required"] is True
    workload = verify(pod, VERIFY_WORKLOADS_RULE)
    assert workload["mutateDigest"] is False and workload["verifyDigest"] is False
    assert workload["required"] is False


def test_plain_http_only_for_a_loopback_registry() -> None:
    s = settings(trustedRegistries=["ghcr.io/example-org", "127.0.0.1:5000/shop"])
    for policy in policies(s):
        for rule in policy["spec"]["rules"]:
            for entry in rule.get("verifyImages", []):
                assert entry["imageRegistryCredentials"] == {"allowInsecureRegistry": True}


def test_keyless_attestor() -> None:
    [attestor] = verify(policies()[0])["attestors"]
    assert attestor == {
        "count": 1,
        "entries": [
            {
                "keyless": {
                    "issuer": KEYLESS["keyless"]["issuer"],
                    "subject": KEYLESS["keyless"]["subject"],
                    "rekor": {"url": "https://rekor.sigstore.dev"},
                }
            }
        ],
    }


def test_key_attestor_keeps_the_transparency_log_unless_told() -> None:
    s = settings(signer={"publicKey": ec_pem()})
    [attestor] = verify(policies(s)[0])["attestors"]
    assert attestor["entries"] == [{"keys": {"publicKeys": ec_pem()}}]
    offline = settings(signer={"publicKey": ec_pem(), "transparencyLog": False})
    [attestor] = verify(policies(offline)[0])["attestors"]
    assert attestor["entries"] == [
        {
            "keys": {
                "publicKeys": ec_pem(),
                "rekor": {"ignoreTlog": True},
                "ctlog": {"ignoreSCT": True},
            }
        }
    ]


def test_every_container_list_must_be_under_a_trusted_registry() -> None:
    s = settings(trustedRegistries=["ghcr.io/example-org", "127.0.0.1:5000/shop"])
    pod, debug = policies(s)
    allowed = "ghcr.io/example-org/* | 127.0.0.1:5000/shop/*"
    lists = {
        "containers": [{"image": allowed}],
        "=(initContainers)": [{"image": allowed}],
        "=(ephemeralContainers)": [{"image": allowed}],
    }
    rule = rules(pod)[REGISTRY_RULE]["validate"]
    assert rule["failureAction"] == "Enforce"
    assert rule["pattern"] == {"spec": lists}
    # A Rollout with `workloadRef` has no template (the Deployment it names is checked).
    workloads = {"spec": {"=(template)": {"spec": lists}}}
    assert rules(pod)[REGISTRY_WORKLOADS_RULE]["validate"]["pattern"] == workloads
    assert rules(pod)[REGISTRY_CRONJOBS_RULE]["validate"]["pattern"] == {
        "spec": {"jobTemplate": {"spec": {"template": {"spec": lists}}}}
    }
    assert rules(debug)[REGISTRY_RULE]["validate"]["pattern"] == {
        "spec": {"=(ephemeralContainers)": [{"image": allowed}]}
    }


@pytest.mark.parametrize(
    ("image", "admitted"),
    [
        ("ghcr.io/example-org/app:1.0", True),
        ("ghcr.io/example-org/team/app@sha256:" + "a" * 64, True),
        ("127.0.0.1:5000/shop/app:1", True),
        ("nginx:1.25", False),  # docker.io/library/nginx: no host, never a trusted prefix
        ("docker.io/library/nginx:1.25", False),
        ("ghcr.io/example-org-evil/app:1", False),
        ("ghcr.io/example-orgapp:1", False),
        ("evil.io/ghcr.io/example-org/app:1", False),
        ("127.0.0.1:5001/shop/app:1", False),
        ("GHCR.IO/example-org/app:1", False),
    ],
)
def test_registry_pattern_as_kyverno_matches_it(image: str, admitted: bool) -> None:
    """Kyverno splits a pattern on `|`, trims each side and matches it as a wildcard."""
    s = settings(trustedRegistries=["ghcr.io/example-org", "127.0.0.1:5000/shop"])
    pattern = rules(policies(s)[0])[REGISTRY_RULE]["validate"]["pattern"]["spec"]
    alternatives = [a.strip() for a in pattern["containers"][0]["image"].split("|")]
    matched = any(fnmatch.fnmatchcase(image, a) for a in alternatives)
    assert matched is admitted
    refs = verify(policies(s)[0])["imageReferences"]
    assert any(fnmatch.fnmatchcase(image, r) for r in refs) is admitted


@cache
def clusterpolicy_schema() -> dict[str, Any]:
    assert CRD.is_file(), f"{CRD} missing: the pinned Kyverno module is required (make toolchain)"
    crd = yaml.safe_load(CRD.read_text())
    [v1] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert v1["storage"] and v1["served"]
    schema: dict[str, Any] = strict_json_schema(v1["schema"]["openAPIV3Schema"])
    return schema


@pytest.mark.parametrize("rollouts", [True, False])
@pytest.mark.parametrize("signer", ["keyless", "key", "offline-key"])
def test_policies_are_valid_against_kyverno_v1_19_crd(signer: str, rollouts: bool) -> None:
    import jsonschema  # type: ignore[import-untyped]

    signers = {
        "keyless": KEYLESS,
        "key": {"publicKey": ec_pem()},
        "offline-key": {"publicKey": ec_pem(), "transparencyLog": False},
    }
    values = {
        **MINIMAL_STACK,
        "rollouts": {"enabled": rollouts},
        "admission": admission(
            signer=signers[signer], trustedRegistries=["ghcr.io/example-org", "localhost/x"]
        ),
    }
    s = parse_settings("prod", values, "Pulumi.prod.yaml")
    validator = jsonschema.Draft7Validator(clusterpolicy_schema())
    for policy in policies(s):
        errors = [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(policy)
        ]
        assert not errors, errors


def test_schema_check_catches_a_wrong_field() -> None:
    import jsonschema

    policy = policies()[0]
    verify(policy)["useCashe"] = False
    assert list(jsonschema.Draft7Validator(clusterpolicy_schema()).iter_errors(policy))


def test_kyverno_webhooks_skip_the_control_plane() -> None:
    s = parse_settings(
        "prod",
        {**MINIMAL_STACK, "sealedSecrets": {"enabled": True}, "admission": admission()},
        "Pulumi.prod.yaml",
    )
    data = kyverno_config_overrides(s)
    assert set(data) == {"webhooks"} and isinstance(data["webhooks"], str)
    webhooks = json.loads(data["webhooks"])
    assert webhooks == {
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": excluded_namespaces(s),
                }
            ]
        }
    }
    assert {"kube-system", "argocd", "kyverno"} <= set(excluded_namespaces(s))
    assert not set(prod_namespaces()) & set(excluded_namespaces(s))


def test_keyless_needs_the_transparency_log_and_kyverno_a_namespace_of_its_own() -> None:
    keyless_offline = {**KEYLESS, "transparencyLog": False}
    [problem] = problems({"admission": admission(signer=keyless_offline)})
    assert "admission.signer" in problem and "transparencyLog: false needs publicKey" in problem
    for shared in ("kube-system", "default"):
        [problem] = problems({"admission": admission(namespace=shared)})
        assert "admission.namespace" in problem and "namespace of its own" in problem


def test_the_configmap_and_chart_values_carry_the_same_webhook_scope() -> None:
    s = settings()
    cm = kyverno_configmap(s)
    assert cm["metadata"]["name"] == "kyverno" and cm["metadata"]["namespace"] == "kyverno"
    assert cm["data"] == kyverno_config_overrides(s)
    values = kyverno_values(s)
    assert values["config"]["webhooks"] == json.loads(cm["data"]["webhooks"])
    # Chart v4 runs no hooks: the hook Jobs are off, not applied as plain Jobs.
    assert values["webhooksCleanup"] == {"enabled": False}
    assert values["crds"]["migration"] == {"enabled": False}
    assert values["admissionController"]["replicas"] == 3
    assert kyverno_values(settings("dev"))["admissionController"]["replicas"] == 1
