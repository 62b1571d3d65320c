"""Helpers for the ledger / settlement tests."""

from datetime import date, timedelta

from django.utils import timezone

from merchants.fees import fee_plan_set

from .. import services
from ..models import Payout
from ..processors import OperationResult, TestSimulator
from ..settlement import settlement_run
from .factories import make_payment

VALID_IBAN = "DE89370400440532013000"
_periods = iter(range(10_000))


def next_period() -> date:
    """A fresh settlement day per call (one batch per merchant, currency and day)."""
    return date(2030, 1, 1) + timedelta(days=next(_periods))


def settle(period=None):
    """Settle everything captured so far (cutoff just after now)."""
    return settlement_run(period=period or next_period(), cutoff=timezone.now() + timedelta(seconds=1))


def give_fee_plan(merchant):
    """A payout IBAN and a EUR fee plan of 2.5% + 0.30 for `merchant`."""
    merchant.payout_iban = VALID_IBAN
    merchant.save()
    fee_plan_set(merchant_id=merchant.pk, currency="EUR", percent_bps=250, fixed_amount=30)


def settle_sample(merchant) -> dict:
    """With `give_fee_plan`: payments of 100.00 and 50.00 EUR, a 10.00 refund of the first, all settled.
    Returns the payments, the refund, the settlement id and the payout."""
    give_fee_plan(merchant)
    p1 = make_payment(merchant, amount=10_000)
    p2 = make_payment(merchant, amount=5_000)
    r = refund(merchant, p1, 1_000)
    [stl_id] = settle()
    return {"payments": [p1, p2], "refund": r, "settlement": stl_id, "payout": Payout.objects.get()}


def refund(merchant, payment, amount=None):
    """A test-mode refund of `payment` through the service (the whole remaining amount by default)."""
    return services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=amount)


def failing_refunds(monkeypatch):
    monkeypatch.setattr(TestSimulator, "refund",
                        lambda self, **kw: OperationResult(ok=False, reference="", failure_code="refund_failed"))
