"""The dashboard: figures from SQL aggregates, the chart and its table, balances, attention items."""

from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from merchants import services as merchant_services
from payments.models import Payment
from payments.tests.factories import make_payment
from portal.views.dashboard import bar_chart

from .conftest import page

pytestmark = pytest.mark.django_db

DECLINED = "4000000000000002"
REVIEW = "4000000000009235"
URL = reverse("portal:dashboard")


def test_empty_dashboard(viewer):
    html = page(viewer.get(URL))
    assert "No captured payments in the last 30 days" in html
    assert "No payments yet." in html
    assert "No balance yet" in html
    assert "Needs your attention" not in html


def test_volume_success_rate_balances_and_recent_payments(viewer, merchant, other_merchant):
    make_payment(merchant, amount=2_500)
    make_payment(merchant, amount=1_000, description="Order 7")
    make_payment(merchant, amount=700, number=DECLINED)
    make_payment(merchant, amount=5_000, currency="JPY")
    make_payment(other_merchant, amount=99_900)
    html = page(viewer.get(URL))
    assert "€35.00" in html and "¥5,000" in html  # today's and the 30 days' volume, per currency
    assert "75.0 %" in html  # 3 accepted, 1 declined
    assert "3 accepted, 1 declined" in html
    assert "€999.00" not in html  # another merchant's
    assert 'role="img"' in html and "<title id=\"chart-title-EUR\">" in html and "chart-desc-EUR" in html
    assert "EUR: show the figures as a table" in html and "JPY: show the figures as a table" in html
    assert "pending settlement" in html  # balances from the ledger
    assert "Order 7" in html and "Visa ···· 4242" in html


def test_balances_are_the_ledger_balances(viewer, merchant, api):
    make_payment(merchant, amount=10_000)
    body = api.get("/v1/balance").json()
    pending = body["pending"][0]["amount"]
    html = page(viewer.get(URL))
    assert f"€{pending / 100:,.2f} pending settlement" in html


def test_only_the_current_mode_is_shown(member_client, merchant):
    owner = member_client("owner")
    make_payment(merchant, amount=4_200)
    assert "€42.00" in page(owner.get(URL))
    owner.post(reverse("portal:mode_switch"), {"mode": "live"})
    html = page(owner.get(URL))
    assert "€42.00" not in html and "No payments yet." in html


def test_needs_attention(viewer, merchant):
    make_payment(merchant, number=REVIEW)
    endpoint, _ = merchant_services.webhook_endpoint_create(merchant_id=merchant.pk, livemode=False,
                                                            url="http://127.0.0.1:9/hook", enabled_events=["*"])
    merchant_services.webhook_endpoint_update(merchant_id=merchant.pk, livemode=False, endpoint_id=endpoint.pk,
                                              status="disabled")
    html = page(viewer.get(URL))
    assert "Needs your attention" in html
    assert "1 payment held for review" in html
    assert f"{reverse('portal:payments')}?status=requires_review" in html
    assert "http://127.0.0.1:9/hook</a> is disabled" in html


def test_days_outside_the_window_do_not_count(viewer, merchant):
    old = make_payment(merchant, amount=3_100)
    Payment.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=31))
    html = page(viewer.get(URL))
    assert "No captured payments in the last 30 days" in html and "0 payments" in html
    assert "€31.00" in html  # still among the recent payments


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL).status_code == 200
    return len(ctx.captured_queries)


def test_figures_are_sql_aggregates_whatever_the_history(viewer, merchant):
    make_payment(merchant, amount=100)
    few = _dashboard_queries(viewer)
    payments = [make_payment(merchant, amount=100 + i) for i in range(30)]
    for i, p in enumerate(payments):  # spread over the window: more days, more rows, same queries
        Payment.objects.filter(pk=p.pk).update(created=timezone.now() - timedelta(days=i % 29))
    assert _dashboard_queries(viewer) == few


def test_bar_chart_geometry():
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(30)]
    rows = [{"day": days[3], "currency": "EUR", "volume": 10_000, "count": 4, "succeeded": 4, "failed": 0},
            {"day": days[4], "currency": "EUR", "volume": 1, "count": 1, "succeeded": 1, "failed": 0},
            {"day": days[5], "currency": "USD", "volume": 50_000, "count": 1, "succeeded": 1, "failed": 0}]
    chart = bar_chart(days, rows, "EUR", height=220)
    bars = chart["bars"]
    assert len(bars) == 30 and chart["peak"] == 10_000 and chart["total"] == 10_001
    plot = chart["baseline"] - chart["top"]
    assert bars[3]["height"] == plot and bars[3]["y"] == chart["top"]
    assert bars[4]["height"] == 2  # tiny but visible
    assert bars[5]["height"] == 0 and bars[0]["height"] == 0  # USD is another chart
    assert [i for i, b in enumerate(bars) if b["show_label"]] == [1, 8, 15, 22, 29]  # today and weeks back
    assert all(b["x"] < c["x"] for b, c in pairwise(bars))
