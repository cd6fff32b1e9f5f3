"""The charts' CRDs as one small fact per chart (issue 16): what is rendered, what is compared.

The real charts (the shared archives) are rendered with the toolchain's helm; the provider's
``diff`` is called as the engine calls it; the cache is shown to spare helm on a warm preview.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import constants
from infra.chart_render import load_crd_documents, load_crd_set, stack_crd_sources
from infra.components.chart_crds import _CrdsProvider, with_digest
from infra.errors import PlatformError
from infra.settings import DEFAULT_KUBERNETES_VERSION, load_stack_file
from infra.specs import chart_values
from infra.specs.addons import ROLLOUTS_CRDS, SEALED_SECRETS_CRD, rollouts_values
from infra.specs.crds import (
    CRD_SWITCHES,
    CrdSource,
    crd_changes,
    crd_digest,
    crd_documents,
    without_crds,
)
from tests.signing import require_tool, tools_on_path
from tests.support import (
    ARGOCD_CHART,
    REPO,
    ROLLOUTS_CHART,
    SEALED_SECRETS_CHART,
    UPGRADED_CRD,
    argocd_chart_with_an_edited_crd,
)

ARGOCD_CRDS = ["applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io"]


def crd(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": spec,
    }


# -- pure: documents, digests, changes ------------------------------------------------------------


def test_only_crds_are_kept_sorted_by_name() -> None:
    docs = [None, {"kind": "Deployment", "metadata": {"name": "x"}}, crd("b.x"), crd("a.x"), "text"]
    assert [d["metadata"]["name"] for d in crd_documents(docs)] == ["a.x", "b.x"]


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ([crd("a.x"), crd("a.x")], "defined twice"),
        ([{"kind": "CustomResourceDefinition", "metadata": {}}], "without metadata.name"),
        ([{"kind": "CustomResourceDefinition"}], "without metadata.name"),
        ([{"kind": "CustomResourceDefinition", "metadata": {"name": 3}}], "without"),
    ],
)
def test_a_nameless_or_repeated_crd_is_refused(docs: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        crd_documents(docs)


def test_the_digest_ignores_key_order_and_sees_any_change() -> None:
    a = crd("a.x", group="x", scope="Namespaced")
    b = {"spec": {"scope": "Namespaced", "group": "x"}, "metadata": {"name": "a.x"}}
    b = {**b, "kind": a["kind"], "apiVersion": a["apiVersion"]}
    assert crd_digest(a) == crd_digest(b)
    assert crd_digest(a).startswith("sha256:") and len(crd_digest(a)) == 71
    assert crd_digest(a) != crd_digest(crd("a.x", group="x", scope="Cluster"))


def test_changes_name_what_was_added_changed_and_removed() -> None:
    changes = crd_changes({"a": "1", "b": "2", "c": "3"}, {"b": "2", "c": "4", "d": "5"})
    assert (changes.added, changes.changed, changes.removed) == (["d"], ["c"], ["a"])
    assert changes.summary() == "added d; changed c; removed a"
    assert not crd_changes({"a": "1"}, {"a": "1"})
    assert crd_changes({}, {}).summary() == "no change"


def test_without_crds_switches_them_off_and_keeps_the_rest() -> None:
    values: dict[str, Any] = {
        "crds": {"install": True, "keep": True, "annotations": {"a": "b"}},
        "x": 1,
    }
    off = without_crds(constants.ARGOCD_CHART, values)
    assert off == {"crds": {"install": False, "keep": True, "annotations": {"a": "b"}}, "x": 1}
    assert values["crds"]["install"] is True, "the input is not changed"


def test_every_chart_the_platform_installs_has_a_crd_switch() -> None:
    assert set(CRD_SWITCHES) == {
        constants.ARGOCD_CHART,
        constants.ROLLOUTS_CHART,
        constants.SEALED_SECRETS_CHART,
        constants.KYVERNO_CHART,
    }


def test_the_digest_annotation_is_added_to_a_copy() -> None:
    doc = crd("a.x")
    doc["metadata"]["annotations"] = {"helm.sh/resource-policy": "keep"}
    applied = with_digest(doc, "sha256:1")
    assert applied["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep",
        constants.ANNOTATION_CRD_DIGEST: "sha256:1",
    }
    assert doc["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


# -- sources: the same chart the stack installs ----------------------------------------------------


def test_sources_follow_the_stack_s_charts() -> None:
    settings = load_stack_file(REPO, "local")
    sources = stack_crd_sources(settings, REPO)
    assert set(sources) == {"argocd", "rollouts", "sealedSecrets"}
    argocd = sources["argocd"]
    assert argocd.archive == str(ARGOCD_CHART)
    assert argocd.repository is None and argocd.version == "10.1.1"
    assert (argocd.release, argocd.namespace) == ("argocd", "argocd")
    assert argocd.values == CRD_SWITCHES[constants.ARGOCD_CHART].on
    assert argocd.kube_version == "v1.34.3"  # the kwok stack's cluster.kubernetesVersion
    dev = stack_crd_sources(load_stack_file(REPO, "dev"), REPO)["rollouts"]
    assert dev.repository == "https://argoproj.github.io/argo-helm" and dev.archive is None


def test_kyverno_on_kwok_is_its_crd_files() -> None:
    settings = load_stack_file(REPO, "prod")
    sources = stack_crd_sources(settings, REPO, ["/k/a.yaml", "/k/b.yaml"])
    assert sources["admission"].files == ("/k/a.yaml", "/k/b.yaml")
    assert sources["admission"].archive is None and sources["admission"].repository is None
    chart = stack_crd_sources(settings, REPO)["admission"]
    assert chart.repository == "https://kyverno.github.io/kyverno/" and not chart.files


def test_a_source_survives_its_json() -> None:
    source = stack_crd_sources(load_stack_file(REPO, "local"), REPO)["rollouts"]
    assert CrdSource.from_json(json.loads(json.dumps(source.to_json()))) == source


# -- rendering with the real helm -----------------------------------------------------------------


@pytest.fixture
def helm_path(monkeypatch: pytest.MonkeyPatch) -> str:
    """The toolchain's helm, first on PATH (where the CRD render looks it up)."""
    tools_on_path(monkeypatch, "helm")
    return require_tool("helm")


def source(archive: Path, chart: str, release: str, namespace: str) -> CrdSource:
    return CrdSource(
        chart=chart,
        version="x",
        release=release,
        namespace=namespace,
        archive=str(archive),
        values=CRD_SWITCHES[chart].on,
        kube_version=DEFAULT_KUBERNETES_VERSION,
    )


ARGOCD = source(ARGOCD_CHART, "argo-cd", "argocd", "argocd")


@pytest.mark.parametrize(
    ("src", "names"),
    [
        (ARGOCD, ARGOCD_CRDS),
        (source(ROLLOUTS_CHART, "argo-rollouts", "argo-rollouts", "r"), sorted(ROLLOUTS_CRDS)),
        (
            source(SEALED_SECRETS_CHART, "sealed-secrets", "sealed-secrets", "kube-system"),
            [SEALED_SECRETS_CRD],
        ),
    ],
    ids=lambda v: v.chart if isinstance(v, CrdSource) else None,
)
def test_each_chart_s_crds_are_rendered_by_helm(
    helm_path: str, tmp_path: Path, src: CrdSource, names: list[str]
) -> None:
    documents = load_crd_documents(src, tmp_path)
    assert [d["metadata"]["name"] for d in documents] == names
    assert {d["kind"] for d in documents} == {"CustomResourceDefinition"}
    crds = load_crd_set(src, tmp_path)
    assert crds.names == names
    assert crds.digests == {d["metadata"]["name"]: crd_digest(d) for d in documents}


def test_the_crds_are_rendered_as_the_charts_installed_them_before(
    helm_path: str, tmp_path: Path
) -> None:
    """Kept (helm.sh/resource-policy: keep) as the chart's own install had them: the migration
    changes nothing in the live objects but the owner."""
    for doc in load_crd_documents(ARGOCD, tmp_path):
        assert doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    rollouts = source(ROLLOUTS_CHART, "argo-rollouts", "argo-rollouts", "r")
    for doc in load_crd_documents(rollouts, tmp_path):
        assert doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def _helm_template(helm: str, archive: Path, values: dict[str, Any], tmp: Path) -> list[Any]:
    import subprocess

    file = tmp / "values.json"
    file.write_text(json.dumps(values))
    out = subprocess.run(
        [
            *(helm, "template", "r", str(archive), "--include-crds", "--values", str(file)),
            *("--kube-version", DEFAULT_KUBERNETES_VERSION),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_the_charts_as_installed_render_no_crd(helm_path: str, tmp_path: Path) -> None:
    """The install values switch every CRD template off; sealed-secrets' crds/ folder is left
    out by Chart v4's skip_crds (helm template shows it only with --include-crds)."""
    for stack in ("dev", "prod"):
        settings = load_stack_file(REPO, stack)
        for archive, values in (
            (ARGOCD_CHART, chart_values(settings)),
            (ROLLOUTS_CHART, rollouts_values(settings)),
        ):
            kinds = {d["kind"] for d in _helm_template(helm_path, archive, values, tmp_path)}
            assert "CustomResourceDefinition" not in kinds, (stack, archive.name)
            assert "Deployment" in kinds


def test_a_warm_cache_needs_no_helm(
    helm_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = load_crd_set(ARGOCD, tmp_path)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert shutil.which("helm") is None
    assert load_crd_set(ARGOCD, tmp_path) == cold
    assert [d["metadata"]["name"] for d in load_crd_documents(ARGOCD, tmp_path)] == cold.names
    # A cold cache without helm: one line naming the chart.
    with pytest.raises(PlatformError, match=r"^rendering the CRDs of chart argo-cd needs `helm`"):
        load_crd_set(ARGOCD, tmp_path / "other")


def test_an_edited_crd_is_a_new_digest_for_that_crd_only(helm_path: str, tmp_path: Path) -> None:
    """The upgrade case: another archive (its bytes are the cache key) whose AppProject CRD
    has one more property changes that CRD's digest and no other."""
    before = load_crd_set(ARGOCD, tmp_path)
    edited = argocd_chart_with_an_edited_crd(tmp_path / "argo-cd-edited.tgz")
    after_source = source(edited, "argo-cd", "argocd", "argocd")
    after = load_crd_set(after_source, tmp_path)
    changes = crd_changes(before.digests, after.digests)
    assert (changes.added, changes.changed, changes.removed) == ([], [UPGRADED_CRD], [])
    [project] = [
        d
        for d in load_crd_documents(after_source, tmp_path)
        if d["metadata"]["name"] == UPGRADED_CRD
    ]
    schema = project["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert "e2eNote" in schema["properties"]["spec"]["properties"]


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_an_unreadable_archive_is_one_line_naming_the_chart(
    helm_path: str, tmp_path: Path, kind: str
) -> None:
    archive = tmp_path / "argo-cd.tgz"
    if kind == "corrupt":
        archive.write_bytes(b"not a chart")
    src = source(archive, "argo-cd", "argocd", "argocd")
    with pytest.raises(PlatformError) as info:
        load_crd_set(src, tmp_path / "cache")
    assert "argo-cd" in str(info.value) and "\n" not in str(info.value)


# -- the provider: what a preview compares ---------------------------------------------------------


def test_diff_compares_the_chart_version_and_digests_only() -> None:
    provider = _CrdsProvider()
    olds = {
        "chart": "argo-cd",
        "version": "10.1.1",
        "crds": {"a": "sha256:1"},
        "source": {"archive": "/one/place.tgz"},
        "kubeconfig": "one",
    }
    moved = {**olds, "source": {"archive": "/another/place.tgz"}, "kubeconfig": "two"}
    assert provider.diff("id", olds, moved).changes is False
    for key, value in (
        ("crds", {"a": "sha256:2"}),
        ("crds", {"a": "sha256:1", "b": "sha256:3"}),
        ("crds", {}),
        ("version", "10.1.2"),
        ("chart", "other"),
    ):
        assert provider.diff("id", olds, {**olds, key: value}).changes is True, key
        assert provider.diff("id", olds, {**olds, key: value}).replaces == []


def test_delete_never_deletes() -> None:
    """The resource is retainOnDelete; the provider's delete is a no-op belt to that."""
    _CrdsProvider().delete("id", {"kubeconfig": "unreachable"})  # returns, reaching nothing
