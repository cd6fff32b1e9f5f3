"""The policy pack: thin pulumi-policy adapters over the pure rules in :mod:`policy.rules`.

Every policy is mandatory: a violation fails ``pulumi preview`` and ``pulumi up`` before
anything changes. An adapter only picks the properties its rule needs (as plain data), learns
the stack from the resource URN, and reports each message the rule returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
)

from infra.policy_checks import CHART_TYPES
from policy import rules

__all__ = ["PACK_NAME", "POLICIES", "plain", "policy_named", "serve"]

PACK_NAME = "gitops-platform"


CHART_V4_INPUTS_HIDDEN = (
    "the resource carries no `chart`/`version` inputs (pulumi-kubernetes registers a Chart v4 "
    "component without them); the program checks Chart v4 pins itself"
)


def plain(value: Any) -> Any:
    """Resource properties as plain dicts, lists and scalars.

    pulumi-policy hands read-only proxies (a ``Mapping``/``Sequence`` that raises
    ``UnknownValueError`` on a value unknown during preview: the SDK then reports "can't run
    policy during preview" instead of a violation) and may wrap secrets in ``Secret``.
    """
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [plain(v) for v in value]
    return value


def _pick(props: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """Only the top-level properties a rule reads, as plain data (so an unknown elsewhere in
    the resource does not keep the rule from running at preview)."""
    return {key: plain(props[key]) for key in keys if key in props}


def _report(report_violation: ReportViolation, messages: list[str]) -> None:
    for message in messages:
        report_violation(message, None)


def _pinned_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = rules.resource_kind(args.resource_type)
    path = rules.WORKLOAD_POD_SPEC_PATHS.get(kind)
    if path is None:
        return
    obj = _pick(args.props, path[0])
    _report(report_violation, rules.workload_image_violations(kind, obj))


def _pinned_charts(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in CHART_TYPES:
        return
    props = _pick(args.props, "chart", "version")
    chart, version = props.get("chart"), props.get("version")
    if chart is None and version is None:
        # What the engine shows of a Chart v4: the provider registers the component without
        # its inputs, so there is nothing to check here (see docs/policy.md).
        args.not_applicable(CHART_V4_INPUTS_HIDDEN)
    _report(
        report_violation,
        rules.chart_version_violations(
            chart if isinstance(chart, str) else None,
            version if isinstance(version, str) else None,
        ),
    )


def _prod_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    stack = rules.stack_from_urn(args.urn)
    _report(
        report_violation, rules.protection_violations(stack, args.name, bool(args.opts.protect))
    )


def _project_destinations(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if rules.resource_kind(args.resource_type) != "AppProject":
        return
    project = _pick(args.props, "metadata", "spec")
    _report(report_violation, rules.appproject_destination_violations(project))


def _prod_no_auto_prune(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = rules.resource_kind(args.resource_type)
    if kind not in ("Application", "ApplicationSet"):
        return
    stack = rules.stack_from_urn(args.urn)
    _report(report_violation, rules.auto_prune_violations(stack, kind, _pick(args.props, "spec")))


def _policy(
    name: str, description: str, validate: Callable[[ResourceValidationArgs, ReportViolation], None]
) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


POLICIES: tuple[ResourceValidationPolicy, ...] = (
    _policy(
        "no-unpinned-images",
        "Container images carry a version tag (not `latest`) or a digest.",
        _pinned_images,
    ),
    _policy(
        "chart-version-pinned",
        "Helm charts are pinned to an exact version or a local chart archive.",
        _pinned_charts,
    ),
    _policy(
        "prod-protects-argocd",
        "On prod, the Argo CD namespace and chart are protected against deletion.",
        _prod_protected,
    ),
    _policy(
        "appproject-no-system-namespaces",
        "No AppProject may target argocd, kube-system or every namespace.",
        _project_destinations,
    ),
    _policy(
        "prod-no-auto-prune",
        "On prod, no Application is pruned automatically.",
        _prod_no_auto_prune,
    ),
)
"""Every policy of the pack, in the order the engine runs them."""


def policy_named(name: str) -> ResourceValidationPolicy:
    """The pack's policy called ``name`` (KeyError naming the known ones otherwise)."""
    for policy in POLICIES:
        if policy.name == name:
            return policy
    raise KeyError(f"no policy {name!r} in the pack; it has {[p.name for p in POLICIES]}")


def serve() -> None:
    """Serve the pack to the engine (prints the port, blocks until the engine ends it)."""
    PolicyPack(
        name=PACK_NAME,
        policies=list(POLICIES),
        enforcement_level=EnforcementLevel.MANDATORY,
    )
