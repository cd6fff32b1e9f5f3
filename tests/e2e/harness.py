"""Drives the real Pulumi CLI against a scratch copy of the project and a kwok cluster.

The project copy holds the real ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` and a copy of
``apps/`` (so tests may add or break apps); ``infra/`` and ``.venv`` are links to the
repository's. Only the cluster provider (kwok) and the chart source (the local archive) are
overridden, with ``pulumi config set`` like a user would.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import yaml

from infra.constants import ARGOCD_WEBHOOK_PATH, LOCAL_DIR, stack_file
from infra.runtime.folder import RuntimeFolder
from infra.runtime.git_hook import install_hook, write_config
from infra.runtime.git_http import GitHttpServer
from tests.e2e.registry import SignedImages
from tests.signing import free_port
from tests.support import ARGOCD_CHART, REPO, ROLLOUTS_CHART, SEALED_SECRETS_CHART

if TYPE_CHECKING:
    from kubernetes.client import V1ObjectMeta

PROJECT = "gitops-platform"
LOCAL_CHARTS = {
    "argocd": ARGOCD_CHART,
    "rollouts": ROLLOUTS_CHART,
    "sealedSecrets": SEALED_SECRETS_CHART,
}


GIT = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid"]


class CommandFailed(AssertionError):
    pass


def wait_for(
    what: str, probe: Any, timeout: float = 240, every: float = 2, detail: Any = None
) -> Any:
    """Poll ``probe()`` until it returns something truthy; fail naming ``what`` and the
    last value seen (or ``detail()``)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    if detail is not None:
        last = detail()
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def toolchain_bin() -> Path | None:
    """The Go-built toolchain's bin directory; ``None`` with ``TOOLCHAIN=system`` (the tools
    on PATH are used, as the Makefile does)."""
    if os.environ.get("TOOLCHAIN") == "system":
        if shutil.which("pulumi") is None:
            raise AssertionError("TOOLCHAIN=system but no `pulumi` on PATH")
        return None
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


STACK_FILE_KEYS = ("config",)
"""What the harness keeps of a stack file: its configuration. A user's `make up` writes the
stack's `encryptionsalt` (and a secrets provider may write `secretsprovider`, `encryptedkey`)
for *their* passphrase; the harness's stack has its own, so those lines stay behind."""


def copy_project(repo: Path, root: Path, stack: str, source: str | None = None) -> Path:
    """The project as committed, for one stack: Pulumi.yaml, the stack file's configuration
    (``source``'s, for a stack with no file of its own) and a copy of apps/; the program
    (__main__.py, infra/) and .venv are links. Nothing of the user's own state comes along
    (`.pulumi-state/`, `.gitops-local/`, a stack file's encryption lines)."""
    root.mkdir(parents=True)
    shutil.copy(repo / "Pulumi.yaml", root / "Pulumi.yaml")
    document = yaml.safe_load((repo / stack_file(source or stack)).read_text()) or {}
    kept = {key: document[key] for key in STACK_FILE_KEYS if key in document}
    (root / stack_file(stack)).write_text(yaml.safe_dump(kept, sort_keys=False))
    shutil.copytree(repo / "apps", root / "apps")
    (root / "__main__.py").symlink_to(repo / "__main__.py")
    (root / "infra").symlink_to(repo / "infra")
    (root / ".venv").symlink_to(repo / ".venv")
    return root


@dataclass
class Project:
    stack: str
    root: Path
    env: dict[str, str]
    cluster_name: str
    log: list[str] = field(default_factory=list)
    branch: str = ""
    remote: Path | None = None
    images: SignedImages | None = None
    """With the stack file's admission on: the loopback registry its images come from."""
    git_server: GitHttpServer | None = None
    """Serves ``remote`` over HTTP, as the repository host Argo CD clones from."""
    webhook_secret: str = ""
    """The stack's ``webhook.githubSecret``: the remote's hook signs its push events with it."""
    _api: tuple[str, Any] | None = None

    @property
    def runtime_dir(self) -> Path:
        """The local runtime's folder of this project's cluster (``.gitops-local/<cluster>``)."""
        return self.root / LOCAL_DIR / self.cluster_name

    @property
    def runtime(self) -> RuntimeFolder:
        """The files of that folder (the plan, the status, logs), named as the runtime names them."""
        return RuntimeFolder(self.runtime_dir)

    @classmethod
    def create(
        cls,
        stack: str,
        workdir: Path,
        nodes: int,
        *,
        source: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> Project:
        """A stack ``stack`` of a project copy, on a kwok cluster the stack creates.
        ``source``: the committed stack file to start from (default ``stack``'s);
        ``overrides``: keys laid over its configuration (mappings merged one level deep)
        before the repository is published (so ``git.branch`` is the branch pushed)."""
        root = copy_project(REPO, workdir / "project", stack, source)
        bin_dir = toolchain_bin()
        env = {
            **os.environ,
            "PATH": ":".join(
                [
                    *([str(bin_dir)] if bin_dir else []),
                    str(REPO / ".venv" / "bin"),
                    os.environ["PATH"],
                ]
            ),
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
        for key, value in (overrides or {}).items():
            current = project.config(key)
            if isinstance(value, dict) and isinstance(current, dict):
                value = {**current, **value}
            project.set_config(key, value)
        if (project.config("git") or {}).get("mirror"):
            # The user's own local stack may serve its mirror on the default port beside us.
            project.set_config("git", {**project.config("git"), "mirrorPort": free_port()})
        admission = project.config("admission") or {}
        if admission.get("enabled"):
            # The stack's trusted registry and signer cannot be reached from here: the test's
            # registry, key and image references stand in (docs/admission.md).
            project.images = SignedImages.start(workdir / "images")
            # Stopped by teardown(), or at the latest when the test run ends (previews).
            atexit.register(project.images.stop)
            project.images.rewrite(root / "apps")
            project.set_config("admission", project.images.admission(admission))
        project.publish_git(workdir / "remote.git")
        # Every chart the stack installs comes from its local archive (no chart repository
        # is reachable here); everything else is the real stack file.
        for key, archive in LOCAL_CHARTS.items():
            section = project.config(key)
            if section is not None:
                section.setdefault("chart", {})["path"] = str(archive)
                project.set_config(key, section)
        return project

    def publish_git(self, remote: Path) -> None:
        """This project copy as the git repository Argo CD clones: a bare repository on this
        machine (``file://``, as Argo CD's own e2e fixture does) holding the stack's branch;
        the stack's ``git.repoURL`` points at it, its branch stays the stack file's."""
        # The program (links into the checkout under test) is not part of what Argo CD clones:
        # Argo CD refuses a repository with a link that points outside it.
        ignore = f"__main__.py\ninfra\n.venv\n*.kubeconfig\n{LOCAL_DIR}/\n*.yaml.rendered\n"
        ignore += "*.rendered.yaml\n"
        # The stack file is the test's (its edits are not commits Argo CD should see).
        (self.root / ".gitignore").write_text(
            ignore + "render.yaml\napplications.yaml\nPulumi.*.yaml\n"
        )
        git_settings = self.config("git")
        self.branch = git_settings.get("branch") or self.stack
        self.run([*GIT, "init", "--quiet", "--initial-branch", self.branch])
        self.run([*GIT, "add", "-A"])
        self.run([*GIT, "commit", "--quiet", "-m", "catalog"])
        if git_settings.get("mirror"):
            return  # the stack's own mirror is filled from this checkout by `up`
        self.run(["git", "init", "--quiet", "--bare", str(remote)])
        self.run(["git", "push", "--quiet", str(remote), f"HEAD:refs/heads/{self.branch}"])
        self.run(["git", "remote", "add", "origin", str(remote)])
        self.remote = remote
        # As a repository host: Argo CD clones over HTTP, and each push calls Argo CD's
        # webhook with a signed GitHub push event (once `up` has given the server's address).
        self.git_server = GitHttpServer(remote.parent)
        self.git_server.start()
        atexit.register(self.git_server.stop)
        git_settings["repoURL"] = self.git_server.url(remote.name)
        self.set_config("git", git_settings)
        self.webhook_secret = uuid.uuid4().hex + uuid.uuid4().hex
        # On stdin, as a user pipes it: a value on the command line would be in the log.
        self.pulumi(
            "config",
            "set",
            "--secret",
            "--path",
            "webhook.githubSecret",
            input_text=self.webhook_secret,
        )
        install_hook(remote, self.hook_config, REPO)

    @property
    def hook_config(self) -> Path:
        """The remote's webhook registration (written by :meth:`up`)."""
        return self.root.parent / "webhook.json"

    @contextlib.contextmanager
    def webhook_paused(self) -> Iterator[None]:
        """Pushes inside tell Argo CD nothing (a host with no webhook registered)."""
        parked = self.hook_config.with_suffix(".paused")
        self.hook_config.rename(parked)
        try:
            yield
        finally:
            parked.rename(self.hook_config)

    def webhook_url(self, server: str | None = None) -> str:
        """argocd-server's webhook URL (``server``: its address, when already read)."""
        return f"http://{server or self.output('argocdServer')}{ARGOCD_WEBHOOK_PATH}"

    def server_log(self) -> Path:
        """argocd-server's log (the local runtime's)."""
        return Path(self.output("runtimeLogs")) / "server.log"

    def register_webhook(self) -> None:
        """Point the remote's hook at the stack's argocd-server, as a user registers the
        webhook on the repository host (docs/delivery.md)."""
        if self.remote is None:
            return
        server = self.output("argocdServer", check=False)
        if server is None:
            return
        write_config(
            self.hook_config,
            url=self.webhook_url(server),
            secret=self.webhook_secret,
            repo_url=str(self.config("git")["repoURL"]),
            default_branch=self.branch,
        )

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
        self, *args: str, check: bool = True, timeout: float = 1200, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            ["pulumi", *args, "--stack", self.stack, "--non-interactive"],
            check=check,
            timeout=timeout,
            input_text=input_text,
        )

    def set_config(self, key: str, value: Any) -> None:
        """Set ``gitops-platform:<key>`` by editing the stack file, as a user would."""
        path = self.root / stack_file(self.stack)
        document = yaml.safe_load(path.read_text())
        document.setdefault("config", {})[f"{PROJECT}:{key}"] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def config(self, key: str) -> Any:
        document = yaml.safe_load((self.root / stack_file(self.stack)).read_text())
        return document["config"].get(f"{PROJECT}:{key}")

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = self.pulumi("up", "--yes", "--skip-preview", *extra, check=check)
        if proc.returncode == 0:
            self.register_webhook()
        return proc

    def preview_json(self, *extra: str) -> dict[str, Any]:
        proc = self.pulumi("preview", "--json", *extra, check=False)
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise CommandFailed(
                f"preview --json printed no JSON:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            ) from exc

    def output(self, name: str, secret: bool = False, check: bool = True) -> Any:
        """A stack output; with ``check=False`` None when the stack has no such output."""
        args = ["stack", "output", name, "--json"] + (["--show-secrets"] if secret else [])
        proc = self.pulumi(*args, check=check)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def platformctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run([str(REPO / ".venv" / "bin" / "platformctl"), *args], check=check)

    def commit_and_push(self, message: str) -> None:
        """Commit every change of the project copy on the stack's branch and push it."""
        self.run([*GIT, "add", "-A"])
        self.run([*GIT, "commit", "--quiet", "-m", message])
        self.run(["git", "push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}"])

    def stop_runtime(self) -> None:
        """Stop the local runtime's supervisor (and so its processes), if one runs."""
        from infra.runtime.supervisor import stop_supervisor

        try:
            pid = int(self.runtime.pid.read_text())
        except (OSError, ValueError):
            return
        stop_supervisor(pid, str(self.runtime_dir))

    def teardown(self) -> None:
        """Whatever happened: no runtime, no cluster (no control-plane process), no registry
        left behind."""
        self.stop_runtime()
        for cluster in self.clusters():
            # The stack's cluster, and its spokes' (kwok_spoke_name: <cluster>-<spoke>).
            if cluster == self.cluster_name or cluster.startswith(f"{self.cluster_name}-"):
                self.run(["kwokctl", "--name", cluster, "delete", "cluster"], check=False)
        if self.images is not None:
            self.images.stop()
        if self.git_server is not None:
            self.git_server.stop()

    def image(self, ref: str) -> str:
        """A catalog image reference as this project's copy spells it."""
        return self.images.image(ref) if self.images else ref

    def publish(self, ref: str) -> None:
        """Make an image admission will admit: built and signed in the loopback registry
        (nothing to do without admission)."""
        if self.images is not None:
            self.images.publish(ref)

    def live_image(self, namespace: str, name: str) -> str | None:
        """The first container image of a live Deployment, or None when it does not exist."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            d = client.AppsV1Api(self.api()).read_namespaced_deployment(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        assert d.spec is not None and d.spec.template.spec is not None, d
        return str(d.spec.template.spec.containers[0].image)

    # -- Argo CD, as it reports itself ----------------------------------------------------

    def argocd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The real `argocd` CLI against the stack's local argocd-server."""
        config = self.root.parent / "argocd-cli.config"
        server = self.output("argocdServer")
        return self.run(
            ["argocd", *args, "--server", server, "--plaintext", "--config", str(config)],
            check=check,
            timeout=180,
        )

    def login(self, password: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.argocd(
            "login", self.output("argocdServer"), "--username", "admin", "--password",
            password, check=check,
        )  # fmt: skip

    def applications(self) -> dict[str, dict[str, Any]]:
        from kubernetes import client

        listed = client.CustomObjectsApi(self.api()).list_namespaced_custom_object(
            "argoproj.io", "v1alpha1", "argocd", "applications"
        )
        items = cast(dict[str, Any], listed)["items"]  # custom objects: plain JSON
        return {a["metadata"]["name"]: a for a in items}

    def refresh(self, name: str) -> None:
        """What a git webhook does: ask Argo CD to look at git now."""
        from kubernetes import client

        client.CustomObjectsApi(self.api()).patch_namespaced_custom_object(
            "argoproj.io", "v1alpha1", "argocd", "applications", name,
            {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}},
        )  # fmt: skip

    # -- the cluster ----------------------------------------------------------------------

    def kwokctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["kwokctl", "--name", self.cluster_name, *args], check=check, timeout=300)

    def clusters(self) -> list[str]:
        return self.run(["kwokctl", "get", "clusters"]).stdout.split()

    def api(self) -> Any:
        from kubernetes import config

        kubeconfig = self.output("kubeconfig", secret=True)
        if self._api is None or self._api[0] != kubeconfig:
            self._api = (kubeconfig, config.new_client_from_config_dict(yaml.safe_load(kubeconfig)))
        return self._api[1]


class LogWatch:
    """New lines of a process's log, from the moment it was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")

    def wait(self, what: str, pattern: str, timeout: float = 60) -> str:
        """Wait until a new line matches ``pattern``; that line."""
        import re

        def found() -> str | None:
            match = re.search(f"^.*(?:{pattern}).*$", self.text(), re.MULTILINE)
            return match.group(0) if match else None

        line: str = wait_for(what, found, timeout=timeout, every=0.5)
        return line


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
    assert secret.data is not None, f"Secret {namespace}/{name} holds no data"
    return base64.b64decode(secret.data[key]).decode()


# -- objects the Kubernetes client returns ---------------------------------------------------
# The client types every field of its objects optional; what the API server returns always has
# its metadata and name. These say so once (a missing one fails the test, naming the object).


class KubeObject(Protocol):
    """Any object of the Kubernetes client: a Deployment, a CRD, a webhook configuration..."""

    @property
    def metadata(self) -> V1ObjectMeta | None: ...


def metadata(obj: KubeObject) -> V1ObjectMeta:
    """``obj.metadata``, which an object the API server returned always has."""
    assert obj.metadata is not None, obj
    return obj.metadata


def name_of(obj: KubeObject) -> str:
    """``obj.metadata.name``, which an object the API server returned always has."""
    name = metadata(obj).name
    assert name is not None, obj
    return name


def identity(api: Any) -> str:
    """Who the API server says the client ``api`` acts as (a SelfSubjectReview)."""
    from kubernetes import client

    review = client.AuthenticationV1Api(api).create_self_subject_review(
        client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview")
    )
    assert review.status is not None and review.status.user_info is not None, review
    username = review.status.user_info.username
    assert username is not None, review
    return username
