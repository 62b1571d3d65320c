"""Helpers for the ledger / settlement tests."""

from datetime import date, timedelta

from django.utils import timezone

from ..processors import OperationResult, TestSimulator
from ..settlement import settlement_run

VALID_IBAN = "DE89370400440532013000"
_periods = iter(range(10_000))


def next_period() -> date:
    """A fresh settlement day per call (one batch per merchant, currency and day)."""
    return date(2030, 1, 1) + timedelta(days=next(_periods))


def settle(period=None):
    """Settle everything captured so far (cutoff just after now)."""
    return settlement_run(period=period or next_period(), cutoff=timezone.now() + timedelta(seconds=1))


def refund(merchant, payment, amount=None):
    """A test-mode refund of `payment` through the service (the whole remaining amount by default)."""
    from .. import services

    return services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=amount)


def failing_refunds(monkeypatch):
    monkeypatch.setattr(TestSimulator, "refund",
                        lambda self, **kw: OperationResult(ok=False, reference="", failure_code="refund_failed"))
