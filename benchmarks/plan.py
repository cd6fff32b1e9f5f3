"""Benchmark of `platformctl plan`; writes its section of docs/benchmarks.md.

    .venv/bin/python benchmarks/plan.py      # kustomize and helm on PATH (the toolchain's)

Two pull requests, each a throw-away git repository in a temporary folder (outside the
repository): the example catalog (this checkout's committed files) where two apps change (an
image bump of a kustomize app, a Helm value of the chart app), and a generated 1,000-app
catalog (plain-manifest apps, five teams) where 10 apps change their image. Wall time and peak
memory of the whole `platformctl plan --base HEAD~1` process (both revisions exported, every
stack planned, only the changed apps rendered).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.sections import write_section  # noqa: E402

PLATFORMCTL = REPO / ".venv" / "bin" / "platformctl"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(
        repo,
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@example.invalid",
        "commit",
        "--quiet",
        "-m",
        message,
    )


def example_repo(dest: Path) -> Path:
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "HEAD"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    git(dest, "init", "--quiet", "--initial-branch=dev")
    commit(dest, "base")
    overlay = dest / "apps/experiments/overlays/dev/kustomization.yaml"
    overlay.write_text(re.sub(r'newTag: "?[^"\n]+"?', 'newTag: "9.9.9"', overlay.read_text()))
    values = dest / "apps/metrics-cache/values/dev.yaml"
    values.write_text(values.read_text() + "\n# benchmark change\nextraLabel: bench\n")
    commit(dest, "two apps change")
    return dest


def synthetic_repo(dest: Path, count: int, changed: int) -> Path:
    dest.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", dest)
    shutil.copy(REPO / "Pulumi.dev.yaml", dest)
    for i in range(count):
        folder = dest / "apps" / f"svc-{i:04d}" / "manifests"
        folder.mkdir(parents=True)
        team = f"team-{i % 5}"
        (folder.parent / "app.yaml").write_text(
            f"team: {team}\nnamespace: {team}-ns\n"
            f"image:\n  repository: ghcr.io/example-org/svc-{i:04d}\n"
            "source:\n  type: directory\nenvironments:\n  dev: {}\n"
        )
        (folder / "deployment.yaml").write_text(_deployment(i, "1.0.0"))
    git(dest, "init", "--quiet", "--initial-branch=dev")
    commit(dest, "base")
    for i in range(0, count, count // changed)[:changed]:
        (dest / "apps" / f"svc-{i:04d}" / "manifests" / "deployment.yaml").write_text(
            _deployment(i, "1.0.1")
        )
    commit(dest, f"{changed} apps change")
    return dest


def _deployment(i: int, tag: str) -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i:04d}\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: app\n"
        f"          image: ghcr.io/example-org/svc-{i:04d}:{tag}\n"
    )


def measure(repo: Path, argv: list[str]) -> tuple[float, float, str]:
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` failed:\n{done.stderr}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return seconds, peak / 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    for tool in ("kustomize", "helm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH (toolchain/build.sh --bin-dir)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="gitops-bench-plan-") as tmp:
        cases = [
            (
                "example catalog (5 apps), 2 changed, every stack",
                example_repo(Path(tmp) / "ex"),
                ["--base", "HEAD~1"],
            ),
            (
                "1,000 apps, 10 changed, stack dev",
                synthetic_repo(Path(tmp) / "big", 1000, 10),
                ["--base", "HEAD~1", "--stack", "dev"],
            ),
        ]
        for label, repo, extra in cases:
            argv = [str(PLATFORMCTL), "plan", *extra, "--output", "json"]
            seconds, mib, out = measure(repo, argv)
            rendered = out.count('"status": "rendered"')
            command = "platformctl plan " + " ".join(extra)
            rows.append(f"| {label} | {seconds:.2f} | {mib:.0f} | {rendered} | `{command}` |")
    body = "\n".join(
        [
            "## `platformctl plan`",
            "",
            f"`.venv/bin/python benchmarks/plan.py` (kustomize and helm from the toolchain). "
            f"Python {sys.version.split()[0]}, {os.cpu_count()} cores. Wall time of the whole "
            "process, Python start-up included; peak memory: the largest resident set of the "
            "process (kustomize and helm run as its children, one at a time).",
            "",
            "| pull request | wall time (s) | peak memory (MiB) | apps rendered | command |",
            "|---|---:|---:|---:|---|",
            *rows,
        ]
    )
    section = write_section(args.output, "plan.py", body)
    print(section)


if __name__ == "__main__":
    main()
