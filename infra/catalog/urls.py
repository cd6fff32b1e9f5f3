"""URLs (pure): credentials in them refused, and which hosts are this machine's loopback.

A URL in ``app.yaml`` or a stack file is committed, rendered into AppProjects and
Applications, printed by ``platformctl render`` and stored in Pulumi state: a password or
token in it is leaked to everyone who can read any of those. Argo CD takes repository
credentials from repository Secrets instead. Messages about a URL never repeat it unredacted
(:func:`infra.errors.redact_url`).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlsplit

from infra.errors import redact_url

__all__ = ["is_loopback", "url_credential_problem"]

_SECRET_PARAMETER = re.compile(
    r"(token|secret|passw|pwd|credential|auth|signature|sig|key|session|code)", re.IGNORECASE
)
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
_SCP_LIKE = re.compile(r"[A-Za-z0-9._-]+@[^/:@?#]+:[^?#]*")


def url_credential_problem(url: str) -> str | None:
    """Why ``url`` carries a credential (user information other than an SSH user name, or a
    query parameter named like a token), or ``None``. The message holds no credential."""
    if _SCP_LIKE.fullmatch(url):
        return None  # git@github.com:org/repo.git: an SSH user name, no password
    try:
        parts = urlsplit(url)
        _ = parts.port  # a password-looking port (`user:pass` read as host:port) raises
    except ValueError:
        return f"is not a valid URL ({redact_url(url)})"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        ssh_user = parts.scheme in _SSH_SCHEMES and ":" not in userinfo
        if not ssh_user:
            return (
                f"must not hold credentials ({redact_url(url)}): give Argo CD a repository "
                "Secret instead"
            )
    query = parts.query + ("&" + parts.fragment if parts.fragment else "")
    for name, _value in parse_qsl(query, keep_blank_values=True):
        if _SECRET_PARAMETER.search(name):
            return (
                f"must not hold credentials (query parameter {name!r} in {redact_url(url)}): "
                "give Argo CD a repository Secret instead"
            )
    return None


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine's loopback: ``localhost`` or an address in
    ``127.0.0.0/8`` or ``::1``. The one check for every local-only endpoint (the git server's
    bind address, where a push event may be delivered, a plain-HTTP registry)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
