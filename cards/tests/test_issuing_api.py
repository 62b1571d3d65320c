"""The card issuing API (#4): cardholders, cards, lifecycle actions, spending controls, authorizations
and the audited card details endpoint; scopes, ownership and modes."""

import pytest
from rest_framework.test import APIClient

from core.models import AuditLogEntry
from core.scopes import MERCHANT_SCOPES

from ..issuing_models import Cardholder, IssuedCard
from ..models import Card
from ..vault import luhn_valid
from .issuing_factories import BILLING, issue_card, make_program, secrets_of
from .pci import find_pans

pytestmark = pytest.mark.django_db

CARD_KEYS = {"id", "object", "cardholder", "program", "account", "type", "status", "block_reason", "brand", "last4",
             "exp_month", "exp_year", "spending_controls", "replacement_for", "livemode", "created"}


def client_for(make_token, merchant, *, livemode=True, scopes=MERCHANT_SCOPES):
    _, token = make_token(merchant, scopes=scopes, livemode=livemode)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@pytest.fixture
def issuer(make_token, merchant):
    """The partner's live-mode client, with every scope, and its card program."""
    api = client_for(make_token, merchant)
    api.program = make_program(merchant, bin="535320")
    api.merchant = merchant
    return api


def post(api, url, body=None, **headers):
    return api.post(url, body or {}, format="json", headers=headers or None)


def new_cardholder(api, **overrides) -> dict:
    r = post(api, "/v1/issuing/cardholders", {"name": "Jane Holder", "email": "jane@example.com",
                                              "phone_number": "+4930123456", "billing": BILLING, **overrides})
    assert r.status_code == 201, r.content
    return r.json()


def new_card(api, **overrides) -> dict:
    if "cardholder" not in overrides:
        overrides["cardholder"] = new_cardholder(api)["id"]
    r = post(api, "/v1/issuing/cards", {"type": "virtual", **overrides})
    assert r.status_code == 201, r.content
    return r.json()


def error_of(r, status, code=None, param=...):
    assert r.status_code == status, r.content
    error = r.json()["error"]
    if code is not None:
        assert error["code"] == code, error
    if param is not ...:
        assert error["param"] == param
    return error


# --- Cardholders ---------------------------------------------------------------------------------------------


def test_create_retrieve_and_list_cardholders(issuer):
    holder = new_cardholder(issuer)
    assert holder["id"].startswith("ich_") and holder["object"] == "issuing.cardholder"
    assert holder["billing"] == {"line1": "Hauptstr. 1", "line2": "", "city": "Berlin", "state": "",
                                 "postal_code": "10115", "country": "DE"}
    assert holder["livemode"] is True
    assert issuer.get(f"/v1/issuing/cardholders/{holder['id']}").json() == holder
    second = new_cardholder(issuer, name="John Holder")
    page = issuer.get("/v1/issuing/cardholders", {"limit": 1}).json()
    assert (page["object"], page["has_more"], [h["id"] for h in page["data"]]) == ("list", True, [second["id"]])
    page = issuer.get("/v1/issuing/cardholders", {"starting_after": second["id"]}).json()
    assert [h["id"] for h in page["data"]] == [holder["id"]]


def test_cardholder_creation_is_idempotent(issuer):
    body = {"name": "Jane Holder", "billing": BILLING}
    first = post(issuer, "/v1/issuing/cardholders", body, **{"Idempotency-Key": "ch-1"})
    again = post(issuer, "/v1/issuing/cardholders", body, **{"Idempotency-Key": "ch-1"})
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Cardholder.objects.count() == 1
    error_of(post(issuer, "/v1/issuing/cardholders", {**body, "name": "X"}, **{"Idempotency-Key": "ch-1"}), 422,
             "idempotency_key_reused")


@pytest.mark.parametrize(("body", "param"), [
    ({"billing": BILLING}, "name"),
    ({"name": "Jane"}, "billing"),
    ({"name": "Jane", "billing": {**BILLING, "country": "XX"}}, "billing[country]"),
    ({"name": "Jane", "billing": {**BILLING, "city": ""}}, "billing[city]"),
    ({"name": "Jane", "email": "not-an-email", "billing": BILLING}, "email"),
    ({"name": "Jane", "phone_number": "12345", "billing": BILLING}, "phone_number"),
])
def test_bad_cardholder_is_refused_and_nothing_is_written(issuer, body, param):
    error_of(post(issuer, "/v1/issuing/cardholders", body), 400, param=param)
    assert Cardholder.objects.count() == 0


def test_cardholders_of_another_merchant_or_mode_are_not_found(issuer, make_token, other_merchant, merchant):
    holder = new_cardholder(issuer)
    for api in (client_for(make_token, other_merchant), client_for(make_token, merchant, livemode=False)):
        error_of(api.get(f"/v1/issuing/cardholders/{holder['id']}"), 404, "resource_missing")
        assert api.get("/v1/issuing/cardholders").json()["data"] == []


# --- Cards ---------------------------------------------------------------------------------------------------------


def test_issue_a_virtual_card(issuer):
    card = new_card(issuer, spending_controls={"daily_limit": 5000, "allowed_countries": ["de"]})
    assert set(card) == CARD_KEYS
    assert card["id"].startswith("ic_") and card["object"] == "issuing.card"
    assert (card["type"], card["status"], card["brand"], card["program"]) == ("virtual", "active", "mastercard",
                                                                              issuer.program.id)
    assert card["account"]["id"].startswith("iacct_")
    assert card["account"] == {"id": card["account"]["id"], "type": "prepaid", "currency": "EUR", "available": 0,
                               "held": 0, "credit_limit": 0}
    assert card["spending_controls"] == {"per_transaction_limit": None, "daily_limit": 5000, "monthly_limit": None,
                                         "allowed_currencies": [], "allowed_countries": ["DE"]}
    number = secrets_of(IssuedCard.objects.get(pk=card["id"]))["number"]
    assert number.endswith(card["last4"]) and number.startswith("535320")
    assert number not in str(card) and find_pans(str(card)) == []


def test_issue_a_physical_card_then_activate_it(issuer):
    card = new_card(issuer, type="physical")
    assert card["status"] == "inactive"
    r = post(issuer, f"/v1/issuing/cards/{card['id']}/activate")
    assert r.status_code == 200 and r.json()["status"] == "active"


def test_issue_a_second_card_on_the_same_account(issuer):
    first = new_card(issuer)
    second = new_card(issuer, cardholder=first["cardholder"], account=first["account"]["id"], type="physical")
    assert second["account"]["id"] == first["account"]["id"]


def test_issue_a_credit_card(issuer, merchant):
    program = make_program(merchant, type="credit", default_credit_limit=50_000)
    card = new_card(issuer, program=program.id, credit_limit=20_000)
    assert card["account"] == {"id": card["account"]["id"], "type": "credit", "currency": "EUR",
                               "available": 20_000, "held": 0, "credit_limit": 20_000}


@pytest.mark.parametrize(("overrides", "status", "code", "param"), [
    ({"cardholder": "ich_missing"}, 404, "resource_missing", "cardholder"),
    ({"type": "plastic"}, 400, "parameter_invalid", "type"),
    ({"program": "iprg_missing"}, 404, "resource_missing", "program"),
    ({"status": "frozen"}, 400, "parameter_invalid", "status"),
    ({"credit_limit": 100}, 400, "parameter_invalid", "credit_limit"),
    ({"spending_controls": {"daily_limit": 0}}, 400, "parameter_invalid", "spending_controls[daily_limit]"),
    ({"spending_controls": {"daily_limit": "100"}}, 400, "parameter_invalid", "spending_controls[daily_limit]"),
    ({"spending_controls": {"allowed_currencies": ["EURO"]}}, 400, None, None),
])
def test_bad_card_requests_are_refused_and_write_nothing(issuer, overrides, status, code, param):
    holder = new_cardholder(issuer)
    r = post(issuer, "/v1/issuing/cards", {"cardholder": holder["id"], "type": "virtual", **overrides})
    error = error_of(r, status, code)
    if param is not None:
        assert error["param"] == param
    assert IssuedCard.objects.count() == 0 and Card.objects.count() == 0


def test_a_merchant_without_program_cannot_issue(make_token, other_merchant):
    api = client_for(make_token, other_merchant)
    holder = new_cardholder(api)
    error_of(post(api, "/v1/issuing/cards", {"cardholder": holder["id"], "type": "virtual"}), 400,
             "no_card_program", "program")


def test_list_and_filter_cards(issuer):
    first = new_card(issuer)
    second = new_card(issuer, type="physical")
    third = new_card(issuer, cardholder=first["cardholder"], type="physical")
    ids = lambda **q: [c["id"] for c in issuer.get("/v1/issuing/cards", q).json()["data"]]  # noqa: E731
    assert ids() == [third["id"], second["id"], first["id"]]
    assert ids(status="inactive") == [third["id"], second["id"]]
    assert ids(cardholder=first["cardholder"]) == [third["id"], first["id"]]
    assert ids(limit=1, starting_after=second["id"]) == [first["id"]]
    error_of(issuer.get("/v1/issuing/cards", {"status": "lost"}), 400, param="status")


def test_cards_of_another_merchant_or_mode_are_not_found(issuer, make_token, other_merchant, merchant):
    card = new_card(issuer)
    for api in (client_for(make_token, other_merchant), client_for(make_token, merchant, livemode=False)):
        error_of(api.get(f"/v1/issuing/cards/{card['id']}"), 404)
        error_of(post(api, f"/v1/issuing/cards/{card['id']}/freeze"), 404)
        error_of(api.patch(f"/v1/issuing/cards/{card['id']}", {"spending_controls": {"daily_limit": 5}},
                           format="json"), 404)
        error_of(api.get(f"/v1/issuing/cards/{card['id']}/authorizations"), 404)
        error_of(api.get(f"/v1/issuing/cards/{card['id']}/details"), 404)
        assert api.get("/v1/issuing/cards").json()["data"] == []
    assert IssuedCard.objects.get(pk=card["id"]).status == "active"


def test_change_spending_controls(issuer):
    card = new_card(issuer, spending_controls={"per_transaction_limit": 100})
    r = issuer.patch(f"/v1/issuing/cards/{card['id']}", {"spending_controls": {"monthly_limit": 90_000,
                                                                               "allowed_currencies": ["eur"]}},
                     format="json")
    assert r.status_code == 200, r.content
    assert r.json()["spending_controls"] == {"per_transaction_limit": 100, "daily_limit": None,
                                             "monthly_limit": 90_000, "allowed_currencies": ["EUR"],
                                             "allowed_countries": []}
    r = issuer.patch(f"/v1/issuing/cards/{card['id']}", {"spending_controls": {"per_transaction_limit": None}},
                     format="json")
    assert r.json()["spending_controls"]["per_transaction_limit"] is None
    error_of(issuer.patch(f"/v1/issuing/cards/{card['id']}", {"spending_controls": {"daily_limit": -1}},
                          format="json"), 400)
    error_of(issuer.patch(f"/v1/issuing/cards/{card['id']}", {}, format="json"), 400, param="spending_controls")
    assert IssuedCard.objects.get(pk=card["id"]).limit_monthly == 90_000


# --- Lifecycle actions -----------------------------------------------------------------------------------------------


def test_freeze_unfreeze_block(issuer):
    card = new_card(issuer)
    url = f"/v1/issuing/cards/{card['id']}"
    assert post(issuer, f"{url}/freeze").json()["status"] == "frozen"
    error_of(post(issuer, f"{url}/freeze"), 400, "card_unexpected_state")
    assert post(issuer, f"{url}/unfreeze").json()["status"] == "active"
    error_of(post(issuer, f"{url}/unfreeze"), 400, "card_unexpected_state")
    error_of(post(issuer, f"{url}/block", {"reason": "bored"}), 400, param="reason")
    error_of(post(issuer, f"{url}/block"), 400, "parameter_missing", "reason")
    r = post(issuer, f"{url}/block", {"reason": "stolen"})
    assert (r.json()["status"], r.json()["block_reason"]) == ("blocked", "stolen")
    for action in ("freeze", "unfreeze", "activate"):
        error_of(post(issuer, f"{url}/{action}"), 400, "card_unexpected_state")
    error_of(post(issuer, f"{url}/reissue", {"reason": "lost"}), 400, "card_unexpected_state")


def test_reissue_answers_the_new_card(issuer):
    card = new_card(issuer)
    r = post(issuer, f"/v1/issuing/cards/{card['id']}/reissue", {"reason": "lost"},
             **{"Idempotency-Key": "reissue-1"})
    assert r.status_code == 200, r.content
    new = r.json()
    assert new["id"] != card["id"] and new["replacement_for"] == card["id"]
    assert new["account"]["id"] == card["account"]["id"] and new["status"] == "active"
    again = post(issuer, f"/v1/issuing/cards/{card['id']}/reissue", {"reason": "lost"},
                 **{"Idempotency-Key": "reissue-1"})
    assert again.json() == new and IssuedCard.objects.count() == 2
    old = issuer.get(f"/v1/issuing/cards/{card['id']}").json()
    assert (old["status"], old["block_reason"]) == ("blocked", "lost")


# --- Authorizations --------------------------------------------------------------------------------------------


def test_list_a_cards_authorizations(issuer, merchant):
    from .test_authorization import authorize

    card = issue_card(merchant, program=issuer.program, fund=5_000)
    approved = authorize(card, 1_000)
    declined = authorize(card, 9_000)
    r = issuer.get(f"/v1/issuing/cards/{card.id}/authorizations")
    assert r.status_code == 200
    data = r.json()["data"]
    assert [a["id"] for a in data] == [declined.authorization_id, approved.authorization_id]
    assert data[0]["object"] == "issuing.authorization"
    assert (data[0]["approved"], data[0]["status"], data[0]["decline_code"]) == (False, "declined",
                                                                                 "insufficient_funds")
    assert data[1]["merchant_data"] == {"name": merchant.name, "country": "DE"}
    assert (data[1]["status"], data[1]["decline_code"], data[1]["amount"]) == ("pending", None, 1_000)
    assert data[1]["expires_at"] is not None


# --- Card details ---------------------------------------------------------------------------------------------


def test_card_details_are_returned_and_every_read_is_audited(issuer):
    card = new_card(issuer)
    url = f"/v1/issuing/cards/{card['id']}/details"
    first, second = issuer.get(url), issuer.get(url)
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    details = first.json()
    expected = secrets_of(IssuedCard.objects.get(pk=card["id"]))
    assert details == {"id": card["id"], "object": "issuing.card_details", **expected}
    assert luhn_valid(details["number"]) and second.json() == details
    audits = AuditLogEntry.objects.filter(action="issuing_card.details_read", object_id=card["id"])
    assert audits.count() == 2
    assert {a.request_id for a in audits} == {first["Request-Id"], second["Request-Id"]}
    assert all(a.actor.startswith("api:") and a.merchant_id == issuer.merchant.pk for a in audits)
    assert not any(expected["number"] in str(a.data) for a in audits)


def test_card_details_need_their_own_scope(issuer, make_token, merchant):
    card = new_card(issuer)
    api = client_for(make_token, merchant, scopes=["issuing:read", "issuing:write"])
    error_of(api.get(f"/v1/issuing/cards/{card['id']}/details"), 403, "insufficient_scope")
    assert api.get(f"/v1/issuing/cards/{card['id']}").status_code == 200
    reader = client_for(make_token, merchant, scopes=["issuing:read"])
    error_of(post(reader, f"/v1/issuing/cards/{card['id']}/freeze"), 403, "insufficient_scope")
    error_of(post(reader, "/v1/issuing/cardholders", {"name": "x", "billing": BILLING}), 403)
    assert not AuditLogEntry.objects.filter(action="issuing_card.details_read").exists()


def test_physical_and_blocked_cards_show_no_details(issuer):
    physical = new_card(issuer, type="physical")
    error_of(issuer.get(f"/v1/issuing/cards/{physical['id']}/details"), 400, "card_details_unavailable")
    blocked = new_card(issuer)
    post(issuer, f"/v1/issuing/cards/{blocked['id']}/block", {"reason": "lost"})
    error_of(issuer.get(f"/v1/issuing/cards/{blocked['id']}/details"), 400, "card_details_unavailable")
    assert not AuditLogEntry.objects.filter(action="issuing_card.details_read").exists()
