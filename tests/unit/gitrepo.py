"""Real git repositories for the delivery tests: a bare remote, clones and a tiny catalog.

Everything runs the real ``git`` CLI in a temporary folder, with the user's and the system's git
configuration shut out (``GIT_CONFIG_GLOBAL`` points at a file of the test's own), so the tests
behave the same on every machine and never touch the network.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

TEST_NAME = "Test Engineer"
TEST_EMAIL = "engineer@example.invalid"

# --- the tiny catalog --------------------------------------------------------------------------
# web-api (kustomize: comments, a quoted tag, a second image entry), cache (helm: anchors and an
# alias elsewhere in the values file, a single-quoted tag), static (directory: several documents,
# CRLF line endings, an init container of another image), lab (kustomize, dev only).

WEB_API_APP = """\
# Kustomize app used by the delivery tests.
team: web
namespace: web
image:
  repository: ghcr.io/example-org/web-api
source:
  type: kustomize
environments:
  dev:
    enabled: true
  prod:
    enabled: true
    replicas: 2
"""

WEB_API_BASE = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
"""

WEB_API_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-api
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/example-org/web-api
"""


def web_api_overlay(tag: str) -> str:
    return f"""\
# The {{env}} overlay. CI bumps newTag below; keep the comments.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
    - ../../base   # four-space indent on purpose
images:
    # the sidecar is pinned by hand
    - name: ghcr.io/example-org/log-shipper
      newTag: "2.0.0"
    - name: ghcr.io/example-org/web-api
      newTag: "{tag}"  # set by platformctl bump
commonLabels: {{app: web-api, tier: "api"}}
"""


CACHE_APP = """\
team: data
namespace: data
image:
  repository: docker.io/bitnami/redis
source:
  type: helm
  repoURL: https://charts.bitnami.com/bitnami
  chart: redis
  version: 20.6.2
environments:
  dev: {}
  prod:
    replicas: 3
"""


def cache_values(tag: str) -> str:
    return f"""\
# Values for the redis chart.
defaults: &resources
  requests:
    cpu: 100m      # small
    memory: 128Mi
architecture: standalone
image:
  registry: docker.io
  repository: bitnami/redis
  tag: '{tag}'   # the line the handoff bumps
master:
  resources: *resources
replica:
  resources: *resources
"""


STATIC_APP = """\
team: web
namespace: static
image:
  repository: ghcr.io/example-org/static
source:
  type: directory
  path: manifests
environments:
  dev:
    enabled: true
  prod:
    enabled: true
"""


def static_manifests(tag: str) -> str:
    text = f"""\
# Service and Deployment of the static site (CRLF on purpose).
apiVersion: v1
kind: Service
metadata:
  name: static
spec:
  ports:
    - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: static
spec:
  template:
    spec:
      initContainers:
        - name: wait
          image: docker.io/library/busybox:1.36
      containers:
        - name: web
          image: ghcr.io/example-org/static:{tag}
          ports:
            - containerPort: 8080
"""
    return text.replace("\n", "\r\n")


LAB_APP = """\
team: web
namespace: lab
image:
  repository: ghcr.io/example-org/lab
source:
  type: kustomize
environments:
  dev:
    enabled: true
"""

PLAIN_OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: {repository}
    newTag: {tag}
"""


KEYLESS_ADMISSION = (
    "    enabled: true",
    "    trustedRegistries: [ghcr.io/example-org]",
    "    signer:",
    "      keyless:",
    "        issuer: https://token.actions.githubusercontent.com",
    "        subject: https://github.com/example-org/gitops-platform/*",
)
"""A prod stack's admission section: images of ghcr.io/example-org signed by this repository's
workflows."""


def stack_file(
    environment: str,
    branch: str | None = None,
    apps_dir: str | None = None,
    admission: tuple[str, ...] | None = None,
) -> str:
    """A minimal ``Pulumi.<stack>.yaml``: an adopted cluster, the environment, its branch;
    ``admission`` holds the lines of its admission section (a prod stack must enable admission
    control: :data:`KEYLESS_ADMISSION` unless given)."""
    lines = [
        "config:",
        f"  gitops-platform:environment: {environment}",
        "  gitops-platform:cluster:",
        "    provider: existing",
        "    context: test",
        "  gitops-platform:git:",
        "    repoURL: https://git.example.invalid/platform.git",
    ]
    if branch is not None:
        lines.append(f"    branch: {branch}")
    if apps_dir is not None:
        lines += ["  gitops-platform:catalog:", f"    appsDir: {apps_dir}"]
    if admission is None and environment == "prod":
        admission = KEYLESS_ADMISSION
    if admission is not None:
        lines += ["  gitops-platform:admission:", *admission]
    return "\n".join(lines) + "\n"


def catalog_files() -> dict[str, str]:
    files = {
        "Pulumi.yaml": "name: gitops-platform\nruntime: python\n",
        "Pulumi.dev.yaml": stack_file("dev"),
        "Pulumi.prod.yaml": stack_file("prod"),
        "apps/web-api/app.yaml": WEB_API_APP,
        "apps/web-api/base/kustomization.yaml": WEB_API_BASE,
        "apps/web-api/base/deployment.yaml": WEB_API_DEPLOYMENT,
        "apps/web-api/overlays/dev/kustomization.yaml": web_api_overlay("1.0.0"),
        "apps/web-api/overlays/prod/kustomization.yaml": web_api_overlay("0.9.0"),
        "apps/cache/app.yaml": CACHE_APP,
        "apps/cache/values/dev.yaml": cache_values("7.4.1"),
        "apps/cache/values/prod.yaml": cache_values("7.4.0"),
        "apps/static/app.yaml": STATIC_APP,
        "apps/static/manifests/site.yaml": static_manifests("1.0.0"),
        "apps/lab/app.yaml": LAB_APP,
        "apps/lab/base/kustomization.yaml": WEB_API_BASE,
        "apps/lab/base/deployment.yaml": WEB_API_DEPLOYMENT,
        "apps/lab/overlays/dev/kustomization.yaml": PLAIN_OVERLAY.format(
            repository="ghcr.io/example-org/lab", tag="0.1.0"
        ),
    }
    return files


def service_app_files(name: str) -> dict[str, str]:
    """A plain kustomize app named ``name`` (dev and prod), for the many-apps tests."""
    repository = f"ghcr.io/example-org/{name}"
    app = WEB_API_APP.replace("ghcr.io/example-org/web-api", repository)
    return {
        f"apps/{name}/app.yaml": app,
        f"apps/{name}/base/kustomization.yaml": WEB_API_BASE,
        f"apps/{name}/base/deployment.yaml": WEB_API_DEPLOYMENT,
        f"apps/{name}/overlays/dev/kustomization.yaml": PLAIN_OVERLAY.format(
            repository=repository, tag="0.0.1"
        ),
        f"apps/{name}/overlays/prod/kustomization.yaml": PLAIN_OVERLAY.format(
            repository=repository, tag="0.0.1"
        ),
    }


# --- git ---------------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}: {done.stderr}")
    return done.stdout


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


@dataclass
class Remote:
    """A bare repository with branches ``dev`` and ``prod`` holding the tiny catalog."""

    bare: Path
    tmp: Path
    _clones: int = 0

    def clone(self, name: str | None = None) -> Path:
        self._clones += 1
        dest = self.tmp / (name or f"clone-{self._clones}")
        git(self.tmp, "clone", "--quiet", str(self.bare), str(dest))
        return dest

    def read(self, branch: str, path: str) -> bytes:
        done = subprocess.run(
            ["git", "show", f"{branch}:{path}"], cwd=self.bare, capture_output=True, check=True
        )
        return done.stdout

    def rev(self, ref: str) -> str:
        return git(self.bare, "rev-parse", ref).strip()

    def log(self, branch: str, path: str | None = None) -> list[str]:
        """Commit subjects on ``branch``, newest first (optionally only those touching path)."""
        args = ["log", "--format=%s", branch]
        if path:
            args += ["--", path]
        return git(self.bare, *args).splitlines()


def make_remote(tmp: Path, extra: dict[str, str] | None = None) -> Remote:
    """Seed a bare remote: one commit with the catalog on ``dev``, ``prod`` at the same commit."""
    seed = tmp / "seed"
    seed.mkdir()
    git(seed, "init", "--quiet", "--initial-branch=dev")
    write_files(seed, {**catalog_files(), **(extra or {})})
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "catalog")
    git(seed, "branch", "prod")
    bare = tmp / "remote.git"
    git(tmp, "init", "--quiet", "--bare", "--initial-branch=dev", str(bare))
    git(seed, "push", "--quiet", str(bare), "dev", "prod")
    return Remote(bare=bare, tmp=tmp)


def isolate_git(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """Shut out the machine's git configuration; give the tests their own identity."""
    config = tmp / "gitconfig"
    config.write_text(
        f"[user]\n\tname = {TEST_NAME}\n\temail = {TEST_EMAIL}\n"
        "[init]\n\tdefaultBranch = dev\n[advice]\n\tdetachedHead = false\n"
        "[core]\n\tautocrlf = false\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)


def refs(repo: Path) -> str:
    """Every ref and the commit it points at: equal before and after means "no commit"."""
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


def changed_lines(repo: Path, rev: str = "HEAD") -> list[tuple[str, str]]:
    """(removed, added) line pairs of ``rev`` against its parent, line endings kept."""
    diff = subprocess.run(
        ["git", "show", "--format=", "--unified=0", "--no-color", rev],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    lines = diff.split("\n")  # not splitlines(): keep the CR of CRLF lines
    removed = [line[1:] for line in lines if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in lines if line.startswith("+") and not line.startswith("+++")]
    return list(zip(removed, added, strict=True))


def numstat(repo: Path, rev: str = "HEAD") -> list[str]:
    return git(repo, "show", "--format=", "--numstat", rev).splitlines()
