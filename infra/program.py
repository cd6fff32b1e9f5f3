"""The Pulumi program: settings -> cluster -> Argo CD -> app catalog, and the add-ons.

Each spoke of ``fleet.clusters`` gets, on it, what ``argocd cluster add`` creates and, on the
hub, Argo CD's cluster Secret (infra.components.fleet), once Argo CD is installed.

The add-ons (Argo Rollouts, Sealed Secrets, Kyverno; each when its stack section enables it)
need only the cluster's provider, so the engine installs them in parallel with Argo CD. The
admission policies wait for a running Kyverno (its chart, or on kwok the local runtime).

Everything that can be wrong with the inputs (stack config, app definitions) is checked
before the first resource is registered, and reported as one error naming every file and
field; a failed validation therefore changes nothing in the cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pulumi
import pulumi.runtime.config

from infra import constants
from infra.catalog import load_catalog
from infra.chart_render import load_crd_set, render_chart_folder, stack_crd_sources
from infra.components.admission import (
    Admission,
    AdmissionPolicies,
    LocalKyverno,
    kyverno_chart_folder,
    kyverno_crd_files,
)
from infra.components.app_catalog import AppCatalog
from infra.components.argocd import ArgoCD
from infra.components.charts import AddonArgs, AddonSection, ChartAddon
from infra.components.cluster import Cluster
from infra.components.cluster.preflight import preflight
from infra.components.fleet import (
    Spoke,
    read_spoke_kubeconfigs,
    spoke_origin,
    stack_reference_kubeconfig,
)
from infra.components.local_runtime import LocalRuntime, MirrorSpec
from infra.components.rollouts import ROLLOUTS
from infra.components.sealed_secrets import SEALED_SECRETS
from infra.delivery.applied_checks import applied_problems
from infra.delivery.render_app import target_cluster
from infra.errors import PlatformError, Problem, ValidationError
from infra.ops.crd_migration import refuse_unretained_crds
from infra.policy_checks import chart_archive_problems, plaintext_secret_problems
from infra.project import find_project_root
from infra.runtime.mirror import head_commit
from infra.runtime.plan import RuntimeSettings
from infra.settings import KwokCluster, StackSettings, settings_from_engine
from infra.settings.fleet import kwok_spoke_name
from infra.specs import admission_policies, argocd_objects, chart_values
from infra.specs.addons import addon_namespace, rollouts_values, sealed_secrets_values
from infra.specs.admission import (
    KYVERNO_IDENTITY_TEMPLATES,
    kyverno_configmap,
    kyverno_identity_values,
    kyverno_values,
)
from infra.specs.crds import CrdSet

__all__ = ["StackPlan", "main", "plan", "stack_crds"]


def _engine_config() -> dict[str, str]:
    config: dict[str, Any] = dict(pulumi.runtime.config.CONFIG.get())
    if not config:
        config = pulumi.runtime.config.get_config_env()
    return {k: v if isinstance(v, str) else str(v) for k, v in config.items()}


class StackPlan(NamedTuple):
    settings: StackSettings
    objects: list[dict[str, Any]]
    """Every Argo CD object (what ``platformctl render`` prints)."""
    policies: list[dict[str, Any]]
    """Kyverno's ClusterPolicies (none unless ``admission.enabled``)."""


def plan(stack: str, config: dict[str, str], root: Path) -> StackPlan:
    """Pure: validated settings, every Argo CD object and admission policy, or a
    PlatformError."""
    file = constants.stack_file(stack)
    secret_keys = pulumi.runtime.config.get_config_secret_keys_env()
    secrets = plaintext_secret_problems(config, file, secret_keys)
    if secrets:
        raise ValidationError(secrets)
    settings = settings_from_engine(stack, config, file, root)
    archives = chart_archive_problems(settings.chart_archives, root, file)
    if archives:
        raise ValidationError(archives)
    catalog = load_catalog(
        root,
        root / settings.catalog.appsDir,
        reserved_namespaces=settings.platform_namespaces,
    )
    return StackPlan(
        settings, argocd_objects(catalog, settings), admission_policies(settings, catalog)
    )


def mirror_commit(settings: StackSettings, root: Path) -> str | None:
    """The commit the local git mirror gets (``git.mirror``), or a ValidationError."""
    if not settings.git.mirror:
        return None
    commit = head_commit(root)
    if commit is None:
        raise ValidationError(
            [
                Problem(
                    constants.stack_file(settings.stack),
                    f"{constants.PROJECT}:git.mirror",
                    f"{root} is not a git checkout with a commit: the mirror is filled from "
                    "the committed HEAD (`git init && git add -A && git commit`)",
                )
            ]
        )
    return commit


def stack_crds(settings: StackSettings, root: Path) -> dict[str, CrdSet]:
    """Settings section -> the CRDs of each chart the stack installs (names and digests; the
    helm render is cached). On kwok, Kyverno is a local process and its CRDs come from its
    build."""
    local_admission = settings.admission.enabled and settings.local_controllers
    files = kyverno_crd_files() if local_admission else None
    return {
        section: load_crd_set(source)
        for section, source in stack_crd_sources(settings, root, files).items()
    }


def kyverno_install(settings: StackSettings) -> dict[str, Any] | LocalKyverno | None:
    """How the stack runs Kyverno (None unless ``admission.enabled``): the chart's values, or
    on kwok its ConfigMap and the admission controller's ServiceAccount and RBAC, rendered from
    the chart of the Kyverno the runtime runs (the process acts as that account)."""
    if not settings.admission.enabled:
        return None
    if not settings.local_controllers:
        return kyverno_values(settings)
    identity = render_chart_folder(
        kyverno_chart_folder(),
        constants.KYVERNO_CHART,
        settings.admission.namespace,
        kyverno_identity_values(settings),
        KYVERNO_IDENTITY_TEMPLATES,
        target_cluster(settings).kube_version,
    )
    return LocalKyverno(kyverno_configmap(settings), identity)


def main() -> None:
    try:
        root = find_project_root(pulumi.get_root_directory())
        settings, objects, policies = plan(pulumi.get_stack(), _engine_config(), root)
        applied = applied_problems(objects, settings, root)
        if applied:
            raise ValidationError(applied)
        preflight(settings, creating=not pulumi.runtime.is_dry_run())
        commit = mirror_commit(settings, root)
        crds = stack_crds(settings, root)
        kyverno = kyverno_install(settings)
        spoke_kubeconfigs = read_spoke_kubeconfigs(settings)
        if settings.admission.enabled:
            # Kyverno's CRDs were not retainOnDelete before they moved to their owner.
            refuse_unretained_crds(pulumi.get_stack(), str(root))
    except PlatformError as exc:
        # RunError: the engine prints the message alone, no traceback.
        raise pulumi.RunError(f"invalid configuration:\n{exc}") from None

    cluster = Cluster(
        "cluster",
        {
            "cluster": settings.cluster,
            "cluster_name": settings.cluster_name,
            "protect": settings.argocd.protect,
            "stack_file": constants.stack_file(settings.stack),
        },
    )
    argocd = ArgoCD(
        "argocd",
        {
            "argocd": settings.argocd,
            "environment": settings.environment,
            "admin_password": settings.adminPassword,
            "webhook": settings.webhook,
            "values": chart_values(settings),
            "provider": cluster.provider,
            "project_root": str(root),
            "crds": crds["argocd"],
            "kubeconfig": cluster.kubeconfig,
        },
    )

    def addon_args(section: AddonSection) -> AddonArgs:
        """An add-on's section, its rendered Namespace, and how to reach the cluster."""
        return {
            "section": section,
            "namespace_spec": addon_namespace(settings, section.namespace),
            "provider": cluster.provider,
            "project_root": str(root),
            "kubeconfig": cluster.kubeconfig,
        }

    rollouts = (
        ChartAddon(
            "rollouts",
            ROLLOUTS,
            addon_args(settings.rollouts),
            rollouts_values(settings),
            crds["rollouts"],
        )
        if settings.rollouts.enabled
        else None
    )
    sealed_secrets = (
        ChartAddon(
            "sealed-secrets",
            SEALED_SECRETS,
            addon_args(settings.sealedSecrets),
            sealed_secrets_values(settings),
            crds["sealedSecrets"],
        )
        if settings.sealedSecrets.enabled
        else None
    )
    admission = (
        Admission("admission", addon_args(settings.admission), crds["admission"], kyverno)
        if kyverno is not None
        else None
    )
    catalog = AppCatalog(
        "catalog",
        {
            "objects": objects,
            "provider": cluster.provider,
            # The CRDs the objects need: Argo CD's, and Rollouts' for strategy apps.
            "install": [argocd.chart, *([rollouts.chart] if rollouts is not None else [])],
        },
    )

    for index, spoke in enumerate(settings.fleet.clusters):
        kubeconfig: pulumi.Input[str]
        context: str | None
        if spoke.kubeconfig is not None:
            kubeconfig, context = spoke_kubeconfigs[spoke.name], spoke.kubeconfig.context
        elif spoke.stackReference is not None:
            reference = spoke.stackReference
            kubeconfig = stack_reference_kubeconfig(f"spoke-{spoke.name}-stack", reference)
            context = reference.context
        else:
            # A kwok spoke: a cluster the stack creates beside its own (local-fleet); the hub's
            # controllers, local processes, reach its API server on loopback.
            assert spoke.kwok is not None
            spoke_name = kwok_spoke_name(settings.cluster_name, spoke.name)
            spoke_cluster = Cluster(
                f"spoke-{spoke.name}-cluster",
                {
                    "cluster": KwokCluster(
                        provider="kwok",
                        name=spoke_name,
                        nodes=spoke.kwok.nodes,
                        kubernetesVersion=spoke.kwok.kubernetesVersion,
                        controllers="none",
                    ),
                    "cluster_name": spoke_name,
                    "protect": settings.argocd.protect,
                    "stack_file": constants.stack_file(settings.stack),
                },
            )
            kubeconfig, context = spoke_cluster.kubeconfig, None
        Spoke(
            f"spoke-{spoke.name}",
            {
                "spoke": spoke,
                "environment": settings.environment,
                "argocd_namespace": settings.argocd.namespace,
                "hub_provider": cluster.provider,
                "kubeconfig": kubeconfig,
                "context": context,
                "origin": spoke_origin(constants.stack_file(settings.stack), index, spoke),
                # The cluster Secret goes into Argo CD's namespace.
                "after": [argocd.chart],
            },
        )

    kyverno_running: list[pulumi.Resource] = list(admission.install) if admission else []
    if settings.local_controllers:
        runtime = LocalRuntime(
            "argocd-runtime",
            {
                "runtime": RuntimeSettings.of(settings),
                "root": str(settings.root),
                "kubeconfig": cluster.kubeconfig,
                "mirror": MirrorSpec(
                    path=str(settings.mirror_path),
                    branch=settings.branch,
                    commit=commit,
                    repo_url=settings.repo_url,
                )
                if commit is not None
                else None,
                # The mirror signs its push events with the GitHub key.
                "webhook_secret": argocd.github_webhook_secret if settings.git.mirror else None,
            },
            # The processes read what the charts and the program created.
            pulumi.ResourceOptions(
                depends_on=[
                    argocd.chart,
                    *([rollouts.chart] if rollouts is not None else []),
                    # A process runs only while its workload exists (the supervisor follows
                    # the kubelet): every chart with a workload is installed first.
                    *([sealed_secrets.chart] if sealed_secrets is not None else []),
                    catalog,
                    *kyverno_running,
                ]
            ),
        )
        if admission is not None:
            kyverno_running = [runtime]  # the process runs once the runtime is up
        pulumi.export("argocdServer", runtime.server)
        pulumi.export("runtimeLogs", runtime.logs)

    if admission is not None:
        AdmissionPolicies(
            "admission-policies",
            {"policies": policies, "provider": cluster.provider, "after": kyverno_running},
        )
        pulumi.export("admissionNamespace", admission.namespace)

    pulumi.export("environment", settings.environment)
    pulumi.export("branch", settings.branch)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("argocdNamespace", argocd.namespace)
    pulumi.export("adminPassword", argocd.admin_password)
    pulumi.export("adminPasswordMtime", argocd.admin_password_mtime)
    pulumi.export("argocdObjects", catalog.names)
    if rollouts is not None:
        pulumi.export("rolloutsNamespace", rollouts.namespace)
    if sealed_secrets is not None:
        pulumi.export("sealedSecretsNamespace", sealed_secrets.namespace)
    if settings.fleet.enabled:
        pulumi.export("fleetClusters", [spoke.name for spoke in settings.fleet.clusters])
