"""The catalog loader: the example catalog is valid; every kind of broken definition is
rejected with its file and field named, all problems at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.catalog import load_catalog
from infra.errors import ValidationError
from tests.support import REPO, copy_example_catalog

GOOD = """\
team: web
namespace: shop
image:
  repository: ghcr.io/example-org/shop
source:
  type: kustomize
environments:
  dev:
    enabled: true
    replicas: 2
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    (tmp_path / "apps").mkdir()
    return tmp_path


def add_app(repo: Path, name: str, text: str, overlays: tuple[str, ...] = ("dev",)) -> Path:
    folder = repo / "apps" / name
    folder.mkdir(parents=True)
    (folder / "app.yaml").write_text(text)
    for env in overlays:
        (folder / "overlays" / env).mkdir(parents=True)
        (folder / "overlays" / env / "kustomization.yaml").write_text("resources: []\n")
    return folder


def problems(repo: Path) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_catalog(repo)
    return [str(p) for p in info.value.problems]


def test_example_catalog_is_valid() -> None:
    catalog = load_catalog(REPO)
    assert [a.name for a in catalog.apps] == [
        "checkout-web",
        "experiments",
        "hello-web",
        "metrics-cache",
        "payments-api",
    ]
    assert [a.name for a in catalog.enabled_in("prod")] == [
        "checkout-web",
        "hello-web",
        "metrics-cache",
        "payments-api",
    ]
    assert catalog.teams() == ("data", "payments", "web")


def test_good_definition_loads(repo: Path) -> None:
    add_app(repo, "shop", GOOD)
    (app,) = load_catalog(repo).apps
    assert app.definition.environments["dev"].replicas == 2
    assert app.file == "apps/shop/app.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "colour: blue\n", "apps/shop/app.yaml: colour: unknown field (line 11)"),
        (
            GOOD.replace("replicas: 2", "replicas: two"),
            "apps/shop/app.yaml: environments.dev.replicas: Input should be a valid integer",
        ),
        (
            GOOD.replace("replicas: 2", "replicas: 2\n    replicas: 3"),
            "apps/shop/app.yaml: environments.dev.replicas: duplicate key (first defined on line 10)",
        ),
        (
            GOOD.replace("team: web", "team: Web_Team"),
            "apps/shop/app.yaml: team: 'Web_Team' is not valid here",
        ),
        (
            GOOD.replace("  dev:", "  staging:"),
            "apps/shop/app.yaml: environments.staging: unknown environment; expected one of dev, prod",
        ),
        (
            GOOD.replace("type: kustomize", "type: jsonnet"),
            "apps/shop/app.yaml: source: unknown type 'jsonnet'",
        ),
        (
            GOOD.replace("namespace: shop\n", ""),
            "apps/shop/app.yaml: namespace: required field is missing",
        ),
        (
            GOOD.replace("namespace: shop", "namespace: kube-system"),
            "apps/shop/app.yaml: namespace: 'kube-system' is reserved for the platform (line 2)",
        ),
        (
            GOOD.replace("namespace: shop", "namespace: argocd"),
            "apps/shop/app.yaml: namespace: 'argocd' is reserved for the platform",
        ),
        (
            GOOD + "strategy:\n  type: canary\n",
            "apps/shop/app.yaml: strategy.steps: required for type canary: at least one step",
        ),
        (
            GOOD.replace("repository: ghcr.io/example-org/shop", "repository: ghcr.io/Shop:latest"),
            "apps/shop/app.yaml: image.repository:",
        ),
        ("team: [web\n", "apps/shop/app.yaml: (file): invalid YAML"),
        (
            "team: web\n\tnamespace: shop\n",
            "apps/shop/app.yaml: (file): tab character in indentation; YAML indents with spaces (line 2)",
        ),
        ("- just\n- a list\n", "apps/shop/app.yaml: (file): must be a mapping of fields"),
        (
            GOOD + "---\nteam: other\n",
            "apps/shop/app.yaml: (file): only one YAML document is allowed",
        ),
        (
            GOOD.replace("team: web", "team: &t web\ndescription: *t"),
            "apps/shop/app.yaml: (file): YAML anchors (&) are not allowed (line 1)",
        ),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "duplicate-key",
        "invalid-team-name",
        "unknown-env",
        "unknown-source-type",
        "missing-field",
        "reserved-namespace",
        "argocd-namespace",
        "canary-without-steps",
        "bad-image",
        "yaml-syntax",
        "tabs",
        "not-a-mapping",
        "two-documents",
        "anchors",
    ],
)
def test_broken_definition_is_rejected(repo: Path, text: str, expected: str) -> None:
    add_app(repo, "shop", text)
    found = problems(repo)
    assert any(p.startswith(expected) for p in found), found


def test_yaml_syntax_error_names_the_line(repo: Path) -> None:
    add_app(repo, "shop", GOOD.replace("  type: kustomize", "  type: kustomize\n  path: [a"))
    (problem,) = problems(repo)
    assert problem.startswith("apps/shop/app.yaml: (file): invalid YAML")
    assert "(line 8)" in problem or "(line 7)" in problem


def test_alias_bomb_is_refused_quickly(repo: Path) -> None:
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        bomb.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    add_app(repo, "shop", "\n".join(bomb) + "\n")
    (problem,) = problems(repo)
    assert "anchors (&) are not allowed" in problem


def test_oversized_file_is_refused_unread(repo: Path) -> None:
    add_app(repo, "shop", GOOD + "#" * (70 * 1024) + "\n")
    (problem,) = problems(repo)
    assert problem.startswith("apps/shop/app.yaml: (file): file is ")
    assert "the limit is 65536 bytes" in problem


def test_invalid_folder_name(repo: Path) -> None:
    add_app(repo, "Shop_App", GOOD)
    assert any(
        p.startswith("apps/Shop_App: (folder name): 'Shop_App' is not a DNS-1123")
        for p in problems(repo)
    )


def test_missing_app_yaml(repo: Path) -> None:
    (repo / "apps" / "empty").mkdir()
    assert problems(repo) == [
        "apps/empty/app.yaml: (file): missing: every folder under apps/ needs an app.yaml"
    ]


def test_path_escaping_the_repository(repo: Path) -> None:
    add_app(repo, "shop", GOOD.replace("type: kustomize", "type: kustomize\n  path: ../../.."))
    assert problems(repo) == [
        "apps/shop/app.yaml: source.path: '../../..' escapes the repository (line 7)"
    ]


def test_symlink_escaping_the_app_folder(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    folder = add_app(repo, "shop", GOOD.replace("type: kustomize", "type: kustomize\n  path: link"))
    os.symlink(outside, folder / "link")
    assert problems(repo) == [
        "apps/shop/link: (file): is a symbolic link; links are not followed (commit the file "
        "itself)"
    ]


def test_missing_overlay(repo: Path) -> None:
    text = GOOD + "  prod:\n    enabled: true\n"
    add_app(repo, "shop", text, overlays=("dev",))
    assert problems(repo) == [
        "apps/shop/app.yaml: environments.prod: overlay apps/shop/overlays/prod/"
        "kustomization.yaml does not exist (line 11)"
    ]


def test_disabled_environment_needs_no_overlay(repo: Path) -> None:
    add_app(repo, "shop", GOOD + "  prod:\n    enabled: false\n", overlays=("dev",))
    assert load_catalog(repo).enabled_in("prod") == ()


def test_helm_app_needs_values_per_enabled_environment(repo: Path) -> None:
    text = GOOD.replace(
        "  type: kustomize",
        "  type: helm\n  repoURL: https://charts.example.com\n  chart: shop\n  version: 1.2.3",
    )
    add_app(repo, "shop", text, overlays=())
    assert problems(repo) == [
        "apps/shop/app.yaml: environments.dev: values file apps/shop/values/dev.yaml does not "
        "exist (it holds the image tag) (line 11)"
    ]


def test_helm_chart_version_must_be_exact(repo: Path) -> None:
    text = GOOD.replace(
        "  type: kustomize",
        "  type: helm\n  repoURL: https://charts.example.com\n  chart: shop\n  version: ^1.2",
    )
    add_app(repo, "shop", text, overlays=())
    assert any(
        p.startswith("apps/shop/app.yaml: source.version: '^1.2' is not valid here")
        for p in problems(repo)
    )


def test_two_teams_claiming_one_namespace(repo: Path) -> None:
    add_app(repo, "shop", GOOD)
    add_app(repo, "cart", GOOD.replace("team: web", "team: checkout"))
    assert problems(repo) == [
        "apps/cart/app.yaml: namespace: namespace 'shop' is claimed by several teams "
        "(checkout, web) (line 2)",
        "apps/shop/app.yaml: namespace: namespace 'shop' is claimed by several teams "
        "(checkout, web) (line 2)",
    ]


def test_every_problem_in_every_file_is_reported_at_once(repo: Path) -> None:
    add_app(repo, "one", GOOD + "colour: blue\n")
    add_app(repo, "two", GOOD.replace("namespace: shop", "namespace: Bad"))
    add_app(repo, "three", "team: [\n")
    files = {p.split(":")[0] for p in problems(repo)}
    assert files == {"apps/one/app.yaml", "apps/two/app.yaml", "apps/three/app.yaml"}


def test_stray_file_in_apps(repo: Path) -> None:
    add_app(repo, "shop", GOOD)
    (repo / "apps" / "notes.txt").write_text("hi")
    (repo / "apps" / "README.md").write_text("# apps")
    assert problems(repo) == [
        "apps/notes.txt: (file): unexpected file: apps/ holds one folder per app"
    ]


def test_catalog_copy_helper_is_valid(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    assert len(load_catalog(tmp_path).apps) == 5


def test_every_schema_field_is_documented_in_apps_readme() -> None:
    from pydantic import BaseModel

    from infra.catalog import models

    readme = (REPO / "apps" / "README.md").read_text()
    documented = set()
    for model in (
        models.AppDefinition,
        models.Image,
        models.KustomizeSource,
        models.DirectorySource,
        models.HelmSource,
        models.Strategy,
        models.EnvironmentSettings,
        models.SyncOverride,
    ):
        assert issubclass(model, BaseModel)
        for name in model.model_fields:
            documented.add(name)
            forms = (f"`{name}`", f".{name}`", f"`{name}.")
            assert any(form in readme for form in forms), f"{model.__name__}.{name}"
    assert "replicas" in documented


def test_every_strategy_and_drift_field_is_documented_in_apps_readme() -> None:
    from infra.catalog import models

    readme = (REPO / "apps" / "README.md").read_text()
    for model in (
        models.Strategy,
        models.Checks,
        models.HttpCheck,
        models.SmokeJob,
        models.CanaryStep,
        models.Pause,
        models.IgnoreDifference,
    ):
        for name in model.model_fields:
            forms = (f"`{name}`", f".{name}`", f"`{name}.", f".{name} ")
            assert any(form in readme for form in forms), f"{model.__name__}.{name}"
    assert "`ignoreDifferences`" in readme


def test_example_catalog_shows_every_strategy() -> None:
    catalog = load_catalog(REPO)
    strategies = {app.name: app.definition.strategy.type for app in catalog.apps}
    assert strategies == {
        "checkout-web": "canary",
        "experiments": "rolling",
        "hello-web": "rolling",
        "metrics-cache": "rolling",
        "payments-api": "blueGreen",
    }
    # experiments stays a dev-only playground.
    assert [a.name for a in catalog.enabled_in("prod")].count("experiments") == 0


def test_ignore_differences_shape_is_validated(repo: Path) -> None:
    add_app(
        repo,
        "shop",
        GOOD.replace(
            "environments:",
            "ignoreDifferences:\n"
            "  - kind: Deployment\n"
            "  - kind: service\n"
            "    jsonPointers: [spec/replicas]\n"
            "  - group: apps\n"
            "    kind: Deployment\n"
            "    managedFieldsManagers: [kube-controller-manager]\n"
            "environments:",
        ),
    )
    found = problems(repo)
    for expected in (
        "apps/shop/app.yaml: ignoreDifferences[0]: give jsonPointers or jqPathExpressions "
        "(what to ignore) (line 8)",
        "apps/shop/app.yaml: ignoreDifferences[1].kind: 'service' is not valid here (expected a "
        "kind such as Deployment)",
        "apps/shop/app.yaml: ignoreDifferences[1].jsonPointers[0]: 'spec/replicas' is not valid "
        "here (expected a JSON pointer such as /spec/replicas)",
        "apps/shop/app.yaml: ignoreDifferences[2].managedFieldsManagers: unknown field",
    ):
        assert any(p.startswith(expected) for p in found), (expected, found)
