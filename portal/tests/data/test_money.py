"""Money pages: balances and balance transactions, settlements with their CSV (the API's report), payouts."""

import pytest
from django.urls import reverse

from payments.tests.factories import make_payment
from payments.tests.money_helpers import settle_sample

from .conftest import page

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(merchant):
    return settle_sample(merchant)


def test_empty_states(viewer):
    assert "No balance transactions yet" in page(viewer.get(reverse("portal:money")))
    assert "No settlements yet" in page(viewer.get(reverse("portal:settlements")))
    assert "No payouts yet" in page(viewer.get(reverse("portal:payouts")))


def test_balance_and_transactions(viewer, merchant, settled, api):
    make_payment(merchant, amount=2_000)
    html = page(viewer.get(reverse("portal:money")))
    body = api.get("/v1/balance").json()
    assert f"€{body['pending'][0]['amount'] / 100:,.2f} pending settlement" in html
    p1 = settled["payments"][0]
    assert p1.pk in html and "Payment (capture)" in html and "€97.20" in html  # 100.00 - 2.80 fee
    assert settled["refund"].pk in html and settled["payout"].pk in html
    only_refunds = page(viewer.get(reverse("portal:money"), {"type": "refund"}))
    assert settled["refund"].pk in only_refunds and f">{settled['payout'].pk}<" not in only_refunds
    assert "No balance transactions of this type." in page(viewer.get(reverse("portal:money"),
                                                                      {"type": "payout_failure"}))


def test_balance_transactions_are_paged(viewer, merchant, monkeypatch):
    monkeypatch.setattr("portal.views.listing.PAGE_SIZE", 3)
    for i in range(5):
        make_payment(merchant, amount=1_000 + i)
    first = page(viewer.get(reverse("portal:money")))
    assert "Older →" in first and "Newer" not in first
    cursor = first.split("starting_after=")[1].split('"')[0]
    second = page(viewer.get(reverse("portal:money"), {"starting_after": cursor}))
    assert "← Newer" in second and "Older" not in second


def test_settlements_detail_and_report(viewer, settled, api):
    stl = settled["settlement"]
    html = page(viewer.get(reverse("portal:settlements")))
    assert stl in html and reverse("portal:settlement_report", args=[stl]) in html
    detail = page(viewer.get(reverse("portal:settlement_detail", args=[stl])))
    assert "€150.00" in detail and settled["payout"].pk in detail and "IBAN ···· 3000" in detail
    assert settled["refund"].pk in detail
    r = viewer.get(reverse("portal:settlement_report", args=[stl]))
    assert r["Content-Type"].startswith("text/csv") and f'filename="{stl}.csv"' in r["Content-Disposition"]
    portal_csv = page(r)
    api_csv = b"".join(api.get(f"/v1/settlements/{stl}/report").streaming_content).decode()
    assert portal_csv == api_csv  # the very same report
    assert portal_csv.startswith("type,id,payment,occurred_at,currency,gross,fee,net\n")
    assert f"total,{stl},,,EUR," in portal_csv


def test_payouts(viewer, settled):
    payout = settled["payout"]
    html = page(viewer.get(reverse("portal:payouts")))
    assert payout.pk in html and "€" in html
    assert payout.pk in page(viewer.get(reverse("portal:payouts"), {"status": payout.status}))
    assert "No payouts with this status." in page(viewer.get(reverse("portal:payouts"), {"status": "failed"}))


def test_another_merchants_settlement_is_not_found(member_client, other_merchant, settled):
    stranger = member_client("viewer", of=other_merchant)
    stl = settled["settlement"]
    assert "No such settlement" in page(stranger.get(reverse("portal:settlement_detail", args=[stl])), status=404)
    assert stranger.get(reverse("portal:settlement_report", args=[stl])).status_code == 404
    assert stl not in page(stranger.get(reverse("portal:settlements")))
