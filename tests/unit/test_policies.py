"""The CrossGuard policy pack (policy/) and the checks the program makes for it
(infra/policy_checks.py).

Three levels: each rule as a pure function; each policy through pulumi-policy's own
``validate`` entry point with ``ResourceValidationArgs``; and the whole pack as the engine sees
it (pulumi-policy's Analyzer service answering an ``AnalyzeRequest``), so a policy removed from
the pack, or no longer mandatory, fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    Secret,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer

from infra.catalog import load_catalog
from infra.errors import Problem
from infra.policy_checks import (
    chart_pin_violation,
    plaintext_secret_problems,
)
from infra.settings import load_stack_file
from infra.specs import argocd_objects
from policy import pack, rules
from tests.support import REPO, copy_example_catalog

POLICY_NAMES = {
    "no-unpinned-images",
    "chart-version-pinned",
    "prod-protects-argocd",
    "appproject-no-system-namespaces",
    "prod-no-auto-prune",
}

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
APPPROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
APPSET = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
RELEASE_V3 = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::gitops-platform::gitops-platform:index:ArgoCD${type_}::{name}"


def deployment(*images: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    def containers(prefix: str, refs: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"name": f"{prefix}{i}", "image": ref} for i, ref in enumerate(refs)]

    pod: dict[str, Any] = {"containers": containers("c", images)}
    if init:
        pod["initContainers"] = containers("init", init)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": pod}}}


def appproject(*namespaces: str, home: str = "argocd") -> dict[str, Any]:
    return {
        "metadata": {"name": "team", "namespace": home},
        "spec": {
            "destinations": [
                {"server": "https://kubernetes.default.svc", "namespace": ns} for ns in namespaces
            ]
        },
    }


def appset(prune: Any, *, where: str = "element") -> dict[str, Any]:
    sync = {"automated": {"prune": prune, "selfHeal": True}}
    element = {"name": "web", "namespace": "web", "patch": {"spec": {"syncPolicy": sync}}}
    spec: dict[str, Any] = {
        "generators": [{"list": {"elements": [element]}}],
        "template": {"metadata": {"name": "{{ .name }}"}, "spec": {"project": "web"}},
        "templatePatch": "{{ toJson .patch }}",
    }
    if where == "template":
        element["patch"] = {"spec": {}}
        spec["template"]["spec"]["syncPolicy"] = sync
    elif where == "templatePatch":
        element["patch"] = {"spec": {}}
        spec["templatePatch"] = yaml.safe_dump({"spec": {"syncPolicy": sync}})
    return {"metadata": {"name": "web", "namespace": "argocd"}, "spec": spec}


# -- the pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "quay.io/argoproj/argocd:v3.4.4",
        "redis:8.2.2-alpine",
        "localhost:5000/team/app:1.0",
        "ghcr.io/org/app@sha256:" + "a" * 64,
        "ghcr.io/org/app:1.2@sha256:" + "b" * 64,
    ],
)
def test_pinned_images_pass(image: str) -> None:
    assert rules.image_violation(image) is None


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx:latest", "uses the mutable tag `latest`"),
        ("ghcr.io/org/app", "has no tag"),
        ("localhost:5000/team/app", "has no tag"),  # the registry port is not a tag
        ("ghcr.io/org/app:", "has an empty tag"),
        ("ghcr.io/org/app:latest@sha256:" + "c" * 64, "uses the mutable tag `latest`"),
        (" ", "image is empty"),
    ],
)
def test_unpinned_images_are_named(image: str, expected: str) -> None:
    problem = rules.image_violation(image)
    assert problem is not None and expected in problem
    if image.strip():
        assert repr(image) in problem


def test_workload_images_cover_every_container_list_and_name_the_container() -> None:
    obj = deployment("app:1.0", "sidecar:latest", init=("setup",))
    assert rules.workload_image_violations("Deployment", obj) == [
        "spec.template.spec.initContainers[0] (init0): image 'setup' has no tag (so it is "
        "`latest`); pin a version tag or a digest",
        "spec.template.spec.containers[1] (c1): image 'sidecar:latest' uses the mutable tag "
        "`latest`; pin a version tag or a digest",
    ]


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("Pod", {"spec": {"containers": [{"name": "a", "image": "x"}]}}),
        (
            "CronJob",
            {
                "spec": {
                    "jobTemplate": {
                        "spec": {"template": {"spec": {"containers": [{"image": "x:latest"}]}}}
                    }
                }
            },
        ),
        ("StatefulSet", {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}),
        ("Rollout", {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
    ],
)
def test_every_workload_kind_is_checked(kind: str, obj: dict[str, Any]) -> None:
    assert len(rules.workload_image_violations(kind, obj)) == 1


def test_non_workloads_have_no_image_violations() -> None:
    assert rules.workload_image_violations("ConfigMap", {"data": {"image": "x:latest"}}) == []


@pytest.mark.parametrize(
    ("chart", "version"),
    [
        ("argo-cd", "10.1.1"),
        ("oci://ghcr.io/org/charts/app", "v1.2.3-rc.1+build.5"),
        ("/work/shared/charts/argo-cd-10.1.1.tgz", None),
        ("../charts/x-1.0.0.tar.gz", None),
    ],
)
def test_pinned_charts_pass(chart: str, version: str | None) -> None:
    assert chart_pin_violation(chart, version) is None
    assert rules.chart_version_violations(chart, version) == []


@pytest.mark.parametrize(
    ("chart", "version", "expected"),
    [
        ("argo-cd", None, "chart 'argo-cd' has no `version`"),
        ("argo-cd", "", "chart 'argo-cd' has no `version`"),
        ("argo-cd", "^10.1.0", "version '^10.1.0' is not an exact version"),
        ("argo-cd", "10.x", "version '10.x' is not an exact version"),
        ("argo-cd", ">=10.0.0", "is not an exact version"),
        ("https://example.com/argo-cd-10.1.1.tgz", None, "has no `version`"),
        (None, "1.0.0", "`chart` is not set"),
    ],
)
def test_floating_charts_are_named(chart: str | None, version: str | None, expected: str) -> None:
    problem = chart_pin_violation(chart, version)
    assert problem is not None and expected in problem
    assert rules.chart_version_violations(chart, version) == [problem]


def test_prod_requires_protection_of_the_argocd_install() -> None:
    for name in ("argocd-namespace", "argocd-chart"):
        [message] = rules.protection_violations("prod", name, protect=False)
        assert f"resource {name!r} is not protected on stack 'prod'" in message
        assert "gitops-platform:argocd.protect: true in Pulumi.prod.yaml" in message
        assert rules.protection_violations("prod", name, protect=True) == []
        assert rules.protection_violations("dev", name, protect=False) == []
    assert rules.protection_violations("prod", "argocd-argocd-secret", protect=False) == []


def test_stack_comes_from_the_urn() -> None:
    assert rules.stack_from_urn(urn("prod", NAMESPACE, "argocd-namespace")) == "prod"
    with pytest.raises(ValueError, match="not a Pulumi resource URN"):
        rules.stack_from_urn("prod")


@pytest.mark.parametrize(
    ("namespace", "hits"),
    [
        ("argocd", "is argocd"),
        ("kube-system", "is kube-system"),
        ("*", "matches argocd, kube-system"),
        ("kube-*", "matches kube-system"),
        ("argo?d", "matches argocd"),
    ],
)
def test_appproject_may_not_target_system_namespaces(namespace: str, hits: str) -> None:
    [message] = rules.appproject_destination_violations(appproject("web", namespace))
    assert message.startswith(f"spec.destinations[1].namespace {namespace!r} {hits}:")


def test_appproject_may_not_target_its_own_argocd_namespace() -> None:
    [message] = rules.appproject_destination_violations(appproject("gitops", home="gitops"))
    assert "'gitops' is gitops" in message


def test_appproject_with_team_namespaces_and_deny_entries_passes() -> None:
    assert rules.appproject_destination_violations(appproject("web", "payments", "!kube-*")) == []


@pytest.mark.parametrize("where", ["element", "template", "templatePatch"])
def test_prod_never_auto_prunes(where: str) -> None:
    [message] = rules.auto_prune_violations("prod", "ApplicationSet", appset(True, where=where))
    assert "syncPolicy.automated.prune is true on stack 'prod'" in message
    if where == "element":
        assert message.startswith("spec.generators[0].list.elements[0](web).patch.spec.")
    assert rules.auto_prune_violations("dev", "ApplicationSet", appset(True, where=where)) == []


@pytest.mark.parametrize("prune", [False, "false", None])
def test_prod_without_prune_passes(prune: Any) -> None:
    assert rules.auto_prune_violations("prod", "ApplicationSet", appset(prune)) == []


def test_string_true_counts_and_disabled_automation_does_not() -> None:
    assert rules.auto_prune_violations("prod", "Application", {"spec": appset("true")["spec"]})
    obj = {"spec": {"syncPolicy": {"automated": {"enabled": False, "prune": True}}}}
    assert rules.auto_prune_violations("prod", "Application", obj) == []


def test_the_real_catalog_complies_and_an_app_pruning_in_prod_does_not(tmp_path: Path) -> None:
    root = copy_example_catalog(tmp_path)
    for stack in ("dev", "prod"):
        settings = load_stack_file(root, stack)
        catalog = load_catalog(root, root / "apps", reserved_namespaces={"argocd"})
        for obj in argocd_objects(catalog, settings):
            assert rules.auto_prune_violations(stack, obj["kind"], obj) == [], obj
            if obj["kind"] == "AppProject":
                assert rules.appproject_destination_violations(obj) == [], obj

    app = root / "apps" / "hello-web" / "app.yaml"
    definition = yaml.safe_load(app.read_text())
    definition["environments"]["prod"]["sync"] = {"automated": True, "prune": True}
    app.write_text(yaml.safe_dump(definition))
    catalog = load_catalog(root, root / "apps", reserved_namespaces={"argocd"})
    web = next(
        o
        for o in argocd_objects(catalog, load_stack_file(root, "prod"))
        if o["kind"] == "ApplicationSet" and o["metadata"]["name"] == "web"
    )
    [message] = rules.auto_prune_violations("prod", "ApplicationSet", web)
    assert "(hello-web).patch.spec.syncPolicy.automated.prune is true" in message


# -- through pulumi-policy's validate entry point ---------------------------------------------


def validate(
    policy: str,
    type_: str,
    props: dict[str, Any],
    *,
    name: str = "res",
    stack: str = "dev",
    protect: bool = False,
) -> list[str]:
    """Run one policy of the pack as pulumi-policy does; the messages it reported."""
    reported: list[str] = []
    opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    args = ResourceValidationArgs(type_, props, urn(stack, type_, name), name, opts, None)

    def report(message: str, _urn: str | None = None) -> None:
        reported.append(message)

    result = pack.policy_named(policy).validate(args, report)
    assert result is None  # synchronous
    return reported


def test_pack_registers_every_policy_as_mandatory(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(pack, "PolicyPack", lambda **kwargs: served.update(kwargs))
    pack.serve()
    assert served["name"] == "gitops-platform"
    assert served["enforcement_level"] is EnforcementLevel.MANDATORY
    assert {p.name for p in served["policies"]} == POLICY_NAMES
    assert all(p.enforcement_level is EnforcementLevel.MANDATORY for p in served["policies"])


def test_unknown_policy_name_is_a_key_error_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no policy 'nope' in the pack; it has"):
        pack.policy_named("nope")


def test_images_policy_through_validate() -> None:
    assert validate("no-unpinned-images", DEPLOYMENT, deployment("app:1.0")) == []
    [message] = validate("no-unpinned-images", DEPLOYMENT, deployment("app:latest"))
    assert "spec.template.spec.containers[0] (c0): image 'app:latest'" in message
    # A Secret-wrapped value is read through, like the SDK's secret proxies do.
    secret = deployment()
    secret["spec"]["template"]["spec"]["containers"] = [{"name": "s", "image": Secret("x")}]
    assert len(validate("no-unpinned-images", DEPLOYMENT, secret)) == 1
    assert validate("no-unpinned-images", NAMESPACE, deployment("app:latest")) == []


def test_chart_policy_through_validate() -> None:
    assert validate("chart-version-pinned", RELEASE_V3, {"chart": "x", "version": "1.0.0"}) == []
    [message] = validate("chart-version-pinned", RELEASE_V3, {"chart": "x", "version": "~1.0"})
    assert "version '~1.0' is not an exact version" in message
    [message] = validate("chart-version-pinned", CHART_V4, {"chart": "argo-cd"})
    assert "chart 'argo-cd' has no `version`" in message
    assert validate("chart-version-pinned", DEPLOYMENT, {"chart": "x"}) == []


def test_protection_policy_through_validate() -> None:
    policy = "prod-protects-argocd"
    [message] = validate(policy, NAMESPACE, {}, name="argocd-namespace", stack="prod")
    assert "resource 'argocd-namespace' is not protected on stack 'prod'" in message
    assert (
        validate(policy, NAMESPACE, {}, name="argocd-namespace", stack="prod", protect=True) == []
    )
    assert validate(policy, NAMESPACE, {}, name="argocd-namespace", stack="dev") == []
    assert validate(policy, CHART_V4, {}, name="argocd-chart", stack="prod", protect=True) == []


def test_appproject_policy_through_validate() -> None:
    policy = "appproject-no-system-namespaces"
    assert validate(policy, APPPROJECT, appproject("web")) == []
    [message] = validate(policy, APPPROJECT, appproject("web", "kube-system"))
    assert "spec.destinations[1].namespace 'kube-system' is kube-system" in message


def test_auto_prune_policy_through_validate() -> None:
    policy = "prod-no-auto-prune"
    assert validate(policy, APPSET, appset(True), stack="dev") == []
    assert validate(policy, APPSET, appset(False), stack="prod") == []
    [message] = validate(policy, APPSET, appset(True), stack="prod")
    assert "elements[0](web).patch.spec.syncPolicy.automated.prune is true" in message


# -- the pack as the engine sees it -------------------------------------------------------------


def analyze_response(
    type_: str,
    props: dict[str, Any],
    *,
    name: str = "res",
    stack: str = "dev",
    protect: bool = False,
) -> Any:
    """The pack's Analyzer service (built from the pack's own policy list) answering the
    engine's AnalyzeRequest for one resource."""
    servicer = _PolicyAnalyzerServicer(
        pack.PACK_NAME, "0.1.0", list(pack.POLICIES), EnforcementLevel.MANDATORY
    )
    properties = struct_pb2.Struct()
    properties.update(props)
    request = proto.AnalyzeRequest(
        type=type_,
        urn=urn(stack, type_, name),
        name=name,
        properties=properties,
        options=proto.AnalyzerResourceOptions(protect=protect),
    )
    return servicer.Analyze(request, None)


def analyze(
    type_: str,
    props: dict[str, Any],
    *,
    name: str = "res",
    stack: str = "dev",
    protect: bool = False,
) -> list[tuple[str, str, int]]:
    """(policy, message, enforcement level) of every diagnostic for one resource."""
    response = analyze_response(type_, props, name=name, stack=stack, protect=protect)
    return [(d.policyName, d.message, d.enforcementLevel) for d in response.diagnostics]


@pytest.mark.parametrize(
    ("policy", "type_", "props", "name", "stack", "expected"),
    [
        ("no-unpinned-images", DEPLOYMENT, deployment("a:latest"), "res", "dev", "`latest`"),
        ("chart-version-pinned", RELEASE_V3, {"chart": "x"}, "res", "dev", "no `version`"),
        ("prod-protects-argocd", CHART_V4, {}, "argocd-chart", "prod", "not protected"),
        ("appproject-no-system-namespaces", APPPROJECT, appproject("*"), "p", "dev", "'*'"),
        ("prod-no-auto-prune", APPSET, appset(True), "web", "prod", "automated.prune is true"),
    ],
)
def test_each_policy_blocks_through_the_analyzer_service(
    policy: str, type_: str, props: dict[str, Any], name: str, stack: str, expected: str
) -> None:
    diagnostics = analyze(type_, props, name=name, stack=stack)
    assert [(p, level) for p, _, level in diagnostics] == [(policy, proto.MANDATORY)]
    description = pack.policy_named(policy).description
    assert diagnostics[0][1].startswith(description + "\n") and expected in diagnostics[0][1]


def test_compliant_resources_pass_the_analyzer_service() -> None:
    assert analyze(DEPLOYMENT, deployment("quay.io/argoproj/argocd:v3.4.4")) == []
    assert analyze(CHART_V4, {}, name="argocd-chart", stack="prod", protect=True) == []
    assert analyze(APPSET, appset(True), stack="dev") == []
    assert analyze(APPPROJECT, appproject("web")) == []


def test_chart_policy_is_not_applicable_to_an_input_less_chart_v4() -> None:
    # What the engine shows a pack of a Chart v4: no inputs (the program checks it instead).
    response = analyze_response(CHART_V4, {}, name="sealed-secrets-chart")
    assert list(response.diagnostics) == []
    [skipped] = [n for n in response.not_applicable if n.policy_name == "chart-version-pinned"]
    assert skipped.reason == pack.CHART_V4_INPUTS_HIDDEN


def test_unknown_values_at_preview_do_not_block() -> None:
    # An image computed from another resource is unknown at preview: pulumi-policy reports that
    # the policy could not run (advisory), not a violation.
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    [(policy, message, level)] = analyze(DEPLOYMENT, deployment(unknown))
    assert policy == "no-unpinned-images" and level == proto.ADVISORY
    assert "can't be known during preview" in message


# -- checks the program makes (infra/policy_checks.py) -----------------------------------------


def test_stack_files_hold_no_plaintext_secrets() -> None:
    for stack in ("dev", "prod"):
        name = f"Pulumi.{stack}.yaml"
        config = yaml.safe_load((REPO / name).read_text())["config"]
        assert plaintext_secret_problems(config, name) == []


def test_plaintext_secrets_are_found_by_key_and_by_value() -> None:
    config = {
        "gitops-platform:adminPassword": {"rotation": "2"},  # not a secret: its key is rotation
        "gitops-platform:git": {"repoURL": "https://bot:s3cr3t@github.com/org/repo.git"},
        "gitops-platform:notify": {"slackToken": "abc", "channels": ["xoxb-1234567890-abcdef"]},
        "aws:accessKey": "AKIA" + "A" * 16,
        "other:privateKey": "-----BEGIN RSA PRIVATE KEY-----\nMII...",
        "other:secretName": "argocd-secret",  # names a Secret, holds none
        "other:password": "",  # empty: nothing leaked
    }
    problems = plaintext_secret_problems(config, "Pulumi.dev.yaml")
    assert [(p.field, p.message.split(";")[0]) for p in problems] == [
        ("aws:accessKey", "looks like a plaintext secret (the value is an AWS access key id)"),
        (
            "gitops-platform:git.repoURL",
            "looks like a plaintext secret (the value is a URL with a password)",
        ),
        (
            "gitops-platform:notify.slackToken",
            "looks like a plaintext secret (`slackToken` names a secret)",
        ),
        (
            "gitops-platform:notify.channels[0]",
            "looks like a plaintext secret (the value is a Slack token)",
        ),
        ("other:privateKey", "looks like a plaintext secret (the value is a private key)"),
    ]
    assert all(p.file == "Pulumi.dev.yaml" for p in problems)
    assert str(problems[0]).startswith("Pulumi.dev.yaml: aws:accessKey: looks like a plaintext")
    assert "pulumi config set --secret --path 'aws:accessKey' <value>" in problems[0].message


def test_engine_shaped_config_is_checked_and_its_secret_keys_skipped() -> None:
    # As the stack file holds it ({secure: ...}), and as the engine hands it (objects as JSON
    # text, secrets decrypted, with the secret keys named).
    file_shape = {
        "gitops-platform:git": {"token": {"secure": "v1:abc"}},
        "x:apiKey": {"secure": "v1"},
    }
    assert plaintext_secret_problems(file_shape, "Pulumi.prod.yaml") == []
    engine_json = {"gitops-platform:git": '{"repoURL": "https://bot:s3cr3t@example.com/r.git"}'}
    [problem] = plaintext_secret_problems(engine_json, "Pulumi.dev.yaml")
    assert problem.field == "gitops-platform:git.repoURL"
    engine_shape = {"x:apiKey": "plain-after-decryption"}
    assert plaintext_secret_problems(engine_shape, "f", secret_keys={"x:apiKey"}) == []
    assert plaintext_secret_problems(engine_shape, "f") == [
        Problem(
            "f",
            "x:apiKey",
            "looks like a plaintext secret (`apiKey` names a secret); store it encrypted with "
            "`pulumi config set --secret --path 'x:apiKey' <value>`, or remove it",
        )
    ]


@pytest.mark.parametrize("name", ["cluster-kind", "cluster-kwok"])
def test_prod_requires_protection_of_a_cluster_the_stack_creates(name: str) -> None:
    assert rules.protection_violations("prod", name, protect=False)
    assert rules.protection_violations("prod", name, protect=True) == []
    assert rules.protection_violations("dev", name, protect=False) == []
