"""End-to-end tier hooks."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.e2e.browser import chromium, failure_screenshot


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item (``item.rep_call``): the browser fixture
    takes a screenshot in its teardown when the test itself failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless Chromium per module (tests/e2e/browser.py), started when a test asks."""
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


@pytest.fixture
def browser(driver: WebDriver, request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """The module's browser; a failing test leaves a screenshot of the page it was on."""
    yield driver
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"screenshot: {failure_screenshot(driver, request.node.name)}")
