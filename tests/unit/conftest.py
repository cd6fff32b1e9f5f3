"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.signing import tools_on_path
from tests.unit.gitrepo import Remote, isolate_git, make_remote


@pytest.fixture(autouse=True, scope="session")
def render_tools() -> Iterator[None]:
    """The toolchain's kustomize and helm first on PATH for every unit test: `validate`,
    `plan` and the Pulumi program render apps with them (required: missing, tests fail)."""
    patch = pytest.MonkeyPatch()
    tools_on_path(patch, "kustomize", "helm")
    yield
    patch.undo()


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toolchain's kustomize and helm first on PATH, where ``platformctl plan`` looks for
    them (required: missing, the test fails)."""
    tools_on_path(monkeypatch, "kustomize", "helm")


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Remote:
    """A bare remote holding the example catalog and stacks, git isolated from the user's
    configuration (a module that needs other content defines its own ``remote``)."""
    isolate_git(monkeypatch, tmp_path)
    return make_remote(tmp_path)
