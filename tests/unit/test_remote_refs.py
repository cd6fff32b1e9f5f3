"""An app's sources stay inside this repository: every kustomize and Helm reference that would
fetch from elsewhere, leave the repository or run a program at render time is refused by the
catalog loader (so by `validate`, `render`, `preview` and `up`), naming the file and field.
Each case is a class the check holds; each test fails when its check is removed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.catalog import load_catalog
from infra.catalog.remote_refs import remote_reference_problems
from infra.errors import ValidationError
from tests.support import copy_example_catalog

OVERLAY = "apps/checkout-web/overlays/dev/kustomization.yaml"
BASE = "apps/checkout-web/base/kustomization.yaml"
CHART = "apps/metrics-cache/chart/Chart.yaml"


def kustomization(body: str) -> str:
    return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + body


REMOTE_REFS = [
    "https://raw.example.com/org/repo/main/deploy.yaml",
    "http://10.0.0.1/x.yaml",
    "git::https://git.example.com/org/repo.git//deploy?ref=v1",
    "ssh://git@git.example.com/org/repo.git",
    "git@github.com:org/repo.git/deploy",
    "github.com/org/repo/deploy?ref=main",
    "github.com/org/repo",
    "gh:org/repo",
    "example.com/org/repo//base",
    "s3::https://bucket.example.com/k.yaml",
]


@pytest.mark.parametrize("ref", REMOTE_REFS)
@pytest.mark.parametrize("field", ["resources", "bases", "components", "crds", "configurations"])
def test_a_remote_kustomize_reference_is_refused(tmp_path: Path, field: str, ref: str) -> None:
    copy_example_catalog(tmp_path)
    (tmp_path / BASE).write_text(
        kustomization(f"resources:\n  - deployment.yaml\n  - service.yaml\n{field}:\n  - {ref}\n")
        if field != "resources"
        else kustomization(f"resources:\n  - deployment.yaml\n  - service.yaml\n  - {ref}\n")
    )
    problems = remote_reference_problems(tmp_path, tmp_path / "apps")
    index = 2 if field == "resources" else 0
    assert [(p.file, p.field) for p in problems] == [(BASE, f"{field}[{index}]")]
    assert "outside this repository" in problems[0].message


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ("patches:\n  - path: https://x.example/p.yaml\n", "patches[0].path", "outside"),
        (
            "patchesJson6902:\n  - path: ../../../../../etc/p.yaml\n    target: {kind: X}\n",
            "patchesJson6902[0].path",
            "leaves this repository",
        ),
        (
            "patchesStrategicMerge:\n  - https://x.example/p.yaml\n",
            "patchesStrategicMerge[0]",
            "outside",
        ),
        (
            "replacements:\n  - path: /etc/replacement.yaml\n",
            "replacements[0].path",
            "leaves this repository",
        ),
        ("openapi:\n  path: https://x.example/schema.json\n", "openapi.path", "outside"),
        (
            "configMapGenerator:\n  - name: c\n    files: [k=/etc/passwd]\n",
            "configMapGenerator[0].files[0]",
            "leaves this repository",
        ),
        (
            "secretGenerator:\n  - name: s\n    envs: [../../../../../.env]\n",
            "secretGenerator[0].envs[0]",
            "leaves this repository",
        ),
        (
            "helmCharts:\n  - name: redis\n    repo: https://charts.example.com\n",
            "helmCharts",
            "runs helm at render time",
        ),
        (
            "generators:\n  - apiVersion: example.com/v1\n    kind: ChartInflator\n"
            "    metadata: {name: c}\n",
            "generators[0]",
            "not one of kustomize's built-in",
        ),
        (
            "transformers:\n  - apiVersion: builtin\n    kind: LabelTransformer\n    metadata:\n"
            "      name: t\n      annotations:\n        config.kubernetes.io/function: |\n"
            "          exec: {path: ./run.sh}\n",
            "transformers[0]",
            "KRM function",
        ),
        ("resources:\n  - ../../../../../../outside\n", "resources[0]", "leaves this repository"),
    ],
)
def test_other_ways_out_are_refused(tmp_path: Path, body: str, field: str, words: str) -> None:
    copy_example_catalog(tmp_path)
    (tmp_path / OVERLAY).write_text(kustomization(body))
    problems = remote_reference_problems(tmp_path, tmp_path / "apps")
    assert [(p.file, p.field) for p in problems] == [(OVERLAY, field)], problems
    assert words in problems[0].message


def test_a_plugin_named_in_a_file_is_read_and_refused(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    overlay = tmp_path / OVERLAY
    (overlay.parent / "gen.yaml").write_text(
        "apiVersion: fn.example.com/v1\nkind: Render\nmetadata:\n  name: r\n  annotations:\n"
        "    config.kubernetes.io/function: |\n      container: {image: x}\n"
    )
    (overlay.parent / "labels.yaml").write_text(
        "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {a: b}\n"
    )
    overlay.write_text(
        kustomization(
            "resources: [../../base]\ngenerators: [gen.yaml]\ntransformers: [labels.yaml]\n"
        )
    )
    problems = remote_reference_problems(tmp_path, tmp_path / "apps")
    assert [(p.file, p.field) for p in problems] == [
        (OVERLAY, "generators[0] (apps/checkout-web/overlays/dev/gen.yaml)")
    ]


@pytest.mark.parametrize(
    "repository",
    ["https://charts.example.com", "oci://169.254.169.254/charts", "@bitnami", "http://x"],
)
def test_a_chart_dependency_from_a_repository_is_refused(tmp_path: Path, repository: str) -> None:
    copy_example_catalog(tmp_path)
    chart = tmp_path / CHART
    chart.write_text(
        chart.read_text()
        + f'dependencies:\n  - name: redis\n    version: 1.0.0\n    repository: "{repository}"\n'
    )
    problems = remote_reference_problems(tmp_path, tmp_path / "apps")
    assert [(p.file, p.field) for p in problems] == [(CHART, "dependencies[0].repository")]


def test_local_references_and_the_examples_pass(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    chart = tmp_path / CHART
    (chart.parent / "charts" / "common").mkdir(parents=True)
    chart.write_text(
        chart.read_text()
        + "dependencies:\n  - name: common\n    version: 1.0.0\n    repository: file://charts/common\n"
    )
    overlay = tmp_path / OVERLAY
    (overlay.parent / "labels.yaml").write_text(
        "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {a: b}\n"
    )
    overlay.write_text(
        kustomization(
            "resources:\n  - ../../base\ntransformers: [labels.yaml]\n"
            "patches:\n  - patch: |-\n      - op: replace\n        path: /spec/replicas\n"
            "        value: 2\n    target: {kind: Deployment}\n"
            "configMapGenerator:\n  - name: c\n    literals: [a=b]\n"
        )
    )
    assert remote_reference_problems(tmp_path, tmp_path / "apps") == []


def test_validate_refuses_a_remote_base_in_one_line(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    (tmp_path / BASE).write_text(kustomization("resources:\n  - github.com/org/repo?ref=main\n"))
    with pytest.raises(ValidationError) as raised:
        load_catalog(tmp_path, tmp_path / "apps")
    assert [str(p) for p in raised.value.problems if "outside this repository" in p.message] == [
        f"{BASE}: resources[0]: refers to a source outside this repository (kustomize would "
        "fetch it at render time, past the AppProject's sourceRepos); commit what it refers to "
        "under the app's folder"
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "infra.cli", "render", "--stack", "dev"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{BASE}: resources[0]: refers to a source outside this repository" in proc.stderr


def _external_chart(tmp_path: Path, repo_url: str) -> None:
    app = tmp_path / "apps/metrics-cache/app.yaml"
    text = app.read_text().replace("  path: chart\n", f"  repoURL: {repo_url}\n")
    app.write_text(text.replace("type: helm\n", "type: helm\n  chart: redis\n  version: 20.6.2\n"))


@pytest.mark.parametrize(
    "repo_url",
    [
        "oci://169.254.169.254/charts",  # a cloud metadata service (link-local)
        "https://[fe80::1]/charts",
        "https://[::ffff:169.254.169.254]/charts",  # the same, IPv4-mapped
        "https://127.0.0.1:8080/charts",
        "https://10.0.0.7/charts",
        "https://0.0.0.0/charts",
        "https://224.0.0.1/charts",
        "https://2852039166/charts",  # 169.254.169.254 as one number
        "https://0xa9fea9fe/charts",
        "https://0251.0376.0251.0376/charts",
        "oci://localhost/charts",
        "https://metadata.google.internal/charts",
        "https://printer.local/charts",
    ],
)
def test_an_external_chart_from_a_non_public_host_is_refused(tmp_path: Path, repo_url: str) -> None:
    copy_example_catalog(tmp_path)
    _external_chart(tmp_path, repo_url)
    with pytest.raises(ValidationError) as raised:
        load_catalog(tmp_path, tmp_path / "apps")
    [problem] = raised.value.problems
    assert (problem.file, problem.field) == ("apps/metrics-cache/app.yaml", "source.repoURL")
    assert any(
        why in problem.message for why in ("non-public address", "is a number", "only resolves")
    ), problem.message


@pytest.mark.parametrize(
    "repo_url",
    ["https://charts.bitnami.com/bitnami", "oci://ghcr.io/org/charts", "https://8.8.8.8/c"],
)
def test_an_external_chart_from_a_public_host_passes(tmp_path: Path, repo_url: str) -> None:
    copy_example_catalog(tmp_path)
    _external_chart(tmp_path, repo_url)
    assert len(load_catalog(tmp_path, tmp_path / "apps").apps) == 5
