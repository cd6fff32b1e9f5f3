"""The policy pack: thin pulumi-policy adapters over the pure rules in :mod:`policy.rules`.

Every policy but one is mandatory: a violation fails ``pulumi preview`` and ``pulumi up``
before anything changes; ``fleet-removable-spokes`` is advisory (it names what removing a
spoke that allows it would make disappear). An adapter only picks the properties its rule
needs (as plain data), learns the stack's name from the resource URN (for the messages) and
the environment from the ``LABEL_ENV`` label (for which rules apply), and reports each message
the rule returns.

Resource policies see one resource at a time; ``prod-protects-argocd`` is a stack policy
(``StackValidationPolicy``): the Chart v4 ``argocd-chart`` carries no property a policy sees,
so the environment comes from the stack's other, labelled resources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from infra.constants import LABEL_ENV
from infra.policy_checks import CHART_TYPES
from policy import fleet_rules, rules

__all__ = ["NO_LABELLED_RESOURCE", "PACK_NAME", "POLICIES", "plain", "policy_named", "serve"]

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


def _labelled(props: Mapping[str, Any]) -> dict[str, Any]:
    """Only the resource's ``LABEL_ENV`` label, as ``{"metadata": {"labels": ...}}`` for
    :func:`rules.environment_label`. Nothing else of the resource is read, so an unknown value
    elsewhere (in its spec, or its metadata) does not matter; an unknown label itself raises
    ``UnknownValueError`` (at preview)."""
    metadata = props.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    if not isinstance(labels, Mapping) or LABEL_ENV not in labels:
        return {}
    return {"metadata": {"labels": {LABEL_ENV: plain(labels[LABEL_ENV])}}}


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


NO_LABELLED_RESOURCE = (
    f"no resource of the stack carries the {LABEL_ENV} label, so its environment is not "
    "known (the program labels the Argo CD namespace and every Argo CD object)"
)


def _stack_resource(resource: PolicyResource) -> rules.StackResource:
    return rules.StackResource(
        name=resource.name,
        urn=resource.urn,
        protect=bool(resource.opts.protect),
        environment=rules.environment_label(_labelled(resource.props)),
    )


def _stack_resources(args: StackValidationArgs) -> list[rules.StackResource]:
    """What the stack rules need of every resource; not applicable (or, with an unknown
    label at preview, pulumi-policy's "can't run") when no resource tells the environment."""
    resources: list[rules.StackResource] = []
    unknown: UnknownValueError | None = None
    for resource in args.resources:
        try:
            resources.append(_stack_resource(resource))
        except UnknownValueError as error:
            # A label unknown at preview: the other resources' labels decide.
            unknown = unknown or error
            resources.append(
                rules.StackResource(resource.name, resource.urn, bool(resource.opts.protect), None)
            )
    if all(r.environment is None for r in resources):
        if unknown is not None:
            raise unknown  # pulumi-policy: "can't run policy ... during preview" (advisory)
        args.not_applicable(NO_LABELLED_RESOURCE)
    return resources


def _prod_protected(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = _stack_resources(args)
    stack = rules.stack_from_urn(args.resources[0].urn)
    for message, urn in rules.stack_protection_violations(stack, resources):
        report_violation(message, urn)


def _prod_admission(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = _stack_resources(args)
    stack = rules.stack_from_urn(args.resources[0].urn)
    for message, urn in rules.admission_violations(stack, resources):
        report_violation(message, urn)


def _prod_protected_resource(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """The same rule, one resource at a time, for a protected resource that carries its
    environment in its own inputs (the Argo CD namespace). It holds where the stack policy
    cannot learn the environment: a fresh stack's preview, before its cluster exists, when no
    resource's outputs are known yet."""
    if args.name not in rules.PROTECTED_IN_PROD:
        return
    environment = rules.environment_label(_labelled(args.props))
    if environment is None:
        return
    stack = rules.stack_from_urn(args.urn)
    _report(
        report_violation,
        rules.protection_violations(stack, environment, args.name, bool(args.opts.protect)),
    )


def _removable_spokes(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = [
        fleet_rules.FleetResource(
            r.resource_type, r.urn, bool(r.opts.protect), _pick(r.props, "metadata", "spec")
        )
        for r in args.resources
        if r.resource_type in (fleet_rules.SECRET_TYPE, fleet_rules.APPLICATION_SET_TYPE)
    ]
    for message, urn in fleet_rules.removable_spoke_advisories(resources):
        report_violation(message, urn)


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
    obj = {**_labelled(args.props), **_pick(args.props, "spec")}
    _report(report_violation, rules.auto_prune_violations(stack, kind, obj))


def _policy(
    name: str, description: str, validate: Callable[[ResourceValidationArgs, ReportViolation], None]
) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


POLICIES: tuple[Policy, ...] = (
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
        "On prod, the Argo CD namespace is protected against deletion (from its own label).",
        _prod_protected_resource,
    ),
    StackValidationPolicy(
        name="prod-protects-argocd-stack",
        description="On prod, the Argo CD namespace and chart and a cluster the stack creates "
        "are protected against deletion (the environment from the stack's labelled resources).",
        validate=_prod_protected,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="prod-enforces-admission",
        description="On prod, admission control is on: the stack declares the Kyverno policy "
        "that admits only signed images from trusted registries (docs/admission.md).",
        validate=_prod_admission,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="fleet-removable-spokes",
        description="Advisory: each spoke that allows its removal, with the Applications that "
        "would disappear if it were removed from fleet.clusters (docs/fleet.md).",
        validate=_removable_spokes,
        enforcement_level=EnforcementLevel.ADVISORY,
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


def policy_named(name: str) -> Policy:
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
