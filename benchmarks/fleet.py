"""Benchmark of a hub managing many spokes: `platformctl expand` and the pull-request plan for
up to 50 clusters x 1,000 apps; writes its section of docs/benchmarks.md.

    .venv/bin/python benchmarks/fleet.py      # kustomize and helm on PATH (the toolchain's)

Each case is a throw-away git repository in a temporary folder (outside the repository): a
generated catalog of plain-manifest apps in 20 teams and a `dev` stack with N spokes reached by
kubeconfig (nothing is contacted: expand and plan are pure). Measured side by side in one run:
expand without spokes (the apps on the hub), with 1 spoke and with 50 (every app on every spoke:
50,000 Applications); and `platformctl plan` of two pull requests on 50 spokes and 1,000 apps, a
third of them placed by region: 10 apps change their image (every (app, cluster) pair of theirs
is rendered), and one spoke changes region (the apps placed by region move). Also the largest
generated object against the limit the API server sets."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.plan import PLATFORMCTL, _deployment, commit, git, measure  # noqa: E402
from benchmarks.sections import write_section  # noqa: E402
from infra.specs.catalog_objects import MAX_OBJECT_BYTES  # noqa: E402

TEAMS = 20
REGIONS = ("eu", "us", "ap")


def spokes(count: int, moved: int | None = None) -> list[dict[str, object]]:
    """``count`` spokes, their regions in turn (``moved``: that one is in the next region)."""
    out = []
    for i in range(count):
        region = REGIONS[(i + (1 if i == moved else 0)) % len(REGIONS)]
        out.append(
            {
                "name": f"spoke-{i:02d}",
                "kubeconfig": {"path": "~/.kube/fleet", "context": f"spoke-{i:02d}"},
                "region": region,
                "addons": ["metrics"] if i % 2 else [],
            }
        )
    return out


def stack_file(dest: Path, clusters: list[dict[str, object]]) -> None:
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    key = "gitops-platform:fleet"
    if clusters:
        document["config"][key] = {"clusters": clusters}
    else:
        document["config"].pop(key, None)
    (dest / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def catalog_repo(
    dest: Path, apps: int, clusters: list[dict[str, object]], *, by_region: bool
) -> Path:
    """A repository of ``apps`` plain-manifest apps and a dev stack with ``clusters``;
    ``by_region``: every third app placed on the spokes of one region (else all everywhere)."""
    dest.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", dest)
    stack_file(dest, clusters)
    for i in range(apps):
        folder = dest / "apps" / f"svc-{i:04d}" / "manifests"
        folder.mkdir(parents=True)
        team = f"team-{i % TEAMS}"
        placement = ""
        if by_region and i % 3 == 0:
            region = REGIONS[i % len(REGIONS)]
            placement = (
                "placement:\n  clusterSelector:\n    matchLabels:\n"
                f"      platform.gitops/region: {region}\n"
            )
        (folder.parent / "app.yaml").write_text(
            f"team: {team}\nnamespace: {team}-ns\n"
            f"image:\n  repository: ghcr.io/example-org/svc-{i:04d}\n"
            f"source:\n  type: directory\n{placement}environments:\n  dev: {{}}\n"
        )
        (folder / "deployment.yaml").write_text(_deployment(i, "1.0.0"))
    git(dest, "init", "--quiet", "--initial-branch=dev")
    commit(dest, "base")
    return dest


def largest_object(repo: Path) -> tuple[int, str]:
    """The largest object `platformctl render` prints, as compact JSON bytes, and its name."""
    _, _, out = measure(repo, [str(PLATFORMCTL), "render", "--stack", "dev"])
    sizes = [
        (
            len(json.dumps(obj, separators=(",", ":")).encode()),
            f"{obj['kind']} {obj['metadata']['name']}",
        )
        for obj in yaml.safe_load_all(out)
        if obj
    ]
    return max(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=50)
    args = parser.parse_args()
    for tool in ("kustomize", "helm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH (toolchain/build.sh --bin-dir)")
    apps, count = args.apps, args.clusters
    expand = [str(PLATFORMCTL), "expand", "--stack", "dev"]
    rows, ratios = [], {}
    with tempfile.TemporaryDirectory(prefix="gitops-bench-fleet-") as tmp:
        for label, clusters in (
            ("no spokes (the hub)", []),
            ("1 spoke", spokes(1)),
            (f"{count} spokes", spokes(count)),
        ):
            repo = catalog_repo(Path(tmp) / f"c{len(clusters)}", apps, clusters, by_region=False)
            seconds, mib, out = measure(repo, expand)
            generated = out.count("\nkind: Application\n") + out.startswith("apiVersion")
            ratios[len(clusters)] = seconds
            rows.append(
                f"| expand, {apps:,} apps, {label} | {seconds:.2f} | {mib:.0f} | {generated:,} "
                "| `platformctl expand --stack dev` |"
            )
        size, name = largest_object(Path(tmp) / f"c{count}")
        big = catalog_repo(Path(tmp) / "placed", apps, spokes(count), by_region=True)
        for i in range(0, apps, apps // 10)[:10]:
            (big / "apps" / f"svc-{i:04d}" / "manifests" / "deployment.yaml").write_text(
                _deployment(i, "1.0.1")
            )
        commit(big, "10 apps change")
        plan = [str(PLATFORMCTL), "plan", "--base", "HEAD~1", "--stack", "dev", "--output", "json"]
        seconds, mib, out = measure(big, plan)
        rendered = out.count('"status": "rendered"')
        rows.append(
            f"| plan: 10 of {apps:,} apps change, {count} spokes | {seconds:.2f} | {mib:.0f} | "
            f"{rendered:,} rendered | `platformctl plan --base HEAD~1 --stack dev` |"
        )
        stack_file(big, spokes(count, moved=0))
        commit(big, "spoke-00 changes region")
        seconds, mib, out = measure(big, plan)
        report = json.loads(out)
        changes = sum(len(s.get("applications", [])) for s in report.get("stacks", []))
        rows.append(
            f"| plan: one of {count} spokes changes region, {apps:,} apps | {seconds:.2f} | "
            f"{mib:.0f} | {changes:,} Applications change | "
            "`platformctl plan --base HEAD~1 --stack dev` |"
        )
    body = "\n".join(
        [
            "## A hub and its spokes: expand and plan",
            "",
            f"`.venv/bin/python benchmarks/fleet.py` (kustomize and helm from the toolchain). "
            f"Python {sys.version.split()[0]}, {os.cpu_count()} cores. A generated catalog of "
            f"{apps:,} plain-manifest apps in {TEAMS} teams (for the plan, a third placed by "
            "region); spokes reached by kubeconfig (nothing contacted). Wall time of the whole "
            "process, Python start-up included; peak memory: its largest resident set.",
            "",
            "| what | wall time (s) | peak memory (MiB) | output | command |",
            "|---|---:|---:|---:|---|",
            *rows,
            "",
            f"- expand with {count} spokes / with 1: {ratios[count] / ratios[1]:.2f}x for "
            f"{count}x the Applications.",
            f"- largest generated object: {name}, {size:,} bytes of the {MAX_OBJECT_BYTES:,} "
            f"allowed ({size // (apps // TEAMS)} bytes per app of its team). A team's "
            "ApplicationSet holds one list element per app of the team (in one matrix "
            "generator per placement), whatever the number of spokes (the cluster generator "
            "adds them), so spokes never grow it: at that size some "
            f"{MAX_OBJECT_BYTES // (size // (apps // TEAMS)):,} plain-manifest apps fit in one "
            "team (fewer with long ignoreDifferences or Helm sources). A team whose "
            "ApplicationSet would pass the limit is refused by name, and moving some of its "
            "apps to another team splits it.",
        ]
    )
    print(write_section(args.output, "fleet.py", body))


if __name__ == "__main__":
    main()
