"""The plan as a pull-request comment (Markdown, under GitHub's limit) or as JSON.

The Markdown starts with :data:`~infra.constants.PLAN_MARKER` so the workflow edits its own
comment. Every diff is a ``<details>`` block; when the whole plan is longer than the limit, the
largest diffs are cut to a common length (the smallest cut that fits) with a note saying how
much was left out and that the full plan is in the artifact (``--full-output``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from infra import constants
from infra.delivery.appdiff import render_table
from infra.delivery.plan import AppRender, ObjectDiff, Plan, StackPlan

__all__ = ["render_json", "render_markdown"]

FOLD_NOTE: Final = "… {count} more characters folded: the whole plan is in the artifact"
_HEADROOM: Final = 1_000
"""Characters kept free under the limit (the fold notes, the final note)."""


@dataclass
class _Fold:
    summary: str
    lang: str
    body: str


Block = str | _Fold


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _fence(body: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    return "`" * max(3, longest + 1)


def _show(block: Block, cap: int | None) -> str:
    if isinstance(block, str):
        return block
    body = block.body
    if cap is not None and len(body) > cap:
        cut = body.rfind("\n", 0, cap) + 1
        body = body[:cut] + FOLD_NOTE.format(count=len(block.body) - cut) + "\n"
    fence = _fence(body)
    return (
        f"<details><summary>{block.summary}</summary>\n\n{fence}{block.lang}\n{body}"
        f"{'' if body.endswith(chr(10)) else chr(10)}{fence}\n\n</details>\n"
    )


def _join(blocks: list[Block], cap: int | None) -> str:
    return "\n".join(_show(b, cap) for b in blocks)


def _short(commit: str) -> str:
    return commit[:12]


def _warnings(plan: Plan) -> list[Block]:
    if not plan.warnings:
        return ["**No blast-radius warnings.**\n"]
    lines = [f"**⚠️ {len(plan.warnings)} warning(s)**\n"]
    for warning in plan.warnings:
        lines.append(f"- **{warning.kind}** (stack `{warning.stack}`): {warning.message}")
    return ["\n".join(lines) + "\n"]


def _object_folds(diffs: list[ObjectDiff]) -> list[Block]:
    return [_Fold(f"<code>{html.escape(d.key)}</code> {d.change}", "diff", d.diff) for d in diffs]


def _render_blocks(render: AppRender) -> list[Block]:
    inputs = ", ".join(_code(p) for p in render.inputs[:8])
    if len(render.inputs) > 8:
        inputs += f" and {len(render.inputs) - 8} more"
    head = f"**{_code(render.application)}**"
    if render.namespace:
        head += f" (namespace {_code(render.namespace)})"
    if render.status != "rendered":
        return [f"{head}: {render.status}: {render.note}\n"]
    counts = {kind: sum(1 for d in render.objects if d.change == kind) for kind in _KINDS}
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "no object changes"
    lines = [f"{head}: {summary} ({len(render.before)} objects before, {len(render.after)} after)"]
    if inputs:
        lines.append(f"inputs changed: {inputs}")
    return ["<br>\n".join(lines) + "\n", *_object_folds(render.objects)]


_KINDS: Final = ("added", "changed", "removed")


def _stack_blocks(stack: StackPlan, previews: Mapping[str, str]) -> list[Block]:
    present = {(True, True): "", (False, True): " (new stack)", (True, False): " (removed)"}
    blocks: list[Block] = [
        f"### Stack {_code(stack.stack)}{present.get(stack.present, '')}: environment "
        f"{stack.environment}, branch {_code(stack.branch)}\n"
    ]
    counts = {kind: sum(1 for c in stack.applications if c.kind == kind) for kind in _KINDS}
    target = stack.target
    cluster = ""
    if target is not None:
        assumed = " (assumed: the stack does not say)" if target.assumed else ""
        cluster = f" Rendered for Kubernetes {target.kube_version}{assumed}."
    blocks.append(
        f"Applications: {counts['added']} added, {counts['changed']} changed, "
        f"{counts['removed']} removed ({stack.total_base} before, {stack.total_head} after). "
        f"Argo CD objects changed: {len(stack.argocd)}. Apps rendered (inputs changed): "
        f"{len(stack.renders)}.{cluster}\n"
    )
    if stack.stack in previews:
        blocks.append(
            _Fold(f"<code>pulumi preview</code> of {stack.stack}", "text", previews[stack.stack])
        )
    if stack.argocd:
        blocks += ["#### AppProjects and ApplicationSets\n", *_object_folds(stack.argocd)]
    if stack.applications:
        blocks += ["#### Applications\n", "\n".join(render_table(stack.applications)) + "\n"]
    if stack.renders:
        blocks.append("#### Rendered objects\n")
        for render in stack.renders:
            blocks += _render_blocks(render)
    return blocks


def _blocks(plan: Plan, previews: Mapping[str, str]) -> list[Block]:
    blocks: list[Block] = [
        constants.PLAN_MARKER,
        f"## Plan: {_code(plan.base.ref)} ({_short(plan.base.commit)}) → "
        f"{_code(plan.head.ref)} ({_short(plan.head.commit)})\n",
        *_warnings(plan),
    ]
    for stack in plan.stacks:
        blocks += _stack_blocks(stack, previews)
    if not plan.stacks:
        blocks.append("No stack.\n")
    return blocks


def render_markdown(
    plan: Plan,
    *,
    limit: int | None = constants.PLAN_COMMENT_LIMIT,
    previews: Mapping[str, str] = {},
) -> str:
    """The plan in Markdown; with ``limit``, at most that many characters (largest diffs
    folded first)."""
    blocks = _blocks(plan, previews)
    full = _join(blocks, None)
    if limit is None or len(full) <= limit:
        return full
    budget = limit - _HEADROOM
    low, high = 0, max((len(b.body) for b in blocks if isinstance(b, _Fold)), default=0)
    while low < high:  # the largest cap of every diff body that fits
        middle = (low + high + 1) // 2
        if len(_join(blocks, middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    text = _join(blocks, low)
    note = (
        f"\n**This comment is folded to GitHub's {limit:,}-character limit; the whole plan "
        f"({len(full):,} characters) is in the workflow's artifact.**\n"
    )
    if len(text) > budget:  # too many diffs even with empty bodies: cut the end
        text = text[: text.rfind("\n", 0, budget) + 1]
    return text + note


def _diffs(diffs: list[ObjectDiff]) -> list[dict[str, str]]:
    return [{"key": d.key, "change": d.change, "diff": d.diff} for d in diffs]


def _stack_json(stack: StackPlan) -> dict[str, Any]:
    return {
        "stack": stack.stack,
        "environment": stack.environment,
        "branch": stack.branch,
        "present": {"base": stack.present[0], "head": stack.present[1]},
        "kubernetesVersion": stack.target.kube_version if stack.target else None,
        "argocd": _diffs(stack.argocd),
        "applications": [
            {"key": c.key, "change": c.kind, "details": list(c.details)} for c in stack.applications
        ],
        "renders": [
            {
                "application": r.application,
                "namespace": r.namespace,
                "status": r.status,
                "note": r.note,
                "inputs": r.inputs,
                "objectsBefore": len(r.before),
                "objectsAfter": len(r.after),
                "objects": _diffs(r.objects),
            }
            for r in stack.renders
        ],
        "totals": {"base": stack.total_base, "head": stack.total_head},
    }


def render_json(plan: Plan) -> str:
    """The plan as JSON: ``base``/``head`` (ref, commit), ``warnings``, ``stacks``."""
    document = {
        "base": {"ref": plan.base.ref, "commit": plan.base.commit},
        "head": {"ref": plan.head.ref, "commit": plan.head.commit},
        "warnings": [
            {"stack": w.stack, "kind": w.kind, "message": w.message} for w in plan.warnings
        ],
        "stacks": [_stack_json(s) for s in plan.stacks],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
