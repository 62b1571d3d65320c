"""A worker killed (SIGKILL) in the middle of a settlement run leaves nothing half-done; the run
repeated afterwards settles every payment exactly once and the ledger balances. Also: concurrent
refunds and captures never break a balance. PostgreSQL only (real processes, real locks)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from core.tests.threads import run_concurrently
from merchants.fees import fee_plan_set
from merchants.tests.factories import MerchantFactory

from .. import services
from ..models import Payment, Payout, Refund, Settlement, SettlementLine, SettlementSequence
from ..verification import verify_all
from .factories import make_payment
from .money_helpers import VALID_IBAN, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import os, sys, time
import django
django.setup()
from datetime import date, timedelta
from django.utils import timezone
from payments import settlement

def checkpoint(stage):
    if stage == os.environ["KILL_AT"]:
        open(os.environ["MARKER"], "w").write(stage)
        time.sleep(120)  # killed here, inside the open transaction

settlement._checkpoint = checkpoint
settlement.settlement_run(period=date(2031, 1, 1), cutoff=timezone.now() + timedelta(seconds=5))
"""


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.mark.parametrize("stage", ["sequences_locked", "settlements_created", "completed"])
def test_worker_killed_mid_settlement_rolls_back_and_the_rerun_settles_each_payment_once(tmp_path, stage):
    merchants = [MerchantFactory(payout_iban=VALID_IBAN) for _ in range(3)]
    for m in merchants:
        fee_plan_set(merchant_id=m.pk, currency="EUR", percent_bps=200, fixed_amount=10)
        for amount in (1_000, 2_500, 7_000):
            make_payment(m, amount=amount)
    payment = Payment.objects.filter(merchant=merchants[0]).first()
    services.refund_create(merchant_id=merchants[0].pk, livemode=False, payment_id=payment.pk, amount=500)

    marker = tmp_path / "marker"
    env = {**os.environ, "DATABASE_URL": _database_url(), "KILL_AT": stage, "MARKER": str(marker),
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env)
    try:
        for _ in range(600):
            if marker.exists() or worker.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), f"the worker never reached {stage} (exit code {worker.poll()})"
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
    # PostgreSQL ends the dead backend's transaction: wait until its locks are gone, then check.
    for _ in range(100):
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'")
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.1)
    assert Settlement.objects.count() == 0 and SettlementLine.objects.count() == 0 and Payout.objects.count() == 0
    assert set(SettlementSequence.objects.values_list("settled", flat=True)) == {0}  # no sequence moved
    assert verify_all(record=False) == []

    ids = settle()  # the task delivered again (acks_late): starts over
    assert len(ids) == 3
    lines = SettlementLine.objects.filter(type="payment")
    captured = set(Payment.objects.filter(amount_captured__gt=0).values_list("pk", flat=True))
    assert len(captured) >= 3  # (the risk engine may hold a payment for review)
    assert lines.count() == len(captured) and set(lines.values_list("payment_id", flat=True)) == captured
    assert SettlementLine.objects.filter(type="refund").count() == 1
    assert Payout.objects.count() == 3
    assert settle() == []
    assert verify_all(record=False) == []


def test_concurrent_refunds_and_captures_never_break_a_balance():
    merchant = MerchantFactory(payout_iban=VALID_IBAN)
    captured = [make_payment(merchant, amount=10_000) for _ in range(3)]
    authorized = [make_payment(merchant, amount=5_000, capture=False) for _ in range(4)]
    calls = []
    for p in captured:
        calls += [lambda p=p: services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=p.pk,
                                                     amount=3_000) for _ in range(4)]
    calls += [lambda p=p: services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=p.pk,
                                                   amount=2_000) for p in authorized for _ in range(2)]
    calls += [settle]
    outcomes = run_concurrently(calls)
    errors = [exc for _, exc in outcomes if exc is not None]
    assert all(getattr(exc, "code", None) in {"amount_too_large", "charge_already_refunded", "payment_unexpected_state",
                                              "balance_insufficient"} for exc in errors), errors
    insufficient = sum(1 for exc in errors if exc.code == "balance_insufficient")
    for p in captured:
        p.refresh_from_db()
        # three of the four 3000 refunds fit, unless the concurrent settlement settled the payment first
        # and its available balance (reserved for the payout) could not cover them
        assert p.amount_refunded in (0, 3_000, 6_000, 9_000)
    assert sum(p.amount_refunded for p in captured) + 3_000 * insufficient >= 27_000
    assert verify_all(record=False) == []


def test_captures_and_refunds_racing_settlement_runs_are_each_settled_exactly_once():
    """Bookings wait for a run holding their sequence and come after its range; none is lost or doubled."""
    merchant = MerchantFactory(payout_iban=VALID_IBAN)
    captured = [make_payment(merchant, amount=10_000) for _ in range(3)]
    authorized = [make_payment(merchant, amount=5_000, capture=False) for _ in range(6)]
    calls = [lambda p=p: services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=p.pk)
             for p in authorized]
    calls += [lambda p=p: services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=p.pk,
                                                 amount=1_000) for p in captured]
    calls += [settle, settle, settle]
    outcomes = run_concurrently(calls)
    # A refund of a payment a run settled first draws on available, which that run's payout emptied.
    assert all(exc.code == "balance_insufficient" for _, exc in outcomes if exc is not None)
    assert all(exc is None for _, exc in outcomes[:6])  # every capture
    settle()  # whatever the racing runs left
    items = set(Payment.objects.filter(amount_captured__gt=0).values_list("pk", flat=True))
    items |= set(Refund.objects.filter(funded_from="pending", status="succeeded").values_list("pk", flat=True))
    lines = list(SettlementLine.objects.values_list("id", flat=True))
    assert len(items) >= 9 and sorted(lines) == sorted(items)  # each item in exactly one settlement
    assert verify_all(record=False) == []


def test_concurrent_refunds_of_a_settled_payment_never_overdraw_available():
    merchant = MerchantFactory(payout_iban=VALID_IBAN)
    payment = make_payment(merchant, amount=10_000)
    settle()
    payout = Payout.objects.get()
    from .. import settlement

    settlement.payout_transition(payout_id=payout.pk, to_status="failed", failure_code="account_closed")
    other = make_payment(merchant, amount=10_000)
    settle()  # `other` settled too; its payout is pending, available holds the first payout's money
    available = payout.amount
    outcomes = run_concurrently([
        lambda p=p: services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=p.pk, amount=4_000)
        for p in (payment, other) for _ in range(3)])
    done = [r for r, exc in outcomes if exc is None]
    assert len(done) == available // 4_000
    assert all(exc.code in {"balance_insufficient", "amount_too_large"} for _, exc in outcomes if exc is not None)
    assert verify_all(record=False) == []
