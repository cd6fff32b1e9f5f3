"""The CLI's one exit path (infra.cli.edge), run as the real process: a broken pipe, a full
disk, closed standard streams, a deleted working directory, an over-long argument and a usage
error each end in at most one line on stderr and a documented exit code, never a traceback."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.atomic import folder_lock
from infra.cli.app import app
from tests.support import REPO, copy_example_catalog

CLI = [sys.executable, "-m", "infra.cli"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def shell(script: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``script`` in sh with ``$@`` the CLI and ``args`` (for redirections Python cannot do)."""
    return subprocess.run(
        ["sh", "-c", script, "sh", *CLI, *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_clean(stderr: str, lines: int = 1) -> None:
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert len(stderr.splitlines()) == lines, stderr


def test_output_to_a_full_disk_is_one_line_exit_1() -> None:
    proc = shell('exec "$@" >/dev/full', "render", "--stack", "dev")
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot write output: No space left on device\n"


def test_help_to_a_full_disk_is_one_line_exit_1() -> None:
    proc = shell('exec "$@" >/dev/full', "--help")
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot write output: No space left on device\n"


def test_a_reader_that_went_away_is_exit_141_silently() -> None:
    read, write = os.pipe()
    os.close(read)  # every write of the child fails with EPIPE
    try:
        proc = subprocess.run(
            [*CLI, "render", "--stack", "dev"],
            cwd=REPO,
            env=ENV,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert proc.returncode == 141
    assert proc.stderr == ""


def test_closed_stdout_is_one_line_exit_1() -> None:
    proc = shell('exec "$@" >&-', "render", "--stack", "dev")
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot write output: standard output is closed\n"


def test_closed_stdin_is_no_problem_for_a_command_that_does_not_read_it() -> None:
    proc = shell('exec "$@" <&-', "render", "--stack", "dev")
    assert proc.returncode == 0, proc.stderr
    assert "kind: ApplicationSet" in proc.stdout
    assert_clean(proc.stderr, lines=0)


def test_closed_stderr_keeps_the_exit_code_and_stdout_clean() -> None:
    proc = shell('exec "$@" 2>&-', "render", "--nope")
    assert proc.returncode == 2
    assert proc.stdout == ""  # the message did not land on stdout instead


def test_a_deleted_working_directory_is_one_line_exit_1(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    proc = shell('cd gone && rmdir ../gone && exec "$@"', "validate", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: the current directory is gone")
    assert_clean(proc.stderr)


def test_an_over_long_argument_names_its_flag() -> None:
    proc = shell('exec "$@"', "render", "--stack", "a" * 100_000)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: --stack: too long for a path"), proc.stderr[:300]
    assert len(proc.stderr) < 300
    assert_clean(proc.stderr)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["render", "--foo"], "error: no such option: --foo (see {cli} render --help)"),
        (["render"], "error: missing option '--stack' / '-s' (see {cli} render --help)"),
        (["frobnicate"], "error: no such command 'frobnicate' (see {cli} --help)"),
    ],
    ids=["unknown-option", "missing-option", "unknown-command"],
)
def test_a_usage_error_is_one_line_exit_2(args: list[str], line: str) -> None:
    proc = shell('exec "$@"', *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(line.split("{cli}")[0]), proc.stderr
    assert proc.stderr.rstrip("\n").endswith(line.split("{cli}")[1])
    assert_clean(proc.stderr)
    assert "Usage:" not in proc.stderr


def test_help_still_works() -> None:
    proc = shell('exec "$@"', "render", "--help")
    assert proc.returncode == 0
    assert "Usage:" in proc.stdout and "--stack" in proc.stdout
    assert proc.stderr == ""


# -- nothing half-written ------------------------------------------------------------------------


def test_generate_on_a_full_disk_leaves_every_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example_catalog(tmp_path)
    generated = sorted((tmp_path / "apps").glob("*/generated/*/*.yaml"))
    assert generated
    stale = generated[0]
    stale.write_text(stale.read_text() + "# stale\n")
    shutil.rmtree(generated[-1].parent)  # and a missing folder, made and removed again
    before = {p: p.read_bytes() for p in (tmp_path / "apps").rglob("*") if p.is_file()}

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("infra.atomic.os.fsync", full)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["generate"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: cannot write the generated files: No space left on device; nothing was changed"
    )
    after = {p: p.read_bytes() for p in (tmp_path / "apps").rglob("*") if p.is_file()}
    assert after == before  # no file changed, no temporary file left
    assert not generated[-1].parent.exists()


def _waiting_for_a_lock(pid: int) -> bool:
    """The kernel lists ``pid`` as blocked on an flock (``/proc/locks``: ``-> FLOCK ...``)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields and str(pid) in fields:
            return True
    return False


def test_a_second_generate_waits_for_the_first(tmp_path: Path) -> None:
    """While one writer holds the catalog folder, `generate` waits (as the kernel reports it),
    then plans against what is there once the first is done."""
    copy_example_catalog(tmp_path)
    apps = tmp_path / "apps"
    for folder in apps.glob("*/generated"):
        shutil.rmtree(folder)
    with folder_lock(apps):
        run = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "generate"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not _waiting_for_a_lock(run.pid):
            assert run.poll() is None, "generate ran without waiting for the lock"
            assert time.monotonic() < deadline, "generate never reached the lock"
            time.sleep(0.05)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert out.count("created ") == 8
