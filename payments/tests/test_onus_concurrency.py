"""Real concurrency on PostgreSQL (#4): parallel live payments with bank cards never overspend the card
account, nor a card's daily limit. Each thread has its own connection; a barrier releases them together.
Skipped on SQLite (see /conftest.py)."""

from collections import Counter

import pytest

from cards import issuing as issuing_services
from cards.issuing_models import IssuingAuthorization
from cards.issuing_selectors import account_balances, issuing_problems
from cards.tests.issuing_factories import issue_card, make_program, secrets_of
from core.tests.threads import run_concurrently
from ledger import selectors as ledger_selectors

from .. import services
from ..models import Payment
from ..verification import verify_all
from .test_concurrency import unexpected

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16


def live_payment(merchant, card_data, amount, *, capture=True):
    return lambda: services.payment_create(merchant_id=merchant.pk, livemode=True, amount=amount, currency="EUR",
                                           card=card_data, capture=capture)


def test_parallel_payments_on_one_account_never_overspend(merchant, other_merchant):
    card = issue_card(other_merchant, program=make_program(other_merchant), fund=10_000)
    second = issuing_services.card_issue(merchant_id=other_merchant.pk, livemode=True, type="virtual",
                                         cardholder_id=card.cardholder_id, account_id=card.account_id)
    cards = [secrets_of(card), secrets_of(second)]
    # 16 payments of 1,500 (half of them only authorized) on two cards of one account holding 10,000:
    # exactly six fit.
    calls = [live_payment(merchant, cards[i % 2], 1_500, capture=bool(i % 4)) for i in range(THREADS)]
    outcomes = run_concurrently(calls)

    assert unexpected(outcomes, set()) == []
    statuses = Counter(payment.status for payment, _ in outcomes)
    approved = statuses["succeeded"] + statuses["requires_capture"]
    assert approved == 6 and statuses["failed"] == THREADS - 6
    assert {p.failure_code for p, _ in outcomes if p.status == "failed"} == {"insufficient_funds"}
    balances = account_balances(card.account)
    assert balances["available"] == 10_000 - 6 * 1_500 and balances["available"] >= 0
    held = sum(p.amount for p, _ in outcomes if p.status == "requires_capture")
    assert balances["held"] == held
    assert IssuingAuthorization.objects.filter(approved=True).count() == 6
    assert Payment.objects.filter(livemode=True).count() == THREADS
    assert verify_all(record=False) == [] and issuing_problems() == []


def test_parallel_payments_never_exceed_the_daily_limit(merchant, other_merchant):
    card = issue_card(other_merchant, program=make_program(other_merchant), fund=1_000_000,
                      controls={"daily_limit": 5_000})
    data = secrets_of(card)
    outcomes = run_concurrently([live_payment(merchant, data, 1_000) for _ in range(THREADS)])

    assert unexpected(outcomes, set()) == []
    succeeded = [p for p, _ in outcomes if p.status == "succeeded"]
    assert len(succeeded) == 5
    assert {p.failure_code for p, _ in outcomes if p.status == "failed"} == {"spending_limit_exceeded"}
    assert account_balances(card.account)["available"] == 1_000_000 - 5_000
    assert ledger_selectors.ledger_problems() == []


def test_parallel_captures_and_cancels_of_one_hold_apply_once(merchant, other_merchant):
    card = issue_card(other_merchant, program=make_program(other_merchant), fund=10_000)
    payment = services.payment_create(merchant_id=merchant.pk, livemode=True, amount=4_000, currency="EUR",
                                      card=secrets_of(card), capture=False)
    calls = [
        (lambda: services.payment_capture(merchant_id=merchant.pk, livemode=True, payment_id=payment.id,
                                          amount=2_500)) if i % 2 else
        (lambda: services.payment_cancel(merchant_id=merchant.pk, livemode=True, payment_id=payment.id))
        for i in range(8)
    ]
    outcomes = run_concurrently(calls)
    assert unexpected(outcomes, {"payment_unexpected_state", "authorization_closed", "authorization_reversed",
                                 "capture_failed", "cancel_failed"}) == []
    payment.refresh_from_db()
    auth = IssuingAuthorization.objects.get(reference=payment.id)
    balances = account_balances(card.account)
    assert balances["held"] == 0
    if payment.status == "succeeded":
        assert (auth.status, auth.amount_captured, balances["available"]) == ("closed", 2_500, 7_500)
    else:
        assert payment.status == "canceled"
        assert (auth.status, balances["available"]) == ("reversed", 10_000)
    assert verify_all(record=False) == []
