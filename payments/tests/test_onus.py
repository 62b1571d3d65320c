"""Live payments with cards of this bank (#4): POST /v1/payments in live mode authorizes on-us against the
card's account; capture, partial capture, cancel, refunds and hold expiry move the cardholder's money, and
the merchant's side is booked as for any payment. Every decline reaches the API with its code."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cards import authorization
from cards import issuing as issuing_services
from cards.issuing_models import IssuingAuthorization
from cards.issuing_selectors import account_balances
from cards.tests.issuing_factories import issue_card, make_program, secrets_of, wrong_cvc
from ledger import selectors as ledger_selectors

from ..models import Payment
from ..verification import verify_all
from .test_api import assert_error, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def issuer(other_merchant):
    """A partner merchant issuing through the bank, with a live prepaid program."""
    other_merchant.program = make_program(other_merchant, bin="535330")
    return other_merchant


def pay(api, card, amount=2_000, *, capture=True, **card_overrides):
    return api.post("/v1/payments", {"amount": amount, "currency": "EUR", "capture": capture,
                                     "card": {**secrets_of(card), **card_overrides}}, format="json")


def balances(card):
    return account_balances(card.account)


def test_a_live_payment_with_a_bank_card_debits_its_account(live_api, issuer, merchant):
    card = issue_card(issuer, program=issuer.program, fund=10_000)
    r = pay(live_api, card, 2_500)
    assert r.status_code == 201, r.content
    payment = Payment.objects.get(pk=r.json()["id"])
    assert (payment.status, payment.processor, payment.amount_captured) == ("succeeded", "onus", 2_500)
    auth = IssuingAuthorization.objects.get(pk=payment.processor_reference)
    assert (auth.reference, auth.status, auth.acquiring_merchant_id, auth.card_id) == (payment.id, "closed",
                                                                                      merchant.pk, card.id)
    assert balances(card) == {"available": 7_500, "held": 0, "credit_line": 0}
    # The merchant's side is booked as for any capture (fee kept), and every invariant holds.
    pending = ledger_selectors.balances_for_merchant(merchant_id=merchant.pk, livemode=True)["EUR"]["pending"]
    assert pending == 2_500 - payment.fee
    assert verify_all(record=False) == []


def test_authorize_then_capture_part_releases_the_rest(live_api, issuer):
    card = issue_card(issuer, program=issuer.program, fund=10_000)
    r = pay(live_api, card, 4_000, capture=False)
    assert r.status_code == 201 and r.json()["status"] == "requires_capture"
    assert balances(card) == {"available": 6_000, "held": 4_000, "credit_line": 0}
    r = post(live_api, f"/v1/payments/{r.json()['id']}/capture", {"amount": 1_500})
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["amount_captured"]) == ("succeeded", 1_500)
    assert balances(card) == {"available": 8_500, "held": 0, "credit_line": 0}
    assert verify_all(record=False) == []


def test_cancel_releases_the_hold(live_api, issuer):
    card = issue_card(issuer, program=issuer.program, fund=10_000)
    payment = pay(live_api, card, 4_000, capture=False).json()
    r = post(live_api, f"/v1/payments/{payment['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert balances(card) == {"available": 10_000, "held": 0, "credit_line": 0}
    assert IssuingAuthorization.objects.get(reference=payment["id"]).status == "reversed"


def test_refunds_go_back_to_the_card(live_api, issuer):
    card = issue_card(issuer, program=issuer.program, fund=10_000)
    payment = pay(live_api, card, 4_000).json()
    r = post(live_api, "/v1/refunds", {"payment": payment["id"], "amount": 1_000})
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.content
    assert balances(card)["available"] == 7_000
    r = post(live_api, "/v1/refunds", {"payment": payment["id"]})
    assert r.status_code == 201 and r.json()["amount"] == 3_000
    assert balances(card)["available"] == 10_000
    assert IssuingAuthorization.objects.get(reference=payment["id"]).amount_refunded == 4_000
    assert verify_all(record=False) == []


def test_an_expired_hold_cannot_be_captured_but_can_be_canceled(live_api, issuer):
    card = issue_card(issuer, program=issuer.program, fund=10_000)
    payment = pay(live_api, card, 4_000, capture=False).json()
    IssuingAuthorization.objects.filter(reference=payment["id"]).update(expires_at=timezone.now() - timedelta(1))
    assert authorization.authorizations_expire_due() == 1
    assert balances(card) == {"available": 10_000, "held": 0, "credit_line": 0}
    assert_error(post(live_api, f"/v1/payments/{payment['id']}/capture"), 400, "invalid_request_error",
                 code="authorization_expired")
    assert Payment.objects.get(pk=payment["id"]).status == "requires_capture"
    assert post(live_api, f"/v1/payments/{payment['id']}/cancel").json()["status"] == "canceled"
    assert balances(card)["available"] == 10_000
    assert verify_all(record=False) == []


@pytest.mark.parametrize(("setup", "card_overrides", "amount", "decline_code", "error_code"), [
    (None, {}, 10_001, "insufficient_funds", "card_declined"),
    (None, {"cvc": "wrong"}, 1_000, "incorrect_cvc", "incorrect_cvc"),
    ("freeze", {}, 1_000, "card_frozen", "card_declined"),
    ("lost", {}, 1_000, "lost_card", "card_declined"),
    ("stolen", {}, 1_000, "stolen_card", "card_declined"),
    ("expire", {}, 1_000, "expired_card", "expired_card"),
    ("close", {}, 1_000, "card_declined", "card_declined"),
    ("limit", {}, 1_000, "spending_limit_exceeded", "card_declined"),
    ("country", {}, 1_000, "country_not_allowed", "card_declined"),
    (None, {"exp_year": "next"}, 1_000, "invalid_expiry_year", "invalid_expiry_year"),
])
def test_declines_reach_the_api_with_their_code(live_api, issuer, setup, card_overrides, amount, decline_code,
                                                error_code):
    card = issue_card(issuer, program=issuer.program, fund=10_000)
    if setup == "freeze":
        issuing_services.card_freeze(card_id=card.id)
    elif setup in ("lost", "stolen"):
        issuing_services.card_block(card_id=card.id, reason=setup)
    elif setup == "expire":
        issuing_services._card_transition(card_id=card.id, to_status="expired")
    elif setup == "close":
        issuing_services.card_close(card_id=card.id)
    elif setup == "limit":
        issuing_services.card_set_spending_controls(card_id=card.id, spending_controls={"per_transaction_limit": 999})
    elif setup == "country":
        issuing_services.card_set_spending_controls(card_id=card.id, spending_controls={"allowed_countries": ["FR"]})
    if card_overrides.get("cvc") == "wrong":
        card_overrides["cvc"] = wrong_cvc(secrets_of(card)["cvc"])
    if card_overrides.get("exp_year") == "next":
        card_overrides["exp_year"] = secrets_of(card)["exp_year"] + 1
    error = assert_error(pay(live_api, card, amount, **card_overrides), 402, "card_error", code=error_code)
    assert error["decline_code"] == decline_code
    assert error["payment"]["status"] == "failed" and error["payment"]["failure_code"] == decline_code
    assert balances(card) == {"available": 10_000, "held": 0, "credit_line": 0}


def test_a_stored_live_card_pays_as_card_on_file(live_api, issuer):
    card = issue_card(issuer, program=issuer.program, fund=10_000)
    details = secrets_of(card)
    r = live_api.post("/v1/cards", {k: details[k] for k in ("number", "exp_month", "exp_year")}, format="json")
    assert r.status_code == 201, r.content
    r = live_api.post("/v1/payments", {"amount": 700, "currency": "EUR", "card_token": r.json()["id"]},
                      format="json")
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.content
    assert balances(card)["available"] == 9_300


def test_a_payment_resumed_after_a_crash_is_authorized_once(live_api, issuer, merchant, monkeypatch):
    from .. import services

    card = issue_card(issuer, program=issuer.program, fund=10_000)
    real = authorization.authorization_request
    calls = []

    def crash_after_authorizing(**kwargs):
        calls.append(real(**kwargs))
        raise RuntimeError("the web worker died after the on-us answer")

    monkeypatch.setattr(authorization, "authorization_request", crash_after_authorizing)
    with pytest.raises(RuntimeError):
        services.payment_create(merchant_id=merchant.pk, livemode=True, amount=3_000, currency="EUR",
                                card=secrets_of(card))
    monkeypatch.setattr(authorization, "authorization_request", real)
    payment = Payment.objects.get(livemode=True)
    assert payment.status == "processing" and calls[0].approved
    payment = services.payment_resume(payment_id=payment.pk)
    assert (payment.status, payment.processor_reference) == ("succeeded", calls[0].authorization_id)
    assert IssuingAuthorization.objects.count() == 1
    assert balances(card)["available"] == 7_000
    assert verify_all(record=False) == []


def test_repeated_wrong_card_data_pause_the_card(live_api, issuer, settings):
    """Guessing guard: after the limit of wrong CVCs or expiry dates within the window, even the right
    card data is declined, until the failures leave the window."""
    settings.ISSUING_CARD_DATA_FAILURE_LIMIT = 3
    card = issue_card(issuer, program=issuer.program, fund=10_000)
    right = secrets_of(card)
    pay(live_api, card, 100, cvc=wrong_cvc(right["cvc"]))
    pay(live_api, card, 100, exp_year=right["exp_year"] + 1)
    assert pay(live_api, card, 100).status_code == 201  # two failures: below the limit, the card still pays
    error = assert_error(pay(live_api, card, 100, cvc=wrong_cvc(right["cvc"])), 402, "card_error",
                         code="incorrect_cvc")
    assert error["decline_code"] == "incorrect_cvc"
    error = assert_error(pay(live_api, card, 100), 402, "card_error", code="card_declined")
    assert error["decline_code"] == "card_data_attempts_exceeded"
    assert balances(card)["available"] == 10_000 - 100

    old = timezone.now() - timedelta(hours=settings.ISSUING_CARD_DATA_FAILURE_HOURS, minutes=1)
    first_failure = IssuingAuthorization.objects.filter(card=card, decline_code="incorrect_cvc").order_by("id").first()
    IssuingAuthorization.objects.filter(pk=first_failure.pk).update(created=old)
    assert pay(live_api, card, 100).status_code == 201  # the oldest failure left the window
