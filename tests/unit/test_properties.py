"""Property-based: for any valid catalog, the generated ApplicationSets and the Applications
they expand to keep the platform's invariants."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.catalog import App, AppDefinition, Catalog
from infra.catalog.models import RESERVED_PROJECT_NAMES
from infra.specs import argocd_objects, expand
from tests.support import schema_errors
from tests.unit.factories import minimal_settings

label = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
envs = st.dictionaries(
    st.sampled_from(["dev", "prod"]),
    st.fixed_dictionaries(
        {"enabled": st.booleans(), "replicas": st.none() | st.integers(0, 100)},
        optional={
            "sync": st.fixed_dictionaries(
                {},
                optional={
                    "automated": st.booleans(),
                    "prune": st.booleans(),
                    "selfHeal": st.booleans(),
                },
            )
        },
    ),
    min_size=1,
)
sources = st.one_of(
    st.just({"type": "kustomize"}),
    st.builds(
        lambda c, v: {
            "type": "helm",
            "repoURL": f"https://charts.example.com/{c}",
            "chart": c,
            "version": v,
        },
        label,
        st.from_regex(r"[0-9]\.[0-9]\.[0-9]", fullmatch=True),
    ),
)


@st.composite
def catalogs(draw: Any) -> Catalog:
    names = draw(st.lists(label, min_size=1, max_size=8, unique=True))
    # Argo CD owns the AppProject `default` and the names `argocd`/`argocd-*`.
    teams = draw(
        st.lists(
            label.filter(lambda t: t not in RESERVED_PROJECT_NAMES and not t.startswith("argocd")),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    apps = []
    for i, name in enumerate(names):
        team = draw(st.sampled_from(teams))
        definition = AppDefinition.model_validate(
            {
                "team": team,
                "namespace": f"{team}-ns{i % 2}",  # namespaces owned by one team only
                "image": {"repository": f"ghcr.io/example/{name}"},
                "source": draw(sources),
                "environments": draw(envs),
            }
        )
        apps.append(
            App(
                name=f"app-{name}",
                file=f"apps/app-{name}/app.yaml",
                folder=f"apps/app-{name}",
                definition=definition,
            )
        )
    return Catalog(apps=tuple(apps))


stack_settings = st.builds(
    lambda env, automated, prune, heal: minimal_settings(
        env,
        git={"repoURL": "https://git.example.com/platform.git"},
        sync={"automated": automated, "prune": prune, "selfHeal": heal},
        catalog={"allowEmpty": True},
    ),
    st.sampled_from(["dev", "prod"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(catalogs(), stack_settings)
def test_generated_applications_keep_the_invariants(catalog: Catalog, s: Any) -> None:
    objects = argocd_objects(catalog, s)
    projects = {o["metadata"]["name"]: o for o in objects if o["kind"] == "AppProject"}
    appsets = [o for o in objects if o["kind"] == "ApplicationSet"]
    generated = [a for appset in appsets for a in expand(appset)]
    enabled = {a.name: a for a in catalog.enabled_in(s.environment)}

    # Exactly the enabled apps, each once.
    assert sorted(a["metadata"]["name"] for a in generated) == sorted(enabled)
    # One project and one ApplicationSet per team with an enabled app.
    assert set(projects) == {a.definition.team for a in enabled.values()}
    assert {o["metadata"]["name"] for o in appsets} == set(projects)
    for app in generated:
        name = app["metadata"]["name"]
        definition = enabled[name].definition
        spec = app["spec"]
        project = projects[spec["project"]]["spec"]
        assert spec["project"] == definition.team
        assert spec["destination"]["namespace"] == definition.namespace
        assert {
            "server": spec["destination"]["server"],
            "namespace": definition.namespace,
        } in project["destinations"]
        for source in spec.get("sources") or [spec["source"]]:
            assert source["repoURL"] in project["sourceRepos"]
            if "chart" not in source:
                assert source["targetRevision"] == s.branch
        override = definition.environments[s.environment].sync
        automated = s.sync.automated if override.automated is None else override.automated
        assert ("automated" in spec["syncPolicy"]) == automated
        assert schema_errors(app) == []
    for obj in objects:
        assert schema_errors(obj) == []
