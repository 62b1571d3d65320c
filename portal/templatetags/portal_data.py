"""Template filters of the merchant's data pages: money, statuses as badges, query strings."""

from django import template
from django.utils.http import urlencode

from core.money import CurrencyError, Money

register = template.Library()

_BADGES = {
    # payments, refunds, payouts, deliveries, endpoints
    "succeeded": "ok", "paid": "ok", "delivered": "ok", "enabled": "ok", "completed": "ok", "allow": "ok",
    "requires_capture": "neutral", "processing": "neutral", "pending": "neutral", "in_transit": "neutral",
    "open": "neutral", "canceled": "neutral",
    "requires_review": "warn", "review": "warn",
    "failed": "err", "disabled": "err", "block": "err",
}


@register.filter
def money(amount, currency):
    """`€12.50` from 1250 and EUR (minor units, the currency's own exponent); the raw figures if unknown."""
    if amount is None or amount == "":
        return "-"
    try:
        return Money(int(amount), currency).format()
    except (CurrencyError, TypeError, ValueError):
        return f"{amount} {currency}"


@register.filter
def badge(status):
    return f"badge-{_BADGES.get(str(status), 'neutral')}"


@register.filter
def label(status):
    """`requires_capture` -> `Requires capture`."""
    text = str(status or "").replace("_", " ").replace(".", " ")
    return text[:1].upper() + text[1:]


@register.filter
def percent(value):
    return "-" if value is None else f"{value:.1f} %"


@register.simple_tag(takes_context=True)
def query(context, **changes):
    """The current query string with `changes` applied (None drops a key): links that keep the filters."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    encoded = urlencode(sorted((k, v) for k, v in params.items() if v != ""))
    return f"?{encoded}" if encoded else "?"
