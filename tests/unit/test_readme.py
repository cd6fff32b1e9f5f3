"""The README's own snippets: every `make` target it names exists, every `platformctl`
usage line names real commands and flags, and the read-only commands it tells a user to run
work on this repository as committed."""

from __future__ import annotations

import re
import subprocess

import pytest
from typer.testing import CliRunner

from infra.cli.app import app
from tests.support import REPO

README = (REPO / "README.md").read_text()


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)


def _usage_block() -> str:
    section = README.split("## platformctl", 1)[1]
    return _code_blocks(section)[0]


def _make_targets() -> set[str]:
    makefile = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z0-9-]+):", makefile, flags=re.MULTILINE))


def test_every_make_target_the_readme_names_exists() -> None:
    named = set(re.findall(r"`make ([a-z0-9-]+)", README))
    for block in _code_blocks(README):
        named |= set(re.findall(r"^make ([a-z0-9-]+)", block, flags=re.MULTILINE))
    assert {"up", "test"} <= named
    missing = named - _make_targets()
    assert not missing, f"README names make targets the Makefile lacks: {sorted(missing)}"


def _usage_lines() -> dict[str, set[str]]:
    """command (e.g. ``seal``, ``admin-password reset``) -> the flags its usage lines name."""
    out: dict[str, set[str]] = {}
    current = None
    for line in _usage_block().splitlines():
        match = re.match(r"platformctl ((?:admin-password )?[a-z-]+)", line)
        if match:
            current = match.group(1)
            out.setdefault(current, set())
        if current is not None:
            rest = line[match.end() :] if match else line
            usage = re.split(r"\s{3,}", rest.strip())[0]  # the description column aside
            out[current] |= set(re.findall(r"(--[a-z][a-z-]*|-[a-zA-Z])\b", usage))
    return out


USAGE = _usage_lines()


def test_the_usage_block_covers_every_command() -> None:
    commands = {c.name for c in app.registered_commands} | {
        f"{g.name} {c.name}"
        for g in app.registered_groups
        if g.typer_instance is not None
        for c in g.typer_instance.registered_commands
    }
    commands.discard(None)
    assert set(USAGE) <= commands, set(USAGE) - commands
    assert {"validate", "render", "expand", "generate", "bump", "promote", "seal"} <= set(USAGE)


@pytest.mark.parametrize("command", sorted(USAGE))
def test_every_flag_of_a_usage_line_is_a_flag_of_its_command(command: str) -> None:
    result = CliRunner().invoke(app, [*command.split(), "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    unknown = {flag for flag in USAGE[command] if flag not in result.output}
    assert not unknown, f"README: `platformctl {command}` has no {sorted(unknown)}"


@pytest.mark.parametrize(
    "argv",
    [
        ["validate"],
        ["render", "--stack", "dev"],
        ["expand", "--stack", "dev"],
        ["generate", "--check"],
        ["render", "--stack", "prod", "--with-generated"],
    ],
)
def test_the_read_only_commands_the_readme_shows_work_here(argv: list[str]) -> None:
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "platformctl"), *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_top_level_folder_says_what_belongs_there() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    folders = {path.split("/", 1)[0] for path in tracked if "/" in path}
    folders = {f for f in folders if not f.startswith(".")}
    assert folders, "no tracked folders"
    missing = sorted(f for f in folders if not (REPO / f / "README.md").is_file())
    assert not missing, f"folders without a README.md: {missing}"


def test_the_layout_table_names_only_paths_that_exist() -> None:
    section = README.split("## Repository layout", 1)[1].split("\n## ", 1)[0]
    paths = [
        path.rstrip("/")
        for row in re.findall(r"^\| (.+?) \|", section, flags=re.MULTILINE)
        for path in re.findall(r"`([^`]+)`", row)
    ]
    assert len(paths) > 10, paths
    gone = [p for p in paths if "<" not in p and not (REPO / p).exists()]
    assert not gone, f"README's layout table names paths that do not exist: {gone}"
