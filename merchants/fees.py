"""Fees: a merchant's fee plan per currency, and the one rounding rule.

fee = min(gross, round_half_up(gross * percent_bps / 10_000) + fixed_amount)

- Integers only, in the currency's minor unit (any exponent: JPY 0, EUR 2, KWD 3); the percentage
  part is rounded half up to the minor unit (0.5 of a cent rounds up), the fixed part is exact.
- The fee never exceeds the gross (a 0.10 EUR capture with a 0.25 EUR fixed fee costs 0.10 EUR),
  never goes below zero, and net = gross - fee, so fee + net == gross always (tested with hypothesis).
- Charged on what is captured (a partial capture pays the fee on the captured amount), at capture.
- Refund policy: fees are not returned on refunds (as most acquirers do). A refund draws the full
  refunded amount from the merchant's balance.
- No plan for a currency: the platform default (FEE_DEFAULT_BPS, FEE_DEFAULT_FIXED settings).
"""

from __future__ import annotations

from django.conf import settings

from .fee_models import FeePlan


def compute_fee(*, gross: int, percent_bps: int, fixed_amount: int) -> int:
    if gross < 0 or percent_bps < 0 or fixed_amount < 0:
        raise ValueError("gross, percent_bps and fixed_amount must not be negative")
    percentage = (gross * percent_bps * 2 + 10_000) // 20_000  # round half up of gross*bps/10000
    return min(gross, percentage + fixed_amount)


def fee_plan_for(*, merchant_id: str, currency: str) -> tuple[int, int]:
    """(percent_bps, fixed_amount) for this merchant and currency."""
    plan = FeePlan.objects.filter(merchant_id=merchant_id, currency=currency).values_list(
        "percent_bps", "fixed_amount").first()
    if plan is not None:
        return plan
    return settings.FEE_DEFAULT_BPS, settings.FEE_DEFAULT_FIXED


def fee_for(*, merchant_id: str, currency: str, gross: int) -> int:
    bps, fixed = fee_plan_for(merchant_id=merchant_id, currency=currency)
    return compute_fee(gross=gross, percent_bps=bps, fixed_amount=fixed)


def fee_plan_set(*, merchant_id: str, currency: str, percent_bps: int, fixed_amount: int = 0) -> FeePlan:
    """Create or change a merchant's fee plan for one currency (applies to captures from now on)."""
    from core.money import normalize_currency

    currency = normalize_currency(currency)
    if not 0 <= percent_bps <= 10_000 or fixed_amount < 0:
        from core.errors import ValidationError

        raise ValidationError("percent_bps must be 0..10000 and fixed_amount >= 0.", code="parameter_invalid")
    plan, _ = FeePlan.objects.update_or_create(merchant_id=merchant_id, currency=currency,
                                               defaults={"percent_bps": percent_bps, "fixed_amount": fixed_amount})
    return plan
