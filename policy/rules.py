"""The platform's policies as pure functions of plain data (no Pulumi, no pulumi_policy).

Each ``*_violations`` function takes the parts of one resource it needs (plain dicts, lists,
strings) and returns one message per violation, empty when the resource complies. The adapter
in :mod:`policy.pack` only picks the resource's properties and reports these messages.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra import constants
from infra.catalog.image_ref import parse_image_ref
from infra.constants import LABEL_ENV, PROD_ENVIRONMENT
from infra.policy_checks import chart_pin_violation
from infra.specs.admission import ADMISSION_POLICY
from infra.yamlio import read_documents

__all__ = [
    "PROTECTED_IN_PROD",
    "SYSTEM_NAMESPACES",
    "WORKLOAD_POD_SPEC_PATHS",
    "StackResource",
    "Violation",
    "admission_violations",
    "appproject_destination_violations",
    "auto_prune_violations",
    "chart_version_violations",
    "environment_label",
    "image_violation",
    "protection_violations",
    "resource_kind",
    "stack_environment",
    "stack_from_urn",
    "stack_protection_violations",
    "type_from_urn",
    "workload_image_violations",
]

# PROD_ENVIRONMENT: the environment the prod-only policies apply to, a stack's
# ``gitops-platform:environment``, which every Argo CD object and namespace the program creates
# carries as its ``LABEL_ENV`` label. Never the stack's name: a stack ``prod-eu`` deploying
# prod is prod, a stack ``prod`` deploying dev is not.

SYSTEM_NAMESPACES = frozenset({constants.ARGOCD_NAMESPACE_DEFAULT, constants.KUBE_SYSTEM_NAMESPACE})
"""Namespaces no AppProject may target (besides the namespace the AppProject itself lives in,
which is Argo CD's own)."""

PROTECTED_IN_PROD = ("argocd-namespace", "argocd-chart", "cluster-kind", "cluster-kwok")
"""Resource names that must be ``protect``-ed on a stack deploying prod: the Argo CD namespace and
chart (``infra.components.argocd.ArgoCD`` named ``argocd``) and a cluster the stack creates
(``infra.components.cluster``): deleting any deletes Argo CD and every Application."""

WORKLOAD_POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    # Argo Rollouts (a CustomResource): same pod template as a Deployment.
    "Rollout": ("spec", "template", "spec"),
}
"""Workload kind -> where its pod spec is, from the top of the object."""

_CONTAINER_LISTS = sorted(constants.CONTAINER_LISTS, key=lambda name: name != "initContainers")
"""The pod's container lists, init containers first (as they start): the order the messages
name them in."""


def resource_kind(resource_type: str) -> str:
    """The kind of a Kubernetes provider type token: ``kubernetes:apps/v1:Deployment`` ->
    ``Deployment``; any other token -> ``""``."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return ""
    return parts[2]


def stack_from_urn(urn: str) -> str:
    """The stack of a resource URN (``urn:pulumi:<stack>::<project>::<type>::<name>``).

    Only to name the stack (and its ``Pulumi.<stack>.yaml``) in messages; which rules apply
    depends on the environment (:func:`environment_label`). pulumi-policy 1.21 does not expose
    the stack name otherwise (the engine's ConfigureStack request carries it, but the SDK keeps
    only the tags, and ``PULUMI_STACK`` is not set for a policy pack run by a language host).
    """
    prefix = "urn:pulumi:"
    if not urn.startswith(prefix) or "::" not in urn:
        raise ValueError(f"not a Pulumi resource URN: {urn!r}")
    return urn[len(prefix) :].split("::", 1)[0]


def type_from_urn(urn: str) -> str:
    """The resource type of a URN: the last of its ``parent$type`` chain."""
    parts = urn.split("::")
    if len(parts) < 4 or not urn.startswith("urn:pulumi:"):
        raise ValueError(f"not a Pulumi resource URN: {urn!r}")
    return parts[2].rsplit("$", 1)[-1]


# -- no :latest or untagged images ------------------------------------------------------------


def image_violation(image: str) -> str | None:
    """Why ``image`` is not pinned, or None: it must carry a tag other than ``latest``, or a
    digest (``@sha256:...``)."""
    if not image.strip():
        return "image is empty"
    ref = parse_image_ref(image)  # a registry port (host:5000/x) is not a tag
    if ref.tag == "latest":
        return f"image {image!r} uses the mutable tag `latest`; pin a version tag or a digest"
    if ref.tag == "":
        return f"image {image!r} has an empty tag; pin a version tag or a digest"
    if ref.tag is None and ref.digest is None:
        return f"image {image!r} has no tag (so it is `latest`); pin a version tag or a digest"
    return None


def _get_path(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def workload_image_violations(kind: str, obj: Mapping[str, Any]) -> list[str]:
    """Every container of a workload (``obj`` = the object's properties) whose image is not
    pinned. Kinds that are not workloads have none."""
    path = WORKLOAD_POD_SPEC_PATHS.get(kind)
    if path is None:
        return []
    pod_spec = _get_path(obj, path)
    if not isinstance(pod_spec, Mapping):
        return []
    out: list[str] = []
    for list_name in _CONTAINER_LISTS:
        containers = pod_spec.get(list_name) or []
        for index, container in enumerate(containers):
            if not isinstance(container, Mapping):
                continue
            name = container.get("name") or f"#{index}"
            image = container.get("image")
            where = f"{'.'.join(path)}.{list_name}[{index}] ({name})"
            if not isinstance(image, str):
                out.append(f"{where}: no image set; pin a version tag or a digest")
                continue
            problem = image_violation(image)
            if problem:
                out.append(f"{where}: {problem}")
    return out


# -- chart versions pinned ------------------------------------------------------------------


def chart_version_violations(chart: str | None, version: str | None) -> list[str]:
    """A Helm chart is pinned by an exact ``version``, or by being a local chart archive.

    The rule itself is :func:`infra.policy_checks.chart_pin_violation`. The engine shows a
    policy pack no Chart v4 inputs; the program's Chart v4 installs are pinned by the settings
    schema, which accepts only exact chart versions.
    """
    problem = chart_pin_violation(chart, version)
    return [problem] if problem else []


# -- the environment a resource and a stack deploy -------------------------------------------


def environment_label(obj: Mapping[str, Any]) -> str | None:
    """The environment an object carries (``metadata.labels[LABEL_ENV]``), None without one."""
    value = _get_path(obj, ("metadata", "labels", LABEL_ENV))
    return value if isinstance(value, str) and value else None


Violation = tuple[str, str | None]
"""A stack rule's finding: (message, URN of the resource it is about, None for the stack)."""


@dataclass(frozen=True)
class StackResource:
    """What the stack rules need of one resource of the stack."""

    name: str
    urn: str
    protect: bool
    environment: str | None
    """Its ``LABEL_ENV`` label; None when it carries none."""


def stack_environment(
    stack: str, resources: Iterable[StackResource]
) -> tuple[frozenset[str], list[Violation]]:
    """Every environment the stack's labelled resources carry, and a violation when there is
    more than one: a stack deploys exactly one environment (``gitops-platform:environment``),
    and the program labels everything it creates with it."""
    names: dict[str, list[str]] = {}
    for resource in resources:
        if resource.environment is not None:
            names.setdefault(resource.environment, []).append(resource.name)
    if len(names) <= 1:
        return frozenset(names), []
    seen = "; ".join(
        f"{env}: {', '.join(sorted(found)[:3])}{', ...' if len(found) > 3 else ''}"
        for env, found in sorted(names.items())
    )
    return frozenset(names), [
        (
            f"stack {stack!r} carries more than one environment in the {LABEL_ENV} label "
            f"({seen}): a stack deploys exactly one, its {constants.PROJECT}:environment in "
            f"{constants.stack_file(stack)}; label every resource with it (or move the others "
            "to the stack of their environment)",
            None,
        )
    ]


# -- prod protects its Argo CD install ------------------------------------------------------


def protection_violations(
    stack: str, environment: str | None, name: str, protect: bool
) -> list[str]:
    """On a stack deploying prod, the Argo CD namespace and chart (and a cluster the stack
    creates) must be ``protect``-ed."""
    if environment != PROD_ENVIRONMENT or name not in PROTECTED_IN_PROD or protect:
        return []
    return [
        f"resource {name!r} is not protected on stack {stack!r} (environment {environment}): "
        "`pulumi destroy` or a rename would delete Argo CD and every Application; set "
        f"{constants.PROJECT}:argocd.protect: true in {constants.stack_file(stack)}"
    ]


def stack_protection_violations(stack: str, resources: Iterable[StackResource]) -> list[Violation]:
    """The whole stack: its environment, learned from the labelled resources (more than one is
    a violation itself, and prod among them is enough to hold the stack to prod's rules), then
    each resource of :data:`PROTECTED_IN_PROD` that is not protected."""
    resources = list(resources)
    environments, out = stack_environment(stack, resources)
    if PROD_ENVIRONMENT not in environments:
        return out
    for resource in resources:
        for message in protection_violations(
            stack, PROD_ENVIRONMENT, resource.name, resource.protect
        ):
            out.append((message, resource.urn))
    return out


# -- prod admits only signed images ---------------------------------------------------------

CLUSTER_POLICY_TYPE = "kubernetes:kyverno.io/v1:ClusterPolicy"


def admission_violations(stack: str, resources: Iterable[StackResource]) -> list[Violation]:
    """A stack deploying prod (from its labelled resources) declares the Kyverno ClusterPolicy
    that admits only signed images (:data:`infra.specs.admission.ADMISSION_POLICY`)."""
    resources = list(resources)
    environments, _ = stack_environment(stack, resources)  # a conflict: the protection rule's
    if PROD_ENVIRONMENT not in environments:
        return []
    if any(
        type_from_urn(r.urn) == CLUSTER_POLICY_TYPE and r.name.endswith(ADMISSION_POLICY)
        for r in resources
    ):
        return []
    return [
        (
            f"stack {stack!r} deploys prod without admission control (no ClusterPolicy "
            f"{ADMISSION_POLICY}): any image, signed or not, would run; set "
            f"{constants.PROJECT}:admission.enabled: true, with trustedRegistries and signer, in "
            f"{constants.stack_file(stack)} (docs/admission.md)",
            None,
        )
    ]


# -- no AppProject targets Argo CD's or the system's namespaces -----------------------------


def appproject_destination_violations(project: Mapping[str, Any]) -> list[str]:
    """No destination of an AppProject may match (as an Argo CD glob) ``argocd``,
    ``kube-system`` or the namespace the AppProject lives in (Argo CD's own)."""
    metadata = project.get("metadata") or {}
    own = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    forbidden = sorted(SYSTEM_NAMESPACES | ({own} if isinstance(own, str) and own else set()))
    spec = project.get("spec")
    destinations = (spec.get("destinations") if isinstance(spec, Mapping) else None) or []
    out: list[str] = []
    for index, destination in enumerate(destinations):
        if not isinstance(destination, Mapping):
            continue
        pattern = destination.get("namespace")
        if not isinstance(pattern, str) or not pattern or pattern.startswith("!"):
            continue  # no namespace, or a deny entry
        hits = [ns for ns in forbidden if fnmatch.fnmatchcase(ns, pattern)]
        if hits:
            matched = "matches" if pattern not in hits else "is"
            out.append(
                f"spec.destinations[{index}].namespace {pattern!r} {matched} "
                f"{', '.join(hits)}: apps may never deploy into Argo CD's or the system's "
                "namespaces"
            )
    return out


# -- prod never auto-prunes ------------------------------------------------------------------


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _auto_prunes(node: Any, path: str) -> Iterator[str]:
    """Paths of every ``syncPolicy.automated.prune`` that is true under ``node``."""
    if isinstance(node, Mapping):
        policy = node.get("syncPolicy")
        if isinstance(policy, Mapping):
            automated = policy.get("automated")
            if (
                isinstance(automated, Mapping)
                and _is_true(automated.get("prune"))
                and automated.get("enabled") is not False
            ):
                yield f"{path}.syncPolicy.automated.prune"
        for key, value in node.items():
            yield from _auto_prunes(value, f"{path}.{key}")
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            label = f"[{index}]"
            # A list element names its app by `name`, or `app` in a matrix with the clusters.
            named = next(
                (value[k] for k in ("name", "app") if isinstance(value, Mapping) and k in value),
                None,
            )
            if isinstance(named, str):
                label = f"[{index}]({named})"
            yield from _auto_prunes(value, f"{path}{label}")


def _literal_template_patch(text: Any) -> Any:
    """A ``templatePatch`` without template actions, parsed; None otherwise (a templated patch
    takes its values from the generator elements, which are checked themselves)."""
    if not isinstance(text, str) or "{{" in text:
        return None
    read = read_documents(text, "templatePatch", strict=False)
    return read.documents[0] if not read.problems and len(read.documents) == 1 else None


def auto_prune_violations(stack: str, kind: str, obj: Mapping[str, Any]) -> list[str]:
    """No Application or ApplicationSet of prod (its own ``LABEL_ENV`` label is ``prod``) may
    set ``syncPolicy.automated.prune: true`` in its template, templatePatch or any generator
    element's patch: in prod a human decides what gets deleted. ``stack`` only names the stack
    file in the message."""
    environment = environment_label(obj)
    if environment != PROD_ENVIRONMENT or kind not in ("Application", "ApplicationSet"):
        return []
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return []
    paths = list(_auto_prunes(spec, "spec"))
    patch = _literal_template_patch(spec.get("templatePatch"))
    if patch is not None:
        paths.extend(_auto_prunes(patch, "spec.templatePatch"))
    return [
        f"{path} is true on stack {stack!r} (environment {environment}): prod never prunes "
        "automatically (set environments.prod.sync.prune to false in the app's app.yaml, and "
        f"{constants.PROJECT}:sync.prune to false in {constants.stack_file(stack)})"
        for path in paths
    ]
