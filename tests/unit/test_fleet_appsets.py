"""Apps placed on spoke clusters by label (issue 23): the placement in app.yaml, the fleet
ApplicationSets and AppProjects, and their expansion into one Application per (app, cluster),
as Argo CD's matrix of the cluster and list generators makes them."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import constants
from infra.catalog import App, AppDefinition, Catalog, load_catalog
from infra.catalog.models import LabelSelector, LabelSelectorRequirement, Placement
from infra.delivery.appdiff import diff_applications
from infra.delivery.plan import Revision, StackSide, load_side, warnings
from infra.delivery.render_app import input_files, object_key, render_application, target_cluster
from infra.errors import ValidationError
from infra.settings import StackSettings
from infra.specs import applications, argocd_objects, expand
from infra.specs.expand import TemplateError, render_template, selector_matches
from infra.specs.fleet import generator_params
from infra.specs.fleet_appsets import CLUSTER_PLACEHOLDER, ROLLOUTS_LABEL, canonical_selector
from policy import rules
from tests.support import REPO, copy_example_catalog, schema_errors
from tests.unit.factories import minimal_settings, repo_settings, run_cli

EAST = {"name": "east", "kubeconfig": {"context": "east"}, "region": "eu", "addons": ["rollouts"]}
WEST = {"name": "west", "kubeconfig": {"context": "west"}, "region": "us"}
ROLLOUTS = {constants.ADDON_LABEL_PREFIX + "rollouts": "true"}
ROLLOUTS_SELECTOR = {"matchLabels": ROLLOUTS}
"""The committed placement of apps/checkout-web and apps/payments-api (canary, blueGreen)."""
PROGRESSIVE = ("checkout-web", "payments-api")
EVERYWHERE = ("experiments", "hello-web", "metrics-cache")
"""The committed apps enabled in dev and prod, by where a stack with spokes runs them."""


def fleet(stack: str = "dev", *spokes: dict[str, Any]) -> StackSettings:
    """The repository's ``stack`` with ``spokes`` (default east and west)."""
    return repo_settings(stack, fleet={"clusters": list(spokes or (EAST, WEST))})


def generated(settings_: StackSettings, catalog: Catalog | None = None) -> dict[str, Any]:
    objects = argocd_objects(catalog or load_catalog(REPO), settings_)
    return {a["metadata"]["name"]: a for a in applications(objects, generator_params(settings_))}


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def list_members(appset: dict[str, Any]) -> list[list[str]]:
    """The apps of each matrix generator of a fleet ApplicationSet, in order."""
    return [
        [e["app"] for e in g["matrix"]["generators"][1]["list"]["elements"]]
        for g in appset["spec"]["generators"]
    ]


def cluster_selectors(appset: dict[str, Any]) -> list[dict[str, Any]]:
    """The cluster generator's selector of each matrix generator, in order."""
    return [
        g["matrix"]["generators"][0]["clusters"]["selector"] for g in appset["spec"]["generators"]
    ]


def app(
    name: str,
    team: str = "web",
    placement: dict[str, Any] | None = None,
    **fields: Any,
) -> App:
    definition = AppDefinition.model_validate(
        {
            "team": team,
            "namespace": fields.pop("namespace", team),
            "image": {"repository": f"ghcr.io/example/{name}"},
            "source": fields.pop("source", {"type": "kustomize"}),
            "environments": {"dev": {}, "prod": {}},
            **({"placement": placement} if placement is not None else {}),
            **fields,
        }
    )
    return App(
        name=name, file=f"apps/{name}/app.yaml", folder=f"apps/{name}", definition=definition
    )


# -- the placement in app.yaml -----------------------------------------------------------------


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    return copy_example_catalog(tmp_path)


def _with_placement(root: Path, placement: str) -> list[str]:
    file = root / "apps" / "metrics-cache" / "app.yaml"
    text = file.read_text()
    assert "placement:" not in text
    file.write_text(text + placement)
    with pytest.raises(ValidationError) as info:
        load_catalog(root)
    return [str(p) for p in info.value.problems]


BAD_PLACEMENTS = [
    (
        "placement:\n  clusterSelector:\n    matchExpressions:\n      - {key: tier, operator: In}\n",
        "placement.clusterSelector.matchExpressions[0]: operator In needs values",
    ),
    (
        "placement:\n  clusterSelector:\n    matchExpressions:\n"
        "      - {key: tier, operator: NotIn, values: []}\n",
        "placement.clusterSelector.matchExpressions[0]: operator NotIn needs values",
    ),
    (
        "placement:\n  clusterSelector:\n    matchExpressions:\n"
        "      - {key: tier, operator: Exists, values: [a]}\n",
        "placement.clusterSelector.matchExpressions[0]: operator Exists takes no values",
    ),
    (
        "placement:\n  clusterSelector:\n    matchExpressions:\n"
        "      - {key: tier, operator: DoesNotExist, values: [a]}\n",
        "placement.clusterSelector.matchExpressions[0]: operator DoesNotExist takes no values",
    ),
    (
        "placement:\n  clusterSelector:\n    matchExpressions:\n"
        "      - {key: tier, operator: Gt, values: ['1']}\n",
        "placement.clusterSelector.matchExpressions[0].operator: Input should be 'In', 'NotIn', "
        "'Exists' or 'DoesNotExist'",
    ),
    (
        "placement:\n  clusterSelector:\n    matchExpressions:\n      - {operator: Exists}\n",
        "placement.clusterSelector.matchExpressions[0].key: required field is missing",
    ),
    (
        "placement:\n  clusterSelector:\n    matchLabels: {'bad key': a}\n",
        "'bad key' is not a label key",
    ),
    (
        "placement:\n  clusterSelector:\n    matchLabels: {tier: 'not a value'}\n",
        "'not a value' is not a label value",
    ),
    (
        "placement:\n  clusterSelector:\n    matchExpressions:\n"
        "      - {key: tier, operator: In, values: [-a]}\n",
        "'-a' is not a label value",
    ),
    (
        "placement:\n  clusterSelector:\n    matchLabels: {tier: true}\n",
        'matchLabels.tier: a label value is a string: quote it ("true", "1")',
    ),
    (
        "placement:\n  clusterSelector:\n    matchLabels: {platform.gitops/environment: prod}\n",
        "placement.clusterSelector: platform.gitops/environment cannot be selected on",
    ),
    (
        "placement:\n  clusterSelector:\n    matchExpressions:\n"
        "      - {key: argocd.argoproj.io/secret-type, operator: Exists}\n",
        "placement.clusterSelector: argocd.argoproj.io/secret-type cannot be selected on",
    ),
    (
        "placement:\n  clusterSelector:\n    labels: {tier: a}\n",
        "placement.clusterSelector.labels: unknown field",
    ),
    ("placement:\n  clusters: [east]\n", "placement.clusters: unknown field"),
]


@pytest.mark.parametrize(("placement", "expected"), BAD_PLACEMENTS)
def test_a_bad_selector_is_one_problem_naming_the_file_and_field(
    catalog_copy: Path, placement: str, expected: str
) -> None:
    [problem] = _with_placement(catalog_copy, placement)
    assert problem.startswith("apps/metrics-cache/app.yaml: "), problem
    assert expected in problem


def test_the_selector_fields_are_documented_in_apps_readme() -> None:
    readme = (REPO / "apps" / "README.md").read_text()
    for model in (Placement, LabelSelector, LabelSelectorRequirement):
        for name in model.model_fields:
            assert f".{name}`" in readme, f"{model.__name__}.{name}"
    assert "In a stack without spokes `placement` is ignored" in " ".join(readme.split())


def test_the_example_catalog_places_progressive_apps_on_rollouts_spokes_only() -> None:
    placed = {a.name: canonical_selector(a.definition.placement) for a in load_catalog(REPO).apps}
    assert {name for name, selector in placed.items() if selector == ROLLOUTS_SELECTOR} == set(
        PROGRESSIVE
    )
    # metrics-cache runs its own redis: no add-on needed, every spoke.
    assert {name for name, selector in placed.items() if selector is None} == set(EVERYWHERE)


def test_a_stack_without_spokes_ignores_placements() -> None:
    catalog = load_catalog(REPO)
    assert any(a.definition.placement != Placement() for a in catalog.apps)  # not vacuous
    unplaced = Catalog(
        tuple(
            a.model_copy(
                update={"definition": a.definition.model_copy(update={"placement": Placement()})}
            )
            for a in catalog.apps
        )
    )
    for stack in ("dev", "prod", "local"):
        s = repo_settings(stack)
        assert argocd_objects(catalog, s) == argocd_objects(unplaced, s)


# -- the fleet AppProjects and ApplicationSets -------------------------------------------------


def test_projects_name_every_spoke_times_the_teams_namespaces_never_the_hub() -> None:
    projects = by_kind(argocd_objects(load_catalog(REPO), fleet()), "AppProject")
    assert projects["web"]["spec"]["destinations"] == [
        {"name": "east", "namespace": "web"},
        {"name": "east", "namespace": "web-experiments"},
        {"name": "west", "namespace": "web"},
        {"name": "west", "namespace": "web-experiments"},
    ]
    for project in projects.values():
        for destination in project["spec"]["destinations"]:
            assert "server" not in destination
            assert destination["name"] != "in-cluster"


def test_one_applicationset_per_team_named_as_without_spokes() -> None:
    # dev only: a stack with spokes has no admission control yet, which every prod stack has.
    stack = "dev"
    s = fleet(stack)
    objects = argocd_objects(load_catalog(REPO), s)
    appsets = by_kind(objects, "ApplicationSet")
    plain = by_kind(argocd_objects(load_catalog(REPO), repo_settings(stack)), "ApplicationSet")
    assert sorted(appsets) == sorted(plain) == ["data", "payments", "web"]
    spec = appsets["payments"]["spec"]
    # payments' two apps share the rollouts placement: one matrix.
    assert cluster_selectors(appsets["payments"]) == [
        {"matchLabels": {constants.LABEL_ENV: stack, **ROLLOUTS}}
    ]
    assert list_members(appsets["payments"]) == [list(PROGRESSIVE)]
    assert "name" not in spec["generators"][0]["matrix"]["generators"][1]["list"]["elements"][0]
    assert cluster_selectors(appsets["data"]) == [{"matchLabels": {constants.LABEL_ENV: stack}}]
    template = spec["template"]
    assert template["metadata"]["name"] == "{{ .app }}-{{ .name }}"
    assert template["metadata"]["labels"][constants.LABEL_APP] == "{{ .app }}"
    assert template["metadata"]["labels"][constants.LABEL_CLUSTER] == "{{ .name }}"
    assert template["spec"]["destination"] == {
        "name": "{{ .name }}",
        "namespace": "{{ .namespace }}",
    }
    assert spec["templatePatch"] == (
        '{{ toJson .patch | replace "' + CLUSTER_PLACEHOLDER + '" .name }}'
    )
    assert spec["syncPolicy"]["preserveResourcesOnDeletion"] is True
    for obj in objects:
        assert schema_errors(obj) == []
    for application in applications(objects, generator_params(s)):
        assert schema_errors(application) == []


def test_a_teams_placements_are_generators_of_its_one_applicationset() -> None:
    one = {
        "matchLabels": {"tier": "a", "zone": "b"},
        "matchExpressions": [
            {"key": "gpu", "operator": "In", "values": ["x", "y"]},
            {"key": "old", "operator": "DoesNotExist"},
        ],
    }
    other = {
        "matchLabels": {"zone": "b", "tier": "a"},
        "matchExpressions": [
            {"key": "old", "operator": "DoesNotExist", "values": []},
            {"key": "gpu", "operator": "In", "values": ["y", "x", "y"]},
            {"key": "old", "operator": "DoesNotExist"},
        ],
    }
    third = {"matchLabels": {"tier": "a"}}
    catalog = Catalog(
        (
            app("a", placement={"clusterSelector": one}),
            app("b", placement={"clusterSelector": other}),
            app("c", placement={"clusterSelector": {}}),
            app("d"),
            app("e", placement={"clusterSelector": third}),
        )
    )
    appsets = by_kind(argocd_objects(catalog, fleet()), "ApplicationSet")
    canonical = canonical_selector(Placement.model_validate({"clusterSelector": one}))
    assert canonical == {
        "matchLabels": {"tier": "a", "zone": "b"},
        "matchExpressions": [
            {"key": "gpu", "operator": "In", "values": ["x", "y"]},
            {"key": "old", "operator": "DoesNotExist"},
        ],
    }
    assert list(appsets) == ["web"]
    # The default (`{}` too: every spoke) first, then by the canonical selector's JSON.
    assert list_members(appsets["web"]) == [["c", "d"], ["a", "b"], ["e"]]
    env = {constants.LABEL_ENV: "dev"}
    assert cluster_selectors(appsets["web"]) == [
        {"matchLabels": env},
        {
            "matchLabels": {**env, "tier": "a", "zone": "b"},
            "matchExpressions": one["matchExpressions"],
        },
        {"matchLabels": {**env, "tier": "a"}},
    ]
    # Argo CD generates the union: every pair once (east: tier a; west: no labels).
    spokes = ({**EAST, "labels": {"tier": "a"}}, WEST)
    assert sorted(generated(fleet("dev", *spokes), catalog)) == [
        "c-east",
        "c-west",
        "d-east",
        "d-west",
        "e-east",
    ]


def test_a_placement_change_never_moves_an_application_to_another_applicationset() -> None:
    """An ApplicationSet updates only the Applications it owns: a placement change must keep
    the owner, whatever the placements before and after."""
    selectors: list[dict[str, Any] | None] = [
        None,
        ROLLOUTS_SELECTOR,
        {"matchLabels": {constants.LABEL_REGION: "eu"}},
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]},
    ]
    s = fleet()
    owners: dict[str, set[str]] = {}
    for selector in selectors:
        placement = None if selector is None else {"clusterSelector": selector}
        catalog = Catalog((app("a", placement=placement), app("b"), app("c", team="data")))
        for appset in by_kind(argocd_objects(catalog, s), "ApplicationSet").values():
            for application in expand(appset, generator_params(s)):
                owners.setdefault(application["metadata"]["name"], set()).add(
                    appset["metadata"]["name"]
                )
    assert {"a-east", "a-west"} <= set(owners)
    assert {name: sorted(o) for name, o in owners.items() if len(o) > 1} == {}


# -- a blueGreen/canary app needs Argo Rollouts on its spokes ----------------------------------


def _placed(name: str, placement: dict[str, Any] | None) -> Catalog:
    """The committed catalog with app ``name``'s placement replaced."""
    return Catalog(
        tuple(
            a.model_copy(
                update={
                    "definition": a.definition.model_copy(
                        update={"placement": Placement.model_validate(placement or {})}
                    )
                }
            )
            if a.name == name
            else a
            for a in load_catalog(REPO).apps
        )
    )


@pytest.mark.parametrize(
    "selector",
    [
        None,
        {"matchLabels": {constants.LABEL_REGION: "eu"}},
        {"matchLabels": {ROLLOUTS_LABEL: "false"}},
        {"matchExpressions": [{"key": ROLLOUTS_LABEL, "operator": "Exists"}]},
        {"matchExpressions": [{"key": ROLLOUTS_LABEL, "operator": "In", "values": ["true", "x"]}]},
        {"matchExpressions": [{"key": ROLLOUTS_LABEL, "operator": "NotIn", "values": ["false"]}]},
    ],
)
def test_a_progressive_app_not_placed_on_rollouts_spokes_is_refused(
    selector: dict[str, Any] | None,
) -> None:
    catalog = _placed("checkout-web", None if selector is None else {"clusterSelector": selector})
    with pytest.raises(ValidationError) as info:
        argocd_objects(catalog, fleet())
    assert [str(p) for p in info.value.problems] == [
        "apps/checkout-web/app.yaml: placement.clusterSelector: strategy canary needs Argo "
        f"Rollouts on every spoke the app runs on: add matchLabels {{{ROLLOUTS_LABEL}: "
        '"true"} (set on a spoke by its addons: [rollouts])'
    ]
    # Without spokes the app runs on the stack's own cluster, which installs Rollouts.
    assert argocd_objects(catalog, repo_settings("dev"))


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {ROLLOUTS_LABEL: "true", "tier": "a"}},
        {"matchExpressions": [{"key": ROLLOUTS_LABEL, "operator": "In", "values": ["true"]}]},
    ],
)
def test_a_progressive_app_requiring_the_rollouts_label_is_accepted(
    selector: dict[str, Any],
) -> None:
    assert argocd_objects(_placed("payments-api", {"clusterSelector": selector}), fleet())


def test_with_spokes_the_hubs_rollouts_setting_is_not_asked() -> None:
    s = fleet()
    off = s.model_copy(update={"rollouts": s.rollouts.model_copy(update={"enabled": False})})
    assert argocd_objects(load_catalog(REPO), off) == argocd_objects(load_catalog(REPO), s)


# -- expansion: one Application per (app, cluster) ---------------------------------------------


def test_every_pair_is_generated_and_placement_selects_the_spokes() -> None:
    apps = generated(fleet())
    assert sorted(apps) == sorted(
        [f"{a}-{c}" for a in EVERYWHERE for c in ("east", "west")]
        + [f"{a}-east" for a in PROGRESSIVE]  # west runs no Rollouts
    )
    hello = apps["hello-web-west"]
    assert hello["spec"]["destination"] == {"name": "west", "namespace": "web"}
    assert hello["metadata"]["labels"][constants.LABEL_APP] == "hello-web"
    assert hello["metadata"]["labels"][constants.LABEL_CLUSTER] == "west"
    assert hello["metadata"]["namespace"] == "argocd"


def test_a_label_change_moves_an_app_and_a_spoke_may_match_no_app() -> None:
    moved = generated(fleet("dev", {**EAST, "addons": []}, {**WEST, "addons": ["rollouts"]}))
    assert "checkout-web-west" in moved and "checkout-web-east" not in moved
    nowhere = generated(fleet("dev", {**EAST, "addons": []}, WEST))
    assert not [name for name in nowhere if name.startswith(PROGRESSIVE)]
    catalog = Catalog((app("a", placement={"clusterSelector": {"matchLabels": {"tier": "x"}}}),))
    # A spoke no app selects gets no Application; an app no spoke matches gets none either.
    assert generated(fleet("dev", {**EAST, "labels": {"tier": "y"}}), catalog) == {}


def test_the_same_overlay_on_every_spoke_and_helm_values_per_cluster() -> None:
    apps = generated(fleet())
    east, west = apps["hello-web-east"]["spec"], apps["hello-web-west"]["spec"]
    assert east["source"] == west["source"]
    assert {k: v for k, v in east.items() if k != "destination"} == {
        k: v for k, v in west.items() if k != "destination"
    }
    helm = apps["metrics-cache-east"]["spec"]["source"]["helm"]
    assert helm["valueFiles"] == ["../values/dev.yaml", "../values/east.yaml"]
    assert helm["ignoreMissingValueFiles"] is True


def test_an_external_chart_reads_both_value_files_from_this_repository() -> None:
    source = {
        "type": "helm",
        "repoURL": "https://charts.example.com/r",
        "chart": "redis",
        "version": "1.2.3",
    }
    catalog = Catalog((app("cache", team="data", source=source),))
    chart, values = generated(fleet(), catalog)["cache-west"]["spec"]["sources"]
    assert chart["helm"]["valueFiles"] == [
        "$values/apps/cache/values/dev.yaml",
        "$values/apps/cache/values/west.yaml",
    ]
    assert chart["helm"]["ignoreMissingValueFiles"] is True
    assert values["ref"] == "values"


def test_two_pairs_of_one_name_are_refused_naming_both() -> None:
    catalog = Catalog((app("a"), app("a-b")))
    spokes = (
        {"name": "c", "kubeconfig": {"context": "c"}},
        {"name": "b-c", "kubeconfig": {"context": "x"}},
    )
    with pytest.raises(ValidationError) as info:
        argocd_objects(catalog, fleet("dev", *spokes))
    assert [str(p) for p in info.value.problems] == [
        "apps/a/app.yaml: placement: Application 'a-b-c' would be generated twice: app a on "
        "cluster b-c and app a-b on cluster c; rename an app or a cluster, or place the apps apart"
    ]
    # Placed apart, the two pairs are never both generated.
    catalog = Catalog(
        (app("a", placement={"clusterSelector": {"matchLabels": {"tier": "x"}}}), app("a-b"))
    )
    assert "a-b-c" in generated(fleet("dev", *spokes), catalog)


def test_an_application_name_over_63_characters_is_refused() -> None:
    name = "a" * 33
    spoke = {"name": "b" * 30, "kubeconfig": {"context": "b"}}
    with pytest.raises(ValidationError) as info:
        argocd_objects(Catalog((app(name),)), fleet("dev", spoke))
    [problem] = [str(p) for p in info.value.problems]
    assert problem.startswith(
        f"apps/{name}/app.yaml: placement: its Application on cluster(s) {'b' * 30}"
    )
    assert "more than 63 characters" in problem
    assert generated(fleet("dev", spoke), Catalog((app(name[1:]),)))  # 63: fine


def test_an_app_whose_patch_holds_the_placeholder_is_refused() -> None:
    ignore = [{"kind": "Deployment", "jqPathExpressions": [f".metadata.{CLUSTER_PLACEHOLDER}"]}]
    catalog = Catalog((app("a", ignoreDifferences=ignore), app("b")))
    with pytest.raises(ValidationError) as info:
        argocd_objects(catalog, fleet())
    [problem] = [str(p) for p in info.value.problems]
    assert problem.startswith("apps/a/app.yaml: (file): its Application would hold")
    # Without spokes nothing replaces it: the same app is fine.
    assert argocd_objects(catalog, repo_settings("dev"))


# -- the evaluator -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requirement", "labels", "held"),
    [
        ({"key": "t", "operator": "In", "values": ["a"]}, {"t": "a"}, True),
        ({"key": "t", "operator": "In", "values": ["a"]}, {"t": "b"}, False),
        ({"key": "t", "operator": "In", "values": ["a"]}, {}, False),
        ({"key": "t", "operator": "NotIn", "values": ["a"]}, {"t": "a"}, False),
        ({"key": "t", "operator": "NotIn", "values": ["a"]}, {"t": "b"}, True),
        ({"key": "t", "operator": "NotIn", "values": ["a"]}, {}, True),
        ({"key": "t", "operator": "Exists"}, {"t": ""}, True),
        ({"key": "t", "operator": "Exists"}, {}, False),
        ({"key": "t", "operator": "DoesNotExist"}, {"t": "a"}, False),
        ({"key": "t", "operator": "DoesNotExist"}, {}, True),
    ],
)
def test_selector_requirements_read_as_kubernetes_reads_them(
    requirement: dict[str, Any], labels: dict[str, str], held: bool
) -> None:
    assert selector_matches({"matchExpressions": [requirement]}, labels) is held


def test_match_labels_and_expressions_must_all_hold() -> None:
    selector = {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]}
    assert selector_matches(selector, {"a": "1", "b": "x"})
    assert not selector_matches(selector, {"a": "1"})
    assert not selector_matches(selector, {"a": "2", "b": "x"})
    assert selector_matches({}, {})


def _fleet_appset(s: StackSettings) -> dict[str, Any]:
    return by_kind(argocd_objects(load_catalog(REPO), s), "ApplicationSet")["web"]


def test_the_cluster_parameters_win_over_the_elements_and_elements_are_templated() -> None:
    s = fleet()
    appset = copy.deepcopy(_fleet_appset(s))
    elements = appset["spec"]["generators"][0]["matrix"]["generators"][1]["list"]["elements"]
    elements[0]["name"] = "mine"  # the cluster generator's `name` wins (matrix.go)
    elements[0]["patch"]["spec"]["source"]["path"] = "apps/{{ .name }}"  # nested: templated
    out = {a["metadata"]["name"]: a for a in expand(appset, generator_params(s))}
    first = out[f"{elements[0]['app']}-east"]["spec"]
    assert first["destination"]["name"] == "east"
    assert first["source"]["path"] == "apps/east"
    elements[0]["metadata"] = {"labels": {}}
    with pytest.raises(TemplateError, match="both set maps"):
        expand(appset, generator_params(s))


def test_expand_refuses_two_applications_of_one_name_as_argo_cd_does() -> None:
    s = fleet()
    appset = copy.deepcopy(_fleet_appset(s))
    appset["spec"]["generators"].append(copy.deepcopy(appset["spec"]["generators"][0]))
    first = appset["spec"]["generators"][0]["matrix"]["generators"][1]["list"]["elements"][0]
    with pytest.raises(TemplateError) as info:
        expand(appset, generator_params(s))
    assert str(info.value) == (
        f"ApplicationSet web contains applications with duplicate name: {first['app']}-east"
    )


def test_expand_refuses_what_it_does_not_evaluate() -> None:
    s = fleet()
    appset = _fleet_appset(s)
    with pytest.raises(TemplateError, match="needs the clusters' parameters"):
        expand(appset)
    for path, value, match in [
        (("generators", 0, "matrix", "generators", 0, "clusters", "selector"), {}, "without"),
        (("generators", 0, "matrix", "generators", 0, "clusters", "values"), {"a": "b"}, "fields"),
        (("generators", 0, "matrix", "generators", 1), {"git": {}}, "unsupported matrix"),
        (("templatePatch",), "{{ toJson .patch | upper }}", "unsupported template action"),
        (("templatePatch",), '{{ toJson .patch | replace "x" .metadata }}', "takes strings"),
        (("templatePatch",), '{{ toJson .patch | replace "\\"" .name }}', "not evaluated"),
    ]:
        broken = copy.deepcopy(appset)
        node = broken["spec"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        with pytest.raises(TemplateError, match=match):
            expand(broken, generator_params(s))


def test_replace_in_a_pipeline_is_sprigs() -> None:
    params = {"name": "east", "patch": {"v": ["a-X-b", "X"], "w": "<&>"}}
    text = render_template('{{ toJson .patch | replace "X" .name }}', params)
    assert json.loads(text) == {"v": ["a-east-b", "east"], "w": "<&>"}
    assert "\\u003c\\u0026\\u003e" in text  # Go's toJson escapes them
    assert render_template('{{ .name | replace "a" "o" }}', params) == "eost"
    assert render_template('{{ replace "e" "E" .name }}', params) == "East"


# -- property: the pairs are exactly what the selectors select ---------------------------------

label_keys = st.sampled_from(["tier", "zone", constants.LABEL_REGION, *ROLLOUTS])
label_values = st.sampled_from(["a", "b", "true"])
requirements = st.one_of(
    st.builds(
        lambda k, o, v: {"key": k, "operator": o, "values": v},
        label_keys,
        st.sampled_from(["In", "NotIn"]),
        st.lists(label_values, min_size=1, max_size=2),
    ),
    st.builds(
        lambda k, o: {"key": k, "operator": o},
        label_keys,
        st.sampled_from(["Exists", "DoesNotExist"]),
    ),
)
placements = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "matchLabels": st.dictionaries(label_keys, label_values, max_size=2),
        "matchExpressions": st.lists(requirements, max_size=2),
    },
)
spokes = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True).filter(
                lambda n: n not in ("dev", "prod")
            ),
            "kubeconfig": st.just({"context": "c"}),
            "labels": st.dictionaries(st.sampled_from(["tier", "zone"]), label_values, max_size=2),
            "addons": st.sampled_from([[], ["rollouts"]]),
        },
        optional={"region": st.sampled_from(["a", "b"])},
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda spoke: str(spoke["name"]),
)


def _oracle(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes' rules, written out once more for the test."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for r in selector.get("matchExpressions") or []:
        value = labels.get(r["key"])
        ok = {
            "In": value is not None and value in r.get("values", []),
            "NotIn": value is None or value not in r.get("values", []),
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }[r["operator"]]
        if not ok:
            return False
    return True


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["web", "data"]), placements), min_size=1, max_size=5),
    spokes,
    st.just("dev"),  # a stack with spokes has no admission control yet, every prod stack has
)
def test_expansion_generates_exactly_the_selected_pairs(
    apps: list[tuple[str, dict[str, Any] | None]], clusters: list[dict[str, Any]], env: str
) -> None:
    catalog = Catalog(
        tuple(
            app(f"app{i}", team=team, placement=None if p is None else {"clusterSelector": p})
            for i, (team, p) in enumerate(apps)
        )
    )
    s = minimal_settings(env, fleet={"clusters": clusters})
    objects = argocd_objects(catalog, s)
    out = {a["metadata"]["name"]: a for a in applications(objects, generator_params(s))}
    labels = {c["name"]: c["metadata"]["labels"] for c in generator_params(s)}
    expected = {
        f"app{i}-{cluster}"
        for i, (_, p) in enumerate(apps)
        for cluster, spoke_labels in labels.items()
        if _oracle(p, spoke_labels)
    }
    assert set(out) == expected
    assert set(by_kind(objects, "ApplicationSet")) == {team for team, _ in apps}
    projects = by_kind(objects, "AppProject")
    for name, application in out.items():
        spec = application["spec"]
        cluster = spec["destination"]["name"]
        assert name == f"{application['metadata']['labels'][constants.LABEL_APP]}-{cluster}"
        destinations = projects[spec["project"]]["spec"]["destinations"]
        assert {"name": cluster, "namespace": spec["destination"]["namespace"]} in destinations


def test_the_policy_names_the_app_of_a_pruning_prod_element() -> None:
    catalog = Catalog(
        (app("a", environments={"dev": {"sync": {"automated": True, "prune": True}}}),)
    )
    [appset] = by_kind(argocd_objects(catalog, fleet()), "ApplicationSet").values()
    # No prod stack has spokes yet (they would escape its admission control): the policy reads
    # what one would declare.
    appset["metadata"]["labels"][constants.LABEL_ENV] = "prod"
    [message] = rules.auto_prune_violations("edge", "ApplicationSet", appset)
    assert message.startswith(
        "spec.generators[0].matrix.generators[1].list.elements[0](a).patch.spec.syncPolicy."
    )


def test_an_added_application_names_its_cluster() -> None:
    apps = {f"argocd/{name}": a for name, a in generated(fleet()).items()}
    [change] = diff_applications({}, {"argocd/hello-web-west": apps["argocd/hello-web-west"]})
    assert change.details[0].startswith("cluster `west`, namespace `web`, project `web`")


# -- the PR plan and the renders ---------------------------------------------------------------


def _write_fleet_stack(root: Path, *spokes: dict[str, Any], **sections: Any) -> str:
    """``Pulumi.edge.yaml``: the repository's dev stack with ``spokes`` and ``sections``
    replaced."""
    stack = "edge"
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    document["config"]["gitops-platform:environment"] = "dev"
    document["config"]["gitops-platform:fleet"] = {"clusters": list(spokes)}
    for key, value in sections.items():
        document["config"][f"gitops-platform:{key}"] = value
    (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return stack


def test_a_helm_app_renders_per_cluster_values_where_they_exist(
    tmp_path: Path, tools: None
) -> None:
    checkout = copy_example_catalog(tmp_path)
    stack = _write_fleet_stack(checkout, EAST, WEST)
    (checkout / "apps/metrics-cache/values/west.yaml").write_text('image:\n  tag: "7.4.2"\n')
    side = load_side(Revision("head", "HEAD", "0" * 40, checkout), stack, checkout)
    assert side.settings is not None
    target = target_cluster(side.settings)
    images = {}
    for cluster in ("east", "west"):
        application = side.applications[f"argocd/metrics-cache-{cluster}"]
        assert f"apps/metrics-cache/values/{cluster}.yaml" in input_files(
            application, checkout, side.settings.repo_url
        )
        objects = {
            object_key(o): o
            for o in render_application(application, checkout, side.settings.repo_url, target)
        }
        statefulset = objects["apps/v1/StatefulSet//metrics-cache"]
        images[cluster] = statefulset["spec"]["template"]["spec"]["containers"][0]["image"]
    assert images == {  # east has no values/east.yaml: skipped, as the repo-server skips it
        "east": "ghcr.io/example-org/mirror/bitnami/redis:7.4.1",
        "west": "ghcr.io/example-org/mirror/bitnami/redis:7.4.2",
    }


def test_the_plan_says_an_app_moved_off_a_spoke_keeps_its_workloads(tmp_path: Path) -> None:
    sides = []
    for label, east in (("base", EAST), ("head", {**EAST, "addons": []})):
        checkout = copy_example_catalog(tmp_path / label)
        stack = _write_fleet_stack(checkout, east, WEST)
        sides.append(load_side(Revision(label, label, "0" * 40, checkout), stack, checkout))
    before, after = sides
    assert "argocd/payments-api-east" in before.applications
    assert "argocd/payments-api-east" not in after.applications
    found = {(w.kind, w.message) for w in warnings("edge", before, after, [])}
    assert (
        "application-removed",
        "Application `argocd/payments-api-east` disappears: the ApplicationSet controller "
        "deletes it (applicationsSync: sync); its resources stay in the cluster, unmanaged (the "
        "ApplicationSet's preserveResourcesOnDeletion)",
    ) in found
    assert (
        "applicationset-loss",
        "ApplicationSet `argocd/payments` loses 2 of its 2 Applications (more than "
        f"{constants.PLAN_APPSET_LOSS_SHARE:.0%}): checkout-web-east, payments-api-east",
    ) in found


def test_platformctl_expand_prints_one_application_per_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO / "apps", tmp_path / "apps")
    stack = _write_fleet_stack(tmp_path, EAST, WEST)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("expand", "--stack", stack)
    assert code == 0, err
    documents = list(yaml.safe_load_all(out))
    pairs = sorted(
        (d["metadata"]["labels"][constants.LABEL_APP], d["spec"]["destination"]["name"])
        for d in documents
    )
    assert pairs == sorted(
        [(a, c) for a in EVERYWHERE for c in ("east", "west")] + [(a, "east") for a in PROGRESSIVE]
    )
    for document in documents:
        app_name = document["metadata"]["labels"][constants.LABEL_APP]
        cluster = document["spec"]["destination"]["name"]
        assert document["metadata"]["name"] == f"{app_name}-{cluster}"


def _plan_sides(
    tmp_path: Path, name: str, edit: Callable[[str], str]
) -> tuple[StackSide, StackSide]:
    """A dev stack with east and west and prod's ``applicationsSync: create-update`` (no
    prod stack has spokes yet): base the committed catalog, head the same with app ``name``'s
    app.yaml edited."""
    dev = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    sync = {**dev["gitops-platform:sync"], "applicationsSync": "create-update"}
    sides = []
    for label in ("base", "head"):
        checkout = copy_example_catalog(tmp_path / label)
        if label == "head":
            file = checkout / "apps" / name / "app.yaml"
            file.write_text(edit(file.read_text()))
        stack = _write_fleet_stack(checkout, EAST, WEST, sync=sync)
        sides.append(load_side(Revision(label, label, "0" * 40, checkout), stack, checkout))
    return sides[0], sides[1]


def test_the_plan_moves_nothing_when_a_placement_changes(tmp_path: Path) -> None:
    placement = "placement:\n  clusterSelector:\n    matchLabels: {platform.gitops/region: eu}\n"
    before, after = _plan_sides(tmp_path, "hello-web", lambda text: text + placement)
    web = by_kind(list(after.objects.values()), "ApplicationSet")["web"]
    assert list_members(web) == [["experiments"], ["hello-web"]]  # another generator
    for key in ("argocd/hello-web-east", "argocd/experiments-west"):
        assert before.generated_by[key] == after.generated_by[key] == "ApplicationSet argocd/web"
    assert "argocd/hello-web-west" not in after.applications
    found = warnings("edge", before, after, [])
    assert [w.kind for w in found if w.kind == "application-moved"] == []


def test_the_plan_warns_of_an_application_moving_to_another_team(tmp_path: Path) -> None:
    before, after = _plan_sides(
        tmp_path, "metrics-cache", lambda text: text.replace("team: data\n", "team: web\n")
    )
    moved = [
        w.message for w in warnings("edge", before, after, []) if w.kind == "application-moved"
    ]
    assert moved == [
        f"Application `argocd/metrics-cache-{cluster}` moves from ApplicationSet `argocd/data` "
        "to `argocd/web` (its app's team changed): with applicationsSync: create-update the old "
        "one keeps it and the new one cannot update it (the old one owns it): delete the "
        "Application by hand (it has no resources finalizer, its resources stay) and the new "
        "one creates it"
        for cluster in ("east", "west")
    ]
