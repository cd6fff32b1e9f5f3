"""The one place that names the files of a local runtime's folder
(``<project>/.gitops-local/<cluster>/``, :data:`infra.constants.LOCAL_DIR`).

The provider writes the plan and starts the supervisor; the supervisor writes the status, the
redis configuration and each process's identity; ``platformctl status``, the readiness wait and
the tests read them. Each names a file through :class:`RuntimeFolder`, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RuntimeFolder"]


@dataclass(frozen=True)
class RuntimeFolder:
    """The files of one local runtime, under ``path`` (0700)."""

    path: Path

    @property
    def plan(self) -> Path:
        """The processes to run (JSON), written by the provider, read by the supervisor."""
        return self.path / "plan.json"

    @property
    def status(self) -> Path:
        """What the supervisor reports of each process (JSON), replaced whole every tick."""
        return self.path / "status.json"

    @property
    def pid(self) -> Path:
        """The supervisor's process id."""
        return self.path / "supervisor.pid"

    @property
    def kubeconfig(self) -> Path:
        """The cluster's admin kubeconfig: the supervisor's alone (it stands in for the
        kubelet); every process gets its own identity's."""
        return self.path / "kubeconfig"

    @property
    def redis_conf(self) -> Path:
        """redis-server's configuration: it holds the password from Argo CD's Secret."""
        return self.path / "redis.conf"

    @property
    def hook_config(self) -> Path:
        """What the mirror's ``post-receive`` hook reads: Argo CD's webhook URL and secret."""
        return self.path / "webhook.json"

    @property
    def routes(self) -> Path:
        """The service proxy's routes: a cluster Service's address -> a process on loopback."""
        return self.path / "services.json"

    @property
    def data(self) -> Path:
        """The processes' working data (redis, helm's and the repo-server's caches)."""
        return self.path / "data"

    @property
    def identities(self) -> Path:
        """Each process's ServiceAccount token and kubeconfig (0700)."""
        return self.path / "identities"

    def token(self, process: str) -> Path:
        """The token of ``process``'s ServiceAccount, refreshed in place."""
        return self.identities / f"{process}.token"

    def process_kubeconfig(self, process: str) -> Path:
        """``process``'s own kubeconfig: the cluster, its CA and its token file."""
        return self.identities / f"{process}.kubeconfig"

    @property
    def logs(self) -> Path:
        """The processes' logs; they stay after ``destroy`` for a post-mortem."""
        return self.path / "logs"

    def log(self, process: str) -> Path:
        """The log of ``process`` (``supervisor`` for the supervisor's own)."""
        return self.logs / f"{process}.log"

    @property
    def credentials_and_state(self) -> tuple[Path, ...]:
        """The files that go once the runtime is stopped (credentials, plan, status); the
        folders :attr:`data` and :attr:`identities` go with them."""
        return (self.kubeconfig, self.redis_conf, self.plan, self.status, self.pid,
                self.hook_config)  # fmt: skip
