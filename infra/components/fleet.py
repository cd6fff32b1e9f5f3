"""Spoke: the hub's view of one spoke cluster, a thin wrapper over :mod:`infra.specs.fleet`.

For each spoke the program creates, through a Kubernetes provider bound to the spoke, what
``argocd cluster add`` would (the ``argocd-manager`` ServiceAccount, its ClusterRole and
binding, a long-lived token Secret), and through the hub's provider Argo CD's cluster Secret,
its ``data`` (server, CA, token) a Pulumi secret. The token comes from the created token
Secret's own outputs: pulumi-kubernetes waits, on create, until the cluster's token controller
has filled in the data of a ``kubernetes.io/service-account-token`` Secret (its Secret awaiter),
so no ``get`` of an object the program creates is needed.

Where a spoke's kubeconfig comes from is the program's choice (this module's helpers): a file
read here, before any resource, or another stack's output (a ``StackReference``); a kwok
spoke's is its cluster's output. The component only takes the text and a context.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from infra import constants
from infra.bounded import read_text_file
from infra.components.cluster.existing import KUBECONFIG_MAX_BYTES
from infra.errors import Problem, ValidationError
from infra.settings import SpokeCluster, StackSettings
from infra.settings.fleet import StackReferenceAccess
from infra.specs.fleet import (
    SpokeEndpoint,
    cluster_secret,
    cluster_secret_metadata,
    kubeconfig_endpoint,
    kubeconfig_with_absolute_paths,
    spoke_identity_objects,
)

__all__ = [
    "KubeconfigOrigin",
    "Spoke",
    "SpokeArgs",
    "read_spoke_kubeconfigs",
    "spoke_origin",
    "stack_reference_kubeconfig",
]


class KubeconfigOrigin(NamedTuple):
    """Where a spoke's kubeconfig came from: what its problems name, and the folder its
    relative ``certificate-authority`` paths are read from."""

    file: str
    """The stack file (``Pulumi.<stack>.yaml``)."""
    field: str
    """The setting that gives the kubeconfig: ``gitops-platform:fleet.clusters[0].kubeconfig``."""
    source: str
    """How a message names the kubeconfig: ``kubeconfig /home/me/.kube/config``."""
    folder: str | None
    """The kubeconfig file's folder; ``None`` (not a file): only absolute paths."""


def _kubeconfig_path(spoke: SpokeCluster) -> Path:
    assert spoke.kubeconfig is not None
    return Path(spoke.kubeconfig.path).expanduser()


def spoke_origin(stack_file: str, index: int, spoke: SpokeCluster) -> KubeconfigOrigin:
    """The origin of the kubeconfig of ``spoke``, ``fleet.clusters[index]``."""
    field = f"{constants.PROJECT}:fleet.clusters[{index}].{spoke.access}"
    if spoke.kubeconfig is not None:
        path = _kubeconfig_path(spoke)
        return KubeconfigOrigin(stack_file, field, f"kubeconfig {path}", str(path.parent))
    if spoke.stackReference is not None:
        ref = spoke.stackReference
        return KubeconfigOrigin(
            stack_file, field, f"output {ref.output!r} of stack {ref.stack}", None
        )
    return KubeconfigOrigin(stack_file, field, f"the kwok spoke {spoke.name}'s kubeconfig", None)


def _endpoint(text: object, context: str | None, origin: KubeconfigOrigin) -> SpokeEndpoint:
    folder = Path(origin.folder) if origin.folder is not None else None
    return kubeconfig_endpoint(
        text, context, origin.file, origin.field, source=origin.source, base=folder
    )


def read_spoke_kubeconfigs(settings: StackSettings) -> dict[str, str]:
    """The text of each ``kubeconfig`` spoke's file (``~`` expanded, bounded), its context and
    API server checked, before any resource is registered: spoke name -> text, or one
    :class:`ValidationError` naming every spoke whose file is missing or unusable."""
    stack_file = constants.stack_file(settings.stack)
    texts: dict[str, str] = {}
    problems: list[Problem] = []
    for index, spoke in enumerate(settings.fleet.clusters):
        if spoke.kubeconfig is None:
            continue
        origin = spoke_origin(stack_file, index, spoke)
        path = _kubeconfig_path(spoke)
        if not path.is_file():
            problems.append(
                Problem(stack_file, f"{origin.field}.path", f"kubeconfig {path} does not exist")
            )
            continue
        text = read_text_file(path, str(path), KUBECONFIG_MAX_BYTES)
        if isinstance(text, Problem):
            problems.append(Problem(stack_file, f"{origin.field}.path", text.message))
            continue
        try:
            _endpoint(text, spoke.kubeconfig.context, origin)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        texts[spoke.name] = kubeconfig_with_absolute_paths(text, path.parent)
    if problems:
        raise ValidationError(problems)
    return texts


def stack_reference_kubeconfig(name: str, access: StackReferenceAccess) -> pulumi.Output[str]:
    """The kubeconfig another stack exports (``access.output`` of ``access.stack``), a
    secret; the StackReference resource is called ``name``."""
    reference = pulumi.StackReference(name, stack_name=access.stack)
    return pulumi.Output.secret(reference.get_output(access.output))


class SpokeArgs(TypedDict):
    spoke: SpokeCluster
    """The spoke's settings: its name, labels and annotations, how it is reached."""
    environment: str
    """The stack's environment (a label of the cluster Secret)."""
    argocd_namespace: str
    """The hub's Argo CD namespace: where the cluster Secret goes."""
    hub_provider: k8s.Provider
    """Kubernetes provider of the hub (the stack's own cluster)."""
    kubeconfig: pulumi.Input[str]
    """The spoke's kubeconfig text (made a secret here)."""
    context: str | None
    """Its context; ``None``: its current context."""
    origin: KubeconfigOrigin
    """Where the kubeconfig came from, for the problems it may raise once known."""
    after: list[pulumi.Resource]
    """What the cluster Secret waits for: Argo CD's install (its namespace)."""


def _meta(obj: Mapping[str, Any]) -> k8s.meta.v1.ObjectMetaArgs:
    return k8s.meta.v1.ObjectMetaArgs(**obj["metadata"])


def _identifier(spoke: SpokeCluster) -> str:
    """The spoke provider's ``cluster_identifier``: it (and every object on the spoke) is
    replaced when the spoke is reached differently (another context or stack), not when the
    kubeconfig's credentials change."""
    if spoke.kubeconfig is not None:
        return f"spoke:{spoke.name}:kubeconfig:{spoke.kubeconfig.context}"
    if spoke.stackReference is not None:
        return f"spoke:{spoke.name}:stack:{spoke.stackReference.stack}"
    return f"spoke:{spoke.name}:kwok"


def _token(spoke: str, data: Mapping[str, str] | None) -> str:
    """The bearer token in the token Secret's data (base64, as the API server returns it)."""
    try:
        return base64.b64decode((data or {})["token"], validate=True).decode()
    except (KeyError, binascii.Error, ValueError):
        raise pulumi.RunError(
            f"spoke {spoke}: the Secret {constants.KUBE_SYSTEM_NAMESPACE}/"
            f"{constants.ARGOCD_MANAGER_TOKEN_SECRET} holds no token: the spoke's token "
            "controller (kube-controller-manager) did not fill it in; run `pulumi up` again "
            "once it runs"
        ) from None


class Spoke(pulumi.ComponentResource):
    """One spoke: ``argocd cluster add``'s objects on it, and its cluster Secret on the hub."""

    secret_name: pulumi.Output[str]
    """The hub's cluster Secret (``cluster-<spoke>``)."""
    server: pulumi.Output[str]
    """The spoke's API server, as Argo CD reaches it."""
    provider: k8s.Provider
    """Kubernetes provider of the spoke."""

    def __init__(
        self, name: str, args: SpokeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gitops-platform:index:Spoke", name, None, opts)
        spoke, origin, context = args["spoke"], args["origin"], args["context"]
        kubeconfig = pulumi.Output.secret(args["kubeconfig"])
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=context,
            cluster_identifier=_identifier(spoke),
            enable_secret_mutable=True,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

        # On the spoke. Fixed names: a replacement deletes the old object first (created
        # first, it would be the one deleted after).
        on_spoke = pulumi.ResourceOptions(
            parent=self, provider=self.provider, delete_before_replace=True
        )
        objects = {obj["kind"]: obj for obj in spoke_identity_objects()}
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=_meta(objects["ServiceAccount"]), opts=on_spoke
        )
        role = objects["ClusterRole"]
        cluster_role = k8s.rbac.v1.ClusterRole(
            f"{name}-cluster-role",
            metadata=_meta(role),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=rule.get("apiGroups"),
                    resources=rule.get("resources"),
                    non_resource_urls=rule.get("nonResourceURLs"),
                    verbs=rule["verbs"],
                )
                for rule in role["rules"]
            ],
            opts=on_spoke,
        )
        binding = objects["ClusterRoleBinding"]
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-cluster-role-binding",
            metadata=_meta(binding),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group=binding["roleRef"]["apiGroup"],
                kind=binding["roleRef"]["kind"],
                name=binding["roleRef"]["name"],
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(**subject) for subject in binding["subjects"]],
            opts=pulumi.ResourceOptions.merge(
                on_spoke, pulumi.ResourceOptions(depends_on=[account, cluster_role])
            ),
        )
        token_spec = objects["Secret"]
        token_secret = k8s.core.v1.Secret(
            f"{name}-token",
            metadata=_meta(token_spec),
            type=token_spec["type"],
            # The token controller fills in the Secret of an existing ServiceAccount only.
            opts=pulumi.ResourceOptions.merge(
                on_spoke, pulumi.ResourceOptions(depends_on=[account])
            ),
        )

        # On the hub. The spoke's endpoint is checked once its kubeconfig is known (a
        # StackReference's output): a bad one is reported like a bad setting.
        def endpoint_of(text: object) -> SpokeEndpoint:
            try:
                return _endpoint(text, context, origin)
            except ValidationError as exc:
                raise pulumi.RunError(f"invalid configuration:\n{exc}") from None

        endpoint = kubeconfig.apply(endpoint_of)
        token = token_secret.data.apply(lambda data: _token(spoke.name, data))
        namespace, environment = args["argocd_namespace"], args["environment"]
        data = pulumi.Output.all(endpoint, token).apply(
            lambda known: cluster_secret(namespace, environment, spoke, known[0], known[1])["data"]
        )
        metadata = cluster_secret_metadata(namespace, environment, spoke)
        hub_secret = k8s.core.v1.Secret(
            f"{name}-cluster-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(**metadata),
            type="Opaque",
            data=pulumi.Output.secret(data),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args["hub_provider"],
                depends_on=args["after"],
                # Removing the spoke removes its Applications: the engine refuses to delete
                # this Secret until `allowRemoval: true` has been applied (docs/fleet.md).
                protect=not spoke.allowRemoval,
            ),
        )
        self.secret_name = hub_secret.metadata.name
        self.server = pulumi.Output.unsecret(endpoint.apply(lambda e: e.server))
        self.register_outputs({"secretName": self.secret_name, "server": self.server})
