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
from google.protobuf import struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from infra.catalog import load_catalog
from infra.constants import LABEL_ENV, stack_file
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
    "prod-protects-argocd-stack",
    "prod-enforces-admission",
    "appproject-no-system-namespaces",
    "prod-no-auto-prune",
    "fleet-removable-spokes",
}

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
APPPROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
APPSET = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
RELEASE_V3 = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"


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


def labels(env: str | None) -> dict[str, Any]:
    return {} if env is None else {"labels": {LABEL_ENV: env}}


def appset(prune: Any, *, where: str = "element", env: str | None = "prod") -> dict[str, Any]:
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
    return {"metadata": {"name": "web", "namespace": "argocd", **labels(env)}, "spec": spec}


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
        [message] = rules.protection_violations("prod-eu", "prod", name, protect=False)
        assert (
            f"resource {name!r} is not protected on stack 'prod-eu' (environment prod)" in message
        )
        assert "gitops-platform:argocd.protect: true in Pulumi.prod-eu.yaml" in message
        assert rules.protection_violations("prod-eu", "prod", name, protect=True) == []
        # The stack's name does not matter, its environment does.
        assert rules.protection_violations("prod", "dev", name, protect=False) == []
        assert rules.protection_violations("prod", None, name, protect=False) == []
    assert rules.protection_violations("prod", "prod", "argocd-argocd-secret", False) == []


def stack_resource(
    name: str, env: str | None, *, stack: str = "prod-eu", protect: bool = False
) -> rules.StackResource:
    return rules.StackResource(name, urn(stack, NAMESPACE, name), protect, env)


def test_stack_protection_keys_on_the_labelled_environment_not_the_stack_name() -> None:
    # The chart carries no label (Chart v4 shows no props); the namespace tells the env.
    resources = [
        stack_resource("argocd-namespace", "prod"),
        stack_resource("argocd-chart", None),
        stack_resource("catalog-applicationset-web", "prod"),
    ]
    violations = rules.stack_protection_violations("prod-eu", resources)
    assert [(m.split(":")[0], u) for m, u in violations] == [
        (
            "resource 'argocd-namespace' is not protected on stack 'prod-eu' (environment prod)",
            urn("prod-eu", NAMESPACE, "argocd-namespace"),
        ),
        (
            "resource 'argocd-chart' is not protected on stack 'prod-eu' (environment prod)",
            urn("prod-eu", NAMESPACE, "argocd-chart"),
        ),
    ]
    assert all("in Pulumi.prod-eu.yaml" in m for m, _ in violations)
    protected = [
        stack_resource("argocd-namespace", "prod", protect=True),
        stack_resource("argocd-chart", None, protect=True),
    ]
    assert rules.stack_protection_violations("prod-eu", protected) == []

    # A stack named prod that deploys dev is not held to prod's rules.
    dev = [
        stack_resource("argocd-namespace", "dev", stack="prod"),
        stack_resource("argocd-chart", None, stack="prod"),
    ]
    assert rules.stack_protection_violations("prod", dev) == []
    # Nothing labelled: no environment, no prod rule.
    assert rules.stack_protection_violations("prod", [stack_resource("argocd-chart", None)]) == []


def test_a_stack_with_two_environments_is_a_violation_and_held_to_prod() -> None:
    resources = [
        stack_resource("argocd-namespace", "dev"),
        stack_resource("argocd-chart", None),
        stack_resource("catalog-applicationset-web", "prod"),
    ]
    environments, [(conflict, where)] = rules.stack_environment("prod-eu", resources)
    assert environments == {"dev", "prod"} and where is None
    assert conflict.startswith(
        "stack 'prod-eu' carries more than one environment in the "
        "platform.gitops/environment label (dev: argocd-namespace; "
        "prod: catalog-applicationset-web)"
    )
    assert "gitops-platform:environment in Pulumi.prod-eu.yaml" in conflict
    violations = rules.stack_protection_violations("prod-eu", resources)
    assert violations[0] == (conflict, None)
    assert {u for _, u in violations[1:]} == {
        urn("prod-eu", NAMESPACE, "argocd-namespace"),
        urn("prod-eu", NAMESPACE, "argocd-chart"),
    }


def test_environment_comes_from_the_label() -> None:
    assert rules.environment_label({"metadata": {"labels": {LABEL_ENV: "prod"}}}) == "prod"
    assert rules.environment_label({"metadata": {"labels": {LABEL_ENV: ""}}}) is None
    assert rules.environment_label({"metadata": {"labels": {"other": "prod"}}}) is None
    assert rules.environment_label({"metadata": {"name": "prod"}}) is None
    assert rules.environment_label({}) is None


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
    obj = appset(True, where=where)
    [message] = rules.auto_prune_violations("prod-eu", "ApplicationSet", obj)
    assert "syncPolicy.automated.prune is true on stack 'prod-eu' (environment prod)" in message
    assert "gitops-platform:sync.prune to false in Pulumi.prod-eu.yaml" in message
    if where == "element":
        assert message.startswith("spec.generators[0].list.elements[0](web).patch.spec.")
    dev = appset(True, where=where, env="dev")
    assert rules.auto_prune_violations("dev", "ApplicationSet", dev) == []


def test_auto_prune_keys_on_the_objects_environment_not_the_stack_name() -> None:
    # A stack named prod whose environment is dev prunes like dev.
    assert rules.auto_prune_violations("prod", "ApplicationSet", appset(True, env="dev")) == []
    # No environment label: not a prod object.
    assert rules.auto_prune_violations("prod", "ApplicationSet", appset(True, env=None)) == []
    [message] = rules.auto_prune_violations("eu-1", "Application", appset(True, env="prod"))
    assert "on stack 'eu-1' (environment prod)" in message


@pytest.mark.parametrize("prune", [False, "false", None])
def test_prod_without_prune_passes(prune: Any) -> None:
    assert rules.auto_prune_violations("prod", "ApplicationSet", appset(prune)) == []


def test_string_true_counts_and_disabled_automation_does_not() -> None:
    assert rules.auto_prune_violations("prod", "Application", appset("true"))
    obj = {
        "metadata": labels("prod"),
        "spec": {"syncPolicy": {"automated": {"enabled": False, "prune": True}}},
    }
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


def test_real_stack_files_under_other_names_are_judged_by_their_environment(
    tmp_path: Path,
) -> None:
    # prod's stack file as `prod-eu` (environment prod) and dev's as `prod` (environment dev):
    # the objects the program generates carry the environment, and the rules follow it.
    root = copy_example_catalog(tmp_path)
    for source, stack, env in (("prod", "prod-eu", "prod"), ("dev", "prod", "dev")):
        document = yaml.safe_load((REPO / stack_file(source)).read_text())
        document["config"]["gitops-platform:environment"] = env
        (root / stack_file(stack)).write_text(yaml.safe_dump(document))
    app = root / "apps" / "hello-web" / "app.yaml"
    definition = yaml.safe_load(app.read_text())
    definition["environments"]["prod"]["sync"] = {"automated": True, "prune": True}
    app.write_text(yaml.safe_dump(definition))
    catalog = load_catalog(root, root / "apps", reserved_namespaces={"argocd"})

    def web(stack: str) -> dict[str, Any]:
        return next(
            o
            for o in argocd_objects(catalog, load_stack_file(root, stack))
            if o["kind"] == "ApplicationSet" and o["metadata"]["name"] == "web"
        )

    [message] = rules.auto_prune_violations("prod-eu", "ApplicationSet", web("prod-eu"))
    assert "prune is true on stack 'prod-eu' (environment prod)" in message
    assert "in Pulumi.prod-eu.yaml" in message
    # dev prunes automatically (its stack file says so): allowed, even on a stack named prod.
    dev = web("prod")
    assert dev["metadata"]["labels"][LABEL_ENV] == "dev"
    relabelled = {**dev, "metadata": {"labels": {LABEL_ENV: "prod"}}}
    assert rules.auto_prune_violations("prod", "ApplicationSet", relabelled) != []
    assert rules.auto_prune_violations("prod", "ApplicationSet", dev) == []


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

    named = pack.policy_named(policy)
    assert isinstance(named, ResourceValidationPolicy), named
    result = named.validate(args, report)
    assert result is None  # synchronous
    return reported


def policy_resource(
    type_: str, name: str, props: dict[str, Any], *, stack: str, protect: bool = False
) -> PolicyResource:
    opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    return PolicyResource(
        type_,
        unknown_checking_proxy(props),
        urn(stack, type_, name),
        name,
        opts,
        None,
        None,
        [],
        {},
    )


def validate_stack(policy: str, resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    """Run one stack policy of the pack as pulumi-policy does; (message, urn) it reported."""
    reported: list[tuple[str, str | None]] = []
    stack_policy = pack.policy_named(policy)
    assert isinstance(stack_policy, StackValidationPolicy)

    def report(message: str, where: str | None = None) -> None:
        reported.append((message, where))

    result = stack_policy.validate(StackValidationArgs(resources), report)
    assert result is None  # synchronous
    return reported


def argocd_stack(
    stack: str, env: str, *, protect: bool = False, extra: tuple[PolicyResource, ...] = ()
) -> list[PolicyResource]:
    """What a stack policy sees of a fresh stack: the labelled Argo CD namespace, the Chart v4
    component without props, an unlabelled Secret."""
    return [
        policy_resource(
            NAMESPACE,
            "argocd-namespace",
            {"metadata": {"name": "argocd", **labels(env)}},
            stack=stack,
            protect=protect,
        ),
        policy_resource(CHART_V4, "argocd-chart", {}, stack=stack, protect=protect),
        policy_resource(
            SECRET, "argocd-redis", {"metadata": {"name": "argocd-redis"}}, stack=stack
        ),
        *extra,
    ]


def test_pack_registers_every_policy_but_the_fleet_advisory_as_mandatory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(pack, "PolicyPack", lambda **kwargs: served.update(kwargs))
    pack.serve()
    assert served["name"] == "gitops-platform"
    assert served["enforcement_level"] is EnforcementLevel.MANDATORY
    assert {p.name for p in served["policies"]} == POLICY_NAMES
    levels = {p.name: p.enforcement_level for p in served["policies"]}
    assert levels.pop("fleet-removable-spokes") is EnforcementLevel.ADVISORY
    assert all(level is EnforcementLevel.MANDATORY for level in levels.values())


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
    policy = "prod-protects-argocd-stack"
    reported = validate_stack(policy, argocd_stack("prod-eu", "prod"))
    assert [(m.split(":")[0], u) for m, u in reported] == [
        (
            "resource 'argocd-namespace' is not protected on stack 'prod-eu' (environment prod)",
            urn("prod-eu", NAMESPACE, "argocd-namespace"),
        ),
        (
            "resource 'argocd-chart' is not protected on stack 'prod-eu' (environment prod)",
            urn("prod-eu", CHART_V4, "argocd-chart"),
        ),
    ]
    assert validate_stack(policy, argocd_stack("prod-eu", "prod", protect=True)) == []
    # Named prod, deploying dev: not prod.
    assert validate_stack(policy, argocd_stack("prod", "dev")) == []


def test_appproject_policy_through_validate() -> None:
    policy = "appproject-no-system-namespaces"
    assert validate(policy, APPPROJECT, appproject("web")) == []
    [message] = validate(policy, APPPROJECT, appproject("web", "kube-system"))
    assert "spec.destinations[1].namespace 'kube-system' is kube-system" in message


def test_auto_prune_policy_through_validate() -> None:
    policy = "prod-no-auto-prune"
    assert validate(policy, APPSET, appset(True, env="dev"), stack="dev") == []
    assert validate(policy, APPSET, appset(False), stack="prod") == []
    [message] = validate(policy, APPSET, appset(True), stack="prod-eu")
    assert "elements[0](web).patch.spec.syncPolicy.automated.prune is true" in message
    assert "on stack 'prod-eu' (environment prod)" in message
    # The stack's name does not make it prod: its label does.
    assert validate(policy, APPSET, appset(True, env="dev"), stack="prod") == []


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
        ("appproject-no-system-namespaces", APPPROJECT, appproject("*"), "p", "dev", "'*'"),
        ("prod-no-auto-prune", APPSET, appset(True), "web", "prod-eu", "(environment prod)"),
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
    assert analyze(APPSET, appset(True, env="dev"), stack="dev") == []
    assert analyze(APPSET, appset(True, env="dev"), stack="prod") == []
    assert analyze(APPPROJECT, appproject("web")) == []


CLUSTER_POLICY = "kubernetes:kyverno.io/v1:ClusterPolicy"


def stack_request(
    stack: str, env: str | None, *, protect: bool = False, admission: bool = True, **props: Any
) -> Any:
    """The engine's AnalyzeStackRequest for a stack of the Argo CD namespace (labelled ``env``;
    ``props`` replace its properties), the Chart v4 component, an unlabelled Secret and (with
    ``admission``) the admission ClusterPolicy."""
    resources = []
    namespace = props.get("namespace", {"metadata": {"name": "argocd", **labels(env)}})
    secret = props.get("secret", {"metadata": {"name": "argocd-redis"}})
    declared = [
        (NAMESPACE, "argocd-namespace", namespace),
        (CHART_V4, "argocd-chart", {}),
        (SECRET, "argocd-redis", secret),
    ]
    if admission:
        policy = {"metadata": {"name": "platform-signed-images", **labels(env)}}
        declared.append((CLUSTER_POLICY, "admission-policies-platform-signed-images", policy))
    for type_, name, properties in declared:
        struct = struct_pb2.Struct()
        struct.update(properties)
        resources.append(
            proto.AnalyzerResource(
                type=type_,
                urn=urn(stack, type_, name),
                name=name,
                properties=struct,
                options=proto.AnalyzerResourceOptions(protect=protect),
            )
        )
    return proto.AnalyzeStackRequest(resources=resources)


def analyze_stack_response(request: Any) -> Any:
    servicer = _PolicyAnalyzerServicer(
        pack.PACK_NAME, "0.1.0", list(pack.POLICIES), EnforcementLevel.MANDATORY
    )
    return servicer.AnalyzeStack(request, None)


def analyze_stack(request: Any) -> list[tuple[str, str, int, str]]:
    """(policy, message, enforcement level, urn) of every diagnostic for the stack."""
    response = analyze_stack_response(request)
    return [(d.policyName, d.message, d.enforcementLevel, d.urn) for d in response.diagnostics]


def test_protection_policy_blocks_through_the_analyzer_service() -> None:
    diagnostics = analyze_stack(stack_request("prod-eu", "prod"))
    description = pack.policy_named("prod-protects-argocd-stack").description
    assert [(p, level, u) for p, _, level, u in diagnostics] == [
        (
            "prod-protects-argocd-stack",
            proto.MANDATORY,
            urn("prod-eu", NAMESPACE, "argocd-namespace"),
        ),
        ("prod-protects-argocd-stack", proto.MANDATORY, urn("prod-eu", CHART_V4, "argocd-chart")),
    ]
    for _, message, _, _ in diagnostics:
        assert message.startswith(description + "\n")
        assert "on stack 'prod-eu' (environment prod)" in message
        assert "set gitops-platform:argocd.protect: true in Pulumi.prod-eu.yaml" in message
    assert analyze_stack(stack_request("prod-eu", "prod", protect=True)) == []
    assert analyze_stack(stack_request("prod", "dev")) == []


def test_protection_policy_runs_at_preview_despite_unknowns_elsewhere() -> None:
    # At preview a Secret's data is unknown: the stack policy reads only labels, so it still
    # blocks (pulumi-policy would otherwise downgrade the whole stack policy to advisory).
    secret = {"metadata": {"name": "argocd-redis"}, "data": {"auth": UNKNOWN_STRING_VALUE}}
    metadata = {"name": "argocd", "uid": UNKNOWN_STRING_VALUE, **labels("prod")}
    request = stack_request("prod-eu", "prod", secret=secret, namespace={"metadata": metadata})
    diagnostics = analyze_stack(request)
    assert [(p, level) for p, _, level, _ in diagnostics] == [
        ("prod-protects-argocd-stack", proto.MANDATORY)
    ] * 2


def test_protection_policy_with_an_unknown_environment_cannot_run_at_preview() -> None:
    # Only when the label itself is unknown: pulumi-policy's advisory "can't run" diagnostic.
    namespace = {"metadata": {"name": "argocd", "labels": {LABEL_ENV: UNKNOWN_STRING_VALUE}}}
    found = analyze_stack(stack_request("prod", None, namespace=namespace))
    # Both stack policies learn the environment the same way.
    assert sorted(p for p, _, _, _ in found) == [
        "prod-enforces-admission",
        "prod-protects-argocd-stack",
    ]
    for _, message, level, _ in found:
        assert level == proto.ADVISORY and "can't be known during preview" in message


def test_protection_policy_is_not_applicable_without_a_labelled_resource() -> None:
    response = analyze_stack_response(stack_request("prod", None))
    assert list(response.diagnostics) == []
    [skipped] = [
        n for n in response.not_applicable if n.policy_name == "prod-protects-argocd-stack"
    ]
    assert skipped.reason == pack.NO_LABELLED_RESOURCE


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
        name = stack_file(stack)
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
    assert rules.protection_violations("prod-eu", "prod", name, protect=False)
    assert rules.protection_violations("prod-eu", "prod", name, protect=True) == []
    assert rules.protection_violations("prod", "dev", name, protect=False) == []


def test_the_argocd_namespace_is_held_by_its_own_label_before_anything_is_known() -> None:
    """A fresh stack's preview: no resource's outputs are known yet, so only the resource
    policy, reading the namespace's own inputs, can tell it deploys prod."""
    namespace = {"metadata": {"name": "argocd", **labels("prod")}}
    [message] = validate(
        "prod-protects-argocd", NAMESPACE, namespace, name="argocd-namespace", stack="prod-eu"
    )
    assert message.startswith(
        "resource 'argocd-namespace' is not protected on stack 'prod-eu' (environment prod)"
    )
    assert (
        validate(
            "prod-protects-argocd", NAMESPACE, namespace, name="argocd-namespace", protect=True
        )
        == []
    )
    dev = {"metadata": {"name": "argocd", **labels("dev")}}
    assert validate("prod-protects-argocd", NAMESPACE, dev, name="argocd-namespace") == []
    assert validate("prod-protects-argocd", NAMESPACE, namespace, name="other") == []


def test_prod_without_admission_is_refused_by_the_stack_policy() -> None:
    diagnostics = analyze_stack(stack_request("prod-eu", "prod", protect=True, admission=False))
    [(policy, message, level, where)] = diagnostics
    assert policy == "prod-enforces-admission" and level == proto.MANDATORY and where == ""
    assert "stack 'prod-eu' deploys prod without admission control" in message
    assert "gitops-platform:admission.enabled: true" in message and "Pulumi.prod-eu.yaml" in message
    assert analyze_stack(stack_request("prod-eu", "prod", protect=True)) == []
    # dev is not held to it, whatever the stack's name.
    assert analyze_stack(stack_request("prod", "dev", admission=False)) == []


def test_admission_rule_reads_the_type_from_the_urn() -> None:
    resource = rules.StackResource(
        "admission-policies-platform-signed-images",
        "urn:pulumi:prod::gitops-platform::gitops-platform:index:AdmissionPolicies$"
        "kubernetes:kyverno.io/v1:ClusterPolicy::admission-policies-platform-signed-images",
        False,
        "prod",
    )
    assert rules.type_from_urn(resource.urn) == "kubernetes:kyverno.io/v1:ClusterPolicy"
    assert rules.admission_violations("prod", [resource]) == []
    # The same name on another type is not the policy.
    other = rules.StackResource(resource.name, urn("prod", NAMESPACE, resource.name), False, "prod")
    assert rules.admission_violations("prod", [other])
    with pytest.raises(ValueError, match="not a Pulumi resource URN"):
        rules.type_from_urn("urn:pulumi:prod")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "https://ghp-or-any-token@git.example.com/org/repo.git",
            "a URL with credentials in its user info",
        ),
        ("https://charts.example.com/index.yaml?token=abc123", "a URL with a query string"),
        ("https://storage.example.com/c.tgz?X-Amz-Signature=deadbeef", "a URL with a query string"),
        ("https://hooks.slack.com/services/T0/B0/xyzzy", "a webhook URL"),
        ("https://discord.com/api/webhooks/123/abc", "a webhook URL"),
        ("https://org.webhook.office.com/webhookb2/abc", "a webhook URL"),
        ("https://api.telegram.org/bot123:abc/sendMessage", "a webhook URL"),
        ("https://chat.example.com/hooks/abcdefghijklmnopqrstuvwxyz", "a webhook URL"),
    ],
)
def test_urls_that_carry_a_token_anywhere_must_be_secrets(url: str, reason: str) -> None:
    config = {"gitops-platform:notify": {"endpoint": url}}
    problems = plaintext_secret_problems(config, "Pulumi.dev.yaml")
    assert len(problems) == 1 and f"(the value is {reason}" in problems[0].message
    assert url not in str(problems[0])
    assert (
        plaintext_secret_problems(
            {"gitops-platform:notify": {"endpoint": {"secure": "v1:x"}}}, "Pulumi.dev.yaml"
        )
        == []
    )


@pytest.mark.parametrize(
    "url",
    [
        "ssh://git@github.com/org/repo.git",
        "git@github.com:org/repo.git",
        "https://github.com/example-org/gitops-platform.git",
        "https://github.com/example-org/gitops-platform/.github/workflows/app-delivery.yml@*",
        "http://127.0.0.1:8080/repo.git",
        "https://chat.example.com/hooks/short",
    ],
)
def test_urls_without_a_token_stay_plain_config(url: str) -> None:
    assert plaintext_secret_problems({"gitops-platform:git": {"repoURL": url}}, "f") == []
