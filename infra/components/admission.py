"""Kyverno and the stack's admission policies (docs/admission.md): a thin wrapper over
:mod:`infra.specs.admission`.

Two components, because the policies must wait for a running Kyverno and, on kwok, Kyverno is
a process of the local runtime, which itself waits for Argo CD's install:

- :class:`Admission`: Kyverno itself. On a real cluster, its namespace and the pinned
  ``kyverno`` chart (3.9.0 = Kyverno v1.19.0). On kwok (``cluster.controllers: local``) the
  chart cannot be packaged offline (its ``kyverno-api`` dependency is unavailable here), so
  the namespace, the CRDs of the same Kyverno version (kept beside the binary the toolchain
  built), the ConfigMap the chart would create and the admission controller's ServiceAccount
  and RBAC (rendered from that version's chart); the local runtime runs the controller as
  that ServiceAccount.
  Either way one ``ChartCRDs`` owns the CRDs (infra.components.chart_crds).
- :class:`AdmissionPolicies`: the ClusterPolicies, created once Kyverno runs (it validates
  them and reports them Ready).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from infra import constants
from infra.components.app_catalog import custom_resource
from infra.components.chart_crds import ChartCRDs
from infra.components.charts import AddonArgs, addon_chart, namespace_resource
from infra.errors import PlatformError
from infra.specs.crds import CrdSet

__all__ = [
    "KYVERNO_CHART",
    "Admission",
    "AdmissionPolicies",
    "AdmissionPoliciesArgs",
    "LocalKyverno",
    "kyverno_chart_folder",
    "kyverno_crd_files",
]

KYVERNO_CHART = constants.KYVERNO_CHART
CRD_GROUPS = ("kyverno", "policies.kyverno.io", "policyreport", "reports")
"""The CRD folders of the Kyverno module (``config/crds/<group>``), all of which the
controller watches."""


def _kyverno_build(kyverno_binary: str | None) -> Path:
    """The build folder of the Kyverno the toolchain built (``kyverno`` on PATH is a link
    into it)."""
    binary = kyverno_binary or shutil.which("kyverno")
    if binary is None:
        raise PlatformError(
            "admission on a kwok cluster runs Kyverno locally: `kyverno` is not on PATH "
            "(run `make toolchain`, and use the Makefile targets)"
        )
    return Path(binary).resolve().parent


def kyverno_crd_files(kyverno_binary: str | None = None) -> list[str]:
    """The CRD files of the Kyverno the toolchain built: ``crds/`` beside the real binary
    (``kyverno`` on PATH is a link into the build). A PlatformError when missing."""
    crds = _kyverno_build(kyverno_binary) / "crds"
    files = sorted(str(f) for group in CRD_GROUPS for f in (crds / group).glob("*.yaml"))
    if not files:
        raise PlatformError(f"no Kyverno CRDs in {crds}: rebuild the toolchain (`make toolchain`)")
    return files


def kyverno_chart_folder(kyverno_binary: str | None = None) -> Path:
    """The chart of the Kyverno the toolchain built (the same version): ``chart/`` beside the
    real binary. A PlatformError when missing."""
    folder = _kyverno_build(kyverno_binary) / "chart"
    if not (folder / constants.HELM_CHART_FILE).is_file():
        raise PlatformError(
            f"no Kyverno chart in {folder}: rebuild the toolchain (`make toolchain`)"
        )
    return folder


class LocalKyverno(NamedTuple):
    """On kwok, what the local runtime's Kyverno process needs in place of the chart."""

    configmap: dict[str, Any]
    """Kyverno's ConfigMap as the chart would create it
    (:func:`infra.specs.admission.kyverno_configmap`)."""
    identity: list[dict[str, Any]]
    """The admission controller's ServiceAccount and RBAC as the chart renders them (the
    process runs as that account)."""


class Admission(pulumi.ComponentResource):
    """Kyverno in ``admission.namespace``: the chart, or (kwok) what the local runtime needs."""

    namespace: pulumi.Output[str]
    install: list[pulumi.Resource]
    """What the policies (and, on kwok, the runtime's Kyverno process) wait for."""

    def __init__(
        self,
        name: str,
        args: AddonArgs,
        crds: CrdSet,
        kyverno: dict[str, Any] | LocalKyverno,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``kyverno``: the chart's values (:func:`infra.specs.admission.kyverno_values`), or
        on kwok what the local runtime's process needs instead of the chart."""
        super().__init__("gitops-platform:index:Admission", name, None, opts)
        if isinstance(kyverno, LocalKyverno):
            self.install = self._local(name, args, crds, kyverno)
        else:
            self.install = [
                addon_chart(self, name, args, chart_name=KYVERNO_CHART, values=kyverno, crds=crds)
            ]
        self.namespace = pulumi.Output.from_input(args["section"].namespace)
        self.register_outputs({"namespace": self.namespace})

    def _local(
        self, name: str, args: AddonArgs, crds: CrdSet, kyverno: LocalKyverno
    ) -> list[pulumi.Resource]:
        child = pulumi.ResourceOptions(parent=self, provider=args["provider"])
        ns_spec = args["namespace_spec"]
        assert ns_spec is not None  # kube-system & co. are refused for admission.namespace
        namespace = namespace_resource(f"{name}-namespace", ns_spec, child)
        owner = ChartCRDs(
            f"{name}-crds", crds, args["kubeconfig"], pulumi.ResourceOptions(parent=self)
        )
        cm = kyverno.configmap
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(**cm["metadata"]),
            data=cm["data"],
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[namespace])
            ),
        )
        account = k8s.yaml.v2.ConfigGroup(
            f"{name}-identity",
            objs=kyverno.identity,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[namespace])
            ),
        )
        return [namespace, owner, config, account]


class AdmissionPoliciesArgs(TypedDict):
    policies: list[dict[str, Any]]
    """:func:`infra.specs.admission.admission_policies`."""
    provider: k8s.Provider
    after: list[pulumi.Resource]
    """A running Kyverno: its chart, or the local runtime."""


class AdmissionPolicies(pulumi.ComponentResource):
    """The stack's ClusterPolicies (Kyverno)."""

    names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: AdmissionPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:AdmissionPolicies", name, None, opts)
        for policy in args["policies"]:
            custom_resource(
                f"{name}-{policy['metadata']['name']}",
                policy,
                pulumi.ResourceOptions(
                    parent=self, provider=args["provider"], depends_on=args["after"]
                ),
            )
        self.names = pulumi.Output.from_input([p["metadata"]["name"] for p in args["policies"]])
        self.register_outputs({"names": self.names})
