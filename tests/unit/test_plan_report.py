"""The plan's Markdown under GitHub's comment limit (largest diffs folded first) and its JSON."""

from __future__ import annotations

import json
from pathlib import Path

from infra import constants
from infra.delivery.appdiff import AppChange
from infra.delivery.plan import AppRender, ObjectDiff, Plan, Revision, StackPlan, Warning
from infra.delivery.plan_report import render_json, render_markdown


def _diff(key: str, lines: int) -> ObjectDiff:
    body = "".join(f"+  line-{i}: {'x' * 60}\n" for i in range(lines))
    return ObjectDiff(key, "added", f"--- base/{key}\n+++ head/{key}\n{body}")


def _plan(*renders: AppRender) -> Plan:
    stack = StackPlan(
        stack="dev",
        environment="dev",
        branch="dev",
        present=(True, True),
        argocd=[],
        applications=[AppChange("argocd/big", "added", ("namespace `big`",))],
        renders=list(renders),
        total_base=0,
        total_head=1,
        target=None,
    )
    base = Revision("base", "dev", "a" * 40, Path("/nonexistent"))
    head = Revision("head", "HEAD", "b" * 40, Path("/nonexistent"))
    return Plan(base, head, [stack], [Warning("dev", "prune", "3 objects")])


def test_a_small_plan_is_not_folded() -> None:
    plan = _plan(AppRender("argocd/small", "rendered", objects=[_diff("v1/ConfigMap//a", 3)]))
    text = render_markdown(plan)
    assert text == render_markdown(plan, limit=None)
    assert text.startswith(constants.PLAN_MARKER + "\n")
    assert "folded" not in text


def test_the_largest_diffs_are_folded_under_the_limit() -> None:
    huge = _diff("apps/v1/Deployment//huge", 3000)
    small = _diff("v1/ConfigMap//small", 5)
    plan = _plan(AppRender("argocd/big", "rendered", objects=[huge, small]))
    full = render_markdown(plan, limit=None)
    assert len(full) > constants.PLAN_COMMENT_LIMIT
    text = render_markdown(plan)
    assert len(text) <= constants.PLAN_COMMENT_LIMIT
    assert small.diff in text, "the small diff is whole"
    assert "more characters folded: the whole plan is in the artifact" in text
    assert "folded to GitHub's 65,536-character limit" in text
    assert text.count("<details>") == text.count("</details>")


def test_thousands_of_diffs_still_fit() -> None:
    diffs = [_diff(f"v1/ConfigMap//c{i}", 2) for i in range(3000)]
    text = render_markdown(_plan(AppRender("argocd/big", "rendered", objects=diffs)))
    assert len(text) <= constants.PLAN_COMMENT_LIMIT
    assert text.startswith(constants.PLAN_MARKER)


def test_a_backtick_fence_inside_a_diff_does_not_end_the_block() -> None:
    diff = ObjectDiff("v1/ConfigMap//docs", "added", "+  readme: |\n+    ```sh\n+    make\n")
    text = render_markdown(_plan(AppRender("argocd/docs", "rendered", objects=[diff])))
    assert "````diff" in text


def test_json_shape() -> None:
    render = AppRender(
        "argocd/big",
        "rendered",
        inputs=["apps/big/x.yaml"],
        objects=[_diff("v1/A//b", 1)],
        namespace="big",
    )
    document = json.loads(render_json(_plan(render)))
    assert set(document) == {"base", "head", "warnings", "stacks"}
    assert document["base"] == {"ref": "dev", "commit": "a" * 40}
    assert document["warnings"] == [{"stack": "dev", "kind": "prune", "message": "3 objects"}]
    (stack,) = document["stacks"]
    assert set(stack) == {
        "stack",
        "environment",
        "branch",
        "present",
        "kubernetesVersion",
        "argocd",
        "applications",
        "renders",
        "totals",
    }
    assert stack["applications"] == [
        {"key": "argocd/big", "change": "added", "details": ["namespace `big`"]}
    ]
    (rendered,) = stack["renders"]
    assert rendered["inputs"] == ["apps/big/x.yaml"]
    assert rendered["namespace"] == "big", "where an object naming no namespace is applied"
    assert rendered["objects"][0]["key"] == "v1/A//b"
