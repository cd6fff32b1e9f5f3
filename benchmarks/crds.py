"""Benchmark of issue 16: a no-op `pulumi preview` and `up` of the deployed local stack, next
to the CRD-free floor, in one run; writes its section of docs/benchmarks.md.

    .venv/bin/python benchmarks/crds.py [--runs 3]      # `make bench-crds`; the toolchain on PATH

The committed `local` stack (kwok, Argo CD's controllers as local processes, Rollouts, Sealed
Secrets), as the end-to-end suite runs it. After one `up`, in turn, each `--runs` times:

1. this program: no-op `preview --expect-no-changes`, no-op `up`;
2. the floor: the same stack with the CRD owners taken out of the program
   (benchmarks/floor, a benchmark-only entry point; one unmeasured `up` switches to it);
3. this program again (one unmeasured `up` switches back), so drift over the run shows;
4. the previous program (the last commit whose charts registered every CRD as a resource of
   its own; one unmeasured `up` switches to it): its no-op preview, for the before/after figure.

Medians; ratios of medians measured in this one run. State sizes from `pulumi stack export`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.run import Measure, machine, measured  # noqa: E402
from benchmarks.sections import write_section  # noqa: E402
from tests.e2e.harness import Project  # noqa: E402
from tests.support import previous_crd_program  # noqa: E402


def use_program(project: Project, folder: Path) -> None:
    link = project.root / "program"
    link.unlink(missing_ok=True)
    link.symlink_to(folder)
    infra = project.root / "infra"
    infra.unlink()
    # The previous program is a whole `infra/`; the others run this checkout's.
    infra.symlink_to(folder if folder.name == "infra" else REPO / "infra")
    text = (project.root / "Pulumi.yaml").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("main:")]
    (project.root / "Pulumi.yaml").write_text("\n".join([*lines, "main: program/", ""]))


def state_bytes(project: Project) -> tuple[int, int]:
    """(whole state, the CRD resources and their owners) in bytes of exported JSON."""
    resources = json.loads(project.pulumi("stack", "export").stdout)["deployment"]["resources"]
    crd = [
        r
        for r in resources
        if r["type"].endswith(":CustomResourceDefinition") or r["urn"].endswith("-crds")
    ]
    return len(json.dumps(resources)), len(json.dumps(crd))


def rounds(project: Project, label: str, runs: int) -> list[Measure]:
    pulumi = ["pulumi", "--stack", project.stack, "--non-interactive"]
    out = []
    for _ in range(runs):
        out.append(
            measured(
                project, f"{label}: no-op preview", [*pulumi, "preview", "--expect-no-changes"]
            )
        )
        out.append(
            measured(project, f"{label}: no-op up", [*pulumi, "up", "--yes", "--skip-preview"])
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    measures: list[Measure] = []
    sizes: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="gitops-bench-crds-") as tmp:
        work = Path(tmp)
        project = Project.create("local", work / "p", nodes=1)
        project.env["PYTHONPATH"] = str(project.root)
        try:
            use_program(project, REPO / "infra")
            project.up()
            sizes["this program"] = state_bytes(project)
            measures += rounds(project, "this program", args.runs)
            use_program(project, REPO / "benchmarks" / "floor")
            project.up()
            sizes["floor"] = state_bytes(project)
            measures += rounds(project, "floor (no CRD resources)", args.runs)
            use_program(project, REPO / "infra")
            project.up()
            measures += rounds(project, "this program", args.runs)
            use_program(project, previous_crd_program(work / "previous"))
            project.up()
            sizes["previous program"] = state_bytes(project)
            pulumi = ["pulumi", "--stack", project.stack, "--non-interactive"]
            for _ in range(args.runs):
                measures.append(
                    measured(
                        project,
                        "previous program (a resource per CRD): no-op preview",
                        [*pulumi, "preview", "--expect-no-changes"],
                    )
                )
        finally:
            project.teardown()

    by: dict[str, list[float]] = {}
    for m in measures:
        by.setdefault(m.label, []).append(m.seconds)
    median = {label: statistics.median(values) for label, values in by.items()}
    peak = {m.label: 0.0 for m in measures}
    for m in measures:
        peak[m.label] = max(peak[m.label], m.peak_mib)
    preview_ratio = (
        median["this program: no-op preview"] / median["floor (no CRD resources): no-op preview"]
    )
    up_ratio = median["this program: no-op up"] / median["floor (no CRD resources): no-op up"]
    before_after = (
        median["previous program (a resource per CRD): no-op preview"]
        / median["this program: no-op preview"]
    )
    rows = [
        f"| {label} | {median[label]:.2f} | {len(values)} | "
        f"{', '.join(f'{v:.2f}' for v in values)} | {peak[label]:.0f} |"
        for label, values in by.items()
    ]
    body = "\n".join(
        [
            "## No-op preview and up against the CRD-free floor (issue 16)",
            "",
            f"`.venv/bin/python benchmarks/crds.py --runs {args.runs}` (`make bench-crds`), "
            f"the `local` stack on kwok. Machine: {machine()}. One run; every figure below "
            "was measured in it, in the order listed (medians of the runs).",
            "",
            "| what | median (s) | runs | each (s) | peak memory (MiB) |",
            "|---|---:|---:|---|---:|",
            *rows,
            "",
            f"- no-op preview / floor: **{preview_ratio:.2f}x** (goal: within 1.3x).",
            f"- no-op up / floor: **{up_ratio:.2f}x** (goal: within 1.3x).",
            f"- previous program's no-op preview / this program's: {before_after:.2f}x.",
            "",
            "State (`pulumi stack export`, resources as JSON):",
            "",
            "| program | whole state (KiB) | CRD resources or owners (KiB) |",
            "|---|---:|---:|",
            *[
                f"| {name} | {whole / 1024:.0f} | {crd / 1024:.1f} |"
                for name, (whole, crd) in sizes.items()
            ],
        ]
    )
    print(write_section(args.output, "crds.py", body))


if __name__ == "__main__":
    main()
