"""End to end: the charts' CRDs move to one owner per chart, and a chart upgrade that changes a
CRD is an update of that owner (issue 16).

The committed `local` stack (kwok, Argo CD's real controllers, Rollouts, Sealed Secrets). First
`up` with the previous commit's program, whose charts registered every CRD as a resource of its
own; then `up` with this one. Nothing in the cluster may be deleted or recreated on the way: the
CRDs, the AppProjects and ApplicationSets, and the Applications Argo CD generated keep their
uids, and the next preview has no changes. Then an argo-cd archive whose AppProject CRD has one
more property previews as the argo-cd CRD owner updating, naming that CRD, and `up` makes the
API server serve the new schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from tests.e2e.harness import (
    GIT,
    Project,
    changed_resources,
    free_port,
    metadata,
    name_of,
    wait_for,
)
from tests.support import (
    REPO,
    UPGRADED_CRD,
    argocd_chart_with_an_edited_crd,
    previous_crd_program,
)

pytestmark = pytest.mark.e2e

CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
_CATALOG: dict[Path, str] = {}
"""The app files the previous program's run had without their ``placement``: path -> text."""
APPS = {"checkout-web", "experiments", "hello-web", "metrics-cache", "payments-api"}


def _use_program(project: Project, infra: Path) -> None:
    link = project.root / "infra"
    link.unlink()
    link.symlink_to(infra)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    workdir = tmp_path_factory.mktemp("e2e-crd-owner")
    project = Project.create("local", workdir / "p", nodes=1)
    # Inside the project: the dynamic-provider launcher finds Pulumi.yaml (and the venv) by
    # walking up from the program's real path.
    previous = previous_crd_program(project.root / ".previous")
    (project.root / ".git" / "info" / "exclude").write_text(".previous/\n")
    # The program (and the dynamic providers, which unpickle by module name) import `infra`
    # from the project copy first: the previous commit's, then this one's.
    project.env["PYTHONPATH"] = str(project.root)
    _use_program(project, previous)
    # The previous program knows no `git.mirrorPort` (its mirror was a file:// URL)...
    git = project.config("git")
    del git["mirrorPort"]
    project.set_config("git", git)
    # ...and no app `placement` (spoke clusters came after it): the catalog as it was then.
    for app_file in sorted((project.root / "apps").glob("*/app.yaml")):
        text = app_file.read_text()
        definition = yaml.safe_load(text)
        if definition.pop("placement", None) is not None:
            _CATALOG[app_file] = text
            app_file.write_text(yaml.safe_dump(definition, sort_keys=False))
    project.run([*GIT, "commit", "--quiet", "-am", "the catalog the previous program knew"])
    yield project
    project.teardown()
    print("\n".join(project.log))


def _uids(project: Project) -> dict[str, str | None]:
    """kind/name -> uid of every CRD and every object of the Argo CD kinds."""
    from kubernetes import client

    api = project.api()
    out = {
        f"crd/{name_of(c)}": metadata(c).uid
        for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items
    }
    custom = client.CustomObjectsApi(api)
    for plural in ("applications", "applicationsets", "appprojects"):
        items = custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", plural)
        for item in cast(dict[str, Any], items)["items"]:  # custom objects: plain JSON
            out[f"{plural}/{item['metadata']['name']}"] = item["metadata"]["uid"]
    return out


def _state(project: Project) -> list[dict[str, Any]]:
    import json

    exported = json.loads(project.pulumi("stack", "export").stdout)
    resources: list[dict[str, Any]] = exported["deployment"]["resources"]
    return resources


def test_one_up_moves_the_crds_to_their_owners_and_deletes_nothing(project: Project) -> None:
    project.up()
    legacy = [r for r in _state(project) if r["type"] == CRD_TYPE]
    assert len(legacy) == 9, [r["urn"] for r in legacy]  # 3 argo-cd, 5 rollouts, 1 sealed
    # Argo CD generated every Application before the move.
    wait_for(
        "the catalog's Applications",
        lambda: set(project.applications()) >= APPS,
        detail=lambda: sorted(project.applications()),
    )
    before = _uids(project)
    assert len([k for k in before if k.startswith("crd/")]) >= 9

    _use_program(project, REPO / "infra")
    project.set_config("git", {**project.config("git"), "mirrorPort": free_port()})
    for app_file, text in _CATALOG.items():
        app_file.write_text(text)
    project.run([*GIT, "commit", "--quiet", "-am", "the catalog of this program"])
    project.up()

    after = _uids(project)
    moved = {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys()}
    assert after == before, {k: v for k, v in moved.items() if v[0] != v[1]}
    state = _state(project)
    assert not [r for r in state if r["type"] == CRD_TYPE]
    owners = {
        r["outputs"]["chart"]: r
        for r in state
        if r["type"] == "pulumi-python:dynamic:Resource" and r["urn"].endswith("-crds")
    }
    assert set(owners) == {"argo-cd", "argo-rollouts", "sealed-secrets"}
    assert all(o.get("retainOnDelete") for o in owners.values())

    # The live CRDs: ours the only Pulumi-side field manager, their digest annotated.
    from kubernetes import client

    for crd in client.ApiextensionsV1Api(project.api()).list_custom_resource_definition().items:
        name = name_of(crd)
        managers = {m.manager for m in metadata(crd).managed_fields or []}
        assert "gitops-platform-crds" in managers, (name, managers)
        assert not [m for m in managers if m and m.startswith("pulumi-kubernetes")], managers
        digest = (metadata(crd).annotations or {}).get("platform.gitops/crd-digest", "")
        chart = next(c for c, o in owners.items() if name in o["outputs"]["crds"])
        assert digest == owners[chart]["outputs"]["crds"][name]

    project.pulumi("preview", "--expect-no-changes", "--diff")
    # A refresh reads the digests back from the live CRDs: still nothing to change.
    project.pulumi("preview", "--refresh", "--expect-no-changes")


def _dry_run_project_with_note(project: Project) -> Any:
    """A server-side dry run of an AppProject that sets ``spec.e2eNote``, strictly validated."""
    from kubernetes import client

    body = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "e2e-note", "namespace": "argocd"},
        "spec": {"e2eNote": "hello", "sourceRepos": ["*"]},
    }
    return client.CustomObjectsApi(project.api()).create_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "argocd", "appprojects", body,
        dry_run="All", field_validation="Strict",
    )  # fmt: skip


def test_a_chart_whose_crd_changed_previews_and_applies_as_the_owner_updating(
    project: Project,
) -> None:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as refused:
        _dry_run_project_with_note(project)
    assert "e2eNote" in str(refused.value.body), refused.value.body
    before = _uids(project)

    archive = argocd_chart_with_an_edited_crd(project.root.parent / "argo-cd-edited.tgz")
    argocd = project.config("argocd")
    argocd["chart"]["path"] = str(archive)
    project.set_config("argocd", argocd)

    preview = project.pulumi("preview", "--diff").stdout
    assert UPGRADED_CRD in preview, preview[-4000:]
    changed = changed_resources(project.preview_json())
    # The owner updates; the chart component only sees its archive path change.
    assert changed.pop("argocd-crds") == "update", changed
    assert changed in ({}, {"argocd-chart": "update"}), changed

    project.up()
    accepted = _dry_run_project_with_note(project)
    assert accepted["spec"]["e2eNote"] == "hello"
    assert _uids(project) == before, "the CRD was updated in place, nothing recreated"
    project.pulumi("preview", "--expect-no-changes")
