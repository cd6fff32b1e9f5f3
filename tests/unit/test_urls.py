"""infra.catalog.urls.is_loopback: the one check for every local-only endpoint; the one URL
redaction (infra.errors), for URLs alone and inside git's messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.catalog.urls import is_loopback
from infra.delivery.git import Git
from infra.errors import GitError, redact_urls
from infra.settings import is_loopback_registry


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.1.2.3", "::1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [None, "", "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost.example.com",
     "127.0.0.1.nip.io", "example.com", "LOCALHOST.", "[::1]"],
)  # fmt: skip
def test_other_hosts_are_not(host: str | None) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("127.0.0.1:5000/org", True), ("localhost/org", True), ("ghcr.io/org", False),
     ("localhost.evil.io/org", False), ("127.0.0.1.evil.io/org", False)],
)  # fmt: skip
def test_a_registry_prefix_is_loopback_by_its_host(prefix: str, expected: bool) -> None:
    assert is_loopback_registry(prefix) is expected


# -- redaction: the one rule, for a URL alone and for URLs inside a message -------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://bot:tok@host/r.git", "https://***@host/r.git"),
        ("fatal: 'https://bot:tok@host/r.git/' failed", "fatal: 'https://***@host/r.git/' failed"),
        ("see http://host/p?token=tok#frag now", "see http://host/p?***#*** now"),
        ("ssh://git@host:22/r and file:///tmp/x", "ssh://***@host:22/r and file:///tmp/x"),
        ("no url here", "no url here"),
    ],
)
def test_urls_inside_a_message_are_redacted_as_a_url_alone_is(text: str, shown: str) -> None:
    assert redact_urls(text) == shown
    assert "tok" not in redact_urls(text)


def test_a_failed_git_command_never_shows_the_credentials_it_was_given(tmp_path: Path) -> None:
    Git(tmp_path).run("init", "-q")
    with pytest.raises(GitError) as failed:
        Git(tmp_path).run("ls-remote", "http://bot:s3cret@127.0.0.1:9/r.git", timeout=30)
    assert "s3cret" not in str(failed.value)
    assert "http://***@127.0.0.1:9/r.git" in str(failed.value)
