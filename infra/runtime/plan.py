"""The local runtime's plan: which processes run, with which flags, ports and environment.

Pure: settings, binary paths, ports and a folder in; a JSON-ready plan out. The supervisor
(:mod:`infra.runtime.supervisor`) runs exactly this plan, :mod:`infra.runtime.launch` writes
it, and the unit tests read it.

Each process follows one workload the charts created (the Deployment or StatefulSet that
would run it in a real cluster): its container's environment is read from the cluster (the
``argocd-cmd-params-cm`` keys, ``REDIS_PASSWORD`` from ``argocd-redis``...), as the kubelet
would resolve it, and the local settings below are laid over it. Scaling that workload to 0
stops the process; ``kubectl rollout restart`` restarts it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.runtime.folder import RuntimeFolder
from infra.settings import StackSettings
from infra.specs.addons import (
    ROLLOUTS_CONTROLLER,
    ROLLOUTS_DASHBOARD,
    SEALED_SECRETS_CONTROLLER,
    sealed_secrets_values,
)

__all__ = [
    "BINARIES",
    "PORTS",
    "Process",
    "RuntimePlan",
    "RuntimeSettings",
    "Workload",
    "runtime_plan",
]

LOOPBACK = "127.0.0.1"

BINARIES = ("argocd", "redis-server", "helm", "kustomize", "git")
"""Binaries the Argo CD processes need (``rollouts-controller`` too when Rollouts is on,
``sealed-secrets-controller`` when Sealed Secrets is, ``kyverno`` when admission is)."""

PORTS = (
    "redis",
    "repo-server",
    "repo-server-metrics",
    "controller-metrics",
    "server",
    "server-metrics",
    "applicationset-metrics",
    "applicationset-probe",
    "applicationset-webhook",
    "notifications-metrics",
    "rollouts-metrics",
    "rollouts-healthz",
    "rollouts-dashboard",
    "service-proxy",
    "sealed-secrets",
    "sealed-secrets-metrics",
    "kyverno-webhook",
)


@dataclass(frozen=True)
class Workload:
    """The in-cluster workload a process stands for."""

    kind: str  # Deployment | StatefulSet
    namespace: str
    name: str


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    """Laid over the workload's resolved container environment."""
    workload: Workload | None
    ready_port: int | None = None
    """A TCP port that accepts connections once the process serves."""
    ready_path: str | None = None
    """An HTTPS path on ``ready_port`` that answers 200 once the process is ready (a listening
    port is not enough: Kyverno accepts connections before it has its serving certificate)."""
    kubeconfig: str | None = None
    """The process's own kubeconfig (its ServiceAccount's token: :mod:`infra.runtime.identity`),
    written by the supervisor before each start; None for a process that never talks to the
    API server."""
    service_account: str | None = None
    """``namespace/name`` of the ServiceAccount of a process that follows no workload (its
    workload's pod template names it otherwise)."""


@dataclass(frozen=True)
class RuntimePlan:
    directory: str
    kubeconfig: str
    namespace: str
    processes: list[Process]
    redis_secret: tuple[str, str, str]
    """(namespace, name, key) of the redis password."""
    ports: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> RuntimePlan:
        processes = [
            Process(
                name=p["name"],
                argv=list(p["argv"]),
                env=dict(p["env"]),
                workload=Workload(**p["workload"]) if p["workload"] else None,
                ready_port=p.get("ready_port"),
                ready_path=p.get("ready_path"),
                kubeconfig=p.get("kubeconfig"),
                service_account=p.get("service_account"),
            )
            for p in data["processes"]
        ]
        return RuntimePlan(
            directory=data["directory"],
            kubeconfig=data["kubeconfig"],
            namespace=data["namespace"],
            processes=processes,
            redis_secret=tuple(data["redis_secret"]),
            ports=dict(data["ports"]),
        )


@dataclass(frozen=True)
class RuntimeSettings:
    """What the runtime needs of the stack settings (the Pulumi resource's inputs)."""

    directory: str
    namespace: str
    rollouts_namespace: str | None = None
    sealed_secrets_namespace: str | None = None
    sealed_secrets_args: tuple[str, ...] = ()
    """The controller's flags, from the same chart values the stack installs."""
    admission_namespace: str | None = None
    """Kyverno's namespace, when the stack enables admission."""
    admission_insecure_registry: bool = False
    """A trusted registry is on loopback (plain HTTP): Kyverno's ``--allowInsecureRegistry``."""
    mirror_port: int | None = None
    """``git.mirror``: the loopback port the git server serves the mirror on (fixed: it is
    in every Application's ``repoURL``)."""

    @staticmethod
    def of(settings: StackSettings) -> RuntimeSettings:
        sealed = settings.sealedSecrets
        return RuntimeSettings(
            directory=str(settings.local_dir),
            namespace=settings.argocd.namespace,
            rollouts_namespace=settings.rollouts.namespace if settings.rollouts.enabled else None,
            sealed_secrets_namespace=sealed.namespace if sealed.enabled else None,
            sealed_secrets_args=sealed_secrets_args(sealed_secrets_values(settings))
            if sealed.enabled
            else (),
            admission_namespace=settings.admission.namespace
            if settings.admission.enabled
            else None,
            admission_insecure_registry=settings.admission.enabled
            and bool(settings.admission.insecure_registries),
            mirror_port=settings.git.mirrorPort if settings.git.mirror else None,
        )

    @staticmethod
    def from_inputs(fields: dict[str, Any]) -> RuntimeSettings:
        """The RuntimeSettings a resource's inputs hold, back from the engine: lists come back
        as lists, numbers as floats."""
        values = dict(fields)
        values["sealed_secrets_args"] = tuple(values.get("sealed_secrets_args") or ())
        if values.get("mirror_port") is not None:
            values["mirror_port"] = int(values["mirror_port"])
        return RuntimeSettings(**values)

    @property
    def binaries(self) -> tuple[str, ...]:
        extra = []
        if self.rollouts_namespace:
            extra += ["rollouts-controller", "kubectl-argo-rollouts"]
        if self.sealed_secrets_namespace:
            extra.append("sealed-secrets-controller")
        if self.admission_namespace:
            extra.append("kyverno")
        return (*BINARIES, *extra)


def sealed_secrets_args(values: dict[str, Any]) -> tuple[str, ...]:
    """The flags the sealed-secrets chart gives its controller for these values (the subset
    the platform sets: its templates/deployment.yaml), listen addresses aside."""
    args: list[str] = []
    if values.get("updateStatus"):
        args.append("--update-status")
    args += ["--key-prefix", str(values["secretName"])]
    return tuple(args)


def runtime_plan(
    settings: RuntimeSettings, binaries: dict[str, str], ports: dict[str, int]
) -> RuntimePlan:
    """The processes of the local runtime of one cluster."""
    folder = RuntimeFolder(Path(settings.directory))
    ns = settings.namespace
    kubeconfig = str(folder.kubeconfig)
    data = folder.data
    argocd = binaries["argocd"]
    redis = f"{LOOPBACK}:{ports['redis']}"
    repo = f"{LOOPBACK}:{ports['repo-server']}"
    tool_path = ":".join(
        dict.fromkeys(str(Path(binaries[b]).parent) for b in ("helm", "kustomize", "git"))
    )

    def own(process: str) -> str:
        """Where a process's own kubeconfig goes (its ServiceAccount: infra.runtime.identity)."""
        return str(folder.process_kubeconfig(process))

    common = {
        "ARGOCD_FAKE_IN_CLUSTER": "true",
        "HOME": str(data / "home"),
        "PATH": f"{tool_path}:/usr/bin:/bin",
        "ARGOCD_TLS_DATA_PATH": str(data / "tls"),
        "ARGOCD_SSH_DATA_PATH": str(data / "ssh"),
        "ARGOCD_GNUPGHOME": str(data / "gpg" / "keys"),
        "ARGOCD_GPG_DATA_PATH": str(data / "gpg" / "source"),
        "ARGOCD_GPG_ENABLED": "false",
        # The chart's container paths do not exist here.
        "HELM_CACHE_HOME": str(data / "helm" / "cache"),
        "HELM_CONFIG_HOME": str(data / "helm" / "config"),
        "HELM_DATA_HOME": str(data / "helm" / "data"),
        "ARGOCD_APP_CONFIG_PATH": str(data / "app-config"),
    }

    def role(process: str, binary_name: str, **extra: str) -> dict[str, str]:
        return {**common, "KUBECONFIG": own(process), "ARGOCD_BINARY_NAME": binary_name, **extra}

    def workload(kind: str, name: str, namespace: str = ns) -> Workload:
        return Workload(kind=kind, namespace=namespace, name=name)

    processes = [
        Process(
            "repo-server",
            [
                argocd,
                "--address",
                LOOPBACK,
                "--port",
                str(ports["repo-server"]),
                "--metrics-address",
                LOOPBACK,
                "--metrics-port",
                str(ports["repo-server-metrics"]),
                "--redis",
                redis,
            ],
            role("repo-server", "argocd-repo-server"),
            workload("Deployment", "argocd-repo-server"),
            ready_port=ports["repo-server"],
            kubeconfig=own("repo-server"),
        ),
        Process(
            "application-controller",
            [
                argocd,
                "--redis",
                redis,
                "--repo-server",
                repo,
                "--metrics-port",
                str(ports["controller-metrics"]),
                "--hydrator-enabled=false",
            ],
            role(
                "application-controller",
                "argocd-application-controller",
                HOSTNAME="argocd-application-controller-0",
                ARGOCD_APPLICATION_CONTROLLER_METRICS_LISTEN_ADDRESS=LOOPBACK,
            ),
            workload("StatefulSet", "argocd-application-controller"),
            ready_port=ports["controller-metrics"],
            kubeconfig=own("application-controller"),
        ),
        Process(
            "applicationset-controller",
            [
                argocd,
                "--argocd-repo-server",
                repo,
                "--metrics-addr",
                f"{LOOPBACK}:{ports['applicationset-metrics']}",
                "--probe-addr",
                f"{LOOPBACK}:{ports['applicationset-probe']}",
                "--webhook-addr",
                f"{LOOPBACK}:{ports['applicationset-webhook']}",
            ],
            # One local process: nothing to elect (the HA chart turns election on for its
            # two replicas, and out of cluster it cannot find its namespace).
            role(
                "applicationset-controller",
                "argocd-applicationset-controller",
                ARGOCD_APPLICATIONSET_CONTROLLER_ENABLE_LEADER_ELECTION="false",
            ),
            workload("Deployment", "argocd-applicationset-controller"),
            ready_port=ports["applicationset-probe"],
            kubeconfig=own("applicationset-controller"),
        ),
        Process(
            "server",
            [
                argocd,
                "--insecure",
                "--address",
                LOOPBACK,
                "--port",
                str(ports["server"]),
                "--metrics-address",
                LOOPBACK,
                "--metrics-port",
                str(ports["server-metrics"]),
                "--redis",
                redis,
                "--repo-server",
                repo,
                # The web UI is embedded in the binary (toolchain/build.sh); this folder only
                # adds files, and keeps the server off the image's /shared/app on the host.
                "--staticassets",
                str(data / "static"),
            ],
            role("server", "argocd-server"),
            workload("Deployment", "argocd-server"),
            ready_port=ports["server"],
            kubeconfig=own("server"),
        ),
        Process(
            "notifications-controller",
            [
                argocd,
                "--argocd-repo-server",
                repo,
                "--metrics-port",
                str(ports["notifications-metrics"]),
            ],
            role(
                "notifications-controller",
                "argocd-notifications",
                ARGOCD_NOTIFICATIONS_CONTROLLER_METRICS_LISTEN_ADDRESS=LOOPBACK,
            ),
            workload("Deployment", "argocd-notifications-controller"),
            ready_port=ports["notifications-metrics"],
            kubeconfig=own("notifications-controller"),
        ),
    ]
    redis_process = Process(
        "redis",
        [binaries["redis-server"], str(folder.redis_conf)],
        {"PATH": "/usr/bin:/bin", "HOME": str(data / "home")},
        None,
        ready_port=ports["redis"],
    )
    processes.insert(0, redis_process)
    if settings.rollouts_namespace is not None:
        processes.append(
            Process(
                "rollouts-controller",
                [
                    binaries["rollouts-controller"],
                    "--kubeconfig",
                    own("rollouts-controller"),
                    "--leader-elect=false",
                    "--metricsPort",
                    str(ports["rollouts-metrics"]),
                    "--healthzPort",
                    str(ports["rollouts-healthz"]),
                ],
                {
                    "KUBECONFIG": own("rollouts-controller"),
                    "HOME": str(data / "home"),
                    "PATH": "/usr/bin:/bin",
                    "ARGO_ROLLOUTS_LISTEN_ADDRESS": LOOPBACK,
                    # The checks of generated AnalysisTemplates call
                    # <svc>.<ns>.svc.cluster.local, which nothing resolves here: the
                    # controller reaches Services through the service proxy.
                    "HTTP_PROXY": f"http://{LOOPBACK}:{ports['service-proxy']}",
                },
                workload("Deployment", ROLLOUTS_CONTROLLER, settings.rollouts_namespace),
                ready_port=ports["rollouts-healthz"],
                kubeconfig=own("rollouts-controller"),
            )
        )
        # The Rollouts dashboard, as `kubectl argo rollouts dashboard` serves it on a laptop
        # (the UI is embedded in the plugin: toolchain/build.sh), on loopback (toolchain patch).
        processes.append(
            Process(
                "rollouts-dashboard",
                [
                    binaries["kubectl-argo-rollouts"],
                    "dashboard",
                    "--port",
                    str(ports["rollouts-dashboard"]),
                    "--kubeconfig",
                    own("rollouts-dashboard"),
                ],
                {
                    "KUBECONFIG": own("rollouts-dashboard"),
                    "HOME": str(data / "home"),
                    "PATH": "/usr/bin:/bin",
                    "ARGO_ROLLOUTS_LISTEN_ADDRESS": LOOPBACK,
                },
                # The chart's dashboard Deployment, on for local controllers (its ClusterRole).
                workload("Deployment", ROLLOUTS_DASHBOARD, settings.rollouts_namespace),
                ready_port=ports["rollouts-dashboard"],
                kubeconfig=own("rollouts-dashboard"),
            )
        )
        processes.append(
            Process(
                "service-proxy",
                [
                    binaries["python"],
                    "-m",
                    "infra.runtime.service_proxy",
                    "--port",
                    str(ports["service-proxy"]),
                    "--routes",
                    str(folder.routes),
                ],
                {"PATH": "/usr/bin:/bin", "HOME": str(data / "home")},
                None,
                ready_port=ports["service-proxy"],
            )
        )
    if settings.sealed_secrets_namespace is not None:
        processes.append(
            Process(
                "sealed-secrets-controller",
                [
                    binaries["sealed-secrets-controller"],
                    *settings.sealed_secrets_args,
                    "--listen-addr",
                    f"{LOOPBACK}:{ports['sealed-secrets']}",
                    "--listen-metrics-addr",
                    f"{LOOPBACK}:{ports['sealed-secrets-metrics']}",
                ],
                {
                    # The patched controller's fallback outside a cluster (toolchain patch).
                    "KUBECONFIG": own("sealed-secrets-controller"),
                    "POD_NAMESPACE": settings.sealed_secrets_namespace,
                    "HOME": str(data / "home"),
                    "PATH": "/usr/bin:/bin",
                },
                workload(
                    "Deployment", SEALED_SECRETS_CONTROLLER, settings.sealed_secrets_namespace
                ),
                ready_port=ports["sealed-secrets"],
                kubeconfig=own("sealed-secrets-controller"),
            )
        )
    if settings.admission_namespace is not None:
        processes.append(
            kyverno_process(settings, binaries["kyverno"], own("kyverno"), data, ports)
        )
    if settings.mirror_port is not None:
        # The mirror over smart HTTP, read-only, as a repository host serves it: Argo CD
        # clones it there, and matches the mirror's webhook calls to it (infra.runtime.git_http).
        processes.insert(
            1,
            Process(
                "git-server",
                [
                    binaries["python"],
                    "-m",
                    "infra.runtime.git_http",
                    "--root",
                    str(folder.path),
                    "--port",
                    str(settings.mirror_port),
                ],
                {"PATH": f"{tool_path}:/usr/bin:/bin", "HOME": str(data / "home")},
                None,
                ready_port=settings.mirror_port,
            ),
        )
    return RuntimePlan(
        directory=str(folder.path),
        kubeconfig=kubeconfig,
        namespace=ns,
        processes=processes,
        redis_secret=(ns, "argocd-redis", "auth"),
        ports=dict(ports),
    )


KYVERNO_SERVICE_ACCOUNT = "kyverno-admission-controller"
"""The chart's admission controller ServiceAccount (and Deployment) name."""
KYVERNO_SERVICE = "kyverno-svc"
"""The chart's admission Service name: Kyverno names its CA and serving-certificate Secrets
after it (``<svc>.<ns>.svc.kyverno-tls-ca``/``-pair``)."""


def kyverno_process(
    settings: RuntimeSettings, binary: str, kubeconfig: str, data: Path, ports: dict[str, int]
) -> Process:
    """Kyverno's admission controller out of cluster (no chart on kwok: docs/admission.md).

    Its webhooks are registered by URL, ``https://127.0.0.1:<port>/...``, with the CA it
    generates; the environment stands for what the chart's Deployment gives its pod (the
    downward API, the ConfigMap names). Its webhooks fail closed: the runtime deletes them
    when it stops Kyverno (:mod:`infra.runtime.kyverno`).
    """
    namespace = settings.admission_namespace
    assert namespace is not None
    service = f"{KYVERNO_SERVICE}.{namespace}.svc"
    port = ports["kyverno-webhook"]
    argv = [
        binary,
        "--kubeconfig",
        kubeconfig,
        f"--serverIP={LOOPBACK}:{port}",
        f"--webhookServerHost={LOOPBACK}",
        f"--webhookServerPort={port}",
        f"--caSecretName={service}.kyverno-tls-ca",
        f"--tlsSecretName={service}.kyverno-tls-pair",
        "--disableMetrics",
        "--controllerRuntimeMetricsAddress=0",
        "--profile=false",
        "--disableLogColor",
    ]
    if settings.admission_insecure_registry:
        argv.append("--allowInsecureRegistry")
    return Process(
        "kyverno",
        argv,
        {
            "KUBECONFIG": kubeconfig,
            "HOME": str(data / "home"),
            "TUF_ROOT": str(data / "kyverno-tuf"),
            "PATH": "/usr/bin:/bin",
            "KYVERNO_NAMESPACE": namespace,
            "KYVERNO_POD_NAME": "kyverno-admission-controller-local",
            "KYVERNO_DEPLOYMENT": "kyverno-admission-controller",
            "KYVERNO_SVC": KYVERNO_SERVICE,
            "KYVERNO_SERVICEACCOUNT_NAME": KYVERNO_SERVICE_ACCOUNT,
            "KYVERNO_ROLE_NAME": "kyverno:admission-controller",
            "INIT_CONFIG": "kyverno",
            "METRICS_CONFIG": "kyverno-metrics",
        },
        None,
        ready_port=port,
        # Ready once its certificate serves and its webhooks are registered.
        ready_path="/health/readiness",
        kubeconfig=kubeconfig,
        service_account=f"{namespace}/{KYVERNO_SERVICE_ACCOUNT}",
    )
