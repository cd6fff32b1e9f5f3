"""End to end: the committed `local` stack (what `make up` runs), as a user would use it.

Pulumi.local.yaml as committed (only the cluster name and chart archive paths overridden):
a kwok cluster, Argo CD's controllers as local processes, and the git mirror filled from
this project's committed HEAD. A commit followed by `up` reaches the cluster through Argo CD.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from infra.constants import MIRROR_REPOSITORY
from tests.e2e.browser import screenshot, sign_in, text_of, wait_until
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
    mirror = project.runtime_dir / MIRROR_REPOSITORY
    head = project.run(["git", "rev-parse", "HEAD"]).stdout.strip()
    assert project.run(["git", "--git-dir", str(mirror), "rev-parse", "dev"]).stdout.strip() == head
    status = project.platformctl("status", "--stack", "local", "--wait", "300", check=False)
    out = status.stdout
    server = project.output("argocdServer")
    assert f"Argo CD UI:  http://{server}/ (user admin" in out
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


# -- the web UIs, in a real browser -------------------------------------------------------


def ui(project: Project) -> str:
    return f"http://{project.output('argocdServer')}"


def test_the_web_ui_refuses_a_wrong_password_and_signs_in_with_the_admin_one(
    project: Project, browser: WebDriver
) -> None:
    sign_in(browser, ui(project), "not-the-password")
    error = wait_until(
        browser,
        "the login error",
        lambda d: d.find_elements(By.CSS_SELECTOR, ".argo-form-row__error-msg"),
    )
    assert "Invalid username or password" in text_of(error[0])
    assert not [c for c in browser.get_cookies() if c["name"] == "argocd.token"]
    screenshot(browser, "login")
    sign_in(browser, ui(project), project.output("adminPassword", secret=True))
    wait_until(browser, "the Applications page", lambda d: "/applications" in d.current_url)
    assert [c for c in browser.get_cookies() if c["name"] == "argocd.token"]


def tiles(browser: WebDriver) -> dict[str, str]:
    """Application name -> the status line of its tile (health, then sync)."""
    out = {}
    for entry in browser.find_elements(By.CSS_SELECTOR, ".applications-list__entry"):
        title = entry.find_elements(By.CSS_SELECTOR, ".applications-list__title")
        status = entry.find_elements(By.CSS_SELECTOR, "[qe-id=applications-tiles-health-status]")
        if title and status:
            out[text_of(title[0])] = text_of(status[0])
    return out


def test_the_applications_page_shows_every_app_as_argo_cd_reports_it(
    project: Project, browser: WebDriver
) -> None:
    reported = {
        name: f"{app['status']['health']['status']} {app['status']['sync']['status']}"
        for name, app in project.applications().items()
    }
    assert set(reported) == {"checkout-web", "experiments", "hello-web", "metrics-cache",
                             "payments-api"}  # fmt: skip
    browser.get(f"{ui(project)}/applications")
    shown = wait_until(
        browser,
        "a tile per Application with Argo CD's statuses",
        lambda d: t if (t := tiles(d)) == reported else None,
    )
    assert shown == {name: "Healthy Synced" for name in reported}
    screenshot(browser, "applications")


def test_an_apps_page_shows_its_resource_tree(project: Project, browser: WebDriver) -> None:
    browser.get(f"{ui(project)}/applications/argocd/hello-web?view=tree")

    def nodes(d: WebDriver) -> set[tuple[str, str]] | None:
        found = set()
        for node in d.find_elements(By.CSS_SELECTOR, ".application-resource-tree__node"):
            kind = node.find_elements(By.CSS_SELECTOR, ".application-resource-tree__node-kind")
            title = node.find_elements(By.CSS_SELECTOR, ".application-resource-tree__node-title")
            if kind and title:
                found.add((text_of(kind[0]), text_of(title[0])))
        return found if {("deploy", "hello-web"), ("svc", "hello-web")} <= found else None

    assert ("deploy", "hello-web") in wait_until(browser, "hello-web's resource tree", nodes)
    screenshot(browser, "resource-tree")


def test_the_rollouts_dashboard_lists_the_catalogs_rollouts(
    project: Project, browser: WebDriver
) -> None:
    plan = json.loads(project.runtime.plan.read_text())
    port = plan["ports"]["rollouts-dashboard"]
    browser.get(f"http://127.0.0.1:{port}/rollouts/payments")
    wait_until(
        browser,
        "payments-api on the Rollouts dashboard",
        lambda d: "payments-api" in d.find_element(By.TAG_NAME, "body").text,
    )
    screenshot(browser, "rollouts-dashboard")


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

    status = project.runtime.status
    pids = [p["pid"] for p in json.loads(status.read_text())["processes"].values() if p["pid"]]
    project.pulumi("destroy", "--yes")
    assert project.cluster_name not in project.clusters()
    assert not [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
    directory = project.runtime_dir
    assert not (directory / "repo.git").exists()
    # No credential (the webhook's secret among them) is left behind; the logs stay.
    assert sorted(p.name for p in directory.iterdir()) == ["logs"]
