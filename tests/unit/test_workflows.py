"""The repository's workflows: actionlint passes (the toolchain's; missing, the test
fails), and the platform workflow posts one plan comment."""

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
