"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from tests.signing import tools_on_path


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toolchain's kustomize and helm first on PATH, where ``platformctl plan`` looks for
    them (required: missing, the test fails)."""
    tools_on_path(monkeypatch, "kustomize", "helm")
