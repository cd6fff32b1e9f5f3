"""What Argo CD would apply, judged before it is (issue 20, classes 1 and 3): each app rendered
with the toolchain's kustomize and helm (required, never skipped), every Secret with values
refused wherever it was made and traced to a file, every object outside the team's AppProject
refused. The hostile files are written after the catalog is loaded, so these tests exercise
the rendered check alone (the file pre-check would stop some of them earlier); each fails
when its check is removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.catalog import load_catalog
from infra.catalog.secrets_scan import plain_secret_problems
from infra.delivery.applied_checks import Destination, applied_problems, object_problems
from infra.errors import Problem
from infra.settings import load_stack_file
from infra.specs import argocd_objects
from tests.support import copy_example_catalog
from tests.unit.gitrepo import write_files

pytestmark = pytest.mark.usefixtures("tools")

VALUE = "hunter2-do-not-print"
VALUE_B64 = "aHVudGVyMi1kby1ub3QtcHJpbnQ="
SECRET = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {VALUE}\n"


def judge(root: Path, files: dict[str, str], stack: str = "dev") -> list[Problem]:
    """The rendered check of ``stack`` after ``files`` are written (the catalog and its
    Argo CD objects are read before, from the unchanged example)."""
    settings = load_stack_file(root, stack)
    catalog = load_catalog(root, root / "apps", reserved_namespaces=settings.platform_namespaces)
    objects = argocd_objects(catalog, settings)
    write_files(root, files)
    problems = applied_problems(objects, settings, root)
    for problem in problems:
        assert VALUE not in str(problem) and VALUE_B64 not in str(problem)
    return problems


def validate(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`platformctl validate` in ``root``, with ``env`` over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", "validate"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


def found(problems: list[Problem], words: str) -> list[tuple[str, str]]:
    return [(p.file, p.field) for p in problems if words in p.message]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_example_catalog(tmp_path)


def test_the_example_catalog_applies_nothing_it_should_not(root: Path) -> None:
    assert judge(root, {}, "dev") == []
    assert judge(root, {}, "prod") == []


# -- Secrets, wherever they are made -------------------------------------------------------


SECRET_CASES: dict[str, tuple[dict[str, str], str, str]] = {
    "a dot-file of a directory source": (
        {"apps/hello-web/manifests/.db.yaml": SECRET},
        "apps/hello-web/manifests/.db.yaml",
        "Secret web/db",
    ),
    "a JSON file of a directory source": (
        {
            "apps/hello-web/manifests/db.json": '{"apiVersion": "v1", "kind": "Secret", '
            f'"metadata": {{"name": "db"}}, "data": {{"password": "{VALUE_B64}"}}}}'
        },
        "apps/hello-web/manifests/db.json",
        "Secret web/db",
    ),
    "a List item": (
        {
            "apps/hello-web/manifests/list.yaml": "apiVersion: v1\nkind: List\nitems:\n"
            + "".join(f"  {line}\n" for line in ("- " + SECRET.replace("\n", "\n  ")).splitlines())
        },
        "apps/hello-web/manifests/list.yaml",
        "Secret web/db",
    ),
    "a file with another suffix a kustomization lists": (
        {
            "apps/experiments/base/creds.txt": SECRET,
            "apps/experiments/base/kustomization.yaml": "resources:\n  - deployment.yaml\n"
            "  - service.yaml\n  - creds.txt\n",
        },
        "apps/experiments/base/creds.txt",
        "Secret web-experiments/db",
    ),
    "a kustomize Component": (
        {
            "apps/experiments/components/creds/kustomization.yaml": "apiVersion: "
            "kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [secret.yaml]\n",
            "apps/experiments/components/creds/secret.yaml": SECRET,
            "apps/experiments/overlays/dev/kustomization.yaml": "resources: [../../base]\n"
            "components: [../../components/creds]\n",
        },
        "apps/experiments/components/creds/secret.yaml",
        "Secret web-experiments/db",
    ),
    "a generator file": (
        {
            "apps/experiments/overlays/dev/gen.yaml": "apiVersion: builtin\nkind: SecretGenerator\n"
            f"metadata: {{name: creds}}\nliterals: [password={VALUE}]\n",
            "apps/experiments/overlays/dev/kustomization.yaml": "resources: [../../base]\n"
            "generators: [gen.yaml]\n",
        },
        "apps/experiments/overlays/dev/gen.yaml",
        "Secret web-experiments/creds-",
    ),
    "a secretGenerator": (
        {
            "apps/experiments/overlays/dev/kustomization.yaml": "resources: [../../base]\n"
            f"secretGenerator:\n  - name: creds\n    literals: [password={VALUE}]\n",
        },
        "apps/experiments/overlays/dev/kustomization.yaml",
        "Secret web-experiments/creds-",
    ),
    "an inline strategic merge patch": (
        {
            "apps/experiments/base/secret.yaml": "apiVersion: v1\nkind: Secret\n"
            "metadata: {name: db}\ntype: Opaque\n",
            "apps/experiments/base/kustomization.yaml": "resources: [deployment.yaml, "
            "service.yaml, secret.yaml]\n",
            "apps/experiments/overlays/dev/kustomization.yaml": "resources: [../../base]\n"
            "patches:\n  - patch: |-\n      apiVersion: v1\n      kind: Secret\n"
            f"      metadata: {{name: db}}\n      stringData: {{password: {VALUE}}}\n",
        },
        "apps/experiments/overlays/dev/kustomization.yaml",
        "Secret web-experiments/db",
    ),
    "an inline JSON 6902 patch": (
        {
            "apps/experiments/base/secret.yaml": "apiVersion: v1\nkind: Secret\n"
            "metadata: {name: db}\ntype: Opaque\n",
            "apps/experiments/base/kustomization.yaml": "resources: [deployment.yaml, "
            "service.yaml, secret.yaml]\n",
            "apps/experiments/overlays/dev/kustomization.yaml": "resources: [../../base]\n"
            "patches:\n  - target: {kind: Secret, name: db}\n    patch: |-\n"
            f"      - op: add\n        path: /data\n        value: {{password: {VALUE_B64}}}\n",
        },
        "apps/experiments/overlays/dev/kustomization.yaml",
        "Secret web-experiments/db",
    ),
    "Helm values a chart turns into objects": (
        {
            "apps/metrics-cache/chart/templates/extra.yaml": "{{- range .Values.extraObjects }}\n"
            "---\n{{ toYaml . }}\n{{- end }}\n",
            "apps/metrics-cache/values/dev.yaml": 'image:\n  tag: "7.4.1"\nextraObjects:\n'
            "  - apiVersion: v1\n    kind: Secret\n    metadata: {name: db}\n"
            f"    stringData: {{password: {VALUE}}}\n",
        },
        "apps/metrics-cache/chart/templates/extra.yaml",
        "Secret data/db",
    ),
    "a template that builds the kind with printf": (
        {
            "apps/metrics-cache/chart/templates/creds.yaml": "apiVersion: v1\n"
            'kind: {{ printf "%s%s" "Sec" "ret" }}\nmetadata:\n  name: db\n'
            "data:\n  password: {{ .Values.password | b64enc }}\n",
            "apps/metrics-cache/chart/values.yaml": f"password: {VALUE}\n",
        },
        "apps/metrics-cache/chart/templates/creds.yaml",
        "Secret data/db",
    ),
    "a template that builds it with tpl": (
        {
            "apps/metrics-cache/chart/templates/creds.yaml": "{{ tpl .Values.manifest . }}\n",
            "apps/metrics-cache/chart/values.yaml": "manifest: |\n  apiVersion: v1\n"
            "  kind: Secret\n  metadata: {name: db}\n"
            f"  stringData: {{password: {VALUE}}}\n",
        },
        "apps/metrics-cache/chart/templates/creds.yaml",
        "Secret data/db",
    ),
}


@pytest.mark.parametrize("case", SECRET_CASES)
def test_a_secret_with_values_is_refused_wherever_it_is_made(root: Path, case: str) -> None:
    files, origin, label = SECRET_CASES[case]
    problems = judge(root, files)
    hits = found(problems, "holds plain values")
    assert [(file, field[: len(label)]) for file, field in hits] == [(origin, label)], problems
    assert "platformctl seal" in problems[0].message


def test_a_secret_without_values_passes(root: Path) -> None:
    files = {
        "apps/hello-web/manifests/token.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n"
        "  name: token\n  annotations: {kubernetes.io/service-account.name: web}\n"
        "type: kubernetes.io/service-account-token\ndata: {}\n"
    }
    assert judge(root, files) == []


# -- tenancy -------------------------------------------------------------------------------


def manifest(kind: str, name: str, api: str = "v1", namespace: str | None = None) -> str:
    meta = f"  namespace: {namespace}\n" if namespace else ""
    return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n{meta}"


TENANCY_CASES = [
    ("Namespace", "data", "v1", None, "Namespace data", "cluster-scoped"),
    ("Namespace", "argocd", "v1", None, "Namespace argocd", "cluster-scoped"),
    ("Namespace", "kube-system", "v1", None, "Namespace kube-system", "cluster-scoped"),
    ("ClusterRole", "admin2", "rbac.authorization.k8s.io/v1", None, "ClusterRole", "cluster"),
    (
        "CustomResourceDefinition",
        "x.example.com",
        "apiextensions.k8s.io/v1",
        None,
        "CustomResourceDefinition",
        "cluster-scoped",
    ),
    ("ConfigMap", "c", "v1", "kube-system", "ConfigMap kube-system/c", "not one of"),
    ("ConfigMap", "c", "v1", "payments", "ConfigMap payments/c", "not one of"),
    ("Application", "a", "argoproj.io/v1alpha1", None, "Application web/a", "Blacklist"),
    ("AppProject", "p", "argoproj.io/v1alpha1", None, "AppProject web/p", "Blacklist"),
    ("ResourceQuota", "q", "v1", None, "ResourceQuota web/q", "Blacklist"),
]


@pytest.mark.parametrize(("kind", "name", "api", "namespace", "label", "words"), TENANCY_CASES)
def test_an_object_outside_the_teams_project_is_refused(
    root: Path, kind: str, name: str, api: str, namespace: str | None, label: str, words: str
) -> None:
    file = "apps/hello-web/manifests/extra.yaml"
    problems = judge(root, {file: manifest(kind, name, api, namespace)})
    assert [(p.file, p.field[: len(label)]) for p in problems if words in p.message] == [
        (file, label)
    ], problems
    assert "hello-web" in problems[0].message and "AppProject web" in problems[0].message


@pytest.mark.parametrize(
    ("kind", "name", "namespace"),
    [
        ("Namespace", "web", None),
        ("Namespace", "web-experiments", None),
        ("ConfigMap", "c", "web-experiments"),
    ],
)
def test_a_teams_own_namespaces_are_its_to_use(
    root: Path, kind: str, name: str, namespace: str | None
) -> None:
    assert (
        judge(root, {"apps/hello-web/manifests/own.yaml": manifest(kind, name, "v1", namespace)})
        == []
    )


def test_a_chart_that_writes_into_another_namespace_is_refused(root: Path) -> None:
    files = {
        "apps/metrics-cache/chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"
        "metadata:\n  name: c\n  namespace: argocd\n",
        "apps/metrics-cache/chart/templates/binding.yaml": "apiVersion: rbac.authorization.k8s.io/v1\n"
        "kind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: "
        "rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: []\n",
    }
    problems = judge(root, files)
    assert sorted((p.file, p.field) for p in problems) == [
        ("apps/metrics-cache/chart/templates/binding.yaml", "ClusterRoleBinding b"),
        ("apps/metrics-cache/chart/templates/cm.yaml", "ConfigMap argocd/c"),
    ]


def test_a_render_that_fails_is_a_problem_of_its_source(root: Path) -> None:
    problems = judge(
        root, {"apps/experiments/overlays/dev/kustomization.yaml": "resources: [../../missing]\n"}
    )
    assert [(p.file, p.field) for p in problems] == [
        ("apps/experiments/overlays/dev/kustomization.yaml", "source")
    ]
    assert "could not render experiments" in problems[0].message


def test_object_problems_judges_by_the_project_it_is_given() -> None:
    project: dict[str, Any] = {
        "destinations": [{"namespace": "team-*"}],
        "clusterResourceWhitelist": [{"group": "", "kind": "Namespace", "name": "team-a"}],
        "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}],
    }
    where = Destination("a", "team-a", "team", project)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    other = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team-z"}}
    assert object_problems(ns, "f", where) == []
    assert object_problems(cm, "f", where) == []  # globbed destinations, as Argo CD reads them
    assert [p.field for p in object_problems(other, "f", where)] == ["Namespace team-b"]


def test_validate_prints_one_line_each_and_never_the_value(root: Path) -> None:
    # A template the file pre-check cannot read as a Secret: only the rendered check sees it.
    files, origin, _ = SECRET_CASES["a template that builds the kind with printf"]
    write_files(root, files)
    proc = validate(root)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and VALUE not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if origin in line]
    assert len(lines) == 1 and "Secret data/db: holds plain values (data.password)" in lines[0]


def test_a_chart_template_is_judged_by_what_it_renders(root: Path) -> None:
    """A template that would make a Secret from values: fine while no values file fills it
    (the file pre-check no longer guesses from its text), refused once one does."""
    template = "apps/metrics-cache/chart/templates/secret.yaml"
    files = {
        template: "apiVersion: v1\nkind: Secret  # the password\nmetadata:\n"
        "  name: {{ .Release.Name }}\nstringData:\n  password: {{ .Values.password }}\n"
    }
    assert plain_secret_problems(root, root / "apps") == []
    assert judge(root, files) == []
    assert plain_secret_problems(root, root / "apps") == []
    values = root / "apps/metrics-cache/values/dev.yaml"
    values.write_text(values.read_text() + f"password: {VALUE}\n")
    problems = judge(root, {})
    assert [(p.file, p.field) for p in problems] == [(template, "Secret data/metrics-cache")]


def test_without_the_tools_validate_says_so_in_one_line(root: Path) -> None:
    proc = validate(root, PATH="/usr/bin:/bin")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not on PATH" in lines[0] and "make toolchain" in lines[0]
