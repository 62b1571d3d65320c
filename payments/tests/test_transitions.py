"""Every allowed and every forbidden status change of payments and refunds, from the tables.

The parameters are computed from PAYMENT_TRANSITIONS / REFUND_TRANSITIONS, so changing a table
changes these tests. Allowed changes go through the public services where one reaches them
(payment_capture, payment_cancel, refund_create) and through the private transition functions
otherwise. Every allowed change writes exactly one PaymentEvent; a forbidden one changes nothing.
"""

import pytest

from core.errors import StateError

from .. import services
from ..constants import (
    PAYMENT_TRANSITIONS,
    REFUND_TRANSITIONS,
    EventType,
    PaymentStatus,
    RefundStatus,
)
from ..models import Payment, PaymentEvent, Refund
from ..processors import OperationResult, TestSimulator
from .factories import make_payment

pytestmark = pytest.mark.django_db

DECLINED = "4000000000000002"

PAYMENT_ALLOWED = sorted((f, t) for f, targets in PAYMENT_TRANSITIONS.items() for t in targets)
PAYMENT_FORBIDDEN = sorted(
    (f, t) for f in PaymentStatus.values for t in PaymentStatus.values if t not in PAYMENT_TRANSITIONS.get(f, set())
)
REFUND_ALLOWED = sorted((f, t) for f, targets in REFUND_TRANSITIONS.items() for t in targets)
REFUND_FORBIDDEN = sorted(
    (f, t) for f in RefundStatus.values for t in RefundStatus.values if t not in REFUND_TRANSITIONS.get(f, set())
)

# The event a payment's move into a status records.
PAYMENT_EVENT_FOR = {
    PaymentStatus.SUCCEEDED: EventType.PAYMENT_CAPTURED,
    PaymentStatus.CANCELED: EventType.PAYMENT_CANCELED,
    PaymentStatus.FAILED: EventType.PAYMENT_FAILED,
    PaymentStatus.REQUIRES_CAPTURE: EventType.PAYMENT_CREATED,
    PaymentStatus.REQUIRES_REVIEW: EventType.PAYMENT_REQUIRES_REVIEW,
    PaymentStatus.PROCESSING: EventType.PAYMENT_REVIEW_APPROVED,
}


def event_for(status) -> str:
    return PAYMENT_EVENT_FOR.get(status, EventType.PAYMENT_CREATED)  # a status added later: any valid type


def _ids(pairs):
    return [f"{f}->{t}" for f, t in pairs]


def test_tables_cover_every_status():
    assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus.values)
    assert set(REFUND_TRANSITIONS) == set(RefundStatus.values)
    for targets in PAYMENT_TRANSITIONS.values():
        assert targets <= set(PaymentStatus.values)
    for targets in REFUND_TRANSITIONS.values():
        assert targets <= set(RefundStatus.values)
    assert not set(PAYMENT_ALLOWED) & set(PAYMENT_FORBIDDEN)
    assert len(PAYMENT_ALLOWED) + len(PAYMENT_FORBIDDEN) == len(PaymentStatus.values) ** 2
    assert len(REFUND_ALLOWED) + len(REFUND_FORBIDDEN) == len(RefundStatus.values) ** 2


# --- Payments ------------------------------------------------------------------------------------


def payment_in(merchant, status) -> Payment:
    """A payment in `status`, reached through the services wherever a service reaches it."""
    if status == PaymentStatus.REQUIRES_CAPTURE:
        payment = make_payment(merchant, capture=False)
    elif status == PaymentStatus.SUCCEEDED:
        payment = make_payment(merchant, capture=True)
    elif status == PaymentStatus.FAILED:
        payment = make_payment(merchant, number=DECLINED)
    elif status == PaymentStatus.REQUIRES_REVIEW:  # the risk engine's elevated-risk test card (issue #5)
        payment = make_payment(merchant, number="4000000000009235")
    elif status == PaymentStatus.CANCELED:
        payment = make_payment(merchant, capture=False)
        payment = services.payment_cancel(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
    else:  # a status added to the table later: start from an authorization and place it there
        payment = make_payment(merchant, capture=False)
        Payment.objects.filter(pk=payment.pk).update(status=status)
    payment.refresh_from_db()
    assert payment.status == status
    return payment


def forget(calls: dict) -> None:
    """Drop the processor calls the setup made."""
    for made in calls.values():
        made.clear()


def snapshot(payment: Payment) -> dict:
    payment.refresh_from_db()
    return {
        "status": payment.status,
        "amount": payment.amount,
        "amount_capturable": payment.amount_capturable,
        "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded,
        "events": list(PaymentEvent.objects.filter(payment=payment).values_list("pk", flat=True)),
    }


def test_payment_create_records_its_initial_events(merchant):
    authorized = make_payment(merchant, capture=False, amount=700)
    assert [(e.type, e.from_status, e.to_status, e.amount) for e in authorized.events.all()] == [
        (EventType.PAYMENT_CREATED, "", PaymentStatus.PROCESSING, 700),
        (EventType.PAYMENT_AUTHORIZED, PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_CAPTURE, None),
    ]
    assert (authorized.amount_capturable, authorized.amount_captured) == (700, 0)

    captured = make_payment(merchant, capture=True, amount=700)
    assert sorted(e.type for e in captured.events.all()) == sorted(
        [EventType.PAYMENT_CREATED, EventType.PAYMENT_CAPTURED, EventType.PAYMENT_SUCCEEDED]
    )
    assert (captured.amount_capturable, captured.amount_captured) == (0, 700)

    failed = make_payment(merchant, number=DECLINED, amount=700)
    assert sorted(e.type for e in failed.events.all()) == sorted([EventType.PAYMENT_CREATED, EventType.PAYMENT_FAILED])
    assert (failed.amount_capturable, failed.amount_captured, failed.failure_code) == (0, 0, "card_declined")


@pytest.mark.parametrize(("from_status", "to_status"), PAYMENT_ALLOWED, ids=_ids(PAYMENT_ALLOWED))
def test_allowed_payment_transition_through_service(merchant, from_status, to_status, processor_calls):
    payment = payment_in(merchant, from_status)
    forget(processor_calls)
    before = snapshot(payment)
    if (from_status, to_status) == (PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.SUCCEEDED):
        result = services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, actor="t")
        assert len(processor_calls["capture"]) == 1
        assert (result.amount_captured, result.amount_capturable) == (before["amount_capturable"], 0)
    elif (from_status, to_status) == (PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.CANCELED):
        result = services.payment_cancel(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, actor="t")
        assert len(processor_calls["void"]) == 1
        assert (result.amount_captured, result.amount_capturable) == (0, 0)
    else:  # no public service reaches this pair
        result = services._payment_transition(payment_id=payment.pk, to_status=to_status,
                                              event_type=event_for(to_status), changes={},
                                              expected_from=from_status, actor="t")
    payment.refresh_from_db()
    assert payment.status == result.status == to_status
    new_events = list(PaymentEvent.objects.filter(payment=payment).exclude(pk__in=before["events"]))
    assert len(new_events) == 1
    event = new_events[0]
    assert (event.from_status, event.to_status, event.type, event.actor) == (
        from_status, to_status, event_for(to_status), "t"
    )


@pytest.mark.parametrize(("from_status", "to_status"), PAYMENT_ALLOWED, ids=_ids(PAYMENT_ALLOWED))
def test_allowed_payment_transition_through_private_function(merchant, from_status, to_status):
    payment = payment_in(merchant, from_status)
    before = snapshot(payment)
    services._payment_transition(payment_id=payment.pk, to_status=to_status, event_type=event_for(to_status),
                                 changes={}, expected_from=from_status)
    after = snapshot(payment)
    assert after["status"] == to_status
    assert len(after["events"]) == len(before["events"]) + 1


@pytest.mark.parametrize(("from_status", "to_status"), PAYMENT_FORBIDDEN, ids=_ids(PAYMENT_FORBIDDEN))
def test_forbidden_payment_transition_changes_nothing(merchant, from_status, to_status, processor_calls):
    payment = payment_in(merchant, from_status)
    forget(processor_calls)
    before = snapshot(payment)
    with pytest.raises(StateError) as excinfo:
        services._payment_transition(payment_id=payment.pk, to_status=to_status,
                                     event_type=event_for(to_status),
                                     changes={"amount_capturable": 0, "amount_captured": payment.amount},
                                     expected_from=from_status)
    assert excinfo.value.code == "payment_unexpected_state"
    assert excinfo.value.status == 400
    assert snapshot(payment) == before
    assert not any(processor_calls.values())


# The public services that move a payment after creation, by the status they lead to.
PUBLIC_PAYMENT_SERVICES = {
    PaymentStatus.SUCCEEDED: services.payment_capture,
    PaymentStatus.CANCELED: services.payment_cancel,
}
PAYMENT_FORBIDDEN_VIA_SERVICE = [(f, t) for f, t in PAYMENT_FORBIDDEN if t in PUBLIC_PAYMENT_SERVICES]


@pytest.mark.parametrize(("from_status", "to_status"), PAYMENT_FORBIDDEN_VIA_SERVICE,
                         ids=_ids(PAYMENT_FORBIDDEN_VIA_SERVICE))
def test_forbidden_payment_transition_refused_by_public_service(merchant, from_status, to_status, processor_calls):
    """Where a public service leads to `to_status`, it refuses too, before calling the processor."""
    service = PUBLIC_PAYMENT_SERVICES[to_status]
    payment = payment_in(merchant, from_status)
    forget(processor_calls)
    before = snapshot(payment)
    with pytest.raises(StateError) as excinfo:
        service(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
    assert excinfo.value.code == "payment_unexpected_state"
    assert snapshot(payment) == before
    assert not any(processor_calls.values())


@pytest.mark.parametrize(("from_status", "to_status"), PAYMENT_ALLOWED, ids=_ids(PAYMENT_ALLOWED))
def test_transition_refused_when_status_is_not_the_expected_one(merchant, from_status, to_status):
    """A caller that read a stale status cannot move the payment: the locked row decides."""
    payment = payment_in(merchant, from_status)
    before = snapshot(payment)
    stale = next(s for s in PaymentStatus.values if s != from_status)
    with pytest.raises(StateError):
        services._payment_transition(payment_id=payment.pk, to_status=to_status,
                                     event_type=event_for(to_status), changes={}, expected_from=stale)
    assert snapshot(payment) == before


def test_partial_capture_releases_the_rest(merchant):
    payment = make_payment(merchant, capture=False, amount=1000)
    payment = services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=600)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured, payment.amount_capturable) == (PaymentStatus.SUCCEEDED, 600, 0)
    event = payment.events.get(type=EventType.PAYMENT_CAPTURED)
    assert event.amount == 600


def test_refund_does_not_change_payment_status(merchant):
    payment = make_payment(merchant, amount=1000)
    services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.SUCCEEDED, 1000)


# --- Refunds -------------------------------------------------------------------------------------


class ProcessorDown(Exception):
    pass


def pending_refund(merchant, monkeypatch, *, amount=400) -> Refund:
    """A refund whose processor call never returned: recorded as pending, amount reserved."""
    payment = make_payment(merchant, amount=1000)

    def down(self, **kwargs):
        raise ProcessorDown()

    with monkeypatch.context() as m:
        m.setattr(TestSimulator, "refund", down)
        with pytest.raises(ProcessorDown):
            services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=amount)
    refund = Refund.objects.get(payment=payment)
    assert refund.status == RefundStatus.PENDING
    return refund


def refund_in(merchant, monkeypatch, status) -> Refund:
    refund = pending_refund(merchant, monkeypatch)
    if status != RefundStatus.PENDING:
        services._refund_transition(refund_id=refund.pk, to_status=status)
    refund.refresh_from_db()
    assert refund.status == status
    return refund


def refund_snapshot(refund: Refund) -> dict:
    refund.refresh_from_db()
    payment = Payment.objects.get(pk=refund.payment_id)
    return {
        "status": refund.status,
        "amount": refund.amount,
        "failure_code": refund.failure_code,
        "processor_reference": refund.processor_reference,
        "payment_status": payment.status,
        "amount_refunded": payment.amount_refunded,
        "amount_captured": payment.amount_captured,
        "events": list(PaymentEvent.objects.filter(payment_id=refund.payment_id).values_list("pk", flat=True)),
    }


def test_pending_refund_reserves_its_amount(merchant, monkeypatch):
    refund = pending_refund(merchant, monkeypatch, amount=400)
    payment = Payment.objects.get(pk=refund.payment_id)
    assert payment.amount_refunded == 0
    assert [e.type for e in payment.events.filter(refund=refund)] == [EventType.REFUND_CREATED]
    with pytest.raises(Exception) as excinfo:
        services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=601)
    assert excinfo.value.code == "amount_too_large"
    services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=600)


def test_refund_create_pending_to_succeeded(merchant, processor_calls):
    payment = make_payment(merchant, amount=1000)
    refund = services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=300,
                                    reason="requested_by_customer", actor="t")
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.processor_reference
    assert len(processor_calls["refund"]) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == 300
    assert [(e.type, e.amount) for e in payment.events.filter(refund=refund)] == [
        (EventType.REFUND_CREATED, 300), (EventType.REFUND_SUCCEEDED, 300)
    ]


def test_refund_create_pending_to_failed(merchant, monkeypatch):
    payment = make_payment(merchant, amount=1000)
    monkeypatch.setattr(TestSimulator, "refund",
                        lambda self, **kw: OperationResult(ok=False, failure_code="refund_declined"))
    refund = services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=300)
    assert (refund.status, refund.failure_code) == (RefundStatus.FAILED, "refund_declined")
    payment.refresh_from_db()
    assert payment.amount_refunded == 0
    assert [e.type for e in payment.events.filter(refund=refund)] == [EventType.REFUND_CREATED, EventType.REFUND_FAILED]
    # A failed refund does not keep its amount reserved.
    monkeypatch.undo()
    again = services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
    assert (again.status, again.amount) == (RefundStatus.SUCCEEDED, 1000)


@pytest.mark.parametrize(("from_status", "to_status"), REFUND_ALLOWED, ids=_ids(REFUND_ALLOWED))
def test_allowed_refund_transition(merchant, monkeypatch, from_status, to_status):
    refund = refund_in(merchant, monkeypatch, from_status)
    before = refund_snapshot(refund)
    services._refund_transition(refund_id=refund.pk, to_status=to_status, processor_reference="ref_1",
                                failure_code="x" if to_status == RefundStatus.FAILED else "", actor="t")
    after = refund_snapshot(refund)
    assert after["status"] == to_status
    assert after["processor_reference"] == "ref_1"
    expected_refunded = before["amount_refunded"] + (refund.amount if to_status == RefundStatus.SUCCEEDED else 0)
    assert after["amount_refunded"] == expected_refunded
    assert after["payment_status"] == before["payment_status"]
    new = list(PaymentEvent.objects.filter(payment_id=refund.payment_id).exclude(pk__in=before["events"]))
    assert len(new) == 1
    expected_type = EventType.REFUND_SUCCEEDED if to_status == RefundStatus.SUCCEEDED else EventType.REFUND_FAILED
    assert (new[0].type, new[0].refund_id, new[0].amount, new[0].actor) == (
        expected_type, refund.pk, refund.amount, "t"
    )


@pytest.mark.parametrize(("from_status", "to_status"), REFUND_FORBIDDEN, ids=_ids(REFUND_FORBIDDEN))
def test_forbidden_refund_transition_changes_nothing(merchant, monkeypatch, from_status, to_status):
    refund = refund_in(merchant, monkeypatch, from_status)
    before = refund_snapshot(refund)
    with pytest.raises(StateError) as excinfo:
        services._refund_transition(refund_id=refund.pk, to_status=to_status, processor_reference="other",
                                    failure_code="other")
    assert excinfo.value.code == "refund_unexpected_state"
    assert refund_snapshot(refund) == before


def test_refund_of_a_payment_in_each_status(merchant):
    """Only a succeeded payment can be refunded; every other status is refused and nothing is written."""
    for status in PaymentStatus.values:
        payment = payment_in(merchant, status)
        before = snapshot(payment)
        if status == PaymentStatus.SUCCEEDED:
            refund = services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
            assert refund.status == RefundStatus.SUCCEEDED
            continue
        with pytest.raises(StateError) as excinfo:
            services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
        assert excinfo.value.code == "payment_unexpected_state"
        assert snapshot(payment) == before
        assert not Refund.objects.filter(payment=payment).exists()

