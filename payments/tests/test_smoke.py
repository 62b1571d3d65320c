from cards.tests.factories import VISA_OK


def test_create_capture_refund_list(api):
    r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "capture": False,
                                  "card": {"number": VISA_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}},
                 format="json")
    assert r.status_code == 201, r.content
    pay = r.json()
    assert pay["status"] == "requires_capture"
    r = api.post(f"/v1/payments/{pay['id']}/capture", {"amount": 600}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["amount_captured"] == 600
    r = api.post("/v1/refunds", {"payment": pay["id"], "amount": 100}, format="json")
    assert r.status_code == 201, r.content
    r = api.get("/v1/payments")
    assert [p["amount_refunded"] for p in r.json()["data"]] == [100]
