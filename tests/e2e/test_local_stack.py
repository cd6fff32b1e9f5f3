"""End to end: the committed `local` stack (what `make up` runs), as a user would use it.

Pulumi.local.yaml as committed (only the cluster name and chart archive paths overridden):
a kwok cluster, Argo CD's controllers as local processes, and the git mirror filled from
this project's committed HEAD. A commit followed by `up` reaches the cluster through Argo CD.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import GIT, LogWatch, Project, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project.create("local", tmp_path_factory.mktemp("e2e-local"), nodes=1)
    yield project
    project.teardown()
    print("\n".join(project.log))


def test_up_then_status_shows_argocd_syncing_the_checkout(project: Project) -> None:
    project.up()
    mirror = project.root / ".gitops-local" / project.cluster_name / "repo.git"
    head = project.run(["git", "rev-parse", "HEAD"]).stdout.strip()
    assert project.run(["git", "--git-dir", str(mirror), "rev-parse", "dev"]).stdout.strip() == head
    status = project.platformctl("status", "--stack", "local", "--wait", "300", check=False)
    out = status.stdout
    server = project.output("argocdServer")
    assert f"Argo CD API: http://{server}" in out
    assert f"argocd login {server} --plaintext --username admin --password " in out
    assert '"$(make -s password STACK=local)"' in out
    lines = out.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("APPLICATION"))) + 1 :]
    table = table[: table.index("")] if "" in table else table
    rows = {line.split()[0]: line.split()[1:3] for line in table}
    assert set(rows) == {
        "checkout-web",
        "experiments",
        "hello-web",
        "metrics-cache",
        "payments-api",
    }
    for name, (sync, health) in rows.items():
        assert (sync, health) == ("Synced", "Healthy"), (name, out)
    assert status.returncode == 0, status.stderr
    # The login line works as printed.
    project.login(project.output("adminPassword", secret=True))


def test_a_commit_then_up_reaches_the_cluster(project: Project) -> None:
    manifest = project.root / "apps" / "hello-web" / "manifests" / "deployment.yaml"
    manifest.write_text(manifest.read_text().replace("hello-web:1.0.0", "hello-web:2.0.0"))
    # Argo CD sees committed states only: commit, then `up` fills the mirror.
    project.run([*GIT, "commit", "--quiet", "-am", "hello-web 2.0.0"])
    log = LogWatch(project.server_log())
    project.up()
    # The mirror's post-receive hook told argocd-server (a signed GitHub push event), which
    # refreshed the app at once instead of at its next poll (180 s).
    log.wait(
        "argocd-server refreshing from the webhook", r"refreshing app 'hello-web' from webhook"
    )
    new = "ghcr.io/example-org/hello-web:2.0.0"
    wait_for("hello-web 2.0.0 live", lambda: project.live_image("web", "hello-web") == new)


def test_destroy_stops_the_runtime_and_removes_the_cluster(project: Project) -> None:
    import json
    import os

    status = project.root / ".gitops-local" / project.cluster_name / "status.json"
    pids = [p["pid"] for p in json.loads(status.read_text())["processes"].values() if p["pid"]]
    project.pulumi("destroy", "--yes")
    assert project.cluster_name not in project.clusters()
    assert not [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
    directory = project.root / ".gitops-local" / project.cluster_name
    assert not (directory / "repo.git").exists()
    # No credential (the webhook's secret among them) is left behind; the logs stay.
    assert sorted(p.name for p in directory.iterdir()) == ["logs"]
