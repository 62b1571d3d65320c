"""Browser tests: Playwright for Python driving Debian's Chromium, headless, against pytest-django's live server.

- No browser download: Chromium is the distribution's (`apt-get install chromium`, which `make test` and
  `.ci/run` do when it is missing); the tests are skipped, saying why, only when it is not there.
- The live server listens on a free port of its own (never 8000).
- Playwright's sync API runs an asyncio event loop in the test's thread, and Django refuses database access
  from a thread with a running loop: DJANGO_ALLOW_ASYNC_UNSAFE lets the test set up its data meanwhile (the
  test thread and the server thread never touch the database at the same time).
- Screenshots of each main page go to $VAR_DIR/test-artifacts/screenshots/ (git-ignored).
- Every page's console errors and uncaught exceptions are collected (`console_errors`); tests assert there are none.
- E-mail goes to Django's locmem outbox (pytest-django's setting), which the test reads: the live server runs in
  a thread of the test's process.
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
def console_errors():
    """What the pages reported as errors: console.error messages (Chromium's own included, e.g. a resource that
    failed to load) and uncaught exceptions, each as "<page url>: <text>"."""
    return []


@pytest.fixture
def new_page(chromium, live_server, console_errors):
    """new_page() -> a Playwright page in a fresh browser context (its own cookies), on the live server.
    Its console errors go to `console_errors`."""
    contexts = []

    def on_console(message):
        if message.type == "error":
            console_errors.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def on_web_error(error):
        console_errors.append(f"{error.page.url if error.page else '?'}: uncaught {error.error}")

    def make():
        context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                       locale="en-US", timezone_id="UTC")
        context.set_default_timeout(15_000)
        context.on("console", on_console)
        context.on("weberror", on_web_error)
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


@pytest.fixture
def receiver():
    """A local webhook receiver (merchants/tests/receiver.py) recording what it gets."""
    from merchants.tests.receiver import Receiver

    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def deliver_at_once(monkeypatch, settings):
    """Webhook deliveries are attempted as soon as their event commits (in the live server's thread), instead
    of going through a Celery broker: what a worker would do, without one."""
    from merchants import services as merchant_services

    settings.WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE = True

    def attempt(ids, countdown=None):
        for delivery_id in ids:
            merchant_services.webhook_delivery_attempt(delivery_id=delivery_id)

    monkeypatch.setattr("merchants.services._enqueue_deliveries", attempt)


def mailed_link(to: str, path_pattern: str) -> str:
    """The path (and query) of the link matching `path_pattern` in the newest e-mail sent to `to`. Links in
    e-mails are built from BASE_URL, not the live server's address: the page opens the path on the live server."""
    from urllib.parse import urlsplit

    from django.core import mail

    sent = [m for m in mail.outbox if to in m.to]
    assert sent, f"no e-mail to {to}; outbox: {[(m.to, m.subject) for m in mail.outbox]}"
    match = re.search(r"https?://\S*" + path_pattern + r"\S*", sent[-1].body)
    assert match, sent[-1].body
    url = urlsplit(match.group(0))
    return url.path + (f"?{url.query}" if url.query else "")


def log_in(page, username: str, password: str) -> None:
    """The portal's log-in form, as a person fills it."""
    page.goto("/portal/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/portal/$"))


def add_webhook_endpoint(page, shot, receiver, *, secret_shot: str, empty_shot: str | None = None) -> str:
    """The mode's first webhook endpoint, added in the portal for every event type: the signing secret
    is shown once, then never again. Returns the secret."""
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Webhooks", exact=True).click()
    expect(page.get_by_text("No webhook endpoints in test mode yet.")).to_be_visible()
    if empty_shot:
        shot(page, empty_shot)
    page.get_by_role("link", name="Add an endpoint").first.click()
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("Description").fill("Order system")
    page.get_by_label("Every event type (now and future)").check()
    page.get_by_role("button", name="Add the endpoint").click()
    expect(page.get_by_role("heading", name="Endpoint added")).to_be_visible()
    secret = page.locator("#signing-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    shot(page, secret_shot)
    page.get_by_role("link", name=re.compile("I have stored it")).click()
    expect(page.get_by_text("Shown only when created or rotated.")).to_be_visible()
    assert secret not in page.content()
    return secret
