"""A new merchant's whole journey through the portal in a real browser, as one flow (issue #7, "Done when"):

sign up ("Create account"), confirm the e-mail address from the link in the e-mail, log in, create a test API
client (its secret read from the page, shown once), add a webhook endpoint pointing at a local receiver, take a
payment through the real API with that client (OAuth client credentials, then POST /v1/payments with an
Idempotency-Key), see it on the dashboard, refund part of it in the UI with the confirmation, see the webhook
deliveries in the endpoint's log, visit every other main page, invite a viewer ("Send invitation") who accepts from
the e-mail in a second browser, sees no refund button and is refused a forged refund. A screenshot of each main page
goes to the test artifacts folder (journey-*.png), and no page may report a console error.

Also: an established merchant's dashboard over a month of history (its screenshot, dashboard-history.png, is the
README's docs/portal-dashboard.png), and log-in and sign-up with the keyboard alone (Tab order, Enter submits).

Run them alone with `.venv/bin/pytest portal/tests/browser` (or `-m browser`).
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, time, timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from cards.tests.factories import MASTERCARD_OK, VISA_OK
from merchants import services as merchant_services
from merchants.constants import MemberRole, MerchantStatus
from merchants.models import ApiClient, Merchant, MerchantMember
from payments.models import Payment, Refund
from payments.tests.factories import make_payment

from .conftest import add_webhook_endpoint, log_in, mailed_link

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOP = "Northwind Coffee"
OWNER_EMAIL = "ada@northwind.example"
VIEWER_EMAIL = "vic@northwind.example"
PASSWORD = "Ristretto-and-42-beans"
SCOPES = ("payments:read", "payments:write", "refunds:write")
IDEMPOTENCY_KEY = "northwind-order-1001"


def go(page, link: str) -> None:
    """Follow a link of the portal's side navigation."""
    page.get_by_role("navigation", name="Portal").get_by_role("link", name=link, exact=True).click()


def status_message(page, text: str):
    return page.get_by_role("status").filter(has_text=text)


# --- The steps ------------------------------------------------------------------------------------------


def sign_up(page, shot) -> Merchant:
    page.goto("/portal/login/")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your merchant account")).to_be_visible()
    page.get_by_label("Business name").fill(SHOP)
    page.get_by_label("Your e-mail address").fill(OWNER_EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    expect(page.get_by_label("Country (ISO code)")).to_have_value("DE")
    expect(page.get_by_label("Default currency")).to_have_value("EUR")
    shot(page, "journey-01-sign-up")
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url(re.compile(r"/portal/$"))
    expect(status_message(page, f"Your account for {SHOP} is ready in test mode")).to_be_visible()
    # Pending the bank's review, and not confirmed yet: the portal says both.
    expect(status_message(page, "waiting for the bank's review")).to_contain_text("only test mode is available")
    expect(status_message(page, f"we sent a link to {OWNER_EMAIL}")).to_be_visible()
    merchant = Merchant.objects.get(name=SHOP)
    assert merchant.status == MerchantStatus.PENDING
    member = MerchantMember.objects.get(merchant=merchant)
    assert (member.user.email, member.role, member.email_verified_at) == (OWNER_EMAIL, MemberRole.OWNER, None)
    return merchant


def confirm_email_and_log_in(page, shot) -> None:
    """Log out, open the e-mail's link (as one does later, from the mailbox), then log in again."""
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/portal/login/$"))
    page.goto(mailed_link(OWNER_EMAIL, "/portal/email/verify/"))
    expect(page.get_by_role("heading", name="E-mail address confirmed")).to_be_visible()
    page.get_by_role("link", name="Log in").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shot(page, "journey-02-log-in")
    log_in(page, OWNER_EMAIL, PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    expect(page.locator(".banner-verify")).to_have_count(0)
    assert MerchantMember.objects.get(user__email=OWNER_EMAIL).email_verified_at is not None


def create_test_client(page, shot) -> tuple[str, str]:
    go(page, "API credentials")
    expect(page.get_by_text("No API clients yet.")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Web shop backend")
    expect(page.get_by_label("Test mode")).to_be_checked()
    expect(page.get_by_label("Live mode")).to_be_disabled()  # not approved yet
    for box in page.locator("input[name=scopes]").all():
        box.uncheck()
    for scope in SCOPES:
        page.get_by_label(scope).check()
    page.get_by_role("button", name="Create client").click()

    expect(page.get_by_role("heading", name="Web shop backend is ready")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("it is shown only this once")
    client_id = page.locator("#client-id").inner_text().strip()
    secret = page.locator("#client-secret").inner_text().strip()
    assert client_id and len(secret) >= 30
    client = ApiClient.objects.get(client_id=client_id)
    assert (client.livemode, client.allowed_scope_set) == (False, set(SCOPES))
    assert client.client_secret != secret  # stored hashed
    shot(page, "journey-03-credentials-secret")
    page.get_by_role("link", name="I have stored the secret").click()
    row = page.locator("tbody tr").filter(has_text=client_id)
    expect(row).to_contain_text(" ".join(SCOPES))
    expect(row).to_contain_text("never")
    assert secret not in page.content()
    return client_id, secret


def take_payment_through_the_api(base_url: str, client_id: str, secret: str) -> requests.Response:
    """What the merchant's server does: a token (client credentials), then a payment with an Idempotency-Key."""
    token = requests.post(f"{base_url}/oauth/token/", auth=(client_id, secret), timeout=30,
                          data={"grant_type": "client_credentials", "scope": " ".join(SCOPES)})
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split()) == set(SCOPES)
    headers = {"Authorization": f"Bearer {token.json()['access_token']}", "Idempotency-Key": IDEMPOTENCY_KEY}
    body = {"amount": 4200, "currency": "EUR", "description": "Order 1001", "metadata": {"order_id": "1001"},
            "card": {"number": VISA_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    answer = requests.post(f"{base_url}/v1/payments", json=body, headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "succeeded"
    replay = requests.post(f"{base_url}/v1/payments", json=body, headers=headers, timeout=30)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == answer.json()["id"]
    return answer


def see_it_on_the_dashboard(page, shot, payment_id: str) -> None:
    go(page, "Dashboard")
    expect(page.get_by_role("link", name=payment_id)).to_be_visible()
    expect(page.locator(".tile").filter(has_text="Volume today")).to_contain_text("€42.00")
    expect(page.locator(".tile").filter(has_text="Success rate today")).to_contain_text("100.0 %")
    expect(page.get_by_role("img", name="Captured EUR volume per day")).to_be_visible()
    shot(page, "journey-05-dashboard")


def refund_part_of_it(page, shot, payment_id: str) -> None:
    go(page, "Payments")
    page.get_by_label("Payment or refund id").fill(payment_id)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    shot(page, "journey-06-payments")
    page.get_by_role("link", name=payment_id).click()
    expect(page.get_by_text("Visa ···· 4242")).to_be_visible()
    expect(page.locator("ol.timeline")).to_contain_text("payment.succeeded")
    shot(page, "journey-07-payment-detail")

    page.get_by_role("link", name="Refund", exact=True).click()
    expect(page.get_by_label("Amount (EUR)")).to_have_value("42.00")  # all that is left, by default
    page.get_by_label("Amount (EUR)").fill("15.00")
    page.get_by_label("Reason").select_option("requested_by_customer")
    page.get_by_role("button", name="Review the refund").click()
    expect(page.get_by_role("heading", name="Confirm the refund")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("of €42.00 still refundable")
    assert not Refund.objects.exists()  # nothing happens before the confirmation
    shot(page, "journey-08-refund-confirm")
    page.get_by_role("button", name="Refund €15.00").click()

    expect(status_message(page, "Refunded €15.00 to the card")).to_be_visible()
    refund = Refund.objects.get()
    assert (refund.payment_id, refund.amount, refund.status) == (payment_id, 1500, "succeeded")
    expect(page.locator("ol.timeline")).to_contain_text("refund.succeeded")
    # €27.00 can still be refunded: the owner still has the button (a viewer will not).
    expect(page.get_by_role("link", name="Refund", exact=True)).to_be_visible()
    shot(page, "journey-09-payment-refunded")


def see_the_webhook_deliveries(page, shot, receiver, signing_secret: str) -> None:
    go(page, "Webhooks")
    shot(page, "journey-10-webhooks")
    page.get_by_role("link", name=receiver.url).click()
    log = page.locator("table.deliveries")
    for event_type in ("payment.created", "payment.succeeded", "refund.created", "refund.succeeded"):
        expect(log).to_contain_text(event_type)
    expect(log.locator(".badge-ok", has_text="Delivered").first).to_be_visible()
    log.locator("summary").first.click()
    expect(log.get_by_text("HTTP 200").first).to_be_visible()
    shot(page, "journey-11-webhook-deliveries")
    # What the receiver got is signed with the secret the portal showed once.
    assert {"payment.succeeded", "refund.succeeded"} <= {json.loads(r["body"])["type"] for r in receiver.requests}
    for r in receiver.requests:
        Webhook(signing_secret).verify(r["body"], r["headers"])


def visit_the_other_pages(page, shot, payment_id: str, request_id: str, client_id: str, secret: str) -> None:
    go(page, "Balances & payouts")
    expect(page.get_by_role("heading", name="Balance transactions")).to_be_visible()
    expect(page.get_by_role("cell", name=payment_id)).to_be_visible()
    shot(page, "journey-12-money")

    go(page, "API request log")
    row = page.locator("tbody tr").filter(has_text=IDEMPOTENCY_KEY).filter(has_text="201")
    expect(row.first).to_contain_text("/v1/payments")
    expect(page.locator("tbody")).to_contain_text(request_id)
    shot(page, "journey-13-request-log")

    go(page, "API credentials")
    row = page.locator("tbody tr").filter(has_text=client_id)
    expect(row).not_to_contain_text("never")  # last used: just now
    shot(page, "journey-14-credentials")

    go(page, "Connected apps")
    expect(page.get_by_role("heading", name="Connected apps", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Register app")).to_be_visible()
    shot(page, "journey-15-connected-apps")

    go(page, "Docs")
    expect(page.get_by_role("heading", name="Quick-start")).to_be_visible()
    expect(page.locator("main")).to_contain_text(client_id)  # the curl examples carry the merchant's client id
    assert secret not in page.content()
    expect(page.get_by_role("link", name=re.compile("Swagger UI"))).to_be_visible()
    shot(page, "journey-16-docs")

    page.get_by_role("navigation", name="Account").get_by_role("link", name="Security").click()
    expect(page.get_by_role("button", name="Set up two-factor")).to_be_visible()
    shot(page, "journey-17-security")


def invite_a_viewer(page, shot) -> None:
    go(page, "Team")
    page.get_by_label("E-mail address").fill(VIEWER_EMAIL)
    page.get_by_label("Role", exact=True).select_option(label="Viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(status_message(page, f"Invitation sent to {VIEWER_EMAIL} (viewer)")).to_be_visible()
    pending = page.locator("table", has=page.locator("th", has_text="Expires")).locator("tbody tr")
    expect(pending).to_contain_text(VIEWER_EMAIL)
    shot(page, "journey-18-team")


def viewer_accepts_and_cannot_refund(page, shot, live_server, payment_id: str) -> None:
    """In a second browser (no cookies of the owner's): accept from the e-mail's link, look, try to refund."""
    page.goto(mailed_link(VIEWER_EMAIL, "/portal/invitations/"))
    expect(page.get_by_role("heading", name=f"Join {SHOP}")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(PASSWORD + "-vic")
    page.get_by_label("Repeat the password").fill(PASSWORD + "-vic")
    shot(page, "journey-19-invitation")
    page.get_by_role("button", name="Accept invitation").click()
    page.wait_for_url(re.compile(r"/portal/$"))
    expect(status_message(page, f"Welcome to {SHOP}: you joined as viewer")).to_be_visible()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(f"{VIEWER_EMAIL} · Viewer")
    nav = page.get_by_role("navigation", name="Portal")
    for link in ("API credentials", "Connected apps", "Team"):  # pages a viewer may not open are not offered
        expect(nav.get_by_role("link", name=link)).to_have_count(0)

    page.get_by_role("link", name=payment_id).click()
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    expect(page.get_by_text("€27.00 can still be refunded")).to_be_visible()
    expect(page.get_by_role("link", name="Refund", exact=True)).to_have_count(0)
    shot(page, "journey-20-payment-detail-viewer")
    # A forged refund POST, with a valid CSRF token of the viewer's session, is refused and changes nothing.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = page.request.post(f"/portal/payments/{payment_id}/refund/", form={
        "csrfmiddlewaretoken": csrf, "amount": "27.00", "reason": "requested_by_customer", "confirm": "yes",
        "token": "x"}, headers={"Referer": f"{live_server.url}/portal/payments/{payment_id}/"})
    assert forged.status == 403
    assert "Your role (Viewer) does not allow this." in forged.text()
    assert Refund.objects.count() == 1


def test_a_new_merchant_from_sign_up_to_a_refund_and_a_viewer(live_server, new_page, screenshot, console_errors,
                                                              receiver, deliver_at_once, mailoutbox):
    owner = new_page()
    sign_up(owner, screenshot)
    confirm_email_and_log_in(owner, screenshot)
    client_id, secret = create_test_client(owner, screenshot)
    signing_secret = add_webhook_endpoint(owner, screenshot, receiver, secret_shot="journey-04-webhook-secret")
    answer = take_payment_through_the_api(live_server.url, client_id, secret)
    payment_id = answer.json()["id"]
    see_it_on_the_dashboard(owner, screenshot, payment_id)
    refund_part_of_it(owner, screenshot, payment_id)
    see_the_webhook_deliveries(owner, screenshot, receiver, signing_secret)
    visit_the_other_pages(owner, screenshot, payment_id, answer.headers["Request-Id"], client_id, secret)
    invite_a_viewer(owner, screenshot)

    viewer = new_page()
    viewer_accepts_and_cannot_refund(viewer, screenshot, live_server, payment_id)
    owner.reload()
    members = owner.locator("table", has=owner.locator("th", has_text="Joined")).locator("tbody tr")
    expect(members.filter(has_text=VIEWER_EMAIL)).to_contain_text("confirmed")
    expect(owner.get_by_text("No pending invitations.")).to_be_visible()

    assert console_errors == []


# --- An established merchant's month ----------------------------------------------------------------------

DECLINED, REVIEW = "4000000000000002", "4000000000009235"  # payments/processors.py, risk/constants.py


def a_month_of_payments(merchant) -> dict:
    """1 to 4 payments a day over the last 30 days (a few declined, one held for review today), each dated on
    its day. -> {day: (payments, captured EUR minor units)}"""
    rng = random.Random(7)
    today = timezone.now().date()
    expected, order = {}, 1000
    for days_ago in range(29, -1, -1):
        day = today - timedelta(days=days_ago)
        count = volume = 0
        for i in range(rng.randint(1, 4)):
            order += 1
            amount = rng.choice([990, 1250, 2490, 3900, 5200, 8900, 14900])
            number = DECLINED if rng.random() < 0.05 else rng.choice([VISA_OK, VISA_OK, MASTERCARD_OK])
            payment = make_payment(merchant, amount=amount, number=number, description=f"Order {order}")
            if days_ago:
                Payment.objects.filter(pk=payment.pk).update(
                    created=datetime.combine(day, time(8 + 3 * i, rng.randint(0, 59)), tzinfo=UTC))
            count += 1
            volume += amount if payment.status == "succeeded" else 0
        expected[day] = (count, volume)
    make_payment(merchant, amount=5200, number=REVIEW, description=f"Order {order + 1}")
    count, volume = expected[today]
    expected[today] = (count + 1, volume)
    return expected


def test_a_month_of_history_on_the_dashboard(live_server, new_page, screenshot, console_errors, merchant):
    Merchant.objects.filter(pk=merchant.pk).update(name=SHOP)
    user = get_user_model().objects.create_user(username=OWNER_EMAIL, email=OWNER_EMAIL, password=PASSWORD)
    merchant_services.member_add(merchant=merchant, user=user, role=MemberRole.OWNER)
    expected = a_month_of_payments(merchant)
    total_count = sum(count for count, _ in expected.values())
    total_volume = sum(volume for _, volume in expected.values())

    page = new_page()
    log_in(page, OWNER_EMAIL, PASSWORD)
    expect(page.locator(".tile").filter(has_text="Volume, last 30 days")).to_contain_text(
        f"€{total_volume / 100:,.2f}")
    expect(page.locator(".tile").filter(has_text="Volume, last 30 days")).to_contain_text(f"{total_count} payments")
    expect(page.get_by_role("region", name="Needs your attention")).to_contain_text("1 payment held for review")
    chart = page.get_by_role("img", name="Captured EUR volume per day")
    expect(chart.locator("rect.bar")).to_have_count(30)
    screenshot(page, "dashboard-history")

    # The chart's figures, as a table: one row a day, each the payments of that day.
    page.get_by_text("EUR: show the figures as a table").click()
    rows = page.get_by_role("table", name="Captured EUR volume per day").locator("tbody tr")
    expect(rows).to_have_count(30)
    shown = [row.split("\t") for row in rows.all_inner_texts()]
    assert shown == [[day.isoformat(), str(count), f"€{volume / 100:,.2f}"]
                     for day, (count, volume) in sorted(expected.items())]
    assert console_errors == []


# --- Keyboard only ----------------------------------------------------------------------------------------


def focused(page) -> str:
    """The focused element: its id, else its text."""
    return page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()")


def tab_through(page, until: str, limit: int = 20) -> list[str]:
    """Press Tab until the element `until` (an id or a button's text) has the focus; the ids/texts on the way."""
    seen = [focused(page)]
    while seen[-1] != until:
        assert len(seen) < limit, f"Tab never reached {until!r}: {seen}"
        page.keyboard.press("Tab")
        seen.append(focused(page))
    return seen


def test_sign_up_and_log_in_with_the_keyboard_alone(new_page, console_errors, mailoutbox):
    page = new_page()
    page.goto("/portal/signup/")
    # The first field has the focus; Tab visits every field, in the order shown, then the button.
    assert tab_through(page, "Create account") == [
        "id_business_name", "id_email", "id_password1", "id_password2", "id_country", "id_default_currency",
        "Create account"]
    # Fill it by keyboard: back to the first field (Shift+Tab), type, Tab, ..., Enter in the last field submits.
    for _ in range(6):
        page.keyboard.press("Shift+Tab")
    assert focused(page) == "id_business_name"
    for value in ("Keyboard Cafe", "kim@keyboard.example", PASSWORD, PASSWORD):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # country: DE
    assert focused(page) == "id_default_currency"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/portal/$"))
    expect(status_message(page, "Your account for Keyboard Cafe is ready")).to_be_visible()

    # On a page without a form, the first Tab reaches "Skip to content", which moves the focus to the page.
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to content"
    expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert focused(page) == "main"

    page.get_by_role("button", name="Log out").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/portal/login/$"))
    assert tab_through(page, "Log in") == ["id_username", "id_password", "Log in"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("kim@keyboard.example")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # on the focused "Log in" button
    page.wait_for_url(re.compile(r"/portal/$"))
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

    assert console_errors == []
