"""A request that dies between recording its intent and recording the processor's answer.

The payment stays `processing` (a refund `pending`); a retry with the same Idempotency-Key, or the
periodic resume task, asks the processor again with the same reference and records the answer
once. Nothing is charged or refunded twice.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from cards.tests.factories import VISA_OK

from .. import services, tasks
from ..constants import EventType, PaymentStatus, RefundStatus
from ..models import Payment, Refund
from ..processors import TestSimulator
from .factories import card_data, make_payment

pytestmark = pytest.mark.django_db

BODY = {"amount": 1500, "currency": "EUR", "card": card_data(VISA_OK)}


class ProcessorDown(Exception):
    pass


@pytest.fixture
def authorize_fails_once(monkeypatch):
    original = TestSimulator.authorize
    state = {"failures": 1, "references": []}

    def flaky(self, **kwargs):
        state["references"].append(kwargs["reference"])
        if state["failures"]:
            state["failures"] -= 1
            raise ProcessorDown("connection reset")
        return original(self, **kwargs)

    monkeypatch.setattr(TestSimulator, "authorize", flaky)
    return state


def test_processor_failure_leaves_the_intent_recorded(merchant, authorize_fails_once):
    with pytest.raises(ProcessorDown):
        services.payment_create(merchant_id=merchant.pk, livemode=False, amount=1500, currency="EUR",
                                card=card_data(VISA_OK))
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PROCESSING
    assert payment.card.last4 == "4242"  # the card was vaulted with the intent
    assert [e.type for e in payment.events.all()] == [EventType.PAYMENT_CREATED]


def test_retry_with_same_key_finishes_the_first_payment(api, authorize_fails_once):
    api.raise_request_exception = False
    first = api.post("/v1/payments", BODY, format="json", HTTP_IDEMPOTENCY_KEY="crash-1")
    assert first.status_code == 500
    assert first.json()["error"]["type"] == "api_error"
    assert Payment.objects.get().status == PaymentStatus.PROCESSING

    second = api.post("/v1/payments", BODY, format="json", HTTP_IDEMPOTENCY_KEY="crash-1")
    assert second.status_code == 201, second.content
    payment = Payment.objects.get()  # still exactly one payment
    assert second.json()["id"] == payment.pk
    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount_captured == 1500
    # The processor was asked twice with the same reference: idempotent there, charged once.
    assert authorize_fails_once["references"] == [payment.pk, payment.pk]
    assert [e.type for e in payment.events.all()].count(EventType.PAYMENT_CAPTURED) == 1


def test_resume_task_finishes_old_processing_payments_only(merchant, authorize_fails_once):
    with pytest.raises(ProcessorDown):
        services.payment_create(merchant_id=merchant.pk, livemode=False, amount=1500, currency="EUR",
                                card=card_data("4000000000000002"), capture=False)
    payment = Payment.objects.get()
    assert tasks.resume_stuck_operations() == {"payments": 0, "refunds": 0}  # too young: maybe still running
    Payment.objects.filter(pk=payment.pk).update(updated=timezone.now() - timedelta(minutes=10))
    assert tasks.resume_stuck_operations() == {"payments": 1, "refunds": 0}
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "card_declined"
    assert tasks.resume_stuck_operations() == {"payments": 0, "refunds": 0}


def test_resume_of_a_finished_payment_changes_nothing(merchant):
    payment = make_payment(merchant)
    events = payment.events.count()
    assert services.payment_resume(payment_id=payment.pk).status == PaymentStatus.SUCCEEDED
    assert payment.events.count() == events


def test_pending_refund_is_finished_once(api, merchant, monkeypatch):
    payment = make_payment(merchant, amount=1000)
    original = TestSimulator.refund
    calls = []

    def down(self, **kwargs):
        calls.append(kwargs["reference"])
        raise ProcessorDown("timeout")

    monkeypatch.setattr(TestSimulator, "refund", down)
    api.raise_request_exception = False
    body = {"payment": payment.pk, "amount": 400}
    assert api.post("/v1/refunds", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1").status_code == 500
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PENDING
    # The reserved amount still counts: only 600 can be refunded meanwhile.
    assert api.post("/v1/refunds", {"payment": payment.pk, "amount": 700}, format="json").status_code == 400

    def up(self, **kwargs):
        calls.append(kwargs["reference"])
        return original(self, **kwargs)

    monkeypatch.setattr(TestSimulator, "refund", up)
    again = api.post("/v1/refunds", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert again.status_code == 201 and again.json()["id"] == refund.pk
    assert again.json()["status"] == "succeeded"
    assert Refund.objects.count() == 1
    assert calls == [refund.pk, refund.pk]
    payment.refresh_from_db()
    assert payment.amount_refunded == 400


def test_resume_task_finishes_old_pending_refunds(merchant, monkeypatch):
    payment = make_payment(merchant, amount=1000)
    original = TestSimulator.refund
    monkeypatch.setattr(TestSimulator, "refund", lambda self, **kw: (_ for _ in ()).throw(ProcessorDown()))
    with pytest.raises(ProcessorDown):
        services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=250)
    monkeypatch.setattr(TestSimulator, "refund", original)
    Refund.objects.update(updated=timezone.now() - timedelta(minutes=10))
    assert tasks.resume_stuck_operations() == {"payments": 0, "refunds": 1}
    payment.refresh_from_db()
    assert Refund.objects.get().status == RefundStatus.SUCCEEDED
    assert payment.amount_refunded == 250
