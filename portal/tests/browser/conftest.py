"""Browser tests: Playwright for Python driving Debian's Chromium, headless, against pytest-django's live server.

- No browser download: Chromium is the distribution's (`apt-get install chromium`, which `make test` and
  `.ci/run` do when it is missing); the tests are skipped, saying why, only when it is not there.
- The live server listens on a free port of its own (never 8000).
- Playwright's sync API runs an asyncio event loop in the test's thread, and Django refuses database access
  from a thread with a running loop: DJANGO_ALLOW_ASYNC_UNSAFE lets the test set up its data meanwhile (the
  test thread and the server thread never touch the database at the same time).
- Screenshots of each main page go to $VAR_DIR/test-artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", Path(settings.VAR_DIR) / "test-artifacts")) / "screenshots"


def pytest_collection_modifyitems(config, items):
    """Every test here is a `browser` test; without Chromium they are skipped with the reason."""
    here = Path(__file__).parent
    missing = None
    if not os.access(CHROMIUM, os.X_OK):
        missing = (f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` "
                   "(`make test` and `.ci/run` do when run as root)")
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (make install-dev)"
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module: Playwright's event loop lives only while that module's tests run,
    so the rest of the suite never sees it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium, live_server):
    """new_page() -> a Playwright page in a fresh browser context (its own cookies), on the live server."""
    contexts = []

    def make():
        context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                       locale="en-US", timezone_id="UTC")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, name): a full-page PNG in the test artifacts folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, username: str, password: str) -> None:
    """The portal's log-in form, as a person fills it."""
    page.goto("/portal/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/portal/$"))
