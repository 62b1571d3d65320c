"""The events and webhook endpoints API."""

import pytest
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from merchants import services
from merchants.models import Event, WebhookDelivery, WebhookEndpoint
from payments.tests.factories import make_payment

pytestmark = pytest.mark.django_db


def post(api, url, body=None, **kwargs):
    return api.post(url, body or {}, format="json", **kwargs)


def scoped(make_token, merchant, scopes):
    _, token = make_token(merchant, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_create_returns_the_secret_once(api, receiver):
    r = post(api, "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["payment.succeeded"],
                                            "description": "orders"}, headers={"Idempotency-Key": "we-1"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["id"].startswith("we_") and body["object"] == "webhook_endpoint"
    assert body["secret"].startswith("whsec_") and body["status"] == "enabled"
    assert body["enabled_events"] == ["payment.succeeded"] and body["livemode"] is False
    got = api.get(f"/v1/webhook_endpoints/{body['id']}").json()
    assert "secret" not in got and got["url"] == receiver.url
    replay = post(api, "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["payment.succeeded"],
                                                 "description": "orders"}, headers={"Idempotency-Key": "we-1"})
    assert replay["Idempotent-Replayed"] == "true" and replay.json()["id"] == body["id"]
    assert replay.json()["secret"] is None  # never stored in clear, not even for replays
    assert WebhookEndpoint.objects.count() == 1
    from core.models import IdempotencyKey

    assert body["secret"] not in str(IdempotencyKey.objects.get(key="we-1").response_body)


@pytest.mark.parametrize("body,param", [
    ({"url": "http://10.0.0.1/x", "enabled_events": ["*"]}, "url"),
    ({"url": "http://169.254.169.254/latest/meta-data", "enabled_events": ["*"]}, "url"),
    ({"url": "not a url", "enabled_events": ["*"]}, "url"),
    ({"url": "https://example.com/x", "enabled_events": []}, "enabled_events"),
    ({"url": "https://example.com/x", "enabled_events": ["payment.exploded"]}, "enabled_events"),
])
def test_create_refuses_bad_input(api, body, param, monkeypatch):
    monkeypatch.setattr("merchants.webhooks.resolve", lambda host, port: ["93.184.216.34"])
    r = post(api, "/v1/webhook_endpoints", body)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == param


def test_live_mode_needs_https(live_api_client):
    r = post(live_api_client, "/v1/webhook_endpoints", {"url": "http://93.184.216.34/x", "enabled_events": ["*"]})
    assert r.status_code == 400 and "HTTPS" in r.json()["error"]["message"]


@pytest.fixture
def live_api_client(merchant, make_token):
    from core.scopes import MERCHANT_SCOPES

    _, token = make_token(merchant, scopes=MERCHANT_SCOPES, livemode=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_list_update_delete(api, other_api, receiver):
    ids = [post(api, "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["*"]}).json()["id"]
           for _ in range(3)]
    listed = api.get("/v1/webhook_endpoints", {"limit": 2}).json()
    assert [e["id"] for e in listed["data"]] == ids[::-1][:2] and listed["has_more"] is True
    assert other_api.get(f"/v1/webhook_endpoints/{ids[0]}").status_code == 404
    assert other_api.patch(f"/v1/webhook_endpoints/{ids[0]}", {"status": "disabled"}, format="json").status_code == 404
    r = api.patch(f"/v1/webhook_endpoints/{ids[0]}", {"status": "disabled", "description": "off"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "disabled" and r.json()["disabled_reason"]
    r = api.patch(f"/v1/webhook_endpoints/{ids[0]}", {"status": "enabled"}, format="json")
    assert r.json()["status"] == "enabled" and r.json()["disabled_reason"] is None
    assert api.patch(f"/v1/webhook_endpoints/{ids[0]}", {"url": "http://192.168.0.1/"},
                     format="json").status_code == 400
    r = api.delete(f"/v1/webhook_endpoints/{ids[0]}")
    assert r.status_code == 200 and r.json() == {"id": ids[0], "object": "webhook_endpoint", "deleted": True}
    assert api.get(f"/v1/webhook_endpoints/{ids[0]}").status_code == 404


def test_scopes(make_token, merchant, receiver):
    reader = scoped(make_token, merchant, ["webhooks:read"])
    assert reader.get("/v1/webhook_endpoints").status_code == 200
    r = post(reader, "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["*"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    assert reader.get("/v1/events").status_code == 403
    assert scoped(make_token, merchant, ["events:read"]).get("/v1/events").status_code == 200


def test_rotate_and_test_event(api, receiver):
    created = post(api, "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["payment.created"]}).json()
    rotated = post(api, f"/v1/webhook_endpoints/{created['id']}/rotate_secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] not in (None, created["secret"])
    r = post(api, f"/v1/webhook_endpoints/{created['id']}/test")
    assert r.status_code == 200 and r.json()["type"] == "webhook_endpoint.test"
    delivery = WebhookDelivery.objects.get()
    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    request = receiver.requests[0]
    for secret in (created["secret"], rotated.json()["secret"]):
        assert Webhook(secret).verify(request["body"], request["headers"])["type"] == "webhook_endpoint.test"


def test_events_list_filters_and_retrieve(api, other_api, merchant):
    payment = make_payment(merchant)
    other = make_payment(merchant)
    r = api.get("/v1/events", {"object": payment.pk})
    assert [e["type"] for e in r.json()["data"]] == ["payment.succeeded", "payment.created"]
    assert [e["sequence"] for e in r.json()["data"]] == [2, 1]
    r = api.get("/v1/events", {"type": "payment.created"})
    assert {e["data"]["object"]["id"] for e in r.json()["data"]} == {payment.pk, other.pk}
    first = r.json()["data"][0]
    assert set(first) == {"id", "object", "type", "created", "livemode", "sequence", "data"}
    assert api.get(f"/v1/events/{first['id']}").json() == first
    assert other_api.get(f"/v1/events/{first['id']}").status_code == 404
    assert api.get("/v1/events", {"created[gte]": "2999-01-01T00:00:00Z"}).json()["data"] == []
    page = api.get("/v1/events", {"limit": 1}).json()
    assert page["has_more"] is True
    nxt = api.get("/v1/events", {"limit": 1, "starting_after": page["data"][0]["id"]}).json()
    assert nxt["data"][0]["id"] < page["data"][0]["id"]


def test_redeliver_and_replay(api, merchant, receiver):
    endpoint = post(api, "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["payment.succeeded"]})
    endpoint_id = endpoint.json()["id"]
    payment = make_payment(merchant)
    event = Event.objects.get(object_id=payment.pk, type="payment.succeeded")
    services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    r = post(api, f"/v1/events/{event.pk}/redeliver")
    assert r.status_code == 200 and r.json()["webhook_endpoints"] == [endpoint_id]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 0
    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    assert [q["headers"]["webhook-id"] for q in receiver.requests] == [event.pk, event.pk]
    assert post(api, f"/v1/events/{event.pk}/redeliver", {"webhook_endpoint": "we_nope"}).status_code == 404
    assert post(api, "/v1/events/evt_nope/redeliver").status_code == 404

    make_payment(merchant)
    r = post(api, f"/v1/webhook_endpoints/{endpoint_id}/replay",
             {"created_gte": "2000-01-01T00:00:00Z", "created_lte": "2999-01-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["events"] == 2  # payment.succeeded x2; payment.created not wanted
    assert WebhookDelivery.objects.filter(status="pending").count() == 2
    r = post(api, f"/v1/webhook_endpoints/{endpoint_id}/replay", {"created_gte": "2999-01-01", "created_lte": "2000"})
    assert r.status_code == 400


def test_schema_lists_the_new_scopes(api):
    schema = APIClient().get("/v1/schema/?format=json").json()
    paths = schema["paths"]
    assert paths["/v1/events"]["get"]["security"] == [{"oauth2": ["events:read"]}]
    assert paths["/v1/webhook_endpoints"]["post"]["security"] == [{"oauth2": ["webhooks:write"]}]
    assert paths["/v1/webhook_endpoints/{endpoint_id}"]["delete"]["security"] == [{"oauth2": ["webhooks:write"]}]
