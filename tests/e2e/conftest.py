"""End-to-end tier hooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item (``item.rep_call``): the browser fixture
    takes a screenshot in its teardown when the test itself failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
