"""POST/GET/DELETE /v1/cards: tokenization, errors, listing, deletion, isolation and scopes."""

import pytest
from rest_framework.test import APIClient

from cards.models import Card
from cards.services import card_number

from .factories import AMEX_OK, MASTERCARD_OK, VISA_OK, make_card
from .pci import find_pans

pytestmark = pytest.mark.django_db

CARD_KEYS = {"id", "object", "brand", "bin", "last4", "exp_month", "exp_year", "fingerprint", "name", "livemode",
             "created"}


def card_body(number=VISA_OK, exp_month=12, exp_year=2034, cvc="123", **extra):
    return {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc, **extra}


def client_with(make_token, merchant, scopes, livemode=False):
    _, token = make_token(merchant, scopes=scopes, livemode=livemode)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def assert_error(response, status, code, param=None, type_="invalid_request_error"):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["type"] == type_
    assert error["code"] == code
    assert error["param"] == param
    assert error["request_id"] == response["Request-Id"]
    assert find_pans(response.content.decode()) == []
    return error


# --- POST /v1/cards -----------------------------------------------------------------------------


def test_tokenize_card(api):
    r = api.post("/v1/cards", card_body(name="Jane Doe"), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == CARD_KEYS
    assert body["id"].startswith("card_")
    assert body["object"] == "card"
    assert (body["brand"], body["bin"], body["last4"]) == ("visa", "424242", "4242")
    assert (body["exp_month"], body["exp_year"]) == (12, 2034)
    assert len(body["fingerprint"]) == 32
    assert body["name"] == "Jane Doe"
    assert body["livemode"] is False
    assert "number" not in body and "cvc" not in body
    assert VISA_OK not in r.content.decode()
    assert find_pans(r.content.decode()) == []
    card = Card.objects.get(pk=body["id"])
    assert card.merchant_id == api.merchant.pk
    assert card.reusable is True
    assert card_number(card).reveal() == VISA_OK


def test_tokenize_normalizes_the_number_and_two_digit_year(api):
    r = api.post("/v1/cards", card_body(number="5555-5555 5555-4444", exp_year=34), format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["brand"], body["bin"], body["last4"], body["exp_year"]) == ("mastercard", "555555", "4444", 2034)
    assert card_number(Card.objects.get(pk=body["id"])).reveal() == MASTERCARD_OK


def test_tokenize_amex_with_four_digit_cvc(api):
    r = api.post("/v1/cards", card_body(number=AMEX_OK, cvc="1234"), format="json")
    assert r.status_code == 201, r.content
    assert (r.json()["brand"], r.json()["last4"]) == ("amex", "0005")


def test_cvc_is_optional_when_tokenizing(api):
    body = card_body()
    del body["cvc"]
    r = api.post("/v1/cards", body, format="json")
    assert r.status_code == 201, r.content


def test_same_card_gives_the_same_fingerprint(api, other_api):
    a = api.post("/v1/cards", card_body(), format="json").json()
    b = api.post("/v1/cards", card_body(number="4242 4242 4242 4242", exp_year=2035), format="json").json()
    c = other_api.post("/v1/cards", card_body(), format="json").json()
    d = api.post("/v1/cards", card_body(number=MASTERCARD_OK), format="json").json()
    assert a["fingerprint"] == b["fingerprint"] == c["fingerprint"] != d["fingerprint"]
    assert len({a["id"], b["id"], c["id"]}) == 3


@pytest.mark.parametrize(
    "override,code,param",
    [
        ({"number": "4242424242424241"}, "incorrect_number", "number"),
        ({"number": "42424242"}, "invalid_number", "number"),
        ({"number": "4242424242424242424242"}, "invalid_number", "number"),
        ({"number": "4242x42424242424"}, "invalid_number", "number"),
        ({"number": "1234567812345670"}, "invalid_number", "number"),  # Luhn-valid, no brand
        ({"number": "424242424242424"}, "invalid_number", "number"),  # Visa has no 15-digit cards
        ({"exp_month": 13}, "invalid_expiry_month", "exp_month"),
        ({"exp_month": 0}, "invalid_expiry_month", "exp_month"),
        ({"exp_year": 2001}, "invalid_expiry_year", "exp_year"),
        ({"exp_year": 1}, "invalid_expiry_year", "exp_year"),
        ({"cvc": "12"}, "invalid_cvc", "cvc"),
        ({"cvc": "12a"}, "invalid_cvc", "cvc"),
        ({"cvc": "1234"}, "invalid_cvc", "cvc"),
        ({"number": AMEX_OK, "cvc": "123"}, "invalid_cvc", "cvc"),
        ({"exp_month": "12"}, "parameter_invalid", "exp_month"),
        ({"exp_year": 2034.5}, "parameter_invalid", "exp_year"),
        ({"exp_month": None}, "parameter_missing", "exp_month"),
        ({"number": "4" * 40}, "parameter_invalid", "number"),
        ({"number": ""}, "parameter_missing", "number"),
        ({"cvc": ""}, "parameter_missing", "cvc"),
    ],
)
def test_tokenize_refuses_each_broken_rule(api, override, code, param):
    r = api.post("/v1/cards", {**card_body(), **override}, format="json")
    error = assert_error(r, 400, code, param)
    assert error["message"]
    assert not Card.objects.exists()


@pytest.mark.parametrize("missing", ["number", "exp_month", "exp_year"])
def test_tokenize_requires_each_field(api, missing):
    body = card_body()
    del body[missing]
    assert_error(api.post("/v1/cards", body, format="json"), 400, "parameter_missing", missing)


def test_expired_card_is_refused(api):
    from datetime import date

    today = date.today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    assert_error(api.post("/v1/cards", card_body(exp_month=month, exp_year=year), format="json"),
                 400, "invalid_expiry_year", "exp_year")
    r = api.post("/v1/cards", card_body(exp_month=today.month, exp_year=today.year), format="json")
    assert r.status_code == 201, r.content


def test_error_does_not_echo_the_card_number(api):
    r = api.post("/v1/cards", card_body(number="4242424242424241"), format="json")
    assert r.status_code == 400
    assert "4242424242424241" not in r.content.decode()
    r = api.post("/v1/cards", card_body(cvc="98x"), format="json")
    assert VISA_OK not in r.content.decode() and "98x" not in r.content.decode()


def test_tokenize_is_idempotent(api):
    first = api.post("/v1/cards", card_body(), format="json", HTTP_IDEMPOTENCY_KEY="tok-1")
    again = api.post("/v1/cards", card_body(), format="json", HTTP_IDEMPOTENCY_KEY="tok-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert Card.objects.count() == 1
    other = api.post("/v1/cards", card_body(number=MASTERCARD_OK), format="json", HTTP_IDEMPOTENCY_KEY="tok-1")
    assert_error(other, 422, "idempotency_key_reused", "Idempotency-Key", type_="idempotency_error")


def test_livemode_tokenization_is_stored_as_live(merchant, make_token):
    live = client_with(make_token, merchant, ["cards:read", "cards:write"], livemode=True)
    r = live.post("/v1/cards", card_body(), format="json")
    assert r.status_code == 201, r.content
    assert r.json()["livemode"] is True
    assert Card.objects.get(pk=r.json()["id"]).livemode is True


# --- GET /v1/cards, GET /v1/cards/{id} ----------------------------------------------------------


def test_list_cards_newest_first(api, other_merchant):
    cards = [make_card(api.merchant, number=n, cvc=None) for n in (VISA_OK, MASTERCARD_OK, AMEX_OK)]
    make_card(other_merchant)
    make_card(api.merchant, livemode=True)
    r = api.get("/v1/cards")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["object"] == "list"
    assert body["has_more"] is False
    # Newest first by the time-ordered id (ids made within the same millisecond have no defined order).
    assert [c["id"] for c in body["data"]] == sorted((c.id for c in cards), reverse=True)
    assert all(set(c) == CARD_KEYS for c in body["data"])
    assert find_pans(r.content.decode()) == []


def test_list_cards_paginates(api):
    cards = [make_card(api.merchant) for _ in range(5)]
    ids = sorted((c.id for c in cards), reverse=True)
    page = api.get("/v1/cards", {"limit": 2}).json()
    assert [c["id"] for c in page["data"]] == ids[:2] and page["has_more"] is True
    page = api.get("/v1/cards", {"limit": 2, "starting_after": ids[1]}).json()
    assert [c["id"] for c in page["data"]] == ids[2:4] and page["has_more"] is True
    page = api.get("/v1/cards", {"limit": 2, "starting_after": ids[3]}).json()
    assert [c["id"] for c in page["data"]] == ids[4:] and page["has_more"] is False
    page = api.get("/v1/cards", {"limit": 2, "ending_before": ids[4]}).json()
    assert [c["id"] for c in page["data"]] == ids[2:4]
    assert_error(api.get("/v1/cards", {"limit": 0}), 400, "parameter_invalid", "limit")
    assert_error(api.get("/v1/cards", {"starting_after": "pay_123"}), 400, "parameter_invalid", "starting_after")


def test_list_excludes_one_off_cards_of_payments(api):
    r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card": card_body()}, format="json")
    assert r.status_code == 201, r.content
    assert Card.objects.filter(reusable=False).count() == 1
    assert api.get("/v1/cards").json()["data"] == []
    one_off = Card.objects.get(reusable=False)
    assert_error(api.get(f"/v1/cards/{one_off.id}"), 404, "resource_missing", "id", type_="not_found")


def test_retrieve_card(api):
    card = make_card(api.merchant, number=AMEX_OK, cvc="1234")
    r = api.get(f"/v1/cards/{card.id}")
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == CARD_KEYS
    assert (body["id"], body["brand"], body["bin"], body["last4"]) == (card.id, "amex", "378282", "0005")
    assert body["fingerprint"] == card.fingerprint
    assert find_pans(r.content.decode()) == []


def test_unknown_card_is_404(api):
    assert_error(api.get("/v1/cards/card_nope"), 404, "resource_missing", "id", type_="not_found")
    assert_error(api.delete("/v1/cards/card_nope"), 404, "resource_missing", "id", type_="not_found")


def test_another_merchants_card_is_404(api, other_merchant):
    theirs = make_card(other_merchant)
    assert_error(api.get(f"/v1/cards/{theirs.id}"), 404, "resource_missing", "id", type_="not_found")
    assert_error(api.delete(f"/v1/cards/{theirs.id}"), 404, "resource_missing", "id", type_="not_found")
    theirs.refresh_from_db()
    assert theirs.deleted_at is None and theirs.pan_ciphertext is not None
    r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card_token": theirs.id}, format="json")
    assert_error(r, 400, "resource_missing", "card_token")


def test_live_card_is_invisible_to_a_test_mode_token(api):
    live = make_card(api.merchant, livemode=True)
    assert_error(api.get(f"/v1/cards/{live.id}"), 404, "resource_missing", "id", type_="not_found")


# --- DELETE /v1/cards/{id} ----------------------------------------------------------------------


def test_delete_destroys_the_ciphertext(api):
    card = make_card(api.merchant)
    r = api.post("/v1/payments", {"amount": 500, "currency": "EUR", "card_token": card.id}, format="json")
    assert r.status_code == 201, r.content
    payment_id = r.json()["id"]

    r = api.delete(f"/v1/cards/{card.id}")
    assert r.status_code == 200, r.content
    assert r.json() == {"id": card.id, "object": "card", "deleted": True}

    row = Card.objects.get(pk=card.pk)
    assert row.pan_ciphertext is None
    assert row.key_version is None
    assert row.deleted_at is not None
    assert (row.bin, row.last4) == ("424242", "4242")  # history keeps the masked card

    assert_error(api.get(f"/v1/cards/{card.id}"), 404, "resource_missing", "id", type_="not_found")
    assert_error(api.delete(f"/v1/cards/{card.id}"), 404, "resource_missing", "id", type_="not_found")
    assert card.id not in [c["id"] for c in api.get("/v1/cards").json()["data"]]

    r = api.post("/v1/payments", {"amount": 500, "currency": "EUR", "card_token": card.id}, format="json")
    assert_error(r, 400, "resource_missing", "card_token")

    # The payment made before deletion still shows its card.
    r = api.get(f"/v1/payments/{payment_id}")
    assert r.status_code == 200
    assert r.json()["card"]["last4"] == "4242"


def test_card_token_works_before_deletion(api):
    card = make_card(api.merchant, number=MASTERCARD_OK)
    r = api.post("/v1/payments", {"amount": 700, "currency": "EUR", "card_token": card.id}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["card"]["brand"] == "mastercard"
    assert r.json()["card"]["fingerprint"] == card.fingerprint


# --- Authentication and scopes ------------------------------------------------------------------


def test_no_token_is_401(anon_api, merchant):
    card = make_card(merchant)
    for response in (anon_api.get("/v1/cards"), anon_api.get(f"/v1/cards/{card.id}"),
                     anon_api.post("/v1/cards", card_body(), format="json"),
                     anon_api.delete(f"/v1/cards/{card.id}")):
        assert_error(response, 401, "missing_token", None, type_="authentication_error")
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert Card.objects.count() == 1
    assert Card.objects.get().deleted_at is None


def test_bad_token_is_401(merchant):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(api.get("/v1/cards"), 401, "invalid_token", type_="authentication_error")
    card = make_card(merchant)
    assert_error(api.delete(f"/v1/cards/{card.id}"), 401, "invalid_token", type_="authentication_error")
    card.refresh_from_db()
    assert card.deleted_at is None


def test_read_scope_cannot_write(merchant, make_token):
    card = make_card(merchant)
    reader = client_with(make_token, merchant, ["cards:read"])
    assert reader.get("/v1/cards").status_code == 200
    assert reader.get(f"/v1/cards/{card.id}").status_code == 200
    assert_error(reader.post("/v1/cards", card_body(), format="json"), 403, "insufficient_scope",
                 type_="permission_error")
    assert_error(reader.delete(f"/v1/cards/{card.id}"), 403, "insufficient_scope", type_="permission_error")
    assert Card.objects.count() == 1
    card.refresh_from_db()
    assert card.deleted_at is None


def test_write_scope_cannot_read(merchant, make_token):
    card = make_card(merchant)
    writer = client_with(make_token, merchant, ["cards:write"])
    assert writer.post("/v1/cards", card_body(), format="json").status_code == 201
    assert_error(writer.get("/v1/cards"), 403, "insufficient_scope", type_="permission_error")
    assert_error(writer.get(f"/v1/cards/{card.id}"), 403, "insufficient_scope", type_="permission_error")
    assert writer.delete(f"/v1/cards/{card.id}").status_code == 200


def test_payment_scopes_do_not_give_card_access(merchant, make_token):
    payer = client_with(make_token, merchant, ["payments:read", "payments:write", "refunds:write"])
    assert_error(payer.get("/v1/cards"), 403, "insufficient_scope", type_="permission_error")
    assert_error(payer.post("/v1/cards", card_body(), format="json"), 403, "insufficient_scope",
                 type_="permission_error")
    assert not Card.objects.exists()


def test_token_without_scopes_gets_nothing(merchant, make_token):
    nobody = client_with(make_token, merchant, [])
    assert_error(nobody.get("/v1/cards"), 403, "insufficient_scope", type_="permission_error")


def test_unsupported_methods_are_refused(api):
    card = make_card(api.merchant)
    assert_error(api.put(f"/v1/cards/{card.id}", card_body(), format="json"), 405, "method_not_allowed")
    assert_error(api.patch(f"/v1/cards/{card.id}", {"exp_month": 1}, format="json"), 405, "method_not_allowed")
    assert_error(api.patch("/v1/cards", {"exp_month": 1}, format="json"), 405, "method_not_allowed")
    card.refresh_from_db()
    assert card.exp_month == 12
