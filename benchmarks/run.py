"""Benchmarks: wall time and peak memory of the platform's operations; writes docs/benchmarks.md.

    make bench    # or: .venv/bin/python benchmarks/run.py [--stacks dev prod] [--apps 10 1000]

Measures, per stack (the real stack file with a kwok cluster and the local chart archive, as
the end-to-end suite does): preview of a fresh stack, up, a no-op up, a no-op preview, and
destroy; the GitOps loop with Argo CD's real controllers (up to every Application Synced and
Healthy, a pushed bump to the live image, the runtime's resident memory); `pulumi up`
against `kubectl apply --server-side` of the same rendered objects; and
preview time with 10 and 1,000 apps in the catalog. Peak memory is the largest resident set of
any process the command started (getrusage RUSAGE_CHILDREN), so the engine, the language host
and the providers are all covered, one at a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from benchmarks.sections import kept_sections  # noqa: E402
from tests.e2e.harness import Project, wait_for  # noqa: E402


@dataclass
class Measure:
    label: str
    seconds: float
    peak_mib: float
    command: str


def measured(project: Project, label: str, argv: list[str]) -> Measure:
    # A fresh process per measurement: RUSAGE_CHILDREN's max is over every waited child.
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "rc = subprocess.run(sys.argv[1:]).returncode\n"
        "e = time.monotonic() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(f'{e:.3f} {peak}', file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    last = proc.stderr.strip().splitlines()[-1]
    if proc.returncode != 0:
        raise SystemExit(f"{label}: `{' '.join(argv)}` failed:\n{proc.stderr[-3000:]}")
    seconds, kib = last.split()
    shown = " ".join(a if not a.startswith("/") else Path(a).name for a in argv)
    return Measure(label, float(seconds), int(kib) / 1024, shown)


def synthetic_catalog(apps_dir: Path, count: int, teams: int = 5) -> None:
    shutil.rmtree(apps_dir)
    apps_dir.mkdir()
    for i in range(count):
        folder = apps_dir / f"svc-{i:04d}"
        (folder / "manifests").mkdir(parents=True)
        team = f"team-{i % teams}"
        (folder / "app.yaml").write_text(
            f"team: {team}\nnamespace: {team}-ns\n"
            f"image:\n  repository: ghcr.io/example/svc-{i:04d}\n"
            "source:\n  type: directory\nenvironments:\n  dev: {}\n  prod: {}\n"
        )
        (folder / "manifests" / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-{i:04d}\n"
        )


def bench_stack(stack: str, app_counts: list[int], work: Path) -> list[Measure]:
    project = Project.create(stack, work / stack, nodes=3 if stack == "prod" else 1)
    pulumi = ["pulumi", "--stack", stack, "--non-interactive"]
    out: list[Measure] = []
    try:
        out.append(measured(project, "preview (fresh stack)", [*pulumi, "preview"]))
        out.append(
            measured(
                project,
                "up (cluster + Argo CD + catalog)",
                [*pulumi, "up", "--yes", "--skip-preview"],
            )
        )
        out.append(
            measured(project, "preview (no changes)", [*pulumi, "preview", "--expect-no-changes"])
        )
        out.append(measured(project, "up (no changes)", [*pulumi, "up", "--yes", "--skip-preview"]))
        render = project.root / "render.yaml"
        render.write_text(project.platformctl("render", "--stack", stack).stdout)
        kubeconfig = project.root / "bench.kubeconfig"
        kubeconfig.write_text(project.output("kubeconfig", secret=True))
        out.append(
            measured(
                project,
                "kubectl apply --server-side (same objects, no changes)",
                [
                    "kubectl",
                    "--kubeconfig",
                    str(kubeconfig),
                    "apply",
                    "--server-side",
                    "--field-manager",
                    "bench",
                    "--force-conflicts",
                    "-f",
                    str(render),
                ],
            )
        )
        for count in app_counts:
            synthetic_catalog(project.root / "apps", count)
            out.append(
                measured(project, f"preview with {count} apps in the catalog", [*pulumi, "preview"])
            )
            out.append(
                measured(
                    project,
                    f"platformctl validate, {count} apps",
                    [str(REPO / ".venv" / "bin" / "platformctl"), "validate"],
                )
            )
        shutil.rmtree(project.root / "apps")
        shutil.copytree(REPO / "apps", project.root / "apps")
        argocd = project.config("argocd")
        if argocd and argocd.get("protect"):
            # prod protects its install: lift that first (not measured), as an operator would.
            argocd["protect"] = False
            project.set_config("argocd", argocd)
            project.up()
        out.append(
            measured(
                project, "destroy (everything, cluster included)", [*pulumi, "destroy", "--yes"]
            )
        )
    finally:
        if project.cluster_name in project.clusters():
            project.kwokctl("delete", "cluster", check=False)
    return out


def runtime_rss_mib(project: Project) -> dict[str, float]:
    """Resident memory of the local runtime: the supervisor and each process (VmRSS)."""
    status = json.loads(project.runtime.status.read_text())
    pids = {"supervisor": status["pid"]}
    pids.update({name: p["pid"] for name, p in status["processes"].items() if p["pid"]})
    out = {}
    for name, pid in pids.items():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out[name] = int(line.split()[1]) / 1024
    return out


def bench_gitops_loop(work: Path) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """The dev stack with Argo CD's real controllers: up to every Application
    Synced and Healthy, a pushed bump commit to the live image (the remote's webhook tells
    Argo CD; benchmarks/webhook.py compares it with polling), and the runtime's resident
    memory once settled."""
    project = Project.create("dev", work / "loop", nodes=1)
    out: list[tuple[str, float]] = []
    try:
        started = time.monotonic()
        project.up()
        up_done = time.monotonic()
        expected = list(yaml.safe_load_all(project.platformctl("expand", "--stack", "dev").stdout))
        names = {a["metadata"]["name"] for a in expected}

        def settled() -> bool:
            seen = project.applications()
            return all(
                (seen.get(n, {}).get("status") or {}).get("sync", {}).get("status") == "Synced"
                and (seen.get(n, {}).get("status") or {}).get("health", {}).get("status")
                == "Healthy"
                for n in names
            )

        wait_for("every Application Synced and Healthy", settled, timeout=600)
        out.append(("`pulumi up` (cluster, Argo CD, runtime, catalog)", up_done - started))
        out.append(
            (
                f"from nothing to {len(names)} Applications Synced and Healthy "
                "(`up`, then Argo CD)",
                time.monotonic() - started,
            )
        )
        rss = runtime_rss_mib(project)
        image = "ghcr.io/example-org/hello-web:bench"
        pushed = time.monotonic()
        project.platformctl(
            "bump", "--app", "hello-web", "--env", "dev", "--tag", "bench", "--push"
        )
        wait_for(
            "the bumped image live",
            lambda: project.live_image("web", "hello-web") == image,
            timeout=600,
            every=0.5,
        )
        out.append(
            (
                "pushed bump commit to the live Deployment's image (git webhook)",
                time.monotonic() - pushed,
            )
        )
    finally:
        project.teardown()
    return out, rss


BROKEN = {
    "unknown key": lambda text: text + "colour: blue\n",
    "tab indentation": lambda text: "team: web\n\tnamespace: web\n",
    "duplicate key": lambda text: text + "team: other\n",
    "YAML syntax error": lambda text: text + "description: [unclosed\n",
    "alias bomb": lambda text: "\n".join(
        ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        + [
            f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join(["*" + chr(96 + i)] * 9) + "]"
            for i in range(1, 9)
        ]
    ),
    "10 MiB file": lambda text: text + "#" * (10 * 1024 * 1024),
}


def bench_validation(work: Path) -> list[tuple[str, float, int, str]]:
    """Wall time of `platformctl validate` (a whole process) rejecting each broken kind."""
    out = []
    for label, breaker in BROKEN.items():
        root = work / "validate" / label.replace(" ", "-")
        root.mkdir(parents=True)
        for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
            shutil.copy(REPO / name, root / name)
        shutil.copytree(REPO / "apps", root / "apps")
        target = root / "apps" / "hello-web" / "app.yaml"
        target.write_text(breaker(target.read_text()))
        started = time.monotonic()
        proc = subprocess.run(
            [str(REPO / ".venv" / "bin" / "platformctl"), "validate"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - started
        out.append((label, elapsed, proc.returncode, proc.stderr.strip().splitlines()[0]))
    return out


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"{mem:.0f} GiB RAM, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", default=["dev", "prod"])
    parser.add_argument("--apps", nargs="+", type=int, default=[10, 1000])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    results: dict[str, list[Measure]] = {}
    with tempfile.TemporaryDirectory(prefix="gitops-bench-") as tmp:
        validation = bench_validation(Path(tmp))
        loop, rss = bench_gitops_loop(Path(tmp))
        for stack in args.stacks:
            results[stack] = bench_stack(stack, args.apps, Path(tmp))
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `make bench` (`.venv/bin/python benchmarks/run.py`) on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {machine()}. Cluster: kwok (local control plane, fake nodes); chart: the local "
        "argo-cd 10.1.1 archive; state: local file backend. One run each: expect a few percent "
        "of noise between runs.",
        "",
        "Peak memory: the largest resident set of any single process the command started.",
        "",
    ]
    for stack, measures in results.items():
        lines += [
            f"## Stack `{stack}`",
            "",
            "| operation | wall time (s) | peak memory (MiB) | command |",
            "|---|---:|---:|---|",
        ]
        for m in measures:
            lines.append(f"| {m.label} | {m.seconds:.1f} | {m.peak_mib:.0f} | `{m.command}` |")
        by = {m.label: m for m in measures}
        noop_up, noop_preview = by["up (no changes)"], by["preview (no changes)"]
        lines += [
            "",
            f"- no-op `up` / no-op `preview`: {noop_up.seconds / noop_preview.seconds:.2f}x "
            "(goal: within 1.2x).",
        ]
        counts = sorted(int(k.split()[2]) for k in by if k.startswith("preview with"))
        if len(counts) >= 2:
            lo, hi = (by[f"preview with {c} apps in the catalog"] for c in (counts[0], counts[-1]))
            lines.append(
                f"- preview at {counts[-1]} apps / at {counts[0]} apps: "
                f"{hi.seconds / lo.seconds:.2f}x for {counts[-1] // counts[0]}x the apps "
                "(apps are list-generator elements: Pulumi resources grow per team, not per app)."
            )
        lines.append("")
    lines += [
        "## The GitOps loop (dev stack, Argo CD's real controllers on kwok)",
        "",
        "| what | wall time (s) |",
        "|---|---:|",
        *[f"| {label} | {seconds:.1f} |" for label, seconds in loop],
        "",
        "Resident memory of the local runtime once every Application settled (VmRSS):",
        "",
        "| process | MiB |",
        "|---|---:|",
        *[f"| {name} | {mib:.0f} |" for name, mib in sorted(rss.items())],
        f"| **total** | **{sum(rss.values()):.0f}** |",
        "",
    ]
    lines += [
        "## Rejecting broken app definitions",
        "",
        "`platformctl validate` in a copy of the project with `apps/hello-web/app.yaml` broken "
        "one way; wall time of the whole process (Python start-up included).",
        "",
        "| broken by | wall time (s) | exit | first line on stderr |",
        "|---|---:|---:|---|",
    ]
    for label, seconds, code, first in validation:
        lines.append(f"| {label} | {seconds:.2f} | {code} | `{first}` |")
    lines.append("")
    # The sections of the focused benchmarks (plan.py, crds.py) are theirs: kept as they are.
    for section in kept_sections(args.output):
        lines += [section, ""]
    args.output.write_text("\n".join(lines))
    print(args.output.read_text())


if __name__ == "__main__":
    main()
