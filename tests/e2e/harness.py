"""Drives the real Pulumi CLI against a scratch copy of the project and a kwok cluster.

The project copy holds the real ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` and a copy of
``apps/`` (so tests may add or break apps); ``infra/`` and ``.venv`` are links to the
repository's. Only the cluster provider (kwok) and the chart source (the local archive) are
overridden, with ``pulumi config set`` like a user would.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support import ARGOCD_CHART, REPO, SHARED_CHARTS

PROJECT = "gitops-platform"
LOCAL_CHARTS = {
    "argocd": ARGOCD_CHART,
    "rollouts": SHARED_CHARTS / "argo-rollouts-2.41.0.tgz",
    "sealedSecrets": SHARED_CHARTS / "sealed-secrets-2.18.5.tgz",
}


class CommandFailed(AssertionError):
    pass


def toolchain_bin() -> Path:
    out = subprocess.run(
        [str(REPO / "toolchain" / "build.sh"), "--bin-dir"],
        capture_output=True,
        text=True,
        check=True,
    )
    path = Path(out.stdout.strip())
    if not (path / "pulumi").exists():
        raise AssertionError(f"toolchain not built ({path}); run `make toolchain` first")
    return path


@dataclass
class Project:
    stack: str
    root: Path
    env: dict[str, str]
    cluster_name: str
    log: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, stack: str, workdir: Path, nodes: int) -> Project:
        root = workdir / "project"
        root.mkdir(parents=True)
        for name in ("Pulumi.yaml", f"Pulumi.{stack}.yaml"):
            shutil.copy(REPO / name, root / name)
        shutil.copytree(REPO / "apps", root / "apps")
        (root / "infra").symlink_to(REPO / "infra")
        (root / ".venv").symlink_to(REPO / ".venv")
        bin_dir = toolchain_bin()
        env = {
            **os.environ,
            "PATH": f"{bin_dir}:{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
            "PULUMI_HOME": str(workdir / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "KWOK_WORKDIR": str(workdir / "kwok"),
        }
        env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        (workdir / "state").mkdir()
        name = f"e2e-{stack}-{uuid.uuid4().hex[:6]}"
        project = cls(stack=stack, root=root, env=env, cluster_name=name)
        project.pulumi("stack", "init")
        project.set_config("cluster", {"provider": "kwok", "name": name, "nodes": nodes})
        # Every chart the stack installs comes from its local archive (no chart repository
        # is reachable here); everything else is the real stack file.
        for key, archive in LOCAL_CHARTS.items():
            section = project.config(key)
            if section is not None:
                section.setdefault("chart", {})["path"] = str(archive)
                project.set_config(key, section)
        return project

    # -- commands -------------------------------------------------------------------------

    def run(
        self,
        argv: list[str],
        *,
        check: bool = True,
        timeout: float = 1200,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        proc = subprocess.run(
            argv,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input_text,
        )
        self.log.append(
            f"$ {' '.join(argv)}  ({time.monotonic() - started:.1f}s, rc={proc.returncode})"
        )
        if check and proc.returncode != 0:
            raise CommandFailed(
                f"`{' '.join(argv)}` exited {proc.returncode}\n--- stdout ---\n"
                f"{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
            )
        return proc

    def pulumi(
        self, *args: str, check: bool = True, timeout: float = 1200
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            ["pulumi", *args, "--stack", self.stack, "--non-interactive"],
            check=check,
            timeout=timeout,
        )

    def set_config(self, key: str, value: Any) -> None:
        """Set ``gitops-platform:<key>`` by editing the stack file, as a user would."""
        path = self.root / f"Pulumi.{self.stack}.yaml"
        document = yaml.safe_load(path.read_text())
        document.setdefault("config", {})[f"{PROJECT}:{key}"] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def config(self, key: str) -> Any:
        document = yaml.safe_load((self.root / f"Pulumi.{self.stack}.yaml").read_text())
        return document["config"].get(f"{PROJECT}:{key}")

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--yes", "--skip-preview", *extra, check=check)

    def preview_json(self, *extra: str) -> dict[str, Any]:
        proc = self.pulumi("preview", "--json", *extra, check=False)
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise CommandFailed(
                f"preview --json printed no JSON:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            ) from exc

    def output(self, name: str, secret: bool = False) -> Any:
        args = ["stack", "output", name, "--json"] + (["--show-secrets"] if secret else [])
        return json.loads(self.pulumi(*args).stdout)

    def platformctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run([str(REPO / ".venv" / "bin" / "platformctl"), *args], check=check)

    # -- the cluster ----------------------------------------------------------------------

    def kwokctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["kwokctl", "--name", self.cluster_name, *args], check=check, timeout=300)

    def clusters(self) -> list[str]:
        return self.run(["kwokctl", "get", "clusters"]).stdout.split()

    def api(self) -> Any:
        from kubernetes import config

        kubeconfig = self.output("kubeconfig", secret=True)
        return config.new_client_from_config_dict(yaml.safe_load(kubeconfig))


def changed_resources(preview: dict[str, Any]) -> dict[str, str]:
    """name -> op of every step of a `pulumi preview --json` that is not `same`."""
    out = {}
    for step in preview.get("steps", []):
        op = step.get("op")
        if op in ("same", "read", None):
            continue
        urn = step.get("urn", "")
        out[urn.rsplit("::", 1)[-1]] = op
    return out


def secret_value(api: Any, namespace: str, name: str, key: str) -> str:
    from kubernetes import client

    secret = client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    return base64.b64decode(secret.data[key]).decode()
