"""The settlement sequence: every item settles exactly once, and nothing is written per item to do it."""

import logging
from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from .. import services, settlement
from ..constants import PayoutStatus
from ..models import Payment, Payout, Refund, Settlement, SettlementLine, SettlementSequence
from ..verification import verify_all
from .factories import make_payment
from .money_helpers import next_period, refund, settle

pytestmark = pytest.mark.django_db


def sequence(merchant, currency="EUR"):
    return SettlementSequence.objects.get(merchant=merchant, currency=currency, livemode=False)


def test_items_are_numbered_in_booking_order_and_a_settlement_is_a_range(merchant, plan):
    first, second = make_payment(merchant, amount=1_000), make_payment(merchant, amount=2_000)
    authorized = make_payment(merchant, amount=3_000, capture=False)  # no money moved: no number
    r = refund(merchant, first, 400)  # drawn on pending: numbered when it succeeds
    for obj in (first, second, authorized, r):
        obj.refresh_from_db()
    assert (first.settlement_seq, second.settlement_seq, authorized.settlement_seq, r.settlement_seq) == (1, 2, None, 3)
    assert first.captured_at <= second.captured_at <= r.booked_at
    assert (sequence(merchant).booked, sequence(merchant).settled) == (3, 0)
    [stl_id] = settle()
    stl = Settlement.objects.get(pk=stl_id)
    assert (stl.seq_from, stl.seq_to, stl.payment_count, stl.refund_count) == (0, 3, 2, 1)
    assert sorted(SettlementLine.objects.filter(settlement=stl).values_list("seq", "id")) == [
        (1, first.pk), (2, second.pk), (3, r.pk)]
    assert sequence(merchant).settled == 3
    services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=authorized.pk)
    [later] = settle()
    assert Settlement.objects.filter(pk=later).values_list("seq_from", "seq_to").get() == (3, 4)
    assert verify_all() == []


def test_a_refund_of_a_settled_payment_takes_no_number(merchant, plan):
    payment = make_payment(merchant, amount=10_000)
    [stl_id] = settle()
    payout = Payout.objects.get(settlement_id=stl_id)  # failed: the money is back in available
    settlement.payout_transition(payout_id=payout.pk, to_status=PayoutStatus.FAILED, failure_code="account_closed")
    r = refund(merchant, payment, 1_000)
    r.refresh_from_db()
    assert (r.funded_from, r.settlement_seq, r.booked_at) == ("available", None, None)
    assert settle() == [] and verify_all() == []


def test_each_currency_and_mode_has_its_own_sequence(merchant, plan):
    make_payment(merchant, amount=1_000)
    make_payment(merchant, amount=1_000, currency="USD")
    make_payment(merchant, amount=1_000, currency="USD")
    assert (sequence(merchant).booked, sequence(merchant, "USD").booked) == (1, 2)
    assert len(settle()) == 2 and verify_all() == []


def test_the_booking_time_never_goes_back_even_when_the_clock_does(merchant, plan, monkeypatch):
    """Numbers follow commits, times follow numbers: so the items booked before any cutoff are a prefix."""
    first = make_payment(merchant, amount=1_000)
    first.refresh_from_db()
    earlier = first.captured_at - timedelta(minutes=5)
    monkeypatch.setattr(settlement.timezone, "now", lambda: earlier)  # the clock is set back
    second = make_payment(merchant, amount=2_000)
    second.refresh_from_db()
    assert second.settlement_seq == first.settlement_seq + 1
    assert second.captured_at == first.captured_at  # not five minutes earlier
    monkeypatch.undo()
    # A cutoff between the clock's two readings takes neither, rather than the second without the first.
    assert settlement.settlement_run(period=next_period(), cutoff=earlier + timedelta(minutes=1)) == []
    assert len(settle()) == 1 and verify_all() == []


def test_a_cutoff_takes_the_items_booked_before_it_and_leaves_the_rest(merchant, plan):
    first = make_payment(merchant, amount=1_000)
    first.refresh_from_db()
    make_payment(merchant, amount=2_000)
    Payment.objects.filter(pk=first.pk).update(captured_at=first.captured_at - timedelta(hours=1))
    [stl_id] = settlement.settlement_run(period=next_period(), cutoff=first.captured_at - timedelta(minutes=30))
    assert Settlement.objects.filter(pk=stl_id).values_list("gross", "seq_to").get() == (1_000, 1)
    [rest] = settle()
    assert Settlement.objects.filter(pk=rest).values_list("gross", "seq_from", "seq_to").get() == (2_000, 1, 2)
    assert verify_all() == []


def test_a_sequence_booked_out_of_order_is_not_settled_and_says_so(merchant, plan, other_merchant, caplog):
    """Number 1 booked after the cutoff, number 2 before it: settling 2 alone would settle 1 unpaid."""
    first, second = make_payment(merchant, amount=1_000), make_payment(merchant, amount=2_000)
    second.refresh_from_db()
    Payment.objects.filter(pk=first.pk).update(captured_at=second.captured_at + timedelta(hours=1))
    make_payment(other_merchant, amount=5_000)
    with caplog.at_level(logging.ERROR, logger="payments.settlement"):
        [stl_id] = settlement.settlement_run(period=next_period(), cutoff=second.captured_at + timedelta(minutes=1))
    assert Settlement.objects.get(pk=stl_id).merchant_id == other_merchant.pk  # the others are settled
    assert sequence(merchant).settled == 0
    assert "out of order, not settled" in caplog.text


def test_the_database_refuses_a_number_twice(merchant, plan):
    first, second = make_payment(merchant, amount=1_000), make_payment(merchant, amount=2_000)
    r = refund(merchant, first, 100)
    r2 = refund(merchant, second, 100)
    r.refresh_from_db()
    first.refresh_from_db()
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=second.pk).update(settlement_seq=first.settlement_seq)
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.filter(pk=r2.pk).update(settlement_seq=r.settlement_seq)


def test_lines_are_a_read_only_view(merchant, plan):
    payment = make_payment(merchant, amount=1_000)
    [stl_id] = settle()
    line = SettlementLine.objects.get(settlement_id=stl_id)
    assert (line.id, line.type, line.payment_id, line.gross, line.net) == (
        payment.pk, "payment", payment.pk, 1_000, 945)
    with pytest.raises(DatabaseError), transaction.atomic():
        SettlementLine.objects.filter(pk=payment.pk).update(net=0)


@pytest.mark.parametrize("tamper", ["gap", "overlap", "settled", "booked", "unnumbered", "numbered", "duplicate",
                                    "elsewhere"])
def test_verify_catches_a_broken_sequence(merchant, plan, other_merchant, tamper):
    make_payment(merchant, amount=10_000)
    make_payment(merchant, amount=5_000)
    [one] = settle()
    third = make_payment(merchant, amount=2_000)  # number 3
    r = refund(merchant, third, 1_000)  # number 4 (drawn on pending)
    [two] = settle()
    assert verify_all(record=False) == []
    expected = {
        "gap": "(a gap or an overlap)", "overlap": "(a gap or an overlap)", "settled": "is settled up to",
        "booked": "booked but", "unnumbered": "lacks one it should", "numbered": "lacks one it should",
        "duplicate": "distinct number(s)", "elsewhere": "in another merchant's",
    }[tamper]
    if tamper == "gap":
        Settlement.objects.filter(pk=two).update(seq_from=3)  # number 3 in no settlement
    elif tamper == "overlap":
        Settlement.objects.filter(pk=two).update(seq_from=1)  # number 2 in both
    elif tamper == "settled":
        SettlementSequence.objects.filter(merchant=merchant).update(settled=2)
    elif tamper == "booked":
        SettlementSequence.objects.filter(merchant=merchant).update(booked=5)
    elif tamper == "unnumbered":
        Payment.objects.filter(pk=third.pk).update(settlement_seq=None)
    elif tamper == "numbered":
        Refund.objects.filter(pk=r.pk).update(funded_from="available")  # an available refund has no number
    elif tamper == "duplicate":  # payments and refunds share the numbers: the database cannot see this one
        Refund.objects.filter(pk=r.pk).update(settlement_seq=2)  # the second payment's number
    else:  # numbered in another merchant's sequence
        make_payment(other_merchant, amount=1_000)
        Payment.objects.filter(pk=third.pk).update(settlement_sequence=sequence(other_merchant))
    problems = verify_all(record=False)
    assert any(expected in p for p in problems), problems
    assert one != two
