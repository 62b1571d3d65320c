"""Real concurrency on PostgreSQL: refunds never exceed the captured amount, a payment is captured once.

Every thread has its own database connection (closed at the end); a barrier releases them
together so the requests really overlap. Skipped on SQLite (see /conftest.py).
"""

from collections import Counter

import pytest

from core.errors import ApplicationError
from core.tests.threads import run_concurrently

from .. import services
from ..constants import EventType, PaymentStatus, RefundStatus
from ..models import Payment, PaymentEvent, Refund
from .factories import make_payment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10




def unexpected(outcomes, allowed_codes):
    return [exc for _, exc in outcomes if exc is not None
            and not (isinstance(exc, ApplicationError) and exc.code in allowed_codes)]


def assert_refund_invariants(payment_id):
    payment = Payment.objects.get(pk=payment_id)
    succeeded = sum(Refund.objects.filter(payment=payment, status=RefundStatus.SUCCEEDED).values_list("amount",
                                                                                                        flat=True))
    assert payment.amount_refunded == succeeded
    assert payment.amount_refunded <= payment.amount_captured
    assert not Refund.objects.filter(payment=payment, status=RefundStatus.PENDING).exists()
    assert PaymentEvent.objects.filter(payment=payment, type=EventType.REFUND_SUCCEEDED).count() == (
        Refund.objects.filter(payment=payment, status=RefundStatus.SUCCEEDED).count()
    )
    return payment


def test_concurrent_partial_refunds_never_exceed_captured(merchant):
    payment = make_payment(merchant, amount=1000)
    amount = 300  # 10 x 300 = 3000 asked for, 1000 captured: exactly three fit

    outcomes = run_concurrently([
        lambda: services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=amount)
        for _ in range(THREADS)
    ])

    assert unexpected(outcomes, {"amount_too_large", "charge_already_refunded"}) == []
    refunds = [r for r, _ in outcomes if r is not None]
    assert len(refunds) == 3
    assert all(r.status == RefundStatus.SUCCEEDED for r in refunds)
    payment = assert_refund_invariants(payment.pk)
    assert payment.amount_refunded == 900
    assert Refund.objects.filter(payment=payment).count() == 3


def test_concurrent_mixed_refunds_never_exceed_captured(merchant):
    payment = make_payment(merchant, amount=1000)
    amounts = [100, 250, 400, 150, 500, 50, 333, 200, None, 999]  # None: "everything left"

    outcomes = run_concurrently([
        (lambda a=a: services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=a))
        for a in amounts
    ])

    assert unexpected(outcomes, {"amount_too_large", "charge_already_refunded"}) == []
    refunds = [r for r, _ in outcomes if r is not None]
    assert refunds
    payment = assert_refund_invariants(payment.pk)
    assert payment.amount_refunded == sum(r.amount for r in refunds)
    assert payment.amount_refunded <= 1000


def test_concurrent_full_refunds_only_one_succeeds(merchant):
    payment = make_payment(merchant, amount=1000)

    outcomes = run_concurrently([
        lambda: services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
        for _ in range(THREADS)
    ])

    assert unexpected(outcomes, {"charge_already_refunded"}) == []
    refunds = [r for r, _ in outcomes if r is not None]
    assert len(refunds) == 1 and refunds[0].amount == 1000
    assert assert_refund_invariants(payment.pk).amount_refunded == 1000


def test_concurrent_captures_exactly_one_succeeds(merchant):
    payment = make_payment(merchant, amount=1000, capture=False)

    outcomes = run_concurrently([
        (lambda a=a: services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk,
                                              amount=a))
        for a in [1000, 900, 800, 700, 600, None, 500, 400, 300, 200]
    ])

    assert unexpected(outcomes, {"payment_unexpected_state"}) == []
    winners = [p for p, _ in outcomes if p is not None]
    assert len(winners) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (payment.amount_captured, payment.amount_capturable) == (winners[0].amount_captured, 0)
    assert PaymentEvent.objects.filter(payment=payment, type=EventType.PAYMENT_CAPTURED).count() == 1


def test_concurrent_capture_and_cancel_exactly_one_wins(merchant):
    payment = make_payment(merchant, amount=1000, capture=False)
    calls = []
    for i in range(THREADS):
        service = services.payment_capture if i % 2 else services.payment_cancel
        calls.append(lambda s=service: s(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk))

    outcomes = run_concurrently(calls)

    assert unexpected(outcomes, {"payment_unexpected_state"}) == []
    winners = [p for p, _ in outcomes if p is not None]
    assert len(winners) == 1
    payment.refresh_from_db()
    assert payment.status == winners[0].status
    types = Counter(PaymentEvent.objects.filter(payment=payment).values_list("type", flat=True))
    assert types[EventType.PAYMENT_CAPTURED] + types[EventType.PAYMENT_CANCELED] == 1
