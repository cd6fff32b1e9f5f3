"""A headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver``
(``make browser`` installs them), driven by Selenium. Nothing is downloaded at run time: the
browser and its driver are given by path, and Selenium Manager is told it is offline.

A test that needs the browser fails when it is missing; it is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
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
    """Poll the page until ``probe`` returns something truthy; fail naming ``what``. A probe
    that finds nothing yet, an element React has just replaced, or one that does not take a
    click yet (a panel still sliding in or out) is polled again."""
    ignored = (
        NoSuchElementException,
        StaleElementReferenceException,
        ElementNotInteractableException,
        ElementClickInterceptedException,
    )
    try:
        return WebDriverWait(
            driver, timeout, poll_frequency=0.25, ignored_exceptions=ignored
        ).until(probe)
    except TimeoutException as exc:
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what} at {driver.current_url}"
        ) from exc
    except WebDriverException as exc:
        raise AssertionError(
            f"the browser failed while waiting for {what} at {driver.current_url}: {exc.msg}"
        ) from exc


def click_when_ready(
    driver: WebDriver, what: str, find: Callable[[WebDriver], WebElement | None]
) -> None:
    """Click what ``find`` returns as soon as it is there and takes the click."""

    def clicked(d: WebDriver) -> bool:
        element = find(d)
        if element is None:
            return False
        element.click()
        return True

    wait_until(driver, what, clicked)


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


# -- Argo CD's UI, as a person uses it --------------------------------------------------------


def sign_in(driver: WebDriver, base: str, password: str) -> None:
    """Fill in Argo CD's sign-in form as user admin (whatever session the browser had)."""
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    username = wait_until(driver, "the sign-in form", lambda d: d.find_element(By.NAME, "username"))
    username.send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def signed_in(driver: WebDriver, base: str, password: str) -> None:
    sign_in(driver, base, password)
    wait_until(driver, "the Applications page", lambda d: "/applications" in d.current_url)


def page_text(driver: WebDriver) -> str:
    return text_of(driver.find_element(By.TAG_NAME, "body"))


def sync_status_shown(driver: WebDriver) -> str:
    """The app page's SYNC STATUS as the UI shows it (``OutOfSync``, ``Synced``...): read from
    the status panel, not the whole page (the sidebar's filters always list "OutOfSync 0")."""
    for item in driver.find_elements(By.CSS_SELECTOR, ".application-status-panel__item"):
        if text_of(item).upper().startswith("SYNC STATUS"):
            value = item.find_element(By.CSS_SELECTOR, ".application-status-panel__item-value")
            return (text_of(value).split() or [""])[0]
    return ""


def button(driver: WebDriver, label: str) -> WebElement | None:
    """The displayed button labelled ``label`` (as shown: Argo CD's toolbar is upper case)."""
    for element in driver.find_elements(By.TAG_NAME, "button"):
        if element.is_displayed() and text_of(element) == label:
            return element
    return None


def sync_in_ui(driver: WebDriver, base: str, app: str) -> None:
    """What a person does in a maintenance window: open the app, SYNC, then SYNCHRONIZE."""
    driver.get(f"{base}/applications/argocd/{app}")
    click_when_ready(driver, f"{app}'s SYNC button", lambda d: button(d, "SYNC"))

    def synchronize(d: WebDriver) -> list[WebElement]:
        found = d.find_elements(
            By.CSS_SELECTOR, "[qe-id=application-sync-panel-button-synchronize]"
        )
        return [e for e in found if e.is_displayed()]

    click_when_ready(
        driver, "the sync panel's SYNCHRONIZE", lambda d: next(iter(synchronize(d)), None)
    )
    # A click while the panel still slides in can miss: the UI's answer is the panel closing
    # (the sync was requested) or its refusal ("Unable to sync"); until one shows, click
    # again, at most every 3 s so that one request is not sent twice.
    last = [time.monotonic()]

    def answered(d: WebDriver) -> bool:
        shown = synchronize(d)
        if not shown or "Unable to sync" in page_text(d):
            return True
        if time.monotonic() - last[0] > 3:
            last[0] = time.monotonic()
            shown[0].click()  # not interactable while the panel closes: polled again
        return False

    wait_until(driver, "the UI to take the sync (the panel closes) or refuse it", answered)


# -- the Argo Rollouts dashboard -------------------------------------------------------------


def rollout_shown(driver: WebDriver) -> tuple[str, str]:
    """A rollout page's status (the header icon's ``status-icon--<status>`` class: paused,
    healthy, progressing, degraded) and its Summary's Step, as the dashboard shows them."""
    status = ""
    for icon in driver.find_elements(By.CSS_SELECTOR, ".rollout__header [class*=status-icon--]"):
        classes = (icon.get_attribute("class") or "").split()
        status = next((c.split("--", 1)[1] for c in classes if c.startswith("status-icon--")), "")
    step = ""
    for row in driver.find_elements(By.CSS_SELECTOR, ".rollout__info .info-item--row"):
        label = row.find_elements(By.TAG_NAME, "label")
        if label and text_of(label[0]) == "Step":
            step = text_of(row.find_element(By.CSS_SELECTOR, ".info-item--row__container"))
    return status, step


def promote_on_dashboard(driver: WebDriver) -> None:
    """Promote, then "Yes" in the dashboard's "Are you sure?" confirmation."""
    click_when_ready(driver, "the dashboard's Promote button", lambda d: button(d, "Promote"))
    click_when_ready(
        driver,
        "the confirmation's Yes",
        lambda d: next(
            (e for e in d.find_elements(By.CSS_SELECTOR, ".ant-popover button")
             if e.is_displayed() and text_of(e) == "Yes"),
            None,
        ),
    )  # fmt: skip
