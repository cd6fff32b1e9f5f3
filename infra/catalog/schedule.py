"""Sync window fields, parsed as Argo CD parses them (pure).

Argo CD validates a window with robfig/cron's standard parser (five fields: minute hour
day-of-month month day-of-week, or a descriptor such as ``@daily``), Go's
``time.ParseDuration`` and ``time.LoadLocation``. A window Argo CD cannot parse is not
refused when the AppProject is applied: the AppProject is, and no window ever opens. So the
platform refuses it first, with the same rules.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

__all__ = ["cron_problem", "go_duration_problem", "time_zone_problem"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# (name, lowest, highest, names -> value)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i for i, name in enumerate(_MONTHS, start=1)}),
    ("day of week", 0, 6, {name: i for i, name in enumerate(_DAYS)}),
)
_DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_NUMBER = re.compile(r"[0-9]{1,4}")


def _value(text: str, field: tuple[str, int, int, dict[str, int]]) -> int | str:
    """The number ``text`` stands for in ``field``, or why it stands for none."""
    name, _, _, names = field
    if text.lower() in names:
        return names[text.lower()]
    if _NUMBER.fullmatch(text):
        return int(text)
    return f"{text!r} is not a number or a name of the {name} field"


def _range_problem(part: str, field: tuple[str, int, int, dict[str, int]]) -> str | None:
    name, low, high, _ = field
    pieces = part.split("/")
    if len(pieces) > 2:
        return f"too many '/' in {part!r}"
    span = pieces[0]
    if len(pieces) == 2 and (not _NUMBER.fullmatch(pieces[1]) or int(pieces[1]) == 0):
        return f"the step of {part!r} must be a positive number"
    if span in ("*", "?"):
        return None
    bounds = span.split("-")
    if len(bounds) > 2:
        return f"too many '-' in {part!r}"
    values = []
    for bound in bounds:
        value = _value(bound, field)
        if isinstance(value, str):
            return value
        if not low <= value <= high:
            return f"{value} is outside the {name} field's {low}-{high}"
        values.append(value)
    if len(values) == 2 and values[0] > values[1]:
        return f"the range {span!r} ends before it starts"
    return None


def cron_problem(schedule: str) -> str | None:
    """Why Argo CD could not parse ``schedule``, or ``None``."""
    if schedule != schedule.strip():
        return "has leading or trailing whitespace"
    if schedule.startswith("@"):
        if schedule in _DESCRIPTORS:
            return None
        if schedule.startswith("@every "):
            return go_duration_problem(schedule.removeprefix("@every "))
        return f"unknown descriptor {schedule!r}; expected one of {', '.join(sorted(_DESCRIPTORS))}"
    fields = schedule.split()
    if len(fields) != len(_FIELDS):
        return (
            f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(fields)}"
        )
    for text, field in zip(fields, _FIELDS, strict=True):
        for part in text.split(","):
            if not part:
                return f"empty list entry in the {field[0]} field"
            problem = _range_problem(part, field)
            if problem:
                return f"{field[0]} field: {problem}"
    return None


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # Go accepts both micro signs
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_MAX_NANOSECONDS = 2**63 - 1


def go_duration_nanoseconds(text: str) -> float | None:
    """``text`` as Go's ``time.ParseDuration`` reads it, in nanoseconds, or ``None`` when it
    is not a duration."""
    if not text:
        return None
    position = 0
    total = 0.0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            return None
        number, unit = match.groups()
        total += float(number) * _DURATION_UNITS[unit]
        position = match.end()
    return total


def go_duration_problem(text: str) -> str | None:
    """Why ``text`` is not a positive Go duration (``time.ParseDuration``: ``1h30m``,
    ``90s``, ``1.5h``), or ``None``."""
    if not text:
        return "is empty"
    total = go_duration_nanoseconds(text)
    if total is None:
        return f"{text!r} is not a Go duration (a number and a unit: 1h30m, 45m, 90s)"
    if total <= 0:
        return "must be longer than zero"
    if total > _MAX_NANOSECONDS:
        return "is longer than Go's largest duration (about 290 years)"
    return None


_NOT_ZONES = frozenset({"Local", "localtime", "Factory", "posixrules"})


@cache
def _zones() -> frozenset[str]:
    available = {
        name
        for name in zoneinfo.available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    }
    return frozenset(available | {"UTC"})


def time_zone_problem(name: str) -> str | None:
    """Why ``name`` is not a time zone of the IANA database (``Europe/Berlin``, ``UTC``), or
    ``None``. ``Local`` is refused: it is whatever the Argo CD pod's clock is set to."""
    if name in _zones():
        return None
    if name == "Local":
        return "'Local' depends on the Argo CD pod's clock; give an IANA time zone"
    return f"{name!r} is not an IANA time zone (such as UTC or Europe/Berlin)"
