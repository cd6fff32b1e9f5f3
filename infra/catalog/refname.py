"""Git branch names, checked as ``git check-ref-format --branch`` checks them (pure).

Argo CD passes a ``targetRevision`` to git as it is; a name git would refuse makes every
Application of the stack fail to fetch, long after ``pulumi up`` succeeded. The rules are
git's (``refs.c: check_refname_component`` and ``strbuf_check_branch_ref``), checked on
``refs/heads/<name>``. Stricter than git in two deliberate ways: ``@`` alone and ``HEAD`` are
refused (git reads both as "the current commit", never as a branch Argo CD should track).
"""

from __future__ import annotations

__all__ = ["MAX_BRANCH_LENGTH", "branch_name_problem"]

MAX_BRANCH_LENGTH = 200

_FORBIDDEN = frozenset(" ~^:?*[\\")


def _component_problem(component: str) -> str | None:
    if component == "":
        return "has an empty path component (a leading or trailing '/', or '//')"
    if component.startswith("."):
        return f"has a path component starting with '.' ({component!r})"
    if component.endswith(".lock"):
        return f"has a path component ending in '.lock' ({component!r})"
    return None


def branch_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid git branch name, or ``None`` when it is one."""
    if not name:
        return "is empty"
    if len(name) > MAX_BRANCH_LENGTH:
        return f"is longer than {MAX_BRANCH_LENGTH} characters"
    for char in name:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return "contains a control character"
        if char in _FORBIDDEN:
            return f"contains {char!r} (space, ~ ^ : ? * [ and \\ are not allowed)"
    if name.startswith("-"):
        return "starts with '-'"
    if name in ("@", "HEAD"):
        return f"{name!r} means the current commit in git, not a branch"
    if ".." in name:
        return "contains '..'"
    if "@{" in name:
        return "contains '@{'"
    if name.endswith("."):
        return "ends with '.'"
    for component in name.split("/"):
        problem = _component_problem(component)
        if problem:
            return problem
    return None
