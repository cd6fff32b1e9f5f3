"""The base of every input model (app definitions and stack settings), and the string rules
every field of them obeys (pure).

- Unknown fields, wrong types: refused (``extra="forbid"``, ``strict``).
- Patterns match the whole value: pydantic's Rust regex engine, where ``$`` is the end of the
  text (Python's ``re.match`` and ``$`` would let a trailing newline through: ``"web\\n"``).
  Python-side checks use :func:`re.fullmatch`.
- No control characters and no leading or trailing whitespace in any string, except in the
  fields a model lists as ``free_text``: a name with a trailing newline or space is a
  different name to Kubernetes, git and Argo CD.
- No ``{{`` or ``}}`` in any string: the values reach Argo CD's Go templates (ApplicationSet
  elements and patches) and Argo Rollouts' argument substitution (``{{args.x}}`` in analysis
  metrics). Only the platform writes template actions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator

__all__ = ["StrictModel", "checked", "string_problem", "template_problem"]


def checked(problem: Callable[[str], str | None]) -> AfterValidator:
    """A pydantic validator from a pure check (``value -> why it is wrong, or None``)."""

    def validate(value: str) -> str:
        why = problem(value)
        if why:
            raise ValueError(why)
        return value

    return AfterValidator(validate)


TEMPLATE_MARKERS = ("{{", "}}")


def template_problem(text: str) -> str | None:
    """Why ``text`` would be read as a template action, or ``None``."""
    for marker in TEMPLATE_MARKERS:
        if marker in text:
            return (
                f"must not contain {marker!r}: the value reaches Argo CD's Go templates and "
                "Argo Rollouts' {{args}} substitution, which would evaluate it"
            )
    return None


def string_problem(text: str, *, single_line: bool = True) -> str | None:
    """Why ``text`` may not be a field's value, or ``None``."""
    problem = template_problem(text)
    if problem:
        return problem
    if not single_line:
        return None
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        return "must not contain control characters (newline, tab...)"
    if text != text.strip():
        return "must not start or end with whitespace"
    return None


def _problem_in(value: Any, single_line: bool) -> str | None:
    if isinstance(value, str):
        return string_problem(value, single_line=single_line)
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = _problem_in(item, single_line)
            if problem:
                return f"item {index}: {problem}" if isinstance(item, str) else problem
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _problem_in(key, True) or _problem_in(item, single_line)
            if problem:
                return problem
    return None  # nested models check their own fields


class StrictModel(BaseModel):
    """Frozen, strict, no unknown fields, and the string rules above on every field."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, regex_engine="rust-regex")

    free_text: ClassVar[frozenset[str]] = frozenset()
    """Fields whose strings may span lines (container arguments...)."""

    @field_validator("*", mode="after")
    @classmethod
    def _plain_strings(cls, value: Any, info: ValidationInfo) -> Any:
        problem = _problem_in(value, info.field_name not in cls.free_text)
        if problem:
            raise ValueError(problem)
        return value
