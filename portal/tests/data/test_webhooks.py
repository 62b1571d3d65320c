"""Webhook pages: endpoints, the secret shown once, test events, the delivery log with attempts, redelivery."""

import pytest
from django.urls import reverse

from core.models import AuditLogEntry
from merchants import services
from merchants.models import WebhookDelivery, WebhookEndpoint
from merchants.tests.receiver import Receiver
from payments.tests.factories import make_payment

from .conftest import page

pytestmark = pytest.mark.django_db

LIST = reverse("portal:webhooks")
CREATE = reverse("portal:webhook_create")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def url(name, endpoint, **kw):
    return reverse(f"portal:webhook_{name}", args=[endpoint.pk if hasattr(endpoint, "pk") else endpoint])


def make_endpoint(merchant, target="http://127.0.0.1:9/hooks", events=("*",)):
    endpoint, secret = services.webhook_endpoint_create(merchant_id=merchant.pk, livemode=False, url=target,
                                                        enabled_events=list(events))
    return endpoint, secret


def deliver_all():
    for delivery_id in WebhookDelivery.objects.filter(status="pending").values_list("pk", flat=True):
        services.webhook_delivery_attempt(delivery_id=delivery_id)


def test_empty_list(owner, viewer):
    assert "No webhook endpoints in test mode yet." in page(owner.get(LIST))
    html = page(viewer.get(LIST))
    assert "No webhook endpoints" in html and CREATE not in html


def test_create_shows_the_secret_once(owner, merchant, receiver):
    assert "Events to send" in page(owner.get(CREATE))
    r = owner.post(CREATE, {"url": receiver.url, "description": "Orders", "events": ["payment.succeeded",
                                                                                     "refund.succeeded"]})
    html = page(r)
    assert r["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    [secret] = services.webhook_endpoint_signing_secrets(endpoint)
    assert secret.startswith("whsec_") and secret in html and "shown only this once" in html
    assert (endpoint.url, endpoint.description, endpoint.enabled_events) == (
        receiver.url, "Orders", ["payment.succeeded", "refund.succeeded"])
    assert secret not in endpoint.secret_encrypted
    for later in (owner.get(LIST), owner.get(url("detail", endpoint)), owner.get(url("edit", endpoint))):
        assert secret not in page(later)
    assert AuditLogEntry.objects.filter(action="webhook_endpoint.create", object_id=endpoint.pk).exists()


@pytest.mark.parametrize("data, message", [
    ({"url": "ftp://example.com/x", "all_events": "on"}, "The URL must start with https://"),
    ({"url": "http://10.0.0.1/x", "all_events": "on"}, "webhooks go to public addresses only"),
    ({"url": "", "all_events": "on"}, "This field is required."),
    ({"url": "http://127.0.0.1:9/hooks"}, "Choose the events to send"),
    ({"url": "http://127.0.0.1:9/hooks", "events": ["nope.event"]}, "Select a valid choice"),
])
def test_create_errors_change_nothing(owner, data, message):
    html = page(owner.post(CREATE, data))
    assert message in html
    assert not WebhookEndpoint.objects.exists()


def test_edit_disable_enable_delete(owner, merchant):
    endpoint, _ = make_endpoint(merchant)
    html = page(owner.get(url("edit", endpoint)))
    assert 'name="all_events" id="id_all_events" checked' in html
    r = owner.post(url("edit", endpoint), {"url": "http://localhost:9/new", "events": ["payment.failed"],
                                           "description": "New"})
    assert r.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.enabled_events, endpoint.description) == ("http://localhost:9/new",
                                                                            ["payment.failed"], "New")
    owner.post(url("status", endpoint), {"status": "disabled"})
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"
    assert "Disabled: Disabled by the merchant." in page(owner.get(url("detail", endpoint)))
    owner.post(url("status", endpoint), {"status": "enabled"})
    endpoint.refresh_from_db()
    assert endpoint.status == "enabled"
    assert "Delete this endpoint?" in page(owner.get(url("delete", endpoint)))
    assert WebhookEndpoint.objects.exists()
    r = owner.post(url("delete", endpoint))
    assert r.status_code == 302 and r["Location"] == LIST
    assert not WebhookEndpoint.objects.exists()


def test_rotate_shows_the_new_secret_once(owner, merchant):
    endpoint, old = make_endpoint(merchant)
    assert "Rotate the signing secret?" in page(owner.get(url("rotate", endpoint)))
    html = page(owner.post(url("rotate", endpoint)))
    endpoint.refresh_from_db()
    new, previous = services.webhook_endpoint_signing_secrets(endpoint)
    assert previous == old and new != old
    assert new in html and old not in html and "The old one keeps signing too for 24 hours." in html
    assert new not in page(owner.get(url("detail", endpoint)))


def test_test_event_delivery_log_attempts_and_redelivery(owner, merchant, receiver):
    endpoint, _ = make_endpoint(merchant, target=receiver.url)
    assert "Nothing delivered yet." in page(owner.get(url("detail", endpoint)))
    r = owner.post(url("test", endpoint))
    assert r.status_code == 302
    receiver.statuses = [500]
    deliver_all()  # first attempt fails with HTTP 500
    html = page(owner.get(url("detail", endpoint)))
    assert "webhook_endpoint.test" in html and "HTTP 500" in html and "1 attempt" in html
    assert "has been failing since" in html or "Deliveries have been failing since" in html
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created)  # due now
    deliver_all()  # the retry succeeds
    html = page(owner.get(url("detail", endpoint)))
    assert "HTTP 200" in html and "2 attempts" in html and "Delivered" in html and " ms</td>" in html
    # Redeliver: pending again, then a third attempt.
    r = owner.post(url("redeliver", endpoint), {"event": delivery.event_id})
    assert r.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    deliver_all()
    assert len(receiver.requests) == 3
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {delivery.event_id}
    assert "3 attempts" in page(owner.get(url("detail", endpoint)))


def test_payment_deliveries_are_listed_and_filtered(owner, merchant, receiver):
    endpoint, _ = make_endpoint(merchant, target=receiver.url)
    payment = make_payment(merchant)
    deliver_all()
    html = page(owner.get(url("detail", endpoint)))
    assert "payment.created" in html and "payment.succeeded" in html
    pending = page(owner.get(url("detail", endpoint), {"status": "pending"}))
    assert "No deliveries with this status." in pending
    assert payment.pk not in pending


def test_delivery_log_is_paged_by_event(owner, merchant, monkeypatch):
    monkeypatch.setattr("portal.views.listing.PAGE_SIZE", 2)
    endpoint, _ = make_endpoint(merchant)
    for _ in range(3):
        services.webhook_endpoint_send_test(merchant_id=merchant.pk, livemode=False, endpoint_id=endpoint.pk)
    events = list(WebhookDelivery.objects.order_by("-event_id").values_list("event_id", flat=True))
    first = page(owner.get(url("detail", endpoint)))
    assert events[0] in first and events[1] in first and events[2] not in first
    second = page(owner.get(url("detail", endpoint), {"starting_after": events[1]}))
    assert events[2] in second and events[0] not in second


def test_viewer_reads_but_cannot_change(viewer, merchant):
    endpoint, _ = make_endpoint(merchant)
    services.webhook_endpoint_send_test(merchant_id=merchant.pk, livemode=False, endpoint_id=endpoint.pk)
    html = page(viewer.get(url("detail", endpoint)))
    assert endpoint.url in html and "webhook_endpoint.test" in html
    for hidden in ("Send a test event", "Rotate the secret", "Redeliver", url("delete", endpoint)):
        assert hidden not in html
    event_id = WebhookDelivery.objects.get().event_id
    for method, target, data in (("get", CREATE, {}), ("post", CREATE, {"url": "http://127.0.0.1:9/x",
                                                                        "all_events": "on"}),
                                 ("post", url("test", endpoint), {}), ("post", url("rotate", endpoint), {}),
                                 ("post", url("delete", endpoint), {}), ("post", url("status", endpoint),
                                                                         {"status": "disabled"}),
                                 ("post", url("redeliver", endpoint), {"event": event_id}),
                                 ("post", url("edit", endpoint), {"url": "http://127.0.0.1:9/y", "all_events": "on"})):
        r = getattr(viewer, method)(target, data)
        assert r.status_code == 403, (method, target)
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.url, WebhookEndpoint.objects.count(), WebhookDelivery.objects.count()) == (
        "enabled", "http://127.0.0.1:9/hooks", 1, 1)


def test_another_merchants_endpoint_is_not_found(member_client, other_merchant, merchant):
    endpoint, _ = make_endpoint(other_merchant)
    owner = member_client("owner")
    for name in ("detail", "edit", "delete", "rotate"):
        assert owner.get(url(name, endpoint)).status_code == 404
    for name in ("test", "status", "redeliver"):
        assert owner.post(url(name, endpoint), {"status": "disabled", "event": "evt_x"}).status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.status == "enabled"


def test_redeliver_to_a_disabled_endpoint_is_refused(owner, merchant):
    endpoint, _ = make_endpoint(merchant)
    event = services.webhook_endpoint_send_test(merchant_id=merchant.pk, livemode=False, endpoint_id=endpoint.pk)
    services.webhook_endpoint_update(merchant_id=merchant.pk, livemode=False, endpoint_id=endpoint.pk,
                                     status="disabled")
    r = owner.post(url("redeliver", endpoint), {"event": event.pk})
    assert r.status_code == 302
    assert "disabled; enable it first" in page(owner.get(url("detail", endpoint)))
