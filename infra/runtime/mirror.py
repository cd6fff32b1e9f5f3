"""The local git mirror (``git.mirror: true``): a bare repository in the runtime's folder that
every ``up`` fills with the checkout's committed ``HEAD`` as the tracked branch.

Argo CD clones it over HTTP from the runtime's git server (:mod:`infra.runtime.git_http`); its
post-receive hook (:mod:`infra.runtime.git_hook`) tells argocd-server about each push. git runs
through the project's one runner (:class:`infra.delivery.git.Git`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from infra.delivery.git import Git
from infra.runtime.folder import RuntimeFolder
from infra.runtime.git_hook import install_hook

__all__ = ["fill_mirror", "head_commit", "mirror_head"]

FILL_TIMEOUT: Final = 120
"""Seconds each git command that creates or fills the mirror may take."""
HEAD_TIMEOUT: Final = 60
"""Seconds reading the checkout's HEAD may take."""


def head_commit(root: Path) -> str | None:
    """The checkout's committed HEAD, or None when the root is no git checkout with a commit."""
    result = Git(root).run(
        "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False, timeout=HEAD_TIMEOUT
    )
    return result.stdout.strip() if result.ok else None


def mirror_head(path: Path, branch: str) -> str | None:
    """The commit ``branch`` of the bare repository ``path`` points at; None when the
    repository or the branch is not there (removed or moved: fill it again)."""
    # GIT_DIR pins the repository: no discovery upwards from a folder that is not one.
    result = Git(path).run("rev-parse", f"refs/heads/{branch}", check=False, env={"GIT_DIR": "."})
    return result.stdout.strip() if result.ok else None


def fill_mirror(path: Path, branch: str, commit: str, root: Path) -> None:
    """Create the bare repository ``path`` if it is not there, install its post-receive hook,
    and point ``branch`` at ``commit`` of the checkout ``root``."""
    if not (path / "HEAD").is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        init = ("init", "--quiet", "--bare", f"--initial-branch={branch}", path.name)
        Git(path.parent).run(*init, timeout=FILL_TIMEOUT)
    # As a repository host calls its webhook: after each push (nothing is sent before
    # the runtime has written the hook's configuration, on the first `up`).
    install_hook(path, RuntimeFolder(path.parent).hook_config, root)
    # The mirror follows the checkout: a forced update is what it is for.
    push = ("push", "--quiet", "--force", str(path), f"{commit}:refs/heads/{branch}")
    Git(root).run(*push, timeout=FILL_TIMEOUT)
