"""The one exit path of platformctl: whatever goes wrong at the edge of the process ends in one
line on stderr and a documented exit code, never a traceback.

* A usage error (unknown option, missing option, bad value): ``error: <what> (see <command>
  --help)``, exit 2.
* The reader of the output went away (``platformctl render | head -1``): exit 141 (128 +
  SIGPIPE, what a shell reports for a tool the broken pipe stopped), silently.
* The output cannot be written (a full disk, an I/O error, standard output closed):
  ``error: cannot write output: <why>``, exit 1.
* The current directory was deleted, an argument too long for a path (``File name too long``):
  one line naming the directory or the flag, exit 1.
* A standard stream that is closed (``<&-``, ``>&-``, ``2>&-``) is held open on ``/dev/null``
  the wrong way round (standard input write-only, standard output read-only) before anything
  runs: no file the command opens can take its number, a read of standard input and a write of
  standard output fail (and are reported) instead of reading or writing some other file.

Before exiting after a failed write, the failed stream is pointed at ``/dev/null`` so that the
interpreter's last flush cannot print ``Exception ignored ... BrokenPipeError``.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO, cast

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer is pinned

from infra.errors import EXIT_BROKEN_PIPE, EXIT_INVALID, EXIT_USAGE, shown

__all__ = ["run"]

_OUTPUT_ERRNOS: Final = frozenset(
    {errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG, errno.EPIPE}
)
"""A write of the output failed (no file name: standard output)."""


def run(app: Callable[..., Any], argv: Sequence[str]) -> int:
    """Run the Typer ``app`` on ``argv``; the exit code (every failure already reported)."""
    _hold_standard_streams()
    try:
        os.getcwd()
    except OSError as exc:
        return _report(
            f"error: the current directory is gone ({exc.strerror}); cd into the project and "
            "run platformctl again",
            EXIT_INVALID,
        )
    try:
        code = _invoke(app, list(argv))
        sys.stdout.flush()
    except BrokenPipeError:
        _to_devnull(1)
        return EXIT_BROKEN_PIPE
    except NoArgsIsHelpError as exc:
        return _report(exc.format_message().rstrip("\n"), exc.exit_code)
    except UsageError as exc:
        return _report(_usage_line(exc), exc.exit_code or EXIT_USAGE)
    except typer.TyperException as exc:
        return _report(f"error: {_one_line(exc.format_message())}", exc.exit_code)
    except typer.Abort:
        return _report("error: aborted", EXIT_INVALID)
    except OSError as exc:
        return _report(_os_error_line(exc, argv), EXIT_INVALID)
    return code


def _invoke(app: Callable[..., Any], argv: list[str]) -> int:
    """The app in Click's non-standalone mode: exceptions come here instead of being printed
    as a usage box. Typer turns a broken pipe into ``sys.exit(1)``; that is undone here."""
    try:
        result = app(args=argv, standalone_mode=False)
    except SystemExit as exc:
        if isinstance(exc.__context__, BrokenPipeError):
            raise exc.__context__ from None
        raise
    return result if isinstance(result, int) else 0


def _hold_standard_streams() -> None:
    """Put ``/dev/null`` on each closed descriptor 0, 1, 2 (the wrong way round for 0 and 1:
    using them fails with EBADF) and give Python a stream for it."""
    for fd, flags, mode in ((0, os.O_WRONLY, "r"), (1, os.O_RDONLY, "w"), (2, os.O_WRONLY, "w")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        held = os.open(os.devnull, flags)
        if held != fd:
            os.dup2(held, fd)
            os.close(held)
        stream = cast(TextIO, open(fd, mode, encoding="utf-8", closefd=False))  # noqa: SIM115
        if fd == 0:
            sys.stdin = stream
        elif fd == 1:
            sys.stdout = stream
        else:
            sys.stderr = stream


def _to_devnull(fd: int) -> None:
    """Point ``fd`` at ``/dev/null``: what is still buffered for it goes nowhere, quietly."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover - no /dev/null
        return
    os.dup2(null, fd)
    os.close(null)


def _report(line: str, code: int) -> int:
    """``line`` on stderr (dropped when stderr cannot be written), then ``code``."""
    if _failed_write(sys.stdout):
        _to_devnull(1)
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        _to_devnull(2)
    return code


def _failed_write(stream: TextIO | None) -> bool:
    """Whether flushing ``stream`` fails (then its buffer must go nowhere before exiting)."""
    if stream is None:
        return False
    try:
        stream.flush()
    except (OSError, ValueError):
        return True
    return False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_line(exc: UsageError) -> str:
    message = _one_line(exc.format_message()).rstrip(".")
    message = message[:1].lower() + message[1:]
    hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
    return f"error: {message}{hint}"


def _flag_of(value: str, argv: Sequence[str]) -> str | None:
    """The flag (or ``argument N``) that gave the longest argument found in ``value``."""
    best: tuple[int, str] | None = None
    for index, arg in enumerate(argv):
        flag, given = None, arg
        if arg.startswith("--") and "=" in arg:
            flag, given = arg.split("=", 1)
        elif index > 0 and argv[index - 1].startswith("-") and argv[index - 1] != "-":
            flag = argv[index - 1]
        if not given or given not in value:
            continue
        name = flag or f"argument {index + 1}"
        if best is None or len(given) > best[0]:
            best = (len(given), name)
    return best[1] if best else None


def _os_error_line(exc: OSError, argv: Sequence[str]) -> str:
    why = exc.strerror or str(exc)
    name = exc.filename if isinstance(exc.filename, str) else None
    if exc.errno == errno.ENAMETOOLONG:
        flag = _flag_of(name or "", argv)
        where = f"{flag}: " if flag else ""
        return f"error: {where}too long for a path ({why}): {shown(name or '')}"
    if name is None and exc.errno in _OUTPUT_ERRNOS:
        if exc.errno == errno.EBADF:
            why = "standard output is closed"
        return f"error: cannot write output: {why}"
    if name is not None:
        return f"error: {shown(name)}: {why}"
    return f"error: {why}"
