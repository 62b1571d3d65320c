"""The merchant's data pages in a real browser: a payment taken through the API shows on the dashboard, is
refunded in the UI, its webhook deliveries show in the log, and a viewer cannot refund.

Run them alone with `.venv/bin/pytest portal/tests/browser` (or `-m browser`)."""

from __future__ import annotations

import json

import pytest
import requests
from django.contrib.auth import get_user_model
from standardwebhooks.webhooks import Webhook

from cards.tests.factories import VISA_OK
from merchants import services as merchant_services
from merchants.constants import MemberRole
from payments.models import Refund
from payments.tests.factories import make_payment

from .conftest import add_webhook_endpoint, log_in

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-42"


def member(merchant, role, username):
    user = get_user_model().objects.create_user(username=username, email=f"{username}@shop.example",
                                                password=PASSWORD)
    merchant_services.member_add(merchant=merchant, user=user, role=role)
    return user


def test_payment_dashboard_refund_webhooks_and_request_log(live_server, new_page, screenshot, merchant, make_token,
                                                           receiver, deliver_at_once, console_errors):
    member(merchant, MemberRole.OWNER, "owner@shop")
    _, token = make_token(merchant)
    page = new_page()

    log_in(page, "owner@shop", PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    expect(page.get_by_text("No payments yet.")).to_be_visible()

    # A webhook endpoint, added in the portal: the signing secret is shown once.
    secret = add_webhook_endpoint(page, screenshot, receiver, secret_shot="webhook-secret", empty_shot="webhooks-empty")

    # A payment through the API, with the merchant's test client, over HTTP to the live server.
    answer = requests.post(f"{live_server.url}/v1/payments", timeout=30, json={
        "amount": 4200, "currency": "EUR", "description": "Order 1001",
        "card": {"number": VISA_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "browser-order-1001"})
    assert answer.status_code == 201, answer.text
    payment_id = answer.json()["id"]

    # The dashboard shows it.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("link", name=payment_id)).to_be_visible()
    expect(page.locator(".tile").filter(has_text="Volume today")).to_contain_text("€42.00")
    expect(page.locator(".tile").filter(has_text="Success rate today")).to_contain_text("100.0 %")
    expect(page.get_by_role("img", name="Captured EUR volume per day")).to_be_visible()
    screenshot(page, "dashboard")

    # Payments: filter by the card's last 4, open it, refund part of it with a confirmation.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Payments").click()
    page.get_by_label("Card last 4").fill("4242")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name=payment_id)).to_be_visible()
    screenshot(page, "payments")
    page.get_by_role("link", name=payment_id).click()
    expect(page.get_by_text("Visa ···· 4242")).to_be_visible()
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.locator("ol.timeline")).to_contain_text("payment.succeeded")
    screenshot(page, "payment-detail")
    page.get_by_role("link", name="Refund", exact=True).click()
    page.get_by_label("Amount (EUR)").fill("10.00")
    page.get_by_label("Reason").select_option("requested_by_customer")
    page.get_by_role("button", name="Review the refund").click()
    expect(page.get_by_role("heading", name="Confirm the refund")).to_be_visible()
    assert not Refund.objects.exists()
    screenshot(page, "refund-confirm")
    page.get_by_role("button", name="Refund €10.00").click()
    expect(page.get_by_role("status").filter(has_text="Refunded €10.00 to the card")).to_be_visible()
    refund = Refund.objects.get()
    assert (refund.payment_id, refund.amount, refund.status) == (payment_id, 1000, "succeeded")
    expect(page.locator("ol.timeline")).to_contain_text("refund.succeeded")
    screenshot(page, "payment-refunded")

    # The webhook deliveries, each with its attempt, in the endpoint's log.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name=receiver.url).click()
    log = page.locator("table.deliveries")
    for event_type in ("payment.created", "payment.succeeded", "refund.created", "refund.succeeded"):
        expect(log).to_contain_text(event_type)
    expect(log.locator(".badge-ok", has_text="Delivered").first).to_be_visible()
    log.locator("summary").first.click()
    expect(log.get_by_text("HTTP 200").first).to_be_visible()
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("status").filter(has_text="Test event")).to_be_visible()
    expect(log).to_contain_text("webhook_endpoint.test")
    screenshot(page, "webhook-deliveries")
    # What the receiver got is signed with the secret the portal showed.
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert {"payment.succeeded", "refund.succeeded", "webhook_endpoint.test"} <= {b["type"] for b in bodies}
    for r in receiver.requests:
        Webhook(secret).verify(r["body"], r["headers"])

    # Money and the API request log.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Balances & payouts").click()
    expect(page.get_by_role("heading", name="Balance transactions")).to_be_visible()
    expect(page.get_by_role("cell", name=payment_id)).to_be_visible()
    screenshot(page, "money")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="API request log").click()
    row = page.locator("tbody tr").filter(has_text="browser-order-1001")
    expect(row).to_contain_text("/v1/payments")
    expect(row).to_contain_text("201")
    expect(row).to_contain_text(answer.headers["Request-Id"])
    screenshot(page, "request-log")
    assert console_errors == []


def test_a_viewer_cannot_refund(live_server, new_page, screenshot, merchant, console_errors):
    member(merchant, MemberRole.VIEWER, "viewer@shop")
    payment = make_payment(merchant, amount=2500)
    page = new_page()
    log_in(page, "viewer@shop", PASSWORD)
    expect(page.get_by_text("Viewer")).to_be_visible()
    page.get_by_role("link", name=payment.pk).click()
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    expect(page.get_by_role("link", name="Refund", exact=True)).to_have_count(0)
    screenshot(page, "payment-detail-viewer")
    response = page.goto(f"/portal/payments/{payment.pk}/refund/")
    assert response.status == 403
    expect(page.get_by_text("Your role (Viewer) does not allow this.")).to_be_visible()
    # A forged POST, with a valid CSRF token, is refused too.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = page.request.post(f"/portal/payments/{payment.pk}/refund/", form={
        "csrfmiddlewaretoken": csrf, "amount": "25.00", "confirm": "yes", "token": "x"},
        headers={"Referer": f"{live_server.url}/portal/"})
    assert forged.status == 403
    assert not Refund.objects.exists()
    # Chromium reports the forbidden page's status in the console; nothing else may show there.
    refund_url = f"{live_server.url}/portal/payments/{payment.pk}/refund/"
    assert [e for e in console_errors if not e.startswith(f"{refund_url}: Failed to load resource")] == []
