"""Celery tasks of settlement, payouts and verification: thin, idempotent, acks_late."""

from datetime import UTC, date, datetime

from celery import shared_task

from . import settlement, verification


@shared_task(name="payments.settle", acks_late=True, autoretry_for=(Exception,), max_retries=5,
             retry_backoff=True, retry_jitter=True)
def settle(period: str | None = None) -> list[str]:
    """Settle the day (default today, UTC). Exactly once: a re-delivery finds the period settled."""
    day = date.fromisoformat(period) if period else datetime.now(UTC).date()
    return settlement.settlement_run(period=day)


@shared_task(name="payments.payouts_send", acks_late=True)
def payouts_send() -> dict:
    return settlement.payouts_send()


@shared_task(name="payments.ledger_verify", acks_late=True)
def ledger_verify() -> int:
    """Check every invariant; a break is logged as an error and recorded (admin: Verification runs)."""
    return len(verification.verify_all())
