"""Benchmark of issue 19: a pushed bump commit to the live Deployment's image, with Argo CD's
git webhook and without it (polling), side by side in one run; writes its section of
docs/benchmarks.md.

    .venv/bin/python benchmarks/webhook.py [--runs 5] [--polled 2]   # `make bench-webhook`

The dev stack (kwok, Argo CD's real controllers as local processes, automated sync) with the
e2e harness's remote as the repository host: served over HTTP, its `post-receive` hook sends
argocd-server a signed GitHub push event. Each run is `platformctl bump --push` of a new tag,
timed from the push's start until the live Deployment runs the new image. Alternating, so
drift over the run shows in both: `--runs` bumps with the webhook, `--polled` with the hook's
registration taken away (Argo CD finds the commit at its next poll: `timeout.reconciliation`
180 s plus up to 60 s of jitter, so a polled bump takes anywhere from seconds to 4 minutes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.run import machine  # noqa: E402
from benchmarks.sections import write_section  # noqa: E402
from tests.e2e.harness import Project, wait_for  # noqa: E402

WEBHOOK = "with the webhook (signed push event from the remote's post-receive hook)"
POLLED = "without it (Argo CD polls git: 180 s plus up to 60 s of jitter)"


def bump_to_live(project: Project, tag: str, webhook: bool) -> float:
    image = f"ghcr.io/example-org/hello-web:{tag}"
    started = time.monotonic()
    with nullcontext() if webhook else project.webhook_paused():
        project.platformctl("bump", "--app", "hello-web", "--env", "dev", "--tag", tag, "--push")
    wait_for(
        f"hello-web {tag} live",
        lambda: project.live_image("web", "hello-web") == image,
        timeout=420,
        every=0.2,
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="bumps with the webhook")
    parser.add_argument("--polled", type=int, default=2, help="bumps without it")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {WEBHOOK: [], POLLED: []}
    with tempfile.TemporaryDirectory(prefix="gitops-bench-webhook-") as tmp:
        project = Project.create("dev", Path(tmp) / "p", nodes=1)
        try:
            project.up()
            wait_for(
                "hello-web live",
                lambda: project.live_image("web", "hello-web") is not None,
                timeout=300,
            )
            polled_left = args.polled
            for run in range(args.runs):
                seconds[WEBHOOK].append(bump_to_live(project, f"bench-{run}", webhook=True))
                if polled_left:
                    polled_left -= 1
                    seconds[POLLED].append(
                        bump_to_live(project, f"bench-polled-{run}", webhook=False)
                    )
        finally:
            project.teardown()
    median = {label: statistics.median(values) for label, values in seconds.items() if values}
    rows = [
        f"| {label} | {median[label]:.1f} | {len(values)} | "
        f"{', '.join(f'{v:.1f}' for v in values)} |"
        for label, values in seconds.items()
        if values
    ]
    body = "\n".join(
        [
            "## A pushed bump commit to the live image: webhook and polling (issue 19)",
            "",
            f"`.venv/bin/python benchmarks/webhook.py --runs {args.runs} --polled "
            f"{args.polled}` (`make bench-webhook`), the dev stack on kwok with Argo CD's "
            f"controllers as local processes. Machine: {machine()}. One run, alternating; "
            "each figure is `platformctl bump --push` to the live Deployment's new image.",
            "",
            "| Argo CD learns of the push | median (s) | runs | each (s) |",
            "|---|---:|---:|---|",
            *rows,
            "",
            f"- with the webhook: **{median[WEBHOOK]:.1f} s** median (goal: under 5 s)."
            + (
                f" Polling: {median[POLLED]:.1f} s median, {median[POLLED] / median[WEBHOOK]:.0f}x."
                if POLLED in median
                else ""
            ),
        ]
    )
    print(write_section(args.output, "webhook.py", body))


if __name__ == "__main__":
    main()
