"""A headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``
(``make browser`` installs them), driven by Selenium. Nothing is downloaded at run time: the
browser and its driver are given by path, and Selenium Manager is told it is offline.

A test that needs the browser fails when it is missing; it is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

FAILURE_SHOTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / ".test-artifacts")) / "screenshots"
"""Where a failed browser test leaves a screenshot of the page it was on."""

DOC_SHOTS = os.environ.get("DOC_SCREENSHOTS")
"""Set by ``make screenshots``: the folder the tests write the documentation's pictures to."""


@contextlib.contextmanager
def chromium(workdir: Path) -> Iterator[WebDriver]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise AssertionError(
            f"{' and '.join(missing)} missing: `make browser` installs Debian's chromium and "
            "chromium-driver"
        )
    os.environ["SE_OFFLINE"] = "true"
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--window-size=1440,900",
        f"--user-data-dir={workdir / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(workdir / "chromedriver.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(
    driver: WebDriver, what: str, probe: Callable[[WebDriver], Any], timeout: float = 60
) -> Any:
    """Poll the page until ``probe`` returns something truthy; fail naming ``what``."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(probe)
    except WebDriverException as exc:
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what} at {driver.current_url}"
        ) from exc


def text_of(element: WebElement) -> str:
    return re.sub(r"\s+", " ", element.text).strip()


def screenshot(driver: WebDriver, name: str) -> None:
    """Keep a picture of the page for the docs (only under ``make screenshots``)."""
    if DOC_SHOTS:
        Path(DOC_SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(DOC_SHOTS) / f"{name}.png"))


def failure_screenshot(driver: WebDriver, test_name: str) -> Path:
    FAILURE_SHOTS.mkdir(parents=True, exist_ok=True)
    path = FAILURE_SHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name) + ".png")
    driver.save_screenshot(str(path))
    return path
