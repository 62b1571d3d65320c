"""GET /v1/balance, /v1/balance_transactions, /v1/settlements (+ CSV report), /v1/payouts."""

import csv
import io

import pytest
from rest_framework.test import APIClient

from .factories import make_payment
from .money_helpers import settle_sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(merchant):
    sample = settle_sample(merchant)
    return {**sample, "payout": sample["payout"].pk}  # these tests compare with the API's ids


def test_balance(api, merchant, settled):
    make_payment(merchant, amount=2_000)  # pending: 2000 - 80
    body = api.get("/v1/balance").json()
    assert body["object"] == "balance"
    assert body["pending"] == [{"amount": 1_920, "currency": "EUR"}]
    assert body["available"] == [{"amount": 0, "currency": "EUR"}]


def test_balance_transactions(api, settled):
    r = api.get("/v1/balance_transactions?limit=100")
    assert r.status_code == 200
    data = r.json()["data"]
    by_source = {t["source"]: t for t in data}
    p1 = settled["payments"][0]
    tx = by_source[p1.pk]
    assert (tx["type"], tx["amount"], tx["fee"], tx["net"], tx["currency"]) == ("payment", 10_000, 280, 9_720, "EUR")
    assert tx["settlement"] == settled["settlement"] and tx["available_on"].startswith("2030-")
    assert by_source[settled["refund"].pk]["amount"] == -1_000
    assert by_source[settled["refund"].pk]["settlement"] == settled["settlement"]
    assert by_source[settled["payout"]]["type"] == "payout"
    assert by_source[settled["settlement"]]["type"] == "settlement"
    one = api.get(f"/v1/balance_transactions/{tx['id']}").json()
    assert one == tx
    only_payments = api.get("/v1/balance_transactions?type=payment").json()["data"]
    assert {t["type"] for t in only_payments} == {"payment"} and len(only_payments) == 2


def test_settlements_and_payouts(api, settled):
    listed = api.get("/v1/settlements").json()["data"]
    assert [s["id"] for s in listed] == [settled["settlement"]]
    stl = api.get(f"/v1/settlements/{settled['settlement']}").json()
    assert (stl["gross"], stl["refunds"], stl["fees"], stl["net"], stl["total"]) == (15_000, 1_000, 435, 13_565, 13_565)
    assert stl["payout"] == settled["payout"]
    payout = api.get(f"/v1/payouts/{settled['payout']}").json()
    assert (payout["amount"], payout["status"], payout["settlement"]) == (13_565, "pending", settled["settlement"])
    assert api.get("/v1/payouts?status=paid").json()["data"] == []


def test_settlement_report_csv_ties_to_the_settlement(api, settled):
    r = api.get(f"/v1/settlements/{settled['settlement']}/report")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0] == ["type", "id", "payment", "occurred_at", "currency", "gross", "fee", "net"]
    items = rows[1:-3]
    assert sorted(row[1] for row in items) == sorted([p.pk for p in settled["payments"]] + [settled["refund"].pk])
    total = rows[-3]
    assert total[0] == "total" and [int(x) for x in total[5:]] == [14_000, 435, 13_565]
    assert sum(int(row[7]) for row in items) == 13_565
    assert rows[-1][0] == "payout_total" and int(rows[-1][7]) == 13_565


def test_another_merchants_objects_answer_404(other_api, settled):
    tx = settled["payments"][0].pk
    assert other_api.get(f"/v1/settlements/{settled['settlement']}").status_code == 404
    assert other_api.get(f"/v1/settlements/{settled['settlement']}/report").status_code == 404
    assert other_api.get(f"/v1/payouts/{settled['payout']}").status_code == 404
    assert other_api.get("/v1/balance_transactions").json()["data"] == []
    assert other_api.get(f"/v1/balance_transactions?source={tx}").json()["data"] == []
    assert other_api.get("/v1/balance").json()["available"] == []


@pytest.mark.parametrize(("path", "scope"), [("/v1/balance", "balance:read"),
                                             ("/v1/balance_transactions", "balance:read"),
                                             ("/v1/settlements", "settlements:read"),
                                             ("/v1/payouts", "settlements:read")])
def test_scopes_are_required(merchant, make_token, path, scope):
    _, token = make_token(merchant, scopes=["payments:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = client.get(path)
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    _, token = make_token(merchant, scopes=[scope])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get(path).status_code == 200


def test_bad_cursor_is_refused(api):
    r = api.get("/v1/payouts?starting_after=pay_123")
    assert r.status_code == 400
