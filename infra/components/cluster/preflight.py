"""Checks that a cluster provider can work here, before any resource is registered.

A missing Docker daemon or kind CLI, missing toolchain binaries for kwok, or a kubeconfig
without the configured context are user errors: they are reported as problems naming the
stack file and key, instead of failing halfway through an `up` with a provider traceback.
"""

from __future__ import annotations

import shutil
import subprocess

from infra import constants
from infra.components.cluster.existing import read_kubeconfig
from infra.errors import Problem, ValidationError
from infra.runtime.plan import RuntimeSettings
from infra.settings import ExistingCluster, KindCluster, KwokCluster, StackSettings

__all__ = ["preflight"]

KWOK_BINARIES = (
    "kwokctl",
    "kwok",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
)


def _docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the kind provider needs Docker, and `docker` is not installed"
    try:
        proc = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "the kind provider needs Docker, and `docker info` did not answer in 30s"
    if proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"the kind provider needs a running Docker daemon ({reason[0]})"
    return None


def preflight(settings: StackSettings, *, creating: bool) -> None:
    """Raise ValidationError when the cluster provider cannot work on this machine.

    ``creating``: the run may create the cluster (an `up`); a preview creates nothing, so it
    does not need Docker or the kwok binaries.
    """
    file = constants.stack_file(settings.stack)
    field = f"{constants.PROJECT}:cluster.provider"
    hint = "or use provider `kwok` (README: 'Trying it without Docker')"
    cluster = settings.cluster
    problems: list[Problem] = []
    if isinstance(cluster, ExistingCluster):
        read_kubeconfig(cluster.kubeconfig, cluster.context, file)  # raises with the key named
    elif isinstance(cluster, KindCluster) and creating:
        if shutil.which("kind") is None:
            problems.append(
                Problem(file, field, f"`kind` is not on PATH (`make toolchain` builds it) {hint}")
            )
        docker = _docker_problem()
        if docker:
            problems.append(Problem(file, field, f"{docker}; {hint}"))
    elif isinstance(cluster, KwokCluster) and creating:
        needed: tuple[str, ...] = KWOK_BINARIES
        if settings.local_controllers:
            needed += RuntimeSettings.of(settings).binaries
        missing = [b for b in needed if shutil.which(b) is None]
        if missing:
            problems.append(
                Problem(
                    file,
                    field,
                    f"kwok needs {', '.join(missing)} on PATH: run `make toolchain` "
                    "and use the Makefile targets (they put its bin directory on PATH)",
                )
            )
    if problems:
        raise ValidationError(problems)
