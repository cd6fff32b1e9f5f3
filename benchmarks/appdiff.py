"""Benchmark of `platformctl app-diff`; writes its section of docs/benchmarks.md.

    .venv/bin/python benchmarks/appdiff.py

Two `expand`-shaped files of N Argo CD Applications (N = 250, 2,500, 10,000) in a temporary
folder, the head changing the image of every tenth app. Wall time and peak memory of the whole
`platformctl app-diff` process (Python start-up included); best of three. Beside it, in the
same run, the reading step alone with the platform's reader (`infra/yamlio.read_documents`,
one pass over libyaml's events) and with PyYAML's pure-Python `safe_load_all` (what app-diff
used before issue 20): the ratio is what the reader buys.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.sections import write_section  # noqa: E402
from infra.yamlio import dump_all, read_documents  # noqa: E402

PLATFORMCTL = REPO / ".venv" / "bin" / "platformctl"
COUNTS = (250, 2_500, 10_000)


def application(index: int, tag: str) -> dict[str, Any]:
    name = f"app-{index:05d}"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": f"{name}-dev",
            "namespace": "argocd",
            "labels": {"app.kubernetes.io/part-of": "gitops-platform", "team": f"t{index % 5}"},
        },
        "spec": {
            "project": f"team-t{index % 5}",
            "source": {
                "repoURL": "https://git.example.com/org/gitops-platform.git",
                "targetRevision": "dev",
                "path": f"apps/{name}/overlays/dev",
                "kustomize": {"images": [f"registry.example/org/{name}:{tag}"]},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
                "retry": {"limit": 5, "backoff": {"duration": "5s", "maxDuration": "3m"}},
            },
        },
    }


def best_of(runs: int, func: Any) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(count: int, work: Path) -> tuple[float, float, float, float]:
    base = work / f"base-{count}.yaml"
    head = work / f"head-{count}.yaml"
    base.write_text(dump_all(application(i, "1.0.0") for i in range(count)))
    head.write_text(
        dump_all(application(i, "1.0.1" if i % 10 == 0 else "1.0.0") for i in range(count))
    )

    def run_cli() -> None:
        subprocess.run(
            [str(PLATFORMCTL), "app-diff", str(base), str(head)], check=True, capture_output=True
        )

    wall = best_of(3, run_cli)
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    text = base.read_text()
    ours = best_of(3, lambda: read_documents(text, "base", strict=False))
    pure = best_of(1 if count > 2_500 else 3, lambda: list(yaml.safe_load_all(text)))
    return wall, rss_mib, ours, pure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-appdiff-") as tmp:
        for count in COUNTS:
            wall, rss, ours, pure = measure(count, Path(tmp))
            rows.append(
                f"| {count:,} | {wall:.2f} | {rss:.0f} | {ours:.3f} | {pure:.3f} | "
                f"{pure / ours:.1f}x |"
            )
            print(rows[-1], flush=True)
    body = "\n".join(
        [
            "## `platformctl app-diff`",
            "",
            "Two `expand` outputs of N Applications, every tenth changed (`benchmarks/appdiff.py`,"
            " written by `make bench`). Wall time of the whole process, best of three; peak "
            "memory of the largest child so far; then reading one file, side by side in the same"
            " run: the platform's reader against PyYAML's pure-Python `safe_load_all`.",
            "",
            "| Applications | app-diff wall (s) | peak RSS (MiB) | read: ours (s) | read: "
            "`safe_load_all` (s) | ratio |",
            "|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    write_section(args.output, "appdiff.py", body)


if __name__ == "__main__":
    main()
