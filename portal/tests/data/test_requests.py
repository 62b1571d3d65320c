"""The API request log page: the merchant's own calls, in the current mode, filtered and paged."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cards.tests.factories import VISA_OK

from .conftest import page

pytestmark = pytest.mark.django_db

URL = reverse("portal:request_log")
CARD = {"number": VISA_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def test_empty(viewer):
    assert "No API calls in the last 30 days." in page(viewer.get(URL))


def test_calls_are_listed_with_what_matters_and_no_body(viewer, api, other_api):
    created = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card": CARD}, format="json",
                       headers={"Idempotency-Key": "order-1001"})
    missing = api.get("/v1/payments/pay_missing")
    theirs = other_api.get("/v1/payments")
    html = page(viewer.get(URL))  # no card number anywhere (checked by page())
    assert created["Request-Id"] in html and missing["Request-Id"] in html
    assert theirs["Request-Id"] not in html
    assert "order-1001" in html and "/v1/payments/pay_missing" in html
    assert ">201</span>" in html and ">404</span>" in html and " ms</td>" in html
    assert api.api_client.name in html
    assert "123" not in html.split("<tbody>")[1]  # nor the CVC


def test_filters(viewer, api):
    ok = api.get("/v1/payments")
    bad = api.post("/v1/payments", {}, format="json")
    assert ok["Request-Id"] in page(viewer.get(URL, {"status": "ok"}))
    assert bad["Request-Id"] not in page(viewer.get(URL, {"status": "ok"}))
    assert bad["Request-Id"] in page(viewer.get(URL, {"status": "error", "method": "POST"}))
    assert ok["Request-Id"] not in page(viewer.get(URL, {"method": "POST"}))
    assert ok["Request-Id"] in page(viewer.get(URL, {"client": api.api_client.public_id}))
    assert "No API calls match these filters." in page(viewer.get(URL, {"method": "DELETE"}))
    # An unknown client or status is ignored rather than trusted.
    assert ok["Request-Id"] in page(viewer.get(URL, {"client": "cli_someone_else", "status": "weird"}))


def test_live_calls_show_in_live_mode_only(member_client, merchant, make_token):
    owner = member_client("owner")
    _, token = make_token(merchant, livemode=True)
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    call = live.get("/v1/payments")
    assert call["Request-Id"] not in page(owner.get(URL))
    owner.post(reverse("portal:mode_switch"), {"mode": "live"})
    assert call["Request-Id"] in page(owner.get(URL))


def test_paged_newest_first(viewer, api, monkeypatch):
    ids = [api.get("/v1/payments")["Request-Id"] for _ in range(53)]
    first = page(viewer.get(URL))
    assert ids[-1] in first and ids[3] in first and ids[2] not in first  # 50 a page
    second = page(viewer.get(URL, {"starting_after": ids[3]}))
    assert all(i in second for i in ids[:3]) and ids[3] not in second.split("<tbody>")[1]
