"""infra.catalog.urls.is_loopback: the one check for every local-only endpoint."""

from __future__ import annotations

import pytest

from infra.catalog.urls import is_loopback
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
