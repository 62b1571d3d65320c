"""The dashboard: today's and the last 30 days' volume and success rate (with a chart), balances,
recent payments and what needs attention. Every figure is one SQL aggregate; nothing walks history."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone

from merchants import selectors as merchant_selectors
from payments import selectors as payment_selectors
from payments import settlement_selectors
from payments.constants import PaymentStatus

from ..access import portal_view
from ..data_forms import day_start

CHART_DAYS = 30
CHART_CURRENCIES = 3  # one chart per currency, the busiest first
RECENT_PAYMENTS = 8


def _totals(rows: list[dict]) -> dict:
    """Volumes per currency and the success rate (accepted / (accepted + declined or blocked)) of `rows`."""
    volumes: dict[str, int] = {}
    count = succeeded = failed = 0
    for row in rows:
        volumes[row["currency"]] = volumes.get(row["currency"], 0) + row["volume"]
        count, succeeded, failed = count + row["count"], succeeded + row["succeeded"], failed + row["failed"]
    decided = succeeded + failed
    return {"volumes": sorted(volumes.items(), key=lambda kv: (-kv[1], kv[0])), "count": count,
            "succeeded": succeeded, "failed": failed,
            "success_rate": (100 * succeeded / decided) if decided else None}


def bar_chart(days: list, rows: list[dict], currency: str, *, width: int = 720, height: int = 220) -> dict:
    """Geometry of an inline SVG bar chart of one currency's daily captured volume (no JavaScript)."""
    by_day = {row["day"]: row for row in rows if row["currency"] == currency}
    points = [{"day": day, "volume": by_day[day]["volume"] if day in by_day else 0,
               "count": by_day[day]["count"] if day in by_day else 0} for day in days]
    left, top, bottom = 8, 20, 28
    plot_height = height - top - bottom
    peak = max((p["volume"] for p in points), default=0)
    slot = (width - 2 * left) / len(points)
    bars = []
    for i, point in enumerate(points):
        h = round(plot_height * point["volume"] / peak, 1) if peak else 0
        if point["volume"] and h < 2:
            h = 2  # a small day stays visible
        bars.append({**point, "x": round(left + i * slot + slot * 0.15, 1), "width": round(slot * 0.7, 1),
                     "y": round(top + plot_height - h, 1), "height": h,
                     "label_x": round(left + i * slot + slot / 2, 1),
                     "show_label": (len(points) - 1 - i) % 7 == 0})  # today, a week ago, ...
    return {"currency": currency, "width": width, "height": height, "baseline": top + plot_height,
            "label_y": height - 8, "peak": peak, "bars": bars, "left": left, "top": top,
            "total": sum(p["volume"] for p in points), "first": days[0], "last": days[-1]}


@portal_view("view")
def dashboard(request):
    ctx = request.portal
    mine = {"merchant_id": ctx.merchant.pk, "livemode": ctx.livemode}
    now = timezone.now()
    today = now.date()
    days = [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]
    rows = payment_selectors.payment_stats_by_day(**mine, since=day_start(days[0]))
    last_30 = _totals(rows)
    charts = [bar_chart(days, rows, currency) for currency, _ in last_30["volumes"][:CHART_CURRENCIES]]
    balances = settlement_selectors.balance_for_merchant(**mine)
    recent = list(payment_selectors.payments_for_merchant(**mine).order_by("-pk")[:RECENT_PAYMENTS])
    in_review = payment_selectors.payments_for_merchant(**mine, status=PaymentStatus.REQUIRES_REVIEW).count()
    webhooks = merchant_selectors.webhook_attention(**mine, since=now - timedelta(days=7))
    attention = bool(in_review or webhooks["failed_deliveries"] or webhooks["disabled_endpoints"]
                     or webhooks["failing_endpoints"])
    return render(request, "portal/dashboard.html", {
        "today": _totals([r for r in rows if r["day"] == today]),
        "last_30": last_30,
        "charts": charts,
        "balances": sorted(balances.items()),
        "recent": recent,
        "in_review": in_review,
        "webhooks": webhooks,
        "attention": attention,
        "chart_days": CHART_DAYS,
    })
