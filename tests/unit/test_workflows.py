"""The repository's workflows: actionlint passes (the toolchain's; missing, the test
fails), the platform workflow posts one plan comment, and the jobs that deploy install Pulumi
pinned to the toolchain's versions."""

from __future__ import annotations

import subprocess

import yaml

from tests.signing import require_tool
from tests.support import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def test_actionlint_passes() -> None:
    actionlint = require_tool("actionlint")
    done = subprocess.run(
        [actionlint, "-no-color", *map(str, WORKFLOWS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_pull_requests_get_one_plan_comment_and_the_artifact() -> None:
    workflow = yaml.safe_load((REPO / ".github/workflows/platform.yml").read_text())
    jobs = workflow["jobs"]
    assert "applications" not in jobs and "preview" not in jobs, "one comment, not two"
    steps = jobs["plan"]["steps"]
    script = "\n".join(str(s.get("run", "")) for s in steps)
    assert "platformctl plan --base" in script and "--full-output plan-full.md" in script
    assert "pulumi preview" in script and '--preview "$STACK=preview.txt"' in script
    assert "PATCH" in script, "the comment is edited in place"
    uses = [str(s.get("uses", "")) for s in steps]
    assert any(u.startswith("actions/upload-artifact@") for u in uses)


ACTION = REPO / ".github" / "actions" / "pulumi" / "action.yml"
MODULES = REPO / "toolchain" / "modules"


def _module_version(component: str, module: str) -> str:
    """The version toolchain/modules/<component>/go.mod pins for ``module``."""
    for line in (MODULES / component / "go.mod").read_text().splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == module:
            return words[1]
    raise AssertionError(f"{module} not in toolchain/modules/{component}/go.mod")


def _kubernetes_plugin() -> str:
    """The plugin version the venv's pulumi_kubernetes asks the engine for."""
    import json
    from importlib.resources import files

    plugin = json.loads(files("pulumi_kubernetes").joinpath("pulumi-plugin.json").read_text())
    return f"v{plugin['version']}"


def test_the_deploying_jobs_install_pulumi_as_users_do_pinned_to_the_toolchain() -> None:
    """plan, up and drift get the Pulumi CLI from the official action (TOOLCHAIN=system), the
    version toolchain/ builds; the kubernetes plugin the venv's SDK asks for; helm and
    kustomize at the toolchain's versions. None of them builds the Go toolchain."""
    action = yaml.safe_load(ACTION.read_text())
    steps = action["runs"]["steps"]
    cli = _module_version("pulumi", "github.com/pulumi/pulumi/pkg/v3").removeprefix("v")
    installs = [s for s in steps if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert [s["with"] for s in installs] == [{"pulumi-version": cli}]
    (tools,) = [s for s in steps if "run" in s]
    assert tools["env"] == {
        "KUBERNETES_PLUGIN": _kubernetes_plugin(),
        "HELM": "helm.sh/helm/v3/cmd/helm@" + _module_version("helm", "helm.sh/helm/v3"),
        "KUSTOMIZE": "sigs.k8s.io/kustomize/kustomize/v5@"
        + _module_version("kustomize", "sigs.k8s.io/kustomize/kustomize/v5"),
    }
    assert 'pulumi plugin install resource kubernetes "$KUBERNETES_PLUGIN"' in tools["run"]
    assert "TOOLCHAIN=system" in tools["run"]

    jobs = yaml.safe_load((REPO / ".github/workflows/platform.yml").read_text())["jobs"]
    for name in ("plan", "up", "drift"):
        job_steps = jobs[name]["steps"]
        uses = [str(s.get("uses", "")) for s in job_steps]
        assert "./.github/actions/pulumi" in uses, name
        script = "\n".join(str(s.get("run", "")) for s in job_steps)
        assert "toolchain" not in script and not any("actions/cache@" in u for u in uses), name
        for step in job_steps:
            if str(step.get("uses", "")).startswith("pulumi/actions@"):
                assert step["with"]["pulumi-version"] == cli, name
