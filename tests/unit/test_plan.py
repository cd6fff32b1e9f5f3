"""platformctl plan on real git history: one pull request adds an app, bumps an image, changes
a Helm value, renames an app and removes another; the plan lists all five with their rendered
objects and warns about the rename and the removal. Rendering runs the toolchain's kustomize
and helm (put first on PATH by the ``tools`` fixture): missing tools fail these tests, never skip
them."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.app import app
from tests.support import REPO
from tests.unit.gitrepo import git, isolate_git, stack_file, write_files

GOLDEN = REPO / "tests" / "golden" / "plan-dev.md"


def _directory_app(name: str, team: str = "web", namespace: str = "web") -> dict[str, str]:
    return {
        f"apps/{name}/app.yaml": f"team: {team}\nnamespace: {namespace}\nimage:\n"
        f"  repository: ghcr.io/example-org/{name}\nsource:\n  type: directory\n"
        "environments:\n  dev: {}\n",
        f"apps/{name}/manifests/deployment.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: site\nspec:\n"
            "  template:\n    spec:\n      containers:\n        - name: web\n"
            f"          image: ghcr.io/example-org/{name}:1.0.0\n"
        ),
        f"apps/{name}/manifests/service.yaml": (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: site\nspec:\n  ports:\n"
            "    - port: 80\n"
        ),
        f"apps/{name}/manifests/notes.txt": "not a manifest: Argo CD skips it\n",
    }


def _kustomize_app(name: str, tag: str, namespace: str = "shop") -> dict[str, str]:
    return {
        f"apps/{name}/app.yaml": f"team: shop\nnamespace: {namespace}\nimage:\n"
        f"  repository: ghcr.io/example-org/{name}\nsource:\n  type: kustomize\n"
        "environments:\n  dev:\n    replicas: 2\n",
        f"apps/{name}/base/kustomization.yaml": "resources:\n  - deployment.yaml\n"
        "  - ../../../shared/monitoring\n",
        f"apps/{name}/base/deployment.yaml": (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
            "  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: app\n"
            f"          image: ghcr.io/example-org/{name}\n"
        ),
        f"apps/{name}/overlays/dev/kustomization.yaml": (
            f"resources:\n  - ../../base\nimages:\n  - name: ghcr.io/example-org/{name}\n"
            f'    newTag: "{tag}"\n'
        ),
    }


SHARED = {
    "shared/monitoring/kustomization.yaml": "resources:\n  - config.yaml\n",
    "shared/monitoring/config.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: monitoring\ndata:\n  level: info\n"
    ),
}


def _helm_app(greeting: str) -> dict[str, str]:
    return {
        "apps/metrics/app.yaml": "team: data\nnamespace: data\nimage:\n"
        "  repository: ghcr.io/example-org/metrics\nsource:\n  type: helm\n  path: chart\n"
        "environments:\n  dev: {}\n",
        "apps/metrics/chart/Chart.yaml": "apiVersion: v2\nname: metrics\nversion: 0.1.0\n",
        "apps/metrics/chart/values.yaml": "greeting: hello\nimage:\n  tag: '1'\n",
        "apps/metrics/chart/templates/config.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
            "  namespace: {{ .Release.Namespace }}\ndata:\n"
            "  greeting: {{ .Values.greeting | quote }}\n"
            "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
        ),
        # Gated on the cluster's API, as charts do: present only with --api-versions.
        "apps/metrics/chart/templates/pdb.yaml": (
            '{{- if .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" }}\n'
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n"
            "  name: {{ .Release.Name }}\nspec:\n  maxUnavailable: 1\n{{- end }}\n"
        ),
        "apps/metrics/values/dev.yaml": f"greeting: {greeting}\n",
    }


def _dev_stack() -> str:
    return stack_file("dev", branch="dev") + (
        "  gitops-platform:sync:\n    automated: true\n    prune: true\n    selfHeal: true\n"
        "    applicationsSync: sync\n"
    )


def _base_files() -> dict[str, str]:
    return {
        "Pulumi.yaml": "name: gitops-platform\nruntime: python\n",
        "Pulumi.dev.yaml": _dev_stack(),
        **SHARED,
        **_directory_app("keep"),
        **_kustomize_app("shop", "1.0.0"),
        **_helm_app("hello"),
        **_directory_app("old-site"),
        **_kustomize_app("gone", "3.0.0", namespace="gone"),
    }


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)


@pytest.fixture
def pull_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose ``dev`` is the base and whose checked-out ``feature`` is the head."""
    isolate_git(monkeypatch, tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=dev")
    write_files(repo, _base_files())
    _commit(repo, "catalog")
    git(repo, "checkout", "--quiet", "-b", "feature")
    write_files(repo, _directory_app("fresh", team="data", namespace="fresh"))  # added
    write_files(repo, _kustomize_app("shop", "1.1.0"))  # image bump
    write_files(repo, _helm_app("bonjour"))  # a Helm value
    git(repo, "mv", "apps/old-site", "apps/new-site")  # a rename
    git(repo, "rm", "-r", "--quiet", "apps/gone")  # a removal
    _commit(repo, "the pull request")
    monkeypatch.chdir(repo)
    return repo


def _plan(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["plan", *args])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def _normalised(text: str, repo: Path) -> str:
    for ref in ("dev", "feature"):
        commit = git(repo, "rev-parse", ref).strip()
        text = text.replace(commit[:12], f"<{ref}>")
    return text


def test_one_plan_lists_the_five_changes_with_rendered_objects(
    pull_request: Path, tools: None
) -> None:
    code, out, err = _plan("--base", "dev", "--head", "feature", "--output", "json")
    assert code == 0, err
    plan = json.loads(out)
    (stack,) = plan["stacks"]
    changes = {a["key"]: a["change"] for a in stack["applications"]}
    # The image bump and the Helm value change files the Applications read, not the
    # Applications: those two are in the rendered objects below, not in this table.
    assert changes == {
        "argocd/fresh": "added",
        "argocd/new-site": "added",
        "argocd/old-site": "removed",
        "argocd/gone": "removed",
    }
    renders = {r["application"]: r for r in stack["renders"]}
    assert set(renders) == {
        "argocd/fresh",
        "argocd/shop",
        "argocd/metrics",
        "argocd/new-site",
        "argocd/old-site",
        "argocd/gone",
    }, "keep's inputs did not change: it is not rendered"
    objects = {r: {o["key"]: o for o in v["objects"]} for r, v in renders.items()}
    bump = objects["argocd/shop"]["apps/v1/Deployment//shop"]
    assert bump["change"] == "changed"
    assert "-      - image: ghcr.io/example-org/shop:1.0.0" in bump["diff"]
    assert "+      - image: ghcr.io/example-org/shop:1.1.0" in bump["diff"]
    removed = objects["argocd/gone"]["apps/v1/Deployment//gone"]["diff"]
    assert "-  replicas: 2" in removed, "kustomize edit set replicas, as Argo CD does"
    helm = objects["argocd/metrics"]["v1/ConfigMap/data/metrics"]
    assert "-  greeting: hello" in helm["diff"] and "+  greeting: bonjour" in helm["diff"]
    assert renders["argocd/metrics"]["objectsAfter"] == 2, "the API-gated PDB is rendered"
    assert set(objects["argocd/fresh"]) == {"apps/v1/Deployment//site", "v1/Service//site"}
    assert {o["change"] for o in objects["argocd/gone"].values()} == {"removed"}
    assert "v1/ConfigMap//monitoring" in objects["argocd/gone"], "the shared base is followed"
    warned = [(w["kind"], w["message"]) for w in plan["warnings"]]
    kinds = {kind for kind, _ in warned}
    assert {"rename", "application-removed", "namespace-removed"} <= kinds
    # No Application that stays loses an object; a removed one's resources are kept.
    assert "prune" not in kinds
    rename = next(m for k, m in warned if k == "rename")
    assert "`argocd/old-site` looks renamed to `argocd/new-site`" in rename
    removal = next(m for k, m in warned if k == "application-removed" and "argocd/gone" in m)
    assert "its resources stay in the cluster, unmanaged" in removal
    losses = [m for k, m in warned if k == "applicationset-loss"]
    assert [m.split("`")[1] for m in losses] == ["argocd/shop"], "a rename is not a loss"


def test_markdown_matches_the_golden(pull_request: Path, tools: None) -> None:
    code, out, err = _plan("--base", "dev", "--head", "feature")
    assert code == 0, err
    assert out.startswith("<!-- platformctl:plan -->\n")
    text = _normalised(out, pull_request)
    if os.environ.get("UPDATE_GOLDENS"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), f"{GOLDEN.name} is stale: run `make goldens`"


def test_a_shared_base_change_renders_every_app_including_it(
    pull_request: Path, tools: None
) -> None:
    git(pull_request, "checkout", "--quiet", "dev")
    config = pull_request / "shared/monitoring/config.yaml"
    config.write_text(config.read_text().replace("info", "debug"))
    _commit(pull_request, "shared: debug")
    code, out, err = _plan("--base", "dev~1", "--head", "dev", "--output", "json")
    assert code == 0, err
    renders = {r["application"]: r for r in json.loads(out)["stacks"][0]["renders"]}
    assert set(renders) == {"argocd/shop", "argocd/gone"}
    assert renders["argocd/shop"]["inputs"] == ["shared/monitoring/config.yaml"]


def test_objects_a_sync_would_prune_are_warned(pull_request: Path, tools: None) -> None:
    git(pull_request, "rm", "--quiet", "apps/keep/manifests/service.yaml")
    _commit(pull_request, "keep: no Service")
    code, out, err = _plan("--base", "feature~1", "--output", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert [(w["kind"], w["message"]) for w in plan["warnings"]] == [
        (
            "prune",
            "`argocd/keep`: automated sync with prune deletes 1 object(s): `v1/Service//site`",
        )
    ]


def test_nothing_changed_renders_nothing(pull_request: Path) -> None:
    code, out, err = _plan("--base", "feature", "--head", "feature", "--output", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["warnings"] == [] and plan["stacks"][0]["renders"] == []


def test_full_output_holds_the_whole_plan(pull_request: Path, tmp_path: Path, tools: None) -> None:
    full = tmp_path / "plan.md"
    code, out, err = _plan("--base", "dev", "--full-output", str(full))
    assert code == 0, err
    assert full.read_text() == out  # small enough: nothing folded


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "nope"], "--base: unknown revision 'nope'"),
        (["--base=--upload-pack=touch x"], "--base: '--upload-pack=touch x' is not a git revision"),
        (["--base", "dev", "--head=-x"], "--head: '-x' is not a git revision"),
        (["--base", "dev", "--stack", "nope"], "--stack: no stack 'nope'"),
        (["--base", "dev", "--preview", "dev"], "--preview: expected STACK=FILE"),
    ],
)
def test_bad_input_is_one_line(pull_request: Path, args: list[str], message: str) -> None:
    code, _, err = _plan(*args)
    assert code == 1
    assert err.startswith(f"error: {message}"), err
    assert len(err.strip().splitlines()) == 1
    assert not (pull_request / "x").exists()


def test_an_invalid_catalog_at_head_names_the_revision_file_and_field(pull_request: Path) -> None:
    app_file = pull_request / "apps/fresh/app.yaml"
    app_file.write_text(app_file.read_text().replace("team: data", "team: Data"))
    _commit(pull_request, "broken")
    code, _, err = _plan("--base", "dev")
    assert code == 1
    assert re.match(r"head \(HEAD\): apps/fresh/app.yaml: team: ", err), err


def test_a_missing_tool_is_one_line(pull_request: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, _, err = _plan("--base", "dev")
    assert code == 1
    assert err.startswith("error: kustomize is not on PATH") or err.startswith(
        "error: helm is not on PATH"
    ), err
    assert len(err.strip().splitlines()) == 1
