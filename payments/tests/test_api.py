"""The payments and refunds API: every endpoint's success and error paths."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from cards.models import Card
from cards.services import card_delete
from cards.tests.factories import AMEX_OK, DISCOVER_OK, MASTERCARD_OK, VISA_OK, make_card
from core.money import MAX_PAYMENT_AMOUNT
from core.scopes import MERCHANT_SCOPES

from .. import services
from ..models import Payment, PaymentEvent, Refund
from ..processors import TestSimulator
from .factories import card_data, make_payment

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"type", "code", "message", "param", "request_id"}
PAYMENT_KEYS = {
    "id", "object", "amount", "amount_capturable", "amount_captured", "amount_refunded", "currency", "status",
    "capture", "card", "failure_code", "failure_message", "description", "metadata", "livemode", "created",
}
CARD_KEYS = {"brand", "bin", "last4", "exp_month", "exp_year", "fingerprint"}
REFUND_KEYS = {"id", "object", "amount", "currency", "payment", "status", "reason", "failure_code", "livemode",
               "created"}


# --- helpers -------------------------------------------------------------------------------------


def create(api, *, headers=None, **overrides):
    body = {"amount": 1000, "currency": "EUR", "card": card_data()}
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not ...}
    return api.post("/v1/payments", body, format="json", headers=headers)


def created(api, **overrides) -> dict:
    r = create(api, **overrides)
    assert r.status_code == 201, r.content
    return r.json()


def post(api, url, body=None, **kwargs):
    return api.post(url, body or {}, format="json", **kwargs)


def assert_error(r, status, type_, code=None, param=...):
    assert r.status_code == status, r.content
    body = r.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) >= ERROR_KEYS
    assert error["type"] == type_
    if code is not None:
        assert error["code"] == code
    if param is not ...:
        assert error["param"] == param
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == r["Request-Id"]
    assert "Traceback" not in r.content.decode()
    return error


def counts():
    return (Payment.objects.count(), PaymentEvent.objects.count(), Refund.objects.count(), Card.objects.count())


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_created(payment_id: str, moment: datetime) -> None:
    Payment.objects.filter(pk=payment_id).update(created=moment)


def scoped_api(make_token, merchant, scopes):
    _, token = make_token(merchant, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- POST /v1/payments ---------------------------------------------------------------------------


def test_create_captured_payment_shape(api, merchant):
    r = create(api, amount=1234, description="Order 42", metadata={"order": "42"},
               customer_email="buyer@example.com", customer_ip="203.0.113.9")
    assert r.status_code == 201, r.content
    assert r["Request-Id"].startswith("req_")
    pay = r.json()
    assert set(pay) >= PAYMENT_KEYS
    assert set(pay["card"]) == CARD_KEYS
    assert pay["id"].startswith("pay_")
    assert pay["object"] == "payment"
    assert (pay["amount"], pay["amount_captured"], pay["amount_capturable"], pay["amount_refunded"]) == (
        1234, 1234, 0, 0
    )
    assert (pay["currency"], pay["status"], pay["capture"], pay["livemode"]) == ("EUR", "succeeded", True, False)
    assert pay["failure_code"] is None and pay["failure_message"] is None
    assert (pay["description"], pay["metadata"]) == ("Order 42", {"order": "42"})
    assert pay["card"] == {"brand": "visa", "bin": VISA_OK[:6], "last4": VISA_OK[-4:], "exp_month": 12,
                           "exp_year": 2034, "fingerprint": pay["card"]["fingerprint"]}
    assert len(pay["card"]["fingerprint"]) >= 16
    assert pay["created"].endswith("Z")
    parsed = datetime.fromisoformat(pay["created"].replace("Z", "+00:00"))
    assert abs(parsed - datetime.now(UTC)) < timedelta(minutes=5)
    assert VISA_OK not in r.content.decode()
    payment = Payment.objects.get(pk=pay["id"])
    assert (payment.merchant_id, payment.api_client_id, payment.customer_ip) == (
        merchant.pk, api.api_client.pk, "203.0.113.9"
    )


def test_create_defaults_to_capture(api):
    body = {"amount": 500, "currency": "EUR", "card": card_data()}
    r = api.post("/v1/payments", body, format="json")
    assert r.status_code == 201, r.content
    assert (r.json()["status"], r.json()["capture"], r.json()["amount_captured"]) == ("succeeded", True, 500)


def test_create_authorize_only(api):
    pay = created(api, capture=False, amount=800)
    assert (pay["status"], pay["capture"], pay["amount_capturable"], pay["amount_captured"]) == (
        "requires_capture", False, 800, 0
    )


def test_create_without_cvc(api):
    card = card_data()
    del card["cvc"]
    pay = created(api, card=card)
    assert pay["status"] == "succeeded"


@pytest.mark.parametrize(("number", "brand", "cvc"), [
    (VISA_OK, "visa", "123"),
    (MASTERCARD_OK, "mastercard", "123"),
    (AMEX_OK, "amex", "1234"),
    (DISCOVER_OK, "discover", "123"),
])
def test_succeeding_test_cards(api, number, brand, cvc):
    pay = created(api, card=card_data(number, cvc=cvc))
    assert (pay["status"], pay["card"]["brand"], pay["card"]["last4"]) == ("succeeded", brand, number[-4:])


@pytest.mark.parametrize(("number", "decline_code"), sorted(TestSimulator.DECLINING_CARDS.items()))
def test_declining_test_cards(api, number, decline_code):
    expected_code = {"expired_card": "expired_card", "incorrect_cvc": "incorrect_cvc",
                     "processing_error": "processing_error"}.get(decline_code, "card_declined")
    r = create(api, card=card_data(number), amount=2500)
    error = assert_error(r, 402, "card_error", code=expected_code)
    assert error["decline_code"] == decline_code
    pay = error["payment"]
    assert set(pay) >= PAYMENT_KEYS
    assert pay["id"].startswith("pay_")
    assert (pay["status"], pay["failure_code"], pay["amount"]) == ("failed", decline_code, 2500)
    assert (pay["amount_captured"], pay["amount_capturable"]) == (0, 0)
    assert pay["failure_message"] == error["message"]
    assert number not in r.content.decode()
    # The failed payment is stored and can be read back.
    stored = api.get(f"/v1/payments/{pay['id']}")
    assert stored.status_code == 200
    assert stored.json() == pay


def test_declined_with_card_token(api, merchant):
    card = make_card(merchant, number="4000000000009995")
    error = assert_error(create(api, card=..., card_token=card.pk), 402, "card_error", code="card_declined")
    assert error["decline_code"] == "insufficient_funds"


def test_create_with_card_token(api, merchant):
    card = make_card(merchant, number=MASTERCARD_OK)
    pay = created(api, card=..., card_token=card.pk)
    assert (pay["status"], pay["card"]["brand"], pay["card"]["fingerprint"]) == (
        "succeeded", "mastercard", card.fingerprint
    )
    # The token stays usable for further payments.
    assert created(api, card=..., card_token=card.pk, capture=False)["status"] == "requires_capture"


def test_create_with_card_token_made_through_the_api(api):
    r = api.post("/v1/cards", card_data(), format="json")
    assert r.status_code == 201, r.content
    pay = created(api, card=..., card_token=r.json()["id"])
    assert pay["card"]["fingerprint"] == r.json()["fingerprint"]


def test_luhn_failing_number(api):
    before = counts()
    error = assert_error(create(api, card=card_data("4242424242424241")), 400, "invalid_request_error",
                         code="incorrect_number", param="card[number]")
    assert "4242424242424241" not in error["message"]
    assert counts() == before


@pytest.mark.parametrize("card", [
    {"number": VISA_OK, "exp_month": 13, "exp_year": 2034, "cvc": "123"},
    {"number": VISA_OK, "exp_month": 1, "exp_year": 2001, "cvc": "123"},
    {"number": VISA_OK, "exp_month": 12, "exp_year": 2034, "cvc": "12"},
    {"number": VISA_OK, "exp_month": "12", "exp_year": 2034, "cvc": "123"},
    {"number": "4242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    {"number": "abcd", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    {"exp_month": 12, "exp_year": 2034, "cvc": "123"},
    "4242424242424242",
])
def test_invalid_card_data(api, card):
    before = counts()
    error = assert_error(create(api, card=card), 400, "invalid_request_error")
    assert error["param"].startswith("card")
    assert counts() == before


def test_card_and_card_token_together(api, merchant):
    card = make_card(merchant)
    before = counts()
    assert_error(create(api, card_token=card.pk), 400, "invalid_request_error", param="card")
    assert counts() == before


def test_neither_card_nor_card_token(api):
    assert_error(create(api, card=...), 400, "invalid_request_error", param="card")
    assert counts() == (0, 0, 0, 0)


def test_unknown_card_token(api):
    assert_error(create(api, card=..., card_token="card_00000000000000000000000000"), 400,
                 "invalid_request_error", code="resource_missing", param="card_token")
    assert Payment.objects.count() == 0


def test_other_merchants_card_token(api, other_merchant):
    card = make_card(other_merchant)
    assert_error(create(api, card=..., card_token=card.pk), 400, "invalid_request_error",
                 code="resource_missing", param="card_token")
    assert Payment.objects.count() == 0


def test_deleted_card_token(api, merchant):
    card = make_card(merchant)
    card_delete(merchant_id=merchant.pk, livemode=False, card_id=card.pk)
    assert_error(create(api, card=..., card_token=card.pk), 400, "invalid_request_error", code="resource_missing")


def test_card_of_a_past_payment_is_not_a_token(api):
    """Raw card data given to a payment is vaulted for that payment only, not as a reusable token."""
    pay = created(api)
    card_id = Payment.objects.get(pk=pay["id"]).card_id
    assert_error(create(api, card=..., card_token=card_id), 400, "invalid_request_error", code="resource_missing")


@pytest.mark.parametrize("amount", [0, -1, -1000, MAX_PAYMENT_AMOUNT + 1, "1000", 10.5, 10.0, True, False, None,
                                    [1000], {"value": 1000}, "1e3"])
def test_amount_refused(api, amount):
    error = assert_error(create(api, amount=amount), 400, "invalid_request_error", param="amount")
    assert error["code"] in {"parameter_invalid", "parameter_missing"}
    assert counts() == (0, 0, 0, 0)


def test_amount_missing(api):
    assert_error(create(api, amount=...), 400, "invalid_request_error", code="parameter_missing", param="amount")


@pytest.mark.parametrize("amount", [1, MAX_PAYMENT_AMOUNT])
def test_amount_limits_accepted(api, amount):
    pay = created(api, amount=amount)
    assert (pay["amount"], pay["amount_captured"]) == (amount, amount)


@pytest.mark.parametrize(("given", "stored"), [("EUR", "EUR"), ("eur", "EUR"), ("JPY", "JPY"), ("KWD", "KWD"),
                                               ("usd", "USD")])
def test_currency_accepted(api, given, stored):
    pay = created(api, currency=given, amount=1234)
    assert (pay["currency"], pay["amount"]) == (stored, 1234)
    assert Payment.objects.get(pk=pay["id"]).currency == stored


@pytest.mark.parametrize("currency", ["XYZ", "XAU", "XTS", "EU", "EURO", "", 978, None])
def test_currency_refused(api, currency):
    error = assert_error(create(api, currency=currency), 400, "invalid_request_error", param="currency")
    assert error["code"] in {"invalid_currency", "parameter_invalid", "parameter_missing"}
    assert counts() == (0, 0, 0, 0)


def test_metadata_limits_accepted(api):
    metadata = {f"key{i:02d}": "v" * 500 for i in range(49)}
    metadata["k" * 40] = ""
    pay = created(api, metadata=metadata)
    assert pay["metadata"] == metadata
    assert len(pay["metadata"]) == 50


@pytest.mark.parametrize("metadata", [
    {f"key{i}": "v" for i in range(51)},
    {"k" * 41: "v"},
    {"key": "v" * 501},
    {"": "v"},
    {"key": {"nested": "v"}},
    ["not", "an", "object"],
    "text",
])
def test_metadata_refused(api, metadata):
    error = assert_error(create(api, metadata=metadata), 400, "invalid_request_error", code="parameter_invalid")
    assert error["param"].startswith("metadata")
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(("field", "value"), [
    ("description", "x" * 1001),
    ("customer_email", "not-an-email"),
    ("customer_ip", "999.1.1.1"),
    ("capture", "maybe"),
])
def test_other_fields_refused(api, field, value):
    assert_error(create(api, **{field: value}), 400, "invalid_request_error", param=field)
    assert counts() == (0, 0, 0, 0)


def test_body_that_is_not_json(api):
    r = api.post("/v1/payments", "amount=1000", content_type="application/json")
    assert_error(r, 400, "invalid_request_error", code="parse_error")


def test_idempotent_create_replays_and_refuses_other_body(api):
    headers = {"Idempotency-Key": "order-42"}
    first = create(api, headers=headers)
    assert first.status_code == 201
    again = create(api, headers=headers)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Payment.objects.count() == 1
    assert_error(create(api, headers=headers, amount=999), 422, "idempotency_error", code="idempotency_key_reused")
    assert Payment.objects.count() == 1


def test_idempotent_decline_replays_the_same_failed_payment(api):
    headers = {"Idempotency-Key": "declined-1"}
    first = create(api, headers=headers, card=card_data("4000000000000002"))
    again = create(api, headers=headers, card=card_data("4000000000000002"))
    assert first.status_code == again.status_code == 402
    assert again.json()["error"]["payment"]["id"] == first.json()["error"]["payment"]["id"]
    assert Payment.objects.count() == 1


# --- live mode -----------------------------------------------------------------------------------


def test_live_mode_declines_a_card_of_another_issuer(live_api, merchant):
    """Live mode is the on-us processor (#4): no card network is connected, so other issuers' cards decline."""
    error = assert_error(create(live_api), 402, "card_error", code="card_declined")
    assert error["decline_code"] == "card_not_supported"
    assert "issued by this bank" in error["message"]
    payment = Payment.objects.get(pk=error["payment"]["id"])
    assert (payment.status, payment.livemode, payment.processor) == ("failed", True, "onus")
    assert payment.failure_code == "card_not_supported"


def test_live_mode_declines_a_stored_card_of_another_issuer(live_api, merchant):
    card = make_card(merchant, livemode=True)
    error = assert_error(create(live_api, card=..., card_token=card.pk), 402, "card_error")
    assert error["decline_code"] == "card_not_supported"


def test_live_mode_needs_the_cvc_of_a_card_typed_in_and_writes_nothing(live_api, merchant):
    before = counts()
    card = card_data()
    del card["cvc"]
    assert_error(create(live_api, card=card), 400, "invalid_request_error", code="parameter_missing",
                 param="card[cvc]")
    assert counts() == before


def test_live_client_does_not_see_test_payments(live_api, api):
    pay = created(api, capture=False)
    assert live_api.get("/v1/payments").json()["data"] == []
    assert_error(live_api.get(f"/v1/payments/{pay['id']}"), 404, "not_found")
    assert_error(post(live_api, f"/v1/payments/{pay['id']}/capture"), 404, "not_found")
    assert_error(post(live_api, f"/v1/payments/{pay['id']}/cancel"), 404, "not_found")
    assert_error(post(live_api, "/v1/refunds", {"payment": pay["id"]}), 404, "not_found")
    assert Payment.objects.get(pk=pay["id"]).status == "requires_capture"


# --- GET /v1/payments ----------------------------------------------------------------------------


def list_ids(api, **params):
    r = api.get("/v1/payments", params)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["object"] == "list"
    assert body["url"] == "/v1/payments"
    return [p["id"] for p in body["data"]], body["has_more"]


def test_list_newest_first_and_only_own(api, merchant, other_merchant):
    mine = [make_payment(merchant).pk for _ in range(3)]
    make_payment(other_merchant)
    ids, has_more = list_ids(api)
    assert sorted(ids) == sorted(mine)
    assert ids == sorted(ids, reverse=True)
    assert has_more is False


def test_list_empty(api):
    assert list_ids(api) == ([], False)


def test_list_filter_by_status(api, merchant):
    succeeded = make_payment(merchant).pk
    authorized = make_payment(merchant, capture=False).pk
    failed = make_payment(merchant, number="4000000000000002").pk
    canceled = make_payment(merchant, capture=False).pk
    services.payment_cancel(merchant_id=merchant.pk, livemode=False, payment_id=canceled)
    assert list_ids(api, status="succeeded")[0] == [succeeded]
    assert list_ids(api, status="requires_capture")[0] == [authorized]
    assert list_ids(api, status="failed")[0] == [failed]
    assert list_ids(api, status="canceled")[0] == [canceled]
    assert_error(api.get("/v1/payments", {"status": "paid"}), 400, "invalid_request_error", param="status")


def test_list_filter_by_created(api, merchant):
    base = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    old, mid, new = (make_payment(merchant).pk for _ in range(3))
    set_created(old, base - timedelta(days=2))
    set_created(mid, base)
    set_created(new, base + timedelta(days=2))
    ts = int(base.timestamp())

    assert set(list_ids(api, **{"created[gte]": str(ts)})[0]) == {mid, new}
    assert set(list_ids(api, **{"created[lte]": str(ts)})[0]) == {old, mid}
    assert list_ids(api, **{"created[gte]": str(ts), "created[lte]": str(ts)})[0] == [mid]
    assert set(list_ids(api, **{"created[gte]": str(ts + 1)})[0]) == {new}
    # ISO 8601, with Z, with an offset, and without (taken as UTC)
    assert set(list_ids(api, **{"created[gte]": iso_z(base)})[0]) == {mid, new}
    assert set(list_ids(api, **{"created[gte]": "2024-03-01T14:00:00+02:00"})[0]) == {mid, new}
    assert set(list_ids(api, **{"created[lte]": "2024-03-01T12:00:00"})[0]) == {old, mid}
    assert set(list_ids(api, **{"created[lte]": "2024-03-01T11:59:59Z"})[0]) == {old}
    # Filters combine with status and with pagination.
    # (lists are in id order, and ids made in the same millisecond are in random order: hence max())
    assert list_ids(api, status="succeeded", limit=1, **{"created[gte]": str(ts)}) == ([max(mid, new)], True)
    assert list_ids(api, status="failed", **{"created[gte]": str(ts)}) == ([], False)


@pytest.mark.parametrize(("param", "value"), [
    ("created[gte]", "yesterday"),
    ("created[lte]", "2024-13-45T00:00:00"),
    ("created[gte]", "99999999999999999999"),
    ("created[lte]", "-5"),
    ("created[gte]", "2024-03-01T12:00:00+99:00"),
])
def test_list_bad_created_filter(api, param, value):
    assert_error(api.get("/v1/payments", {param: value}), 400, "invalid_request_error", code="parameter_invalid",
                 param=param)


def test_keyset_pagination_walks_both_ways(api, merchant):
    for _ in range(7):
        make_payment(merchant)
    everything, has_more = list_ids(api, limit=100)
    assert len(everything) == 7 and has_more is False
    assert everything == sorted(everything, reverse=True)

    # forwards, 3 at a time
    page1, more1 = list_ids(api, limit=3)
    page2, more2 = list_ids(api, limit=3, starting_after=page1[-1])
    page3, more3 = list_ids(api, limit=3, starting_after=page2[-1])
    assert (page1, page2, page3) == (everything[:3], everything[3:6], everything[6:])
    assert (more1, more2, more3) == (True, True, False)
    assert list_ids(api, limit=3, starting_after=page3[-1]) == ([], False)

    # backwards from the last page
    back2, bmore2 = list_ids(api, limit=3, ending_before=page3[0])
    back1, bmore1 = list_ids(api, limit=3, ending_before=back2[0])
    assert (back2, back1) == (page2, page1)
    assert (bmore2, bmore1) == (True, False)
    assert list_ids(api, limit=3, ending_before=page1[0]) == ([], False)

    # a partial page backwards: the items right before the cursor
    assert list_ids(api, limit=2, ending_before=everything[3]) == (everything[1:3], True)


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_accepted(api, merchant, limit):
    make_payment(merchant)
    make_payment(merchant)
    ids, has_more = list_ids(api, limit=limit)
    assert len(ids) == min(limit, 2)
    assert has_more is (limit == 1)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5"])
def test_limit_refused(api, limit):
    assert_error(api.get("/v1/payments", {"limit": limit}), 400, "invalid_request_error", code="parameter_invalid",
                 param="limit")


@pytest.mark.parametrize(("param", "cursor"), [
    ("starting_after", "re_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("ending_before", "card_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("starting_after", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("ending_before", "payment_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
])
def test_cursor_with_wrong_prefix(api, param, cursor):
    assert_error(api.get("/v1/payments", {param: cursor}), 400, "invalid_request_error", code="parameter_invalid",
                 param=param)


def test_both_cursors_refused(api):
    assert_error(api.get("/v1/payments", {"starting_after": "pay_1", "ending_before": "pay_2"}), 400,
                 "invalid_request_error")


# --- GET /v1/payments/{id} -----------------------------------------------------------------------


def test_retrieve(api):
    pay = created(api, capture=False, metadata={"a": "b"})
    r = api.get(f"/v1/payments/{pay['id']}")
    assert r.status_code == 200
    assert r.json() == pay


def test_retrieve_unknown(api):
    assert_error(api.get("/v1/payments/pay_00000000000000000000000000"), 404, "not_found", code="resource_missing")


# --- capture and cancel ----------------------------------------------------------------------------


def test_capture_full(api):
    pay = created(api, capture=False, amount=1000)
    r = post(api, f"/v1/payments/{pay['id']}/capture")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["status"], body["amount_captured"], body["amount_capturable"]) == ("succeeded", 1000, 0)
    assert set(body) >= PAYMENT_KEYS
    assert api.get(f"/v1/payments/{pay['id']}").json() == body


def test_capture_partial_releases_the_rest(api):
    pay = created(api, capture=False, amount=1000)
    r = post(api, f"/v1/payments/{pay['id']}/capture", {"amount": 600})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["status"], body["amount"], body["amount_captured"], body["amount_capturable"]) == (
        "succeeded", 1000, 600, 0
    )
    # Only what was captured can be refunded.
    assert_error(post(api, "/v1/refunds", {"payment": pay["id"], "amount": 601}), 400, "invalid_request_error",
                 code="amount_too_large")
    r = post(api, "/v1/refunds", {"payment": pay["id"]})
    assert r.status_code == 201
    assert r.json()["amount"] == 600


def test_capture_exact_amount(api):
    pay = created(api, capture=False, amount=1000)
    body = post(api, f"/v1/payments/{pay['id']}/capture", {"amount": 1000}).json()
    assert (body["amount_captured"], body["amount_capturable"]) == (1000, 0)


@pytest.mark.parametrize(("amount", "code"), [(1001, "amount_too_large"), (0, "parameter_invalid"),
                                              (-5, "parameter_invalid"), ("600", "parameter_invalid"),
                                              (600.0, "parameter_invalid"), (True, "parameter_invalid")])
def test_capture_bad_amount_changes_nothing(api, amount, code):
    pay = created(api, capture=False, amount=1000)
    events = PaymentEvent.objects.count()
    assert_error(post(api, f"/v1/payments/{pay['id']}/capture", {"amount": amount}), 400, "invalid_request_error",
                 code=code, param="amount")
    assert api.get(f"/v1/payments/{pay['id']}").json() == pay
    assert PaymentEvent.objects.count() == events


@pytest.mark.parametrize("setup", ["captured", "captured_later", "canceled", "failed"])
def test_capture_in_wrong_state(api, setup):
    pay = _payment_in_state(api, setup)
    events = PaymentEvent.objects.count()
    assert_error(post(api, f"/v1/payments/{pay['id']}/capture"), 400, "invalid_request_error",
                 code="payment_unexpected_state")
    assert api.get(f"/v1/payments/{pay['id']}").json() == pay
    assert PaymentEvent.objects.count() == events


def test_cancel(api):
    pay = created(api, capture=False, amount=1000)
    r = post(api, f"/v1/payments/{pay['id']}/cancel")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["status"], body["amount_capturable"], body["amount_captured"]) == ("canceled", 0, 0)
    assert api.get(f"/v1/payments/{pay['id']}").json() == body


@pytest.mark.parametrize("setup", ["captured", "captured_later", "canceled", "failed"])
def test_cancel_in_wrong_state(api, setup):
    pay = _payment_in_state(api, setup)
    events = PaymentEvent.objects.count()
    assert_error(post(api, f"/v1/payments/{pay['id']}/cancel"), 400, "invalid_request_error",
                 code="payment_unexpected_state")
    assert api.get(f"/v1/payments/{pay['id']}").json() == pay
    assert PaymentEvent.objects.count() == events


@pytest.mark.parametrize("action", ["capture", "cancel"])
def test_capture_cancel_unknown(api, action):
    assert_error(post(api, f"/v1/payments/pay_00000000000000000000000000/{action}"), 404, "not_found",
                 code="resource_missing")


def _payment_in_state(api, setup) -> dict:
    if setup == "captured":
        return created(api)
    if setup == "failed":
        return create(api, card=card_data("4000000000000002")).json()["error"]["payment"]
    pay = created(api, capture=False)
    if setup == "authorized":
        return pay
    action = "capture" if setup == "captured_later" else "cancel"
    r = post(api, f"/v1/payments/{pay['id']}/{action}")
    assert r.status_code == 200
    return r.json()


# --- refunds -------------------------------------------------------------------------------------


def refund(api, payment_id, **body):
    return post(api, "/v1/refunds", {"payment": payment_id, **body})


def test_refund_full(api):
    pay = created(api, amount=1000)
    r = refund(api, pay["id"])
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == REFUND_KEYS
    assert body["id"].startswith("re_")
    assert (body["object"], body["amount"], body["currency"], body["payment"], body["status"]) == (
        "refund", 1000, "EUR", pay["id"], "succeeded"
    )
    assert (body["reason"], body["failure_code"], body["livemode"]) == (None, None, False)
    assert body["created"].endswith("Z")
    payment = api.get(f"/v1/payments/{pay['id']}").json()
    assert (payment["amount_refunded"], payment["status"]) == (1000, "succeeded")


def test_refund_partial_with_reason(api):
    pay = created(api, amount=1000, currency="JPY")
    body = refund(api, pay["id"], amount=250, reason="requested_by_customer").json()
    assert (body["amount"], body["currency"], body["reason"]) == (250, "JPY", "requested_by_customer")
    assert api.get(f"/v1/payments/{pay['id']}").json()["amount_refunded"] == 250


def test_multiple_partial_refunds_then_fully_refunded(api):
    pay = created(api, amount=1000)
    for amount, total in ((300, 300), (300, 600), (400, 1000)):
        r = refund(api, pay["id"], amount=amount)
        assert r.status_code == 201, r.content
        assert api.get(f"/v1/payments/{pay['id']}").json()["amount_refunded"] == total
    assert_error(refund(api, pay["id"]), 400, "invalid_request_error", code="charge_already_refunded",
                 param="payment")
    assert_error(refund(api, pay["id"], amount=1), 400, "invalid_request_error", code="charge_already_refunded")
    assert Refund.objects.filter(payment_id=pay["id"]).count() == 3


def test_over_refund(api):
    pay = created(api, amount=1000)
    assert_error(refund(api, pay["id"], amount=1001), 400, "invalid_request_error", code="amount_too_large",
                 param="amount")
    assert refund(api, pay["id"], amount=600).status_code == 201
    assert_error(refund(api, pay["id"], amount=401), 400, "invalid_request_error", code="amount_too_large",
                 param="amount")
    assert api.get(f"/v1/payments/{pay['id']}").json()["amount_refunded"] == 600
    assert refund(api, pay["id"]).json()["amount"] == 400


@pytest.mark.parametrize("setup", ["authorized", "canceled", "failed"])
def test_refund_of_payment_that_is_not_succeeded(api, setup):
    pay = _payment_in_state(api, setup)
    events = PaymentEvent.objects.count()
    assert_error(refund(api, pay["id"]), 400, "invalid_request_error", code="payment_unexpected_state",
                 param="payment")
    assert Refund.objects.count() == 0
    assert PaymentEvent.objects.count() == events


@pytest.mark.parametrize(("body", "param"), [
    ({"amount": 0}, "amount"),
    ({"amount": -1}, "amount"),
    ({"amount": "100"}, "amount"),
    ({"amount": 100.0}, "amount"),
    ({"reason": "because"}, "reason"),
])
def test_refund_bad_input(api, body, param):
    pay = created(api)
    assert_error(refund(api, pay["id"], **body), 400, "invalid_request_error", code="parameter_invalid",
                 param=param)
    assert Refund.objects.count() == 0


def test_refund_without_payment(api):
    assert_error(post(api, "/v1/refunds", {"amount": 100}), 400, "invalid_request_error",
                 code="parameter_missing", param="payment")


def test_refund_unknown_payment(api):
    assert_error(refund(api, "pay_00000000000000000000000000"), 404, "not_found", code="resource_missing",
                 param="payment")


def test_refund_list_and_detail(api, merchant, other_merchant):
    first, second = created(api, amount=1000), created(api, amount=1000)
    r1 = refund(api, first["id"], amount=100).json()
    r2 = refund(api, first["id"], amount=200).json()
    r3 = refund(api, second["id"]).json()
    foreign = make_payment(other_merchant)
    services.refund_create(merchant_id=other_merchant.pk, livemode=False, payment_id=foreign.pk)

    body = api.get("/v1/refunds").json()
    assert (body["object"], body["url"], body["has_more"]) == ("list", "/v1/refunds", False)
    assert [r["id"] for r in body["data"]] == sorted([r1["id"], r2["id"], r3["id"]], reverse=True)

    only_first = api.get("/v1/refunds", {"payment": first["id"]}).json()["data"]
    assert sorted(r["id"] for r in only_first) == sorted([r1["id"], r2["id"]])
    assert api.get("/v1/refunds", {"payment": foreign.pk}).json()["data"] == []

    page = api.get("/v1/refunds", {"limit": 2}).json()
    assert page["has_more"] is True and len(page["data"]) == 2
    rest = api.get("/v1/refunds", {"limit": 2, "starting_after": page["data"][-1]["id"]}).json()
    assert rest["has_more"] is False and len(rest["data"]) == 1
    assert_error(api.get("/v1/refunds", {"starting_after": first["id"]}), 400, "invalid_request_error",
                 param="starting_after")
    assert_error(api.get("/v1/refunds", {"limit": 0}), 400, "invalid_request_error", param="limit")

    r = api.get(f"/v1/refunds/{r2['id']}")
    assert r.status_code == 200
    assert r.json() == r2
    assert_error(api.get("/v1/refunds/re_00000000000000000000000000"), 404, "not_found", code="resource_missing")


def test_idempotent_refund_is_not_repeated(api):
    pay = created(api, amount=1000)
    headers = {"Idempotency-Key": "refund-1"}
    first = post(api, "/v1/refunds", {"payment": pay["id"], "amount": 300}, headers=headers)
    again = post(api, "/v1/refunds", {"payment": pay["id"], "amount": 300}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert api.get(f"/v1/payments/{pay['id']}").json()["amount_refunded"] == 300


# --- other merchants' objects: 404 everywhere ------------------------------------------------------


def test_other_merchants_objects_answer_404_everywhere(api, other_api):
    theirs = created(other_api, capture=False, amount=1000)
    their_captured = created(other_api, amount=1000)
    their_refund = refund(other_api, their_captured["id"], amount=100).json()
    before = (counts(), other_api.get(f"/v1/payments/{theirs['id']}").json())

    assert_error(api.get(f"/v1/payments/{theirs['id']}"), 404, "not_found", code="resource_missing")
    assert_error(post(api, f"/v1/payments/{theirs['id']}/capture"), 404, "not_found")
    assert_error(post(api, f"/v1/payments/{theirs['id']}/capture", {"amount": 10}), 404, "not_found")
    assert_error(post(api, f"/v1/payments/{theirs['id']}/cancel"), 404, "not_found")
    assert_error(refund(api, their_captured["id"]), 404, "not_found")
    assert_error(refund(api, their_captured["id"], amount=100), 404, "not_found")
    assert_error(api.get(f"/v1/refunds/{their_refund['id']}"), 404, "not_found")
    assert api.get("/v1/payments").json()["data"] == []
    assert api.get("/v1/refunds", {"payment": their_captured["id"]}).json()["data"] == []

    assert (counts(), other_api.get(f"/v1/payments/{theirs['id']}").json()) == before
    assert other_api.get(f"/v1/payments/{their_captured['id']}").json()["amount_refunded"] == 100


# --- authentication and scopes ---------------------------------------------------------------------


ENDPOINTS = [
    ("post", "/v1/payments"),
    ("get", "/v1/payments"),
    ("get", "/v1/payments/pay_x"),
    ("post", "/v1/payments/pay_x/capture"),
    ("post", "/v1/payments/pay_x/cancel"),
    ("post", "/v1/refunds"),
    ("get", "/v1/refunds"),
    ("get", "/v1/refunds/re_x"),
]
NEEDED_SCOPE = {
    ("post", "/v1/payments"): "payments:write",
    ("post", "/v1/payments/pay_x/capture"): "payments:write",
    ("post", "/v1/payments/pay_x/cancel"): "payments:write",
    ("post", "/v1/refunds"): "refunds:write",
}


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_no_token_answers_401(anon_api, method, url):
    r = getattr(anon_api, method)(url, format="json")
    assert_error(r, 401, "authentication_error")


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_bad_token_answers_401(anon_api, method, url):
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(getattr(anon_api, method)(url, format="json"), 401, "authentication_error", code="invalid_token")


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_missing_scope_answers_403(make_token, merchant, method, url):
    needed = NEEDED_SCOPE.get((method, url), "payments:read")
    client = scoped_api(make_token, merchant, [s for s in MERCHANT_SCOPES if s != needed])
    before = counts()
    r = getattr(client, method)(url, {"amount": 100, "currency": "EUR", "card": card_data(), "payment": "pay_x"},
                                format="json")
    error = assert_error(r, 403, "permission_error", code="insufficient_scope")
    assert needed in error["message"]
    assert counts() == before


def test_payments_write_alone_cannot_refund_but_refunds_write_can(make_token, merchant, api):
    pay = created(api)
    writer = scoped_api(make_token, merchant, ["payments:write"])
    assert_error(refund(writer, pay["id"]), 403, "permission_error", code="insufficient_scope")
    refunder = scoped_api(make_token, merchant, ["refunds:write"])
    assert refund(refunder, pay["id"]).status_code == 201


# --- every response carries a Request-Id -----------------------------------------------------------


def test_every_response_has_a_distinct_request_id(api, anon_api):
    pay = created(api, capture=False)
    responses = [
        create(api),
        create(api, amount=0),
        create(api, card=card_data("4000000000000002")),
        api.get("/v1/payments"),
        api.get(f"/v1/payments/{pay['id']}"),
        api.get("/v1/payments/pay_missing"),
        post(api, f"/v1/payments/{pay['id']}/capture", {"amount": 1}),
        post(api, f"/v1/payments/{pay['id']}/cancel"),
        refund(api, pay["id"]),
        api.get("/v1/refunds"),
        api.get("/v1/refunds/re_missing"),
        anon_api.get("/v1/payments"),
        api.delete("/v1/payments"),
    ]
    ids = [r["Request-Id"] for r in responses]
    assert all(i.startswith("req_") for i in ids)
    assert len(set(ids)) == len(ids)
    for r in responses:
        if r.status_code >= 400:
            assert r.json()["error"]["request_id"] == r["Request-Id"]


def test_method_not_allowed(api):
    assert_error(api.delete("/v1/payments"), 405, "invalid_request_error", code="method_not_allowed")


def test_no_card_number_in_logs(api, caplog):
    caplog.set_level("DEBUG")
    numbers = [VISA_OK, "4000000000000002", "4242424242424241"]
    for number in numbers:
        create(api, card=card_data(number), headers={"Idempotency-Key": f"log-{number[-4:]}"})
    assert caplog.records  # the capture works (request logging, warnings for 4xx, ...)
    for number in numbers:
        assert number not in caplog.text
