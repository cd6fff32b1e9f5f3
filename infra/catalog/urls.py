"""URLs (pure): credentials in them refused, which hosts are this machine's loopback, and
which hosts an external chart may come from.

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

__all__ = ["chart_host_problem", "is_loopback", "url_credential_problem"]

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


_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*\.?", re.IGNORECASE)
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")


def chart_host_problem(url: str) -> str | None:
    """Why the host of an external chart's ``repoURL`` is one Argo CD's repo-server must not
    be sent to, or ``None``: the repo-server fetches it from inside the cluster, so an address
    that is not a public one (link-local such as a cloud metadata service, loopback, private,
    unspecified, multicast; an IPv4-mapped IPv6 form of those), a number the resolver would
    read as an address (``2852039166``, ``0xa9fea9fe``, ``0251.0376.0251.0376``) or a name
    that only resolves locally (``localhost``, ``*.internal``, ``*.local``) reaches what the
    AppProject's ``sourceRepos`` was never meant to trust."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return f"is not a valid URL ({redact_url(url)})"
    if not host:
        return f"has no host ({redact_url(url)})"
    host = host.lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        mapped = getattr(address, "ipv4_mapped", None) or address
        if not mapped.is_global or mapped.is_multicast:
            return (
                f"names the non-public address {host} ({redact_url(url)}): Argo CD's "
                "repo-server would fetch from inside the cluster; use the chart "
                "repository's public DNS name, or keep the chart in this repository"
            )
        return None
    if _NUMERIC_HOST.fullmatch(host):
        return f"host {host} is a number, not a DNS name ({redact_url(url)})"
    if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(_LOCAL_NAMES):
        return (
            f"host {host} only resolves inside a network ({redact_url(url)}): Argo CD's "
            "repo-server would fetch from inside the cluster; keep the chart in this "
            "repository instead"
        )
    return None
