"""platformctl: exit codes, messages on stderr, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli.app import app
from tests.support import REPO, copy_example_catalog

runner = CliRunner()


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_validate_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0 and result.stdout.startswith(
        "ok: 5 apps, stacks: dev, local, local-fleet, prod"
    )


def test_validate_reports_problems_exit_1_no_traceback(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    (tmp_path / "apps" / "hello-web" / "app.yaml").write_text("team: web\nnamespace: web\nx: 1\n")
    proc = run(["validate"], tmp_path)
    assert proc.returncode == 1
    assert "apps/hello-web/app.yaml: x: unknown field (line 3)" in proc.stderr
    assert "apps/hello-web/app.yaml: image: required field is missing" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_validate_checks_stack_files_too(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    stack = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())
    stack["config"]["gitops-platform:sync"]["selfheal"] = True
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    proc = run(["validate"], tmp_path)
    assert proc.returncode == 1
    assert "Pulumi.dev.yaml: gitops-platform:sync.selfheal: unknown key" in proc.stderr


def test_validate_refuses_a_prod_stack_without_admission(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    stack = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    stack["config"]["gitops-platform:admission"]["enabled"] = False
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack))
    proc = run(["validate"], tmp_path)
    assert proc.returncode == 1
    assert (
        "Pulumi.prod.yaml: gitops-platform:admission.enabled: must be true for a stack "
        "deploying prod" in proc.stderr
    )
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    "args",
    [["render"], ["render", "--stack"], ["validate", "--nope"], ["frobnicate"]],
    ids=["missing-stack", "flag-without-value", "unknown-flag", "unknown-command"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    proc = run(args, REPO)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_stack_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = run(["render", "--stack", "staging"], REPO)
    assert proc.returncode == 1
    assert "Pulumi.staging.yaml: (file): stack file not found" in proc.stderr


def test_apps_dir_flag(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    other = tmp_path / "other-apps"
    (tmp_path / "apps").rename(other)
    proc = run(["render", "--stack", "dev", "--apps-dir", str(other)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    docs = list(yaml.safe_load_all(proc.stdout))
    assert [d["kind"] for d in docs].count("ApplicationSet") == 3


def test_expand_gives_dev_branch_only_for_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    for stack in ("dev", "prod"):
        result = runner.invoke(app, ["expand", "--stack", stack])
        assert result.exit_code == 0
        for doc in yaml.safe_load_all(result.stdout):
            spec = doc["spec"]
            for source in spec.get("sources") or [spec["source"]]:
                if "chart" not in source:
                    assert source["targetRevision"] == stack


def test_module_entry_point_works() -> None:
    proc = run(["--help"], REPO)
    assert proc.returncode == 0 and "render" in proc.stdout


def test_admin_password_reset_without_cluster_is_a_clear_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "gone",
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
                "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "x"}}],
            }
        )
    )
    proc = run(["admin-password", "reset", "--kubeconfig", str(kubeconfig), "--timeout", "5"], REPO)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: cannot reach the cluster")
    assert "Traceback" not in proc.stderr


def test_plaintext_secret_in_stack_file_is_refused(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    stack = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())
    stack["config"]["gitops-platform:git"]["repoURL"] = "https://bot:s3cret@git.example.com/r.git"
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    proc = run(["render", "--stack", "dev"], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "Pulumi.dev.yaml: gitops-platform:git.repoURL: looks like a plaintext secret"
    )


def test_apps_may_not_deploy_into_addon_namespaces(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    app = tmp_path / "apps" / "hello-web" / "app.yaml"
    app.write_text(app.read_text().replace("namespace: web", "namespace: argo-rollouts"))
    proc = run(["validate"], tmp_path)
    assert proc.returncode == 1
    assert (
        "apps/hello-web/app.yaml: namespace: 'argo-rollouts' is reserved for the platform"
        in proc.stderr
    )


def test_status_says_when_no_local_runtime_runs(tmp_path: Path) -> None:
    root = copy_example_catalog(tmp_path)
    shutil.copy(REPO / "Pulumi.local.yaml", root / "Pulumi.local.yaml")
    proc = run(["status", "--stack", "local"], root)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: no local runtime in ")
    assert "`make up STACK=local` starts it" in proc.stderr
    assert "Traceback" not in proc.stderr
    # A stack without local controllers: an error, or nothing at all with --if-local.
    refused = run(["status", "--stack", "dev"], root)
    assert refused.returncode == 1 and "runs no local Argo CD" in refused.stderr
    quiet = run(["status", "--stack", "dev", "--if-local"], root)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "environment",
            "environment: a config key needs a namespace: `gitops-platform:environment`",
        ),
        (
            "gitops-platfrom:sync",
            "gitops-platfrom:sync: unknown namespace 'gitops-platfrom': did you "
            "mean `gitops-platform:sync`?",
        ),
        (
            "GitOps_Platform:sync",
            "GitOps_Platform:sync: unknown namespace 'GitOps_Platform': did you "
            "mean `gitops-platform:sync`?",
        ),
        (":sync", ":sync: a config key needs a namespace: `gitops-platform:sync`"),
    ],
)
def test_stack_keys_the_project_would_ignore_are_refused(
    tmp_path: Path, key: str, message: str
) -> None:
    copy_example_catalog(tmp_path)
    stack = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())
    stack["config"][key] = {"automated": False}
    stack["config"]["kubernetes:enableServerSideApply"] = "true"  # a provider's: fine
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    proc = run(["render", "--stack", "dev"], tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"Pulumi.dev.yaml: {message}")


def test_stack_files_are_read_with_yaml_1_2_like_the_engine(tmp_path: Path) -> None:
    copy_example_catalog(tmp_path)
    text = (tmp_path / "Pulumi.dev.yaml").read_text()
    # `on` is the string "on" for the engine (YAML 1.2), never YAML 1.1's true.
    text = text.replace("config:\n", "config:\n  gitops-platform:environment: on\n", 1)
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    proc = run(["render", "--stack", "dev"], tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "gitops-platform:environment" in proc.stderr and "True" not in proc.stderr
