"""End to end: `platformctl plan` checked against Argo CD itself (issue 17, point 3).

One dev-config stack on a kwok cluster with Argo CD's real controllers as local processes; the
stack's branch lives in a ``file://`` bare repository Argo CD clones. For a revision, what the
plan renders for an Application (:func:`~infra.delivery.render_app.render_application`, the
function ``platformctl plan`` renders with, on the plan's own export of that commit) must equal,
object by object, what Argo CD's repo-server generates for the same Application and revision
(``argocd app manifests --source git --revision <sha>``): every app of the example catalog
(directory, kustomize with ``kustomize.replicas``, a chart in the repository with a values
file outside it, the generated blue/green and canary Rollouts), then a pull request that
bumps an image, changes a Helm value and changes a kustomize overlay. That pull request is
planned with the CLI (``--output json``), pushed, auto-synced by Argo CD, and the live objects
Argo CD reports (``--source live``) hold every field of the plan's "after" side.

What is normalised, and only that: Argo CD's tracking annotation
(``argocd.argoproj.io/tracking-id``, which the repo-server adds to every object it generates);
for the live objects, the destination namespace Argo CD applies a namespaced object to when
its manifest names none, and everything the API server or a controller adds (defaults,
``status``, ``managedFields``...): the live object must contain the rendered one, not equal it.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.constants import stack_file
from infra.delivery.git import Git
from infra.delivery.plan import load_side, open_revision
from infra.delivery.render_app import object_key, render_application, target_cluster
from tests.e2e.harness import GIT, Project, wait_for

pytestmark = pytest.mark.e2e

STACK = "dev"
TRACKING = "argocd.argoproj.io/tracking-id"
CATALOG = {"checkout-web", "experiments", "hello-web", "metrics-cache", "payments-api"}
PULL_REQUEST = {"hello-web", "metrics-cache", "experiments"}
"""The apps the pull request changes: an image bump (a directory app), a Helm value, a
kustomize overlay (a patch and a new tag)."""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project.create(STACK, tmp_path_factory.mktemp("e2e-plan"), nodes=1)
    try:
        # The plan reads the stack file at both revisions, as in the environment repository;
        # the harness keeps it out of the project copy's git (its edits are the test's).
        project.run([*GIT, "add", "--force", stack_file(STACK)])
        project.commit_and_push("the dev stack file, as the environment repository holds it")
        with pytest.MonkeyPatch.context() as patch:
            # render_application runs in this process: the toolchain's kustomize and helm.
            patch.setenv("PATH", project.env["PATH"])
            project.up()
            project.login(project.output("adminPassword", secret=True))
            yield project
    finally:
        project.teardown()
        print("\n".join(project.log))


# -- what the plan renders ----------------------------------------------------------------------


def head(project: Project) -> str:
    return project.run(["git", "rev-parse", "HEAD"]).stdout.strip()


def plan_renders(project: Project, commit: str) -> dict[str, list[dict[str, Any]]]:
    """Application name -> the objects the plan renders for it at ``commit`` (its own export
    of the commit, its stack loader and Applications, its render function)."""
    with tempfile.TemporaryDirectory(prefix="e2e-plan-") as scratch:
        revision = open_revision(Git(project.root), "head", commit, "--head", "", Path(scratch))
        side = load_side(revision, STACK, project.root)
        assert side.settings is not None
        target = target_cluster(side.settings)
        return {
            app["metadata"]["name"]: render_application(
                app, revision.checkout, side.settings.repo_url, target
            )
            for app in side.applications.values()
        }


# -- what Argo CD reports -------------------------------------------------------------------


def manifests(project: Project, app: str, *args: str) -> list[dict[str, Any]]:
    out = project.argocd("app", "manifests", app, *args).stdout
    return [o for o in yaml.safe_load_all(out) if o]


def repo_server(project: Project, app: str, commit: str) -> list[dict[str, Any]]:
    """What Argo CD's repo-server generates for ``app`` at ``commit``, without the tracking
    annotation it adds, sorted as the plan sorts."""
    objects = manifests(project, app, "--source", "git", "--revision", commit)
    for obj in objects:
        annotations = obj.get("metadata", {}).get("annotations") or {}
        assert TRACKING in annotations, f"{app}: {object_key(obj)} has no {TRACKING}"
        del annotations[TRACKING]
        if not annotations:
            del obj["metadata"]["annotations"]
    return sorted(objects, key=object_key)


def states(project: Project) -> dict[str, tuple[Any, ...]]:
    """Application -> (sync status, compared revision, last operation's phase, the revision
    it synced, its message), as Argo CD reports them."""
    out = {}
    for name, app in project.applications().items():
        status = app.get("status") or {}
        sync, operation = status.get("sync") or {}, status.get("operationState") or {}
        out[name] = (
            sync.get("status"),
            sync.get("revision"),
            operation.get("phase"),
            (operation.get("syncResult") or {}).get("revision"),
            operation.get("message"),
        )
    return out


def wait_synced(project: Project, apps: set[str], commit: str) -> None:
    """Until every app is compared at ``commit``, Synced, and its last sync (of ``commit``)
    succeeded."""

    def synced() -> bool:
        now = states(project)
        return all(now.get(app, ())[:4] == ("Synced", commit, "Succeeded", commit) for app in apps)

    wait_for(
        f"{sorted(apps)} synced at {commit[:12]}",
        synced,
        timeout=300,
        every=3,
        detail=lambda: {a: s for a, s in states(project).items() if a in apps},
    )


# -- comparisons ----------------------------------------------------------------------------


def differences(expected: Any, live: Any, path: str = "") -> list[str]:
    """Where ``live`` lacks or contradicts a field of ``expected`` (dict keys recursively,
    lists element by element and of the same length, scalars equal)."""
    if isinstance(expected, dict):
        if not isinstance(live, dict):
            return [f"{path or '/'}: {live!r} is not a mapping"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in live:
                out.append(f"{path}/{key}: missing (expected {value!r})")
            else:
                out += differences(value, live[key], f"{path}/{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(live, list) or len(live) != len(expected):
            return [f"{path}: {live!r} is not {expected!r}"]
        return [d for i, v in enumerate(expected) for d in differences(v, live[i], f"{path}/{i}")]
    return [] if expected == live else [f"{path}: {live!r} is not {expected!r}"]


def added(diff: str) -> set[str]:
    """The lines a unified diff adds, without their indentation."""
    return {
        line[1:].strip() for line in diff.splitlines() if line.startswith("+") and line[1:].strip()
    }


def assert_same_objects(
    app: str, planned: list[dict[str, Any]], generated: list[dict[str, Any]]
) -> None:
    assert [object_key(o) for o in planned] == [object_key(o) for o in generated], app
    for mine, theirs in zip(planned, generated, strict=True):
        assert mine == theirs, (
            f"{app}: {object_key(mine)} differs from the repo-server's: "
            f"{differences(mine, theirs) or differences(theirs, mine)}"
        )


# -- tests ----------------------------------------------------------------------------------


def test_every_catalog_app_renders_as_the_repo_server_generates_it(project: Project) -> None:
    commit = head(project)
    wait_synced(project, CATALOG, commit)
    planned = plan_renders(project, commit)
    assert set(planned) == CATALOG
    kinds: set[str] = set()
    for app, objects in sorted(planned.items()):
        assert objects, f"{app}: the plan renders nothing"
        kinds.update(o["kind"] for o in objects)
        assert_same_objects(app, objects, repo_server(project, app, commit))
    # The catalog's kinds of source all went through the comparison.
    assert {"Deployment", "Service", "StatefulSet", "Rollout", "AnalysisTemplate"} <= kinds


def _pull_request(root: Path) -> None:
    """An image bump (a directory app's manifest), a Helm value (the chart's dev values file,
    outside the chart folder) and a kustomize overlay change (a patch and a new tag)."""
    deployment = root / "apps/hello-web/manifests/deployment.yaml"
    text = deployment.read_text()
    assert "hello-web:1.0.0" in text
    deployment.write_text(text.replace("hello-web:1.0.0", "hello-web:1.0.1"))
    values = root / "apps/metrics-cache/values/dev.yaml"
    values.write_text(
        values.read_text() + "resources:\n  requests:\n    cpu: 50m\n    memory: 64Mi\n"
    )
    overlay = root / "apps/experiments/overlays/dev/kustomization.yaml"
    text, count = re.subn(r'newTag: "0\.3\.0"', 'newTag: "0.4.0"', overlay.read_text())
    assert count == 1, overlay
    overlay.write_text(
        text + "patches:\n  - target:\n      kind: Deployment\n      name: experiments\n"
        "    patch: |-\n      - op: add\n        path: /spec/template/spec/containers/0/env\n"
        "        value: [{name: FLAGS, value: from-git}]\n"
    )


def test_a_pull_request_is_planned_then_synced_as_planned(project: Project) -> None:
    base = head(project)
    _pull_request(project.root)
    project.run([*GIT, "commit", "--quiet", "-am", "the pull request"])
    commit = head(project)

    # The plan a reviewer sees: exactly the three apps, with the changed fields.
    out = project.platformctl(
        "plan", "--base", base, "--head", commit, "--stack", STACK, "--output", "json"
    ).stdout
    plan = json.loads(out)
    assert plan["warnings"] == []
    (stack,) = plan["stacks"]
    renders = {r["application"].split("/", 1)[1]: r for r in stack["renders"]}
    assert set(renders) == PULL_REQUEST, "only the apps whose inputs changed are rendered"
    assert {r["status"] for r in renders.values()} == {"rendered"}
    diffs = {
        app: {o["key"]: o["diff"] for o in r["objects"] if o["change"] == "changed"}
        for app, r in renders.items()
    }
    assert added(diffs["hello-web"]["apps/v1/Deployment//hello-web"]) >= {
        "image: ghcr.io/example-org/hello-web:1.0.1"
    }
    assert added(diffs["metrics-cache"]["apps/v1/StatefulSet//metrics-cache"]) >= {
        "cpu: 50m",
        "memory: 64Mi",
    }
    assert added(diffs["experiments"]["apps/v1/Deployment//experiments"]) >= {
        "- name: FLAGS",
        "value: from-git",
        "image: ghcr.io/example-org/experiments:0.4.0",
    }

    # Merged: the repo-server generates, at the new revision, what the plan rendered.
    project.run(["git", "push", "--quiet", "origin", f"HEAD:refs/heads/{project.branch}"])
    planned = plan_renders(project, commit)
    for app in sorted(CATALOG):
        assert_same_objects(app, planned[app], repo_server(project, app, commit))

    # Synced by Argo CD (dev syncs automatically, told of the push by the git webhook): the
    # live objects hold the "after" side.
    # (The others stay Synced at the new revision without a sync operation.)
    wait_synced(project, PULL_REQUEST, commit)
    for app in sorted(PULL_REQUEST):
        namespace = project.applications()[app]["spec"]["destination"]["namespace"]
        live = {object_key(o): o for o in manifests(project, app, "--source", "live")}
        for obj in planned[app]:
            expected = json.loads(json.dumps(obj))
            expected["metadata"].setdefault("namespace", namespace)
            found = live.get(object_key(expected))
            assert found is not None, f"{app}: {object_key(expected)} is not live: {sorted(live)}"
            assert not differences(expected, found), (app, differences(expected, found))
