"""/v1/risk: assessments (risk:read) and the merchant's own block list (risk:write)."""

import pytest
from rest_framework.test import APIClient

from payments.tests.factories import card_data

pytestmark = pytest.mark.django_db


def pay(api, number="4242424242424242", **extra):
    return api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card": card_data(number), **extra},
                    format="json")


def test_assessments_list_and_detail(api, other_api):
    payment = pay(api).json()
    mine = api.get("/v1/risk/assessments").json()
    assert mine["object"] == "list" and len(mine["data"]) == 1
    item = mine["data"][0]
    assert item["id"] == payment["risk"]["assessment"] and item["payment"] == payment["id"]
    assert (item["object"], item["decision"], item["score"], item["review_outcome"]) == (
        "risk.assessment", "allow", 0, None)
    assert api.get(f"/v1/risk/assessments/{item['id']}").json()["id"] == item["id"]
    assert api.get("/v1/risk/assessments", {"payment": payment["id"]}).json()["data"][0]["id"] == item["id"]
    assert api.get("/v1/risk/assessments", {"payment": "pay_other"}).json()["data"] == []
    # another merchant sees nothing of it
    assert other_api.get(f"/v1/risk/assessments/{item['id']}").status_code == 404
    assert other_api.get("/v1/risk/assessments").json()["data"] == []


def test_assessments_paginate(api):
    ids = [pay(api).json()["risk"]["assessment"] for _ in range(3)]
    first = api.get("/v1/risk/assessments", {"limit": 2}).json()
    assert [a["id"] for a in first["data"]] == ids[::-1][:2] and first["has_more"]
    rest = api.get("/v1/risk/assessments", {"limit": 2, "starting_after": ids[1]}).json()
    assert [a["id"] for a in rest["data"]] == [ids[0]] and not rest["has_more"]


def test_block_list_create_list_delete_and_effect(api, other_api):
    created = api.post("/v1/risk/block_list", {"type": "ip_range", "value": "203.0.113.0/24", "note": "bots"},
                       format="json", headers={"Idempotency-Key": "bl-1"})
    assert created.status_code == 201, created.content
    entry = created.json()
    assert (entry["object"], entry["type"], entry["value"], entry["note"]) == (
        "risk.block_list_entry", "ip_range", "203.0.113.0/24", "bots")
    assert entry["id"].startswith("rle_")
    blocked = pay(api, customer_ip="203.0.113.9")
    assert blocked.status_code == 402 and blocked.json()["error"]["decline_code"] == "fraudulent"
    assert pay(other_api, customer_ip="203.0.113.9").status_code == 201  # only this merchant's list
    assert [e["id"] for e in api.get("/v1/risk/block_list").json()["data"]] == [entry["id"]]
    assert other_api.get("/v1/risk/block_list").json()["data"] == []
    assert other_api.delete(f"/v1/risk/block_list/{entry['id']}").status_code == 404
    deleted = api.delete(f"/v1/risk/block_list/{entry['id']}")
    assert deleted.json() == {"id": entry["id"], "object": "risk.block_list_entry", "deleted": True}
    assert api.delete(f"/v1/risk/block_list/{entry['id']}").status_code == 404
    assert pay(api, customer_ip="203.0.113.9").status_code == 201


def test_block_list_by_card_fingerprint(api):
    fingerprint = pay(api).json()["card"]["fingerprint"]
    assert api.post("/v1/risk/block_list", {"type": "fingerprint", "value": fingerprint},
                    format="json").status_code == 201
    assert pay(api).status_code == 402


@pytest.mark.parametrize(("body", "param"), [
    ({"type": "bin", "value": "12"}, "value"), ({"type": "planet", "value": "mars"}, "type"),
    ({"value": "DE"}, "type"), ({"type": "country", "value": "Germany"}, "value"),
])
def test_block_list_refuses_invalid_entries(api, body, param):
    r = api.post("/v1/risk/block_list", body, format="json")
    assert r.status_code == 400 and r.json()["error"]["param"] == param


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("get", "/v1/risk/assessments", "risk:read"),
    ("get", "/v1/risk/assessments/ra_x", "risk:read"),
    ("get", "/v1/risk/block_list", "risk:write"),
    ("post", "/v1/risk/block_list", "risk:write"),
    ("delete", "/v1/risk/block_list/rle_x", "risk:write"),
])
def test_scopes_are_required(merchant, make_token, method, path, scope):
    _, token = make_token(merchant, scopes=["payments:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = getattr(client, method)(path, {"type": "country", "value": "DE"} if method == "post" else None,
                                format="json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    _, token = make_token(merchant, scopes=[scope])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = getattr(client, method)(path, {"type": "country", "value": "DE"} if method == "post" else None,
                                format="json")
    assert r.status_code in (200, 201, 404)
