"""Money that adds up: captures, refunds, settlement, payouts and their ledger entries."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.errors import ApplicationError, StateError
from ledger import selectors as ledger_selectors
from ledger.constants import AccountPurpose as P
from ledger.models import JournalEntry, VerificationRun
from merchants.fees import fee_plan_set

from .. import services, settlement
from ..constants import PAYOUT_TRANSITIONS, PayoutStatus, RefundStatus, SettlementStatus
from ..models import Payment, Payout, PayoutEvent, Refund, Settlement, SettlementEvent, SettlementLine
from ..verification import verify_all
from .factories import make_payment
from .money_helpers import VALID_IBAN, failing_refunds, next_period, refund, settle

pytestmark = pytest.mark.django_db


def balance(merchant, currency="EUR"):
    return ledger_selectors.balances_for_merchant(merchant_id=merchant.pk, livemode=False).get(
        currency, {"available": 0, "pending": 0})


def test_capture_books_gross_fee_and_net(merchant, plan):
    payment = make_payment(merchant, amount=10_000)
    payment.refresh_from_db()
    assert payment.fee == 280 and payment.captured_at is not None  # 250 + 30
    entry = JournalEntry.objects.get(key=f"capture:{payment.pk}")
    assert (entry.type, entry.amount, entry.fee, entry.net, entry.source) == ("payment", 10_000, 280, 9_720, payment.pk)
    assert balance(merchant) == {"available": 0, "pending": 9_720}
    assert ledger_selectors.account_balance(purpose=P.FEE_REVENUE, currency="EUR", livemode=False) == 280
    assert verify_all() == []


def test_partial_capture_books_only_the_captured_amount(merchant, plan):
    payment = make_payment(merchant, amount=10_000, capture=False)
    assert not JournalEntry.objects.filter(source=payment.pk).exists()  # an authorization moves no money
    services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=4_000)
    entry = JournalEntry.objects.get(key=f"capture:{payment.pk}")
    assert (entry.amount, entry.fee) == (4_000, 130)
    assert balance(merchant)["pending"] == 3_870
    assert verify_all() == []


def test_refund_of_an_unsettled_payment_draws_on_pending_and_keeps_the_fee(merchant, plan):
    payment = make_payment(merchant, amount=10_000)
    r = refund(merchant, payment, 10_000)
    assert r.funded_from == "pending"
    assert balance(merchant)["pending"] == -280  # the fee is not returned
    assert verify_all() == []


def test_failed_refund_is_reversed(merchant, plan, monkeypatch):
    payment = make_payment(merchant, amount=10_000)
    failing_refunds(monkeypatch)
    r = refund(merchant, payment, 3_000)
    assert r.status == RefundStatus.FAILED
    assert JournalEntry.objects.get(key=f"refund_failure:{r.pk}").reverses.key == f"refund:{r.pk}"
    assert balance(merchant)["pending"] == 9_720
    assert verify_all() == []


def test_settlement_moves_net_to_available_and_creates_a_payout(merchant, plan):
    p1 = make_payment(merchant, amount=10_000)
    p2 = make_payment(merchant, amount=5_000)
    r = refund(merchant, p1, 1_000)
    [stl_id] = settle()
    stl = Settlement.objects.get(pk=stl_id)
    assert stl.status == SettlementStatus.COMPLETED
    assert (stl.payment_count, stl.refund_count, stl.gross, stl.refunds, stl.fees) == (2, 1, 15_000, 1_000, 435)
    assert stl.net == stl.total == 15_000 - 1_000 - 435
    lines = {(line.type, line.id): line.net for line in stl.lines.all()}
    assert lines == {("payment", p1.pk): 9_720, ("payment", p2.pk): 4_845, ("refund", r.pk): -1_000}
    payout = Payout.objects.get(settlement=stl)
    assert (payout.amount, payout.status, payout.iban_last4) == (stl.total, PayoutStatus.PENDING, "3000")
    assert balance(merchant) == {"available": 0, "pending": 0}  # net moved to available, then reserved for payout
    assert ledger_selectors.account_balance(purpose=P.PAYOUT_CLEARING, currency="EUR", livemode=False) == stl.total
    assert SettlementEvent.objects.filter(settlement=stl, to_status="completed").count() == 1
    assert verify_all() == []


def test_settlement_is_exactly_once(merchant, plan):
    make_payment(merchant, amount=10_000)
    period = next_period()
    first = settle(period)
    assert settle(period) == []  # the same period again: nothing
    assert settle() == []  # a later period: nothing left to settle
    assert len(first) == 1 and SettlementLine.objects.count() == 1 and Payout.objects.count() == 1


def test_new_captures_go_into_the_next_batch(merchant, plan):
    make_payment(merchant, amount=1_000)
    settle()
    make_payment(merchant, amount=2_000)
    [second] = settle()
    assert Settlement.objects.get(pk=second).gross == 2_000
    assert verify_all() == []


def test_refund_of_a_settled_payment_draws_on_available(merchant, plan):
    payment = make_payment(merchant, amount=10_000)
    [stl_id] = settle()
    payout = Payout.objects.get(settlement_id=stl_id)
    settlement.payout_transition(payout_id=payout.pk, to_status=PayoutStatus.FAILED, failure_code="account_closed")
    assert balance(merchant)["available"] == 9_720  # back after the failed payout
    r = refund(merchant, payment, 2_000)
    assert r.funded_from == "available"
    assert balance(merchant) == {"available": 7_720, "pending": 0}
    assert settle() == []  # a refund from available is not settled again
    assert verify_all() == []


def test_refund_of_a_settled_payment_is_refused_when_available_cannot_cover_it(merchant, plan):
    payment = make_payment(merchant, amount=10_000)
    settle()  # everything is reserved for the payout: available is 0
    with pytest.raises(ApplicationError) as exc:
        refund(merchant, payment, 2_000)
    assert exc.value.code == "balance_insufficient"
    assert not Refund.objects.exists()  # nothing reserved, the processor never called
    payment.refresh_from_db()
    assert payment.amount_refunded == 0
    assert verify_all() == []


def test_negative_net_is_carried_forward_not_paid(merchant, plan):
    payment = make_payment(merchant, amount=1_000)  # fee 55, net 945
    refund(merchant, payment, 1_000)  # pending -55
    [first] = settle()
    s1 = Settlement.objects.get(pk=first)
    assert (s1.net, s1.total, s1.carried_forward) == (-55, -55, -55)
    assert not Payout.objects.exists()
    make_payment(merchant, amount=2_000)  # fee 80, net 1920
    [second] = settle()
    s2 = Settlement.objects.get(pk=second)
    assert (s2.carried_in, s2.carried_from_id, s2.total) == (-55, s1.pk, 1_865)
    assert Payout.objects.get(settlement=s2).amount == 1_865
    assert verify_all() == []


def test_one_run_carries_and_pays_each_merchant_on_its_own(merchant, plan, other_merchant):
    """The batches of a run are completed together: each takes its own merchant's carry, nobody else's."""
    other_merchant.payout_iban = VALID_IBAN
    other_merchant.save()
    fee_plan_set(merchant_id=other_merchant.pk, currency="EUR", percent_bps=250, fixed_amount=30)
    payment = make_payment(merchant, amount=1_000)
    refund(merchant, payment, 1_000)  # merchant: -55, carried
    make_payment(other_merchant, amount=3_000)  # other: 2,895 paid out
    first = Settlement.objects.filter(pk__in=settle())
    assert {(s.merchant_id, s.total, s.carried_forward) for s in first} == {(merchant.pk, -55, -55),
                                                                          (other_merchant.pk, 2_895, 0)}
    make_payment(merchant, amount=2_000)
    make_payment(other_merchant, amount=2_000)
    second = {s.merchant_id: s for s in Settlement.objects.filter(pk__in=settle())}
    carried = first.get(merchant=merchant)
    assert (second[merchant.pk].carried_in, second[merchant.pk].carried_from_id) == (-55, carried.pk)
    assert (second[other_merchant.pk].carried_in, second[other_merchant.pk].carried_from_id) == (0, None)
    assert {p.merchant_id: p.amount for p in Payout.objects.filter(settlement__in=second.values())} == {
        merchant.pk: 1_865, other_merchant.pk: 1_920}
    assert verify_all() == []


def test_a_run_takes_the_same_statements_for_one_merchant_or_many(django_assert_num_queries):
    """Set-based: no round of statements per payment, nor per merchant."""
    from merchants.tests.factories import MerchantFactory

    def merchants_with_payments(n):
        out = [MerchantFactory(payout_iban=VALID_IBAN) for _ in range(n)]
        for m in out:
            fee_plan_set(merchant_id=m.pk, currency="EUR", percent_bps=250, fixed_amount=30)
            make_payment(m, amount=5_000)
            make_payment(m, amount=1_000)
        return out

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    merchants_with_payments(1)
    with CaptureQueriesContext(connection) as one:
        assert len(settle()) == 1
    merchants_with_payments(6)
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(settle()) == 6
    assert verify_all() == []


def test_settlement_and_payout_events_carry_their_api_representation(api, merchant, plan):
    from merchants.models import Event

    make_payment(merchant, amount=10_000)
    [stl_id] = settle()
    payout = Payout.objects.get(settlement_id=stl_id)
    created = Event.objects.get(object_id=stl_id, type="settlement.created")
    assert created.sequence == 1 and created.data["status"] == "completed" and created.data["payout"] == payout.pk
    assert created.data == api.get(f"/v1/settlements/{stl_id}").json()
    assert Event.objects.get(object_id=payout.pk, type="payout.created").data == api.get(
        f"/v1/payouts/{payout.pk}").json()


def test_payout_paid_clears_the_payout_account(merchant, plan):
    make_payment(merchant, amount=10_000)
    settle()
    assert settlement.payouts_send() == {"in_transit": 1, "failed": 0, "paid": 0}
    assert settlement.payouts_send() == {"in_transit": 0, "failed": 0, "paid": 1}
    payout = Payout.objects.get()
    assert payout.status == PayoutStatus.PAID and payout.arrival_date is not None
    assert ledger_selectors.account_balance(purpose=P.PAYOUT_CLEARING, currency="EUR", livemode=False) == 0
    assert [e.to_status for e in PayoutEvent.objects.filter(payout=payout)] == ["pending", "in_transit", "paid"]
    assert verify_all() == []


def test_payout_without_a_bank_account_fails_and_returns_the_money(merchant):
    make_payment(merchant, amount=10_000)
    settle()
    assert settlement.payouts_send()["failed"] == 1
    payout = Payout.objects.get()
    assert (payout.status, payout.failure_code) == (PayoutStatus.FAILED, "no_bank_account")
    assert balance(merchant)["available"] == payout.amount
    assert JournalEntry.objects.get(key=f"payout_failure:{payout.pk}").type == "payout_failure"
    assert verify_all() == []


@pytest.mark.parametrize("from_status", list(PayoutStatus.values))
@pytest.mark.parametrize("to_status", list(PayoutStatus.values))
def test_payout_transition_table(merchant, plan, from_status, to_status):
    make_payment(merchant, amount=10_000)
    settle()
    payout = Payout.objects.get()
    path = {"pending": [], "in_transit": ["in_transit"], "paid": ["in_transit", "paid"], "failed": ["failed"]}
    for step in path[from_status]:
        settlement.payout_transition(payout_id=payout.pk, to_status=step)
    if to_status in PAYOUT_TRANSITIONS[from_status]:
        assert settlement.payout_transition(payout_id=payout.pk, to_status=to_status).status == to_status
    else:
        with pytest.raises(StateError):
            settlement.payout_transition(payout_id=payout.pk, to_status=to_status)
    assert verify_all() == []


def test_settlement_publishes_events(merchant, plan):
    from merchants.models import Event

    make_payment(merchant, amount=10_000)
    settle()
    payout = Payout.objects.get()
    settlement.payout_transition(payout_id=payout.pk, to_status=PayoutStatus.IN_TRANSIT)
    settlement.payout_transition(payout_id=payout.pk, to_status=PayoutStatus.FAILED, failure_code="x")
    types = set(Event.objects.filter(merchant=merchant).values_list("type", flat=True))
    assert {"settlement.created", "payout.created", "payout.failed"} <= types


def test_ledger_verify_command_is_loud_on_a_break(merchant, plan):
    make_payment(merchant, amount=10_000)
    call_command("ledger_verify")
    assert VerificationRun.objects.first().ok
    Payment.objects.update(amount_refunded=0, fee=1)  # tamper: the booked fee no longer matches
    with pytest.raises(CommandError, match="invariant"):
        call_command("ledger_verify")
    run = VerificationRun.objects.first()
    assert not run.ok and any("the ledger booked" in p for p in run.problems)


def test_verify_catches_a_settlement_that_does_not_equal_its_lines(merchant, plan):
    make_payment(merchant, amount=10_000)
    [stl_id] = settle()
    Settlement.objects.filter(pk=stl_id).update(fees=0, net=10_000, total=10_000)
    assert any(f"settlement {stl_id}" in p for p in verify_all(record=False))


def test_settle_command(merchant, plan, capsys):
    make_payment(merchant, amount=10_000)
    call_command("settle", "--date", "2999-01-01")
    out = capsys.readouterr().out
    assert "1 settlement(s) for 2999-01-01" in out and "in_transit" in out
    with pytest.raises(CommandError):
        call_command("settle", "--date", "nope")


def test_settle_task_runs_the_service(merchant, plan):
    from ..settlement_tasks import ledger_verify
    from ..settlement_tasks import settle as settle_task

    make_payment(merchant, amount=10_000)
    assert len(settle_task.apply(args=["2999-02-01"]).get()) == 1
    assert ledger_verify.apply().get() == 0
    assert settle_task.app.conf.beat_schedule["settle-daily"]["task"] == "payments.settle"
