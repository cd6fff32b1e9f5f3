"""The house rules of infra/ (docs/design.md, "Layout"), held by reading the code: each fails
when a module reaches past its layer or writes a second copy of a one-place job."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from tests.support import REPO

INFRA = REPO / "infra"
POLICY = REPO / "policy"


def _modules(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


@cache
def _imports(path: Path) -> frozenset[str]:
    """Every module ``path`` imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def _reaches(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in _imports(path)
        if any(name == p or name.startswith(f"{p}.") for p in prefixes)
    )


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO))


PURE = ("catalog", "settings", "specs")
SHELLS = (
    "infra.cli",
    "infra.components",
    "infra.delivery",
    "infra.ops",
    "infra.program",
    "infra.runtime",
    "pulumi",
    "pulumi_kubernetes",
    "subprocess",
    "kubernetes",
)


@pytest.mark.parametrize("package", PURE)
def test_the_pure_core_imports_no_shell_no_engine_and_runs_nothing(package: str) -> None:
    reached = {
        _shown(p): _reaches(p, SHELLS) for p in _modules(INFRA / package) if _reaches(p, SHELLS)
    }
    assert reached == {}


def test_only_the_cli_imports_the_cli() -> None:
    reached = [
        _shown(p)
        for p in _modules(INFRA, POLICY)
        if "cli" not in p.relative_to(INFRA if p.is_relative_to(INFRA) else POLICY).parts
        and _reaches(p, ("infra.cli",))
    ]
    assert reached == []


def test_yaml_is_read_and_written_by_the_yaml_modules_alone() -> None:
    allowed = {INFRA / "yamlio.py", INFRA / "yaml_roundtrip.py"}
    reached = [
        _shown(p)
        for p in _modules(INFRA, POLICY)
        if p not in allowed and _reaches(p, ("yaml", "ruamel"))
    ]
    assert reached == []


def test_kubernetes_clients_come_from_the_one_factory() -> None:
    factory = INFRA / "kube.py"
    building = [
        _shown(p)
        for p in _modules(INFRA, POLICY)
        if p != factory and "new_client_from_config" in p.read_text()
    ]
    assert building == []


def test_git_runs_through_the_one_runner() -> None:
    # git_http starts `git http-backend` as a CGI process with the request's body as its input:
    # a server, not a command run.
    allowed = {INFRA / "delivery" / "git.py", INFRA / "runtime" / "git_http.py"}
    running = []
    for path in _modules(INFRA, POLICY):
        if path in allowed or not _reaches(path, ("subprocess",)):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List | ast.Tuple) and node.elts:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and first.value == "git":
                    running.append(f"{_shown(path)}:{node.lineno}")
    assert running == []


def test_every_error_the_platform_raises_on_purpose_has_the_one_root() -> None:
    """A class deriving from Exception directly is the root itself, or private control flow."""
    roots = []
    for path in _modules(INFRA, POLICY):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                if bases & {"Exception", "RuntimeError", "ValueError"}:
                    roots.append(f"{_shown(path)}:{node.name}")
    assert roots == ["infra/errors.py:PlatformError"]


def test_no_module_outgrows_600_lines() -> None:
    long = {
        _shown(p): n
        for p in _modules(INFRA, POLICY)
        if (n := len(p.read_text().splitlines())) > 600
    }
    assert long == {}
