"""A flag that names a path or an image is held to the checks of the setting it overrides:
``--apps-dir`` to ``catalog.appsDir`` (inside the project), ``image.repository`` refuses a tag
or a digest (``--tag``/``--digest`` are checked by :mod:`infra.catalog.image_ref`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.catalog import load_catalog
from infra.catalog.models import image_repository_problem
from infra.cli.app import app
from infra.errors import ValidationError
from tests.support import copy_example_catalog

COMMANDS = [
    ["validate"],
    ["generate", "--check"],
    ["render", "--stack", "dev"],
    ["expand", "--stack", "dev"],
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    copy_example_catalog(root)
    monkeypatch.chdir(root)
    return root


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_apps_dir_outside_the_project_is_refused(project: Path, args: list[str]) -> None:
    outside = project.parent / "elsewhere"
    copy_example_catalog(outside)  # a valid catalog: only the place is wrong
    code, err = run([*args, "--apps-dir", str(outside / "apps")])
    assert code == 1, err
    assert err.startswith("error: --apps-dir: ")
    assert "is outside the project" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["..", "../project/..", "/"])
def test_apps_dir_leaving_the_project_by_dots_is_refused(project: Path, value: str) -> None:
    code, err = run(["validate", "--apps-dir", value])
    assert code == 1 and err.startswith("error: --apps-dir: "), err


def test_apps_dir_naming_the_project_root_is_refused(project: Path) -> None:
    code, err = run(["validate", "--apps-dir", "."])
    assert code == 1
    assert err.strip() == (
        "error: --apps-dir: '.' leaves the repository (or is its root); name a folder inside it"
    )


def test_apps_dir_through_a_link_leaving_the_project_is_refused(project: Path) -> None:
    outside = project.parent / "elsewhere"
    copy_example_catalog(outside)
    os.symlink(outside / "apps", project / "linked")
    code, err = run(["render", "--stack", "dev", "--apps-dir", "linked"])
    assert code == 1
    assert err.startswith("error: --apps-dir: linked is outside the project"), err


def test_apps_dir_through_a_link_inside_the_project_is_refused_like_the_setting(
    project: Path,
) -> None:
    os.symlink(project / "apps", project / "linked")
    code, err = run(["render", "--stack", "dev", "--apps-dir", "linked"])
    assert code == 1
    assert "linked: (file): catalog folder: is a symbolic link" in err, err


def test_an_over_long_apps_dir_is_one_short_line(project: Path) -> None:
    code, err = run(["validate", "--apps-dir", "a" * 5000])
    assert code == 1
    assert err.startswith("error: --apps-dir: aaa") and "too long for a path" in err
    assert len(err) < 300


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_apps_dir_inside_the_project_works(project: Path, args: list[str]) -> None:
    (project / "apps").rename(project / "catalog")
    code, err = run([*args, "--apps-dir", "catalog/"])
    assert code in (0, 1), err
    assert "--apps-dir" not in err
    # generate --check names the generated files of catalog/: they were generated for apps/.
    code, err = run([*args, "--apps-dir", str(project / "catalog")])
    assert "--apps-dir" not in err


# -- image.repository ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repository", "why"),
    [
        ("redis:7", "carries a tag"),
        ("ghcr.io/org/app:1.2.3", "carries a tag"),
        ("registry.example:5000/team/app:v1", "carries a tag"),
        ("localhost:5000", "carries a tag"),
        ("redis@sha256:" + "a" * 64, "carries a digest"),
        ("ghcr.io/org/app:1@sha256:" + "a" * 64, "carries a digest"),
        ("ghcr.io/Org/app", "is not an image repository"),
        ("registry.example:5000/", "is not an image repository"),
    ],
)
def test_image_repository_with_a_tag_or_digest_is_refused(repository: str, why: str) -> None:
    problem = image_repository_problem(repository)
    assert problem is not None and problem.startswith(why)


@pytest.mark.parametrize(
    "repository",
    ["redis", "ghcr.io/org/app", "registry.example:5000/team/app", "localhost:5000/app"],
)
def test_image_repository_accepts_a_registry_with_a_port(repository: str) -> None:
    assert image_repository_problem(repository) is None


def example_with_repository(root: Path, repository: str) -> None:
    """A copy of the example catalog under ``root`` whose hello-web has ``repository``."""
    copy_example_catalog(root)
    app_yaml = root / "apps" / "hello-web" / "app.yaml"
    text = app_yaml.read_text()
    start = text.index("repository:")
    line = text[start : text.index("\n", start)]
    app_yaml.write_text(text.replace(line, f"repository: {repository}"))


def test_app_definition_with_a_tagged_repository_is_refused(tmp_path: Path) -> None:
    example_with_repository(tmp_path, "redis:7")
    with pytest.raises(ValidationError) as info:
        load_catalog(tmp_path)
    found = [str(p) for p in info.value.problems]
    assert any(
        p.startswith("apps/hello-web/app.yaml: image.repository: carries a tag") for p in found
    ), found
    assert not any("redis:7" in p for p in found)  # never echoed: it may hold a credential


def test_app_definition_with_a_registry_port_is_accepted(tmp_path: Path) -> None:
    example_with_repository(tmp_path, "registry.example:5000/team/hello-web")
    catalog = load_catalog(tmp_path)
    (app,) = [a for a in catalog.apps if a.name == "hello-web"]
    assert app.definition.image.repository == "registry.example:5000/team/hello-web"
