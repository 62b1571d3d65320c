"""The error envelope `{"error": {type, code, message, param, request_id}}` and the Request-Id header."""

import re

import pytest
from django.core.cache import cache

from core.permissions import ClientRateThrottle

REQUEST_ID = re.compile(r"^req_[0-9A-Z]{26}$")
ENVELOPE_KEYS = {"type", "code", "message", "param", "request_id"}


def assert_envelope(response, status, type_, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) >= ENVELOPE_KEYS
    assert error["type"] == type_
    if code is not None:
        assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert REQUEST_ID.match(response["Request-Id"])
    assert error["request_id"] == response["Request-Id"]
    text = response.content.decode()
    assert "Traceback" not in text
    assert 'File "' not in text
    return error


def test_400_validation_error_names_the_param(api):
    r = api.post("/v1/payments", {"amount": "100", "currency": "EUR", "card_token": "card_x"}, format="json")
    error = assert_envelope(r, 400, "invalid_request_error", "parameter_invalid")
    assert error["param"] == "amount"


def test_400_nested_param(api):
    body = {"amount": 100, "currency": "EUR", "card": {"number": "4242424242424242", "exp_month": "12",
                                                        "exp_year": 2034, "cvc": "123"}}
    error = assert_envelope(api.post("/v1/payments", body, format="json"), 400, "invalid_request_error")
    assert error["param"] == "card[exp_month]"


def test_400_missing_param(api):
    error = assert_envelope(api.post("/v1/payments", {"currency": "EUR"}, format="json"), 400,
                            "invalid_request_error", "parameter_missing")
    assert error["param"] == "amount"


def test_400_malformed_json(api):
    r = api.post("/v1/payments", data='{"amount": 10', content_type="application/json")
    assert_envelope(r, 400, "invalid_request_error", "parse_error")


def test_401_without_token(anon_api):
    assert_envelope(anon_api.get("/v1/payments"), 401, "authentication_error", "missing_token")


def test_401_bad_token(db, anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer nope")
    assert_envelope(anon_api.get("/v1/payments"), 401, "authentication_error", "invalid_token")


def test_403_insufficient_scope(merchant, make_token):
    from rest_framework.test import APIClient

    _, token = make_token(merchant, scopes=[])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    error = assert_envelope(api.get("/v1/payments"), 403, "permission_error", "insufficient_scope")
    assert error["param"] is None


def test_404_unknown_object(api):
    error = assert_envelope(api.get("/v1/payments/pay_00000000000000000000000000"), 404, "not_found",
                            "resource_missing")
    assert error["param"] == "id"


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/payments/pay_x/nope", "/v1", "/nothing-here"])
def test_404_unknown_route_is_json(api, path):
    assert_envelope(api.get(path), 404, "not_found", "resource_missing")


def test_405_method_not_allowed(api):
    assert_envelope(api.put("/v1/payments", {}, format="json"), 405, "invalid_request_error", "method_not_allowed")
    assert_envelope(api.delete("/v1/merchant"), 405, "invalid_request_error", "method_not_allowed")
    assert_envelope(api.patch("/v1/payments/pay_x", {}, format="json"), 405, "invalid_request_error")


def test_405_still_needs_authentication(anon_api):
    assert_envelope(anon_api.put("/v1/payments", {}, format="json"), 401, "authentication_error")


def test_head_needs_the_same_scope_as_get(api, merchant, make_token):
    from rest_framework.test import APIClient

    assert api.head("/v1/payments").status_code == 200
    _, token = make_token(merchant, scopes=[])
    unscoped = APIClient()
    unscoped.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert unscoped.head("/v1/payments").status_code == 403


def test_415_not_json(api):
    r = api.post("/v1/payments", data="amount=100&currency=EUR", content_type="application/x-www-form-urlencoded")
    assert_envelope(r, 415, "invalid_request_error", "unsupported_media_type")
    r = api.post("/v1/payments", data="amount", content_type="text/plain", HTTP_IDEMPOTENCY_KEY="k-415")
    assert_envelope(r, 415, "invalid_request_error", "unsupported_media_type")


def test_406_not_acceptable_is_a_client_error(api):
    r = api.get("/v1/merchant", HTTP_ACCEPT="text/html")
    assert r.status_code == 406
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert r.json()["error"]["code"] == "not_acceptable"
    assert r["Request-Id"]


def test_429_rate_limited(api, monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "rate", "3/min", raising=False)
    cache.delete(f"throttle:client:{api.api_client.pk}")
    statuses = [api.get("/v1/merchant").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    r = api.get("/v1/merchant")
    assert_envelope(r, 429, "rate_limit_error", "rate_limited")
    assert int(r["Retry-After"]) > 0
    cache.delete(f"throttle:client:{api.api_client.pk}")


def test_rate_limit_is_per_client(api, other_api, monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "rate", "1/min", raising=False)
    for a in (api, other_api):
        cache.delete(f"throttle:client:{a.api_client.pk}")
    assert api.get("/v1/merchant").status_code == 200
    assert api.get("/v1/merchant").status_code == 429
    assert other_api.get("/v1/merchant").status_code == 200
    for a in (api, other_api):
        cache.delete(f"throttle:client:{a.api_client.pk}")


def test_500_is_generic_with_no_internals(api, monkeypatch, caplog):
    from merchants.api import views

    def explode(self, request):
        raise RuntimeError("db password is hunter2 at /srv/app/secret.py")

    monkeypatch.setattr(views.MerchantView, "get", explode)
    r = api.get("/v1/merchant")
    error = assert_envelope(r, 500, "api_error", "internal_error")
    text = r.content.decode()
    assert "hunter2" not in text
    assert "RuntimeError" not in text
    assert "secret.py" not in text
    assert error["param"] is None
    # The details go to the log, tagged with the request id, for the operators.
    assert any("Unhandled error" in rec.getMessage() and rec.exc_info for rec in caplog.records)


def test_500_outside_drf_is_json_too(client, monkeypatch):
    from core import views

    def explode():
        raise RuntimeError("hunter2")

    monkeypatch.setattr(views, "_check_database", explode)
    client.raise_request_exception = False
    r = client.get("/readyz")
    error = assert_envelope(r, 500, "api_error", "internal_error")
    assert "hunter2" not in r.content.decode()
    assert error["request_id"]


def test_request_id_on_every_response(api, anon_api, client, db):
    responses = [
        api.get("/v1/merchant"),
        anon_api.get("/v1/merchant"),
        api.get("/v1/nope"),
        client.get("/healthz"),
        client.post("/oauth/token/", {"grant_type": "client_credentials"}),
        client.get("/v1/schema/?format=json"),
    ]
    ids = [r["Request-Id"] for r in responses]
    assert all(REQUEST_ID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_incoming_request_id_is_not_trusted(api):
    r = api.get("/v1/merchant", HTTP_X_REQUEST_ID="req_attacker_chosen_value")
    assert r["Request-Id"] != "req_attacker_chosen_value"
    assert REQUEST_ID.match(r["Request-Id"])
