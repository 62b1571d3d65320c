"""Events (the outbox) and their webhook delivery: signatures, retries, health rules, SSRF."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from merchants import services, webhooks
from merchants.constants import WEBHOOK_RETRY_DELAYS_SECONDS, DeliveryStatus, WebhookEndpointStatus
from merchants.models import Event, MerchantNotice, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from payments import services as payment_services
from payments.tests.factories import make_payment

pytestmark = pytest.mark.django_db


def make_endpoint(merchant, url, *, events=("*",), livemode=False):
    return services.webhook_endpoint_create(merchant_id=merchant.pk, livemode=livemode, url=url,
                                            enabled_events=list(events))


def run_due(now=None):
    """Attempt every pending delivery that is due (what the workers do)."""
    done = []
    for pk in WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).order_by("pk").values_list("pk",
                                                                                                        flat=True):
        if services.webhook_delivery_attempt(delivery_id=pk, now=now) is not None:
            done.append(pk)
    return done


def verify(secret, request):
    return Webhook(secret).verify(request["body"], request["headers"])


# --- The outbox ----------------------------------------------------------------------------------------


def test_a_captured_payment_publishes_created_then_succeeded_with_the_api_representation(api, merchant):
    r = api.post("/v1/payments", {"amount": 1500, "currency": "EUR", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}, format="json")
    assert r.status_code == 201
    payment = r.json()
    events = list(Event.objects.filter(object_id=payment["id"]).order_by("sequence"))
    assert [(e.type, e.sequence) for e in events] == [("payment.created", 1), ("payment.succeeded", 2)]
    assert events[0].data["status"] == "processing"
    assert events[1].data == api.get(f"/v1/payments/{payment['id']}").json()
    assert all(e.merchant_id == merchant.pk and e.livemode is False and e.object_type == "payment" for e in events)


def test_authorize_capture_refund_publish_every_change_in_order(merchant):
    payment = make_payment(merchant, capture=False)
    payment_services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=600)
    refund = payment_services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk,
                                            amount=100)
    assert list(Event.objects.filter(object_id=payment.pk).order_by("sequence").values_list("type", "sequence")) == [
        ("payment.created", 1), ("payment.authorized", 2), ("payment.captured", 3), ("payment.succeeded", 4)]
    assert list(Event.objects.filter(object_id=refund.pk).order_by("sequence").values_list("type", "sequence")) == [
        ("refund.created", 1), ("refund.succeeded", 2)]
    succeeded = Event.objects.get(object_id=refund.pk, type="refund.succeeded")
    assert succeeded.data["status"] == "succeeded" and succeeded.data["amount"] == 100
    assert Event.objects.get(object_id=payment.pk, type="payment.captured").data["amount_captured"] == 600


def test_declined_and_canceled_payments_publish_failed_and_canceled(merchant):
    declined = make_payment(merchant, number="4000000000000002")
    assert declined.status == "failed"
    assert Event.objects.filter(object_id=declined.pk).latest("sequence").type == "payment.failed"
    held = make_payment(merchant, capture=False)
    payment_services.payment_cancel(merchant_id=merchant.pk, livemode=False, payment_id=held.pk)
    assert Event.objects.filter(object_id=held.pk).latest("sequence").type == "payment.canceled"


def test_an_event_rolls_back_with_its_change(merchant, receiver):
    make_endpoint(merchant, receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created",
                               object_type="payment", object_id="pay_x", data={"id": "pay_x"})
        raise RuntimeError
    assert not Event.objects.exists() and not WebhookDelivery.objects.exists()


def test_deliveries_are_enqueued_only_on_commit(merchant, receiver, enqueued, django_capture_on_commit_callbacks):
    endpoint, _ = make_endpoint(merchant, receiver.url, events=["payment.succeeded"])
    make_endpoint(merchant, receiver.url, events=["refund.created"])  # does not want payments
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_payment(merchant)
        assert enqueued == []
    assert WebhookDelivery.objects.count() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == endpoint and delivery.event.type == "payment.succeeded"
    for callback in callbacks:
        callback()
    assert enqueued == [(delivery.pk, None)]


def test_test_mode_events_do_not_go_to_live_endpoints_nor_to_other_merchants(merchant, other_merchant, receiver,
                                                                             monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.216.34"])
    make_endpoint(merchant, "https://hooks.example.com/x", livemode=True)
    make_endpoint(other_merchant, receiver.url)
    make_payment(merchant)
    assert not WebhookDelivery.objects.exists()


# --- Delivery ----------------------------------------------------------------------------------------


def test_deliveries_are_signed_per_standard_webhooks_and_ordered_by_sequence(merchant, receiver):
    _endpoint, secret = make_endpoint(merchant, receiver.url)
    assert secret.startswith("whsec_") and len(secret) >= len("whsec_") + 32
    payment = make_payment(merchant, capture=False)
    payment_services.payment_capture(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
    run_due()
    assert len(receiver.requests) == 4
    received = [verify(secret, r) for r in receiver.requests]
    assert sorted(e["sequence"] for e in received) == [1, 2, 3, 4]
    by_sequence = sorted(received, key=lambda e: e["sequence"])
    assert [e["type"] for e in by_sequence] == ["payment.created", "payment.authorized", "payment.captured",
                                                "payment.succeeded"]
    for request, event in zip(receiver.requests, received, strict=True):
        assert request["headers"]["webhook-id"] == event["id"]
        assert request["headers"]["content-type"] == "application/json"
        stored = Event.objects.get(pk=event["id"])
        assert event["data"]["object"] == stored.data
    with pytest.raises(WebhookVerificationError):
        verify(services.webhooks.new_secret(), receiver.requests[0])
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 4
    attempt = WebhookAttempt.objects.first()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.latency_ms is not None
    assert attempt.response_body.startswith("answer 200") and len(attempt.response_body) == 1024


def test_the_secret_is_stored_encrypted(merchant, receiver):
    endpoint, secret = make_endpoint(merchant, receiver.url)
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert secret not in stored.secret_encrypted and secret[6:] not in stored.secret_encrypted
    assert services.webhook_endpoint_signing_secrets(stored) == [secret]


def test_the_retry_schedule_with_injected_time_then_failed(merchant, receiver):
    receiver.default_status = 500
    make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={"id": "pay_1"})
    delivery = WebhookDelivery.objects.get()
    now = delivery.next_attempt_at
    delays = []
    for _ in range(len(WEBHOOK_RETRY_DELAYS_SECONDS) + 1):
        assert services.webhook_delivery_attempt(delivery_id=delivery.pk, now=now - timedelta(seconds=1)) is None
        delivery = services.webhook_delivery_attempt(delivery_id=delivery.pk, now=now)
        if delivery.next_attempt_at is not None:
            delays.append((delivery.next_attempt_at - now).total_seconds())
            now = delivery.next_attempt_at
    assert len(delays) == len(WEBHOOK_RETRY_DELAYS_SECONDS)
    for got, base in zip(delays, WEBHOOK_RETRY_DELAYS_SECONDS, strict=True):
        assert base * 0.9 <= got <= base * 1.1
    # About three days: 71.6 hours as scheduled, each delay within its jitter (so the total within +-10 %).
    assert sum(WEBHOOK_RETRY_DELAYS_SECONDS) == 257_765
    assert 0.9 * 257_765 <= sum(delays) <= 1.1 * 257_765
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == len(WEBHOOK_RETRY_DELAYS_SECONDS) + 1
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert len(receiver.requests) == delivery.attempts
    assert WebhookAttempt.objects.filter(delivery=delivery, status_code=500, succeeded=False).count() == 13


def test_a_short_retry_is_nudged_with_a_countdown(merchant, receiver, enqueued, django_capture_on_commit_callbacks):
    receiver.default_status = 503
    make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_delivery_attempt(delivery_id=delivery.pk)
    assert len(enqueued) == 1 and enqueued[0][0] == delivery.pk and enqueued[0][1] in (4, 5)


def test_timeouts_and_connection_errors_are_retried(merchant, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.hang_first = True
    make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    delivery = services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at > timezone.now()
    assert WebhookAttempt.objects.get().error.startswith("timeout")
    receiver.release()
    receiver.close()  # nobody listens any more
    delivery = services.webhook_delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    assert delivery.status == DeliveryStatus.PENDING
    assert WebhookAttempt.objects.order_by("-id").first().error.startswith("connection error")


def test_redirects_are_not_followed(merchant, receiver):
    receiver.statuses = [302]
    receiver.extra_headers = {"Location": receiver.url + "/elsewhere"}
    make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    delivery = services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    assert len(receiver.requests) == 1 and delivery.status == DeliveryStatus.PENDING
    assert WebhookAttempt.objects.get().status_code == 302


def test_410_gone_disables_the_endpoint_and_tells_the_merchant(merchant, receiver, mailoutbox,
                                                               django_capture_on_commit_callbacks):
    merchant.support_email = "ops@merchant.example"
    merchant.save()
    receiver.statuses = [410]
    endpoint, _ = make_endpoint(merchant, receiver.url)
    for n in range(2):
        services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created",
                               object_type="payment", object_id=f"pay_{n}", data={})
    first, second = WebhookDelivery.objects.order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_delivery_attempt(delivery_id=first.pk)
    endpoint.refresh_from_db()
    assert endpoint.status == WebhookEndpointStatus.DISABLED and "410" in endpoint.disabled_reason
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == DeliveryStatus.FAILED and second.status == DeliveryStatus.CANCELED
    assert MerchantNotice.objects.get(merchant=merchant).object_id == endpoint.pk
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["ops@merchant.example"]
    assert services.webhook_delivery_attempt(delivery_id=second.pk) is None
    assert len(receiver.requests) == 1


def test_three_days_without_success_disables_the_endpoint(merchant, receiver, mailoutbox,
                                                          django_capture_on_commit_callbacks):
    merchant.support_email = "ops@merchant.example"
    merchant.save()
    receiver.default_status = 500
    endpoint, _ = make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    delivery = WebhookDelivery.objects.get()
    t0 = delivery.next_attempt_at
    services.webhook_delivery_attempt(delivery_id=delivery.pk, now=t0)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == t0 and endpoint.status == WebhookEndpointStatus.ENABLED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=t0 + timedelta(days=2))
    services.webhook_delivery_attempt(delivery_id=delivery.pk, now=t0 + timedelta(days=2))
    endpoint.refresh_from_db()
    assert endpoint.status == WebhookEndpointStatus.ENABLED
    later = t0 + timedelta(days=3, minutes=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=later)
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_delivery_attempt(delivery_id=delivery.pk, now=later)
    endpoint.refresh_from_db()
    assert endpoint.status == WebhookEndpointStatus.DISABLED and "3 days" in endpoint.disabled_reason
    assert MerchantNotice.objects.filter(merchant=merchant, kind="webhook_endpoint.disabled").count() == 1
    assert len(mailoutbox) == 1 and endpoint.url in mailoutbox[0].body


def test_a_success_resets_the_failing_clock(merchant, receiver):
    receiver.statuses = [500]
    endpoint, _ = make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    delivery = services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    services.webhook_delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_rotation_sends_both_signatures_for_24_hours(merchant, receiver):
    endpoint, old = make_endpoint(merchant, receiver.url)
    endpoint, new = services.webhook_endpoint_rotate_secret(merchant_id=merchant.pk, livemode=False,
                                                            endpoint_id=endpoint.pk)
    assert new != old
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_2", data={})
    first, second = WebhookDelivery.objects.order_by("pk")
    services.webhook_delivery_attempt(delivery_id=first.pk)
    request = receiver.requests[0]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert verify(old, request)["id"] == verify(new, request)["id"]
    later = timezone.now() + timedelta(hours=24, minutes=1)
    services.webhook_delivery_attempt(delivery_id=second.pk, now=later)
    request = receiver.requests[1]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 1
    verify(new, request)
    with pytest.raises(WebhookVerificationError):
        verify(old, request)


def test_sweep_re_enqueues_only_overdue_deliveries(merchant, receiver, enqueued, settings):
    settings.WEBHOOK_DELIVERY_LEASE_SECONDS = 60
    make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_deliveries_sweep() == 0  # just queued: its nudge is on its way
    assert services.webhook_deliveries_sweep(now=timezone.now() + timedelta(seconds=61)) == 1
    assert enqueued == [(delivery.pk, None)]


def test_a_claimed_delivery_whose_worker_died_is_sent_again_after_the_lease(merchant, receiver, monkeypatch):
    make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    delivery = WebhookDelivery.objects.get()

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(webhooks, "post", die)
    with pytest.raises(SystemExit):
        services.webhook_delivery_attempt(delivery_id=delivery.pk)
    monkeypatch.undo()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None  # still leased
    delivery = services.webhook_delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    assert receiver.requests[0]["headers"]["webhook-id"] == delivery.event_id


def test_a_disabled_endpoint_gets_nothing(merchant, receiver):
    endpoint, _ = make_endpoint(merchant, receiver.url)
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    services.webhook_endpoint_update(merchant_id=merchant.pk, livemode=False, endpoint_id=endpoint.pk,
                                     status="disabled")
    assert WebhookDelivery.objects.get().status == DeliveryStatus.CANCELED
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_2", data={})
    assert WebhookDelivery.objects.count() == 1
    assert run_due() == [] and receiver.requests == []


# --- SSRF ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "10.0.0.5", "172.16.3.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.251", "240.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
])
def test_non_public_addresses_are_refused_in_live_mode(monkeypatch, address):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: [address])
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url("https://hooks.example.com/in", livemode=True)


def test_one_bad_address_among_good_ones_is_refused(monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(webhooks.UnsafeURL, match=r"10\.1\.2\.3"):
        webhooks.check_url("https://hooks.example.com/in", livemode=True)


def test_url_rules(monkeypatch, settings):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.216.34"])
    assert webhooks.check_url("https://hooks.example.com:8443/in?x=1", livemode=True).path == "/in?x=1"
    for url in ("http://hooks.example.com/in", "ftp://hooks.example.com/", "https://user:pw@hooks.example.com/",
                "https://metadata.google.internal/computeMetadata/v1/", "https:///nohost"):
        with pytest.raises(webhooks.UnsafeURL):
            webhooks.check_url(url, livemode=True)
    assert webhooks.check_url("http://hooks.example.com/in", livemode=False).scheme == "http"
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])
    assert webhooks.check_url("http://localhost:8000/in", livemode=False).address == "127.0.0.1"
    settings.WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE = False
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url("http://localhost:8000/in", livemode=False)


def test_dns_rebinding_is_caught_at_connect_time(merchant, receiver, monkeypatch):
    answers = {"hooks.example.com": ["93.184.216.34"]}
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: answers[host])
    _endpoint, _ = make_endpoint(merchant, "https://hooks.example.com/in", livemode=True)
    answers["hooks.example.com"] = ["169.254.169.254"]  # the DNS answer changes after the check at save time
    services.event_publish(merchant_id=merchant.pk, livemode=True, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    delivery = services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    assert delivery.status == DeliveryStatus.PENDING
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and attempt.error.startswith("refused:") and "169.254.169.254" in attempt.error


def test_the_connection_goes_to_the_checked_address_with_the_real_host_name(merchant, receiver, monkeypatch):
    """Resolved once, checked, pinned: the request reaches the checked address with the URL's Host."""
    calls = []

    def resolve(host, port):
        calls.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(webhooks, "resolve", resolve)
    _endpoint, secret = make_endpoint(merchant, f"http://hooks.merchant.test:{receiver.port}/in")
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="pay_1", data={})
    calls.clear()
    delivery = services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert calls == ["hooks.merchant.test"]  # resolved exactly once at connect time
    request = receiver.requests[0]
    assert request["headers"]["host"] == f"hooks.merchant.test:{receiver.port}" and request["path"] == "/in"
    verify(secret, request)


def test_https_uses_the_host_name_for_sni_and_certificate_checks():
    adapter = webhooks._PinnedHostAdapter("hooks.example.com")
    import requests

    prepared = requests.Request("POST", "https://93.184.216.34:443/in").prepare()
    _, pool_kwargs = adapter.build_connection_pool_key_attributes(prepared, True)
    assert pool_kwargs["server_hostname"] == "hooks.example.com"
    assert pool_kwargs["assert_hostname"] == "hooks.example.com"


def test_event_body_is_the_api_representation(api, merchant):
    make_payment(merchant)
    event = Event.objects.order_by("-sequence").first()
    assert json.loads(services.event_body(event)) == api.get(f"/v1/events/{event.pk}").json()


def test_events_publish_in_bulk_is_event_publish_for_each(merchant, other_merchant, enqueued, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    """Same sequences (continuing an object's own), same deliveries (each endpoint that wants the type, the
    merchant's and the mode's only), enqueued on commit: what a settlement run uses for its events."""
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.216.34"])
    make_endpoint(merchant, "https://example.com/all")
    make_endpoint(merchant, "https://example.com/payouts", events=["payout.created"])
    make_endpoint(merchant, "https://example.com/live", livemode=True)
    make_endpoint(other_merchant, "https://example.com/other")
    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created", object_type="payment",
                           object_id="stl_1", data={"n": 0})
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events = services.events_publish(events=[
            {"merchant_id": merchant.pk, "livemode": False, "type": "settlement.created", "object_type": "settlement",
             "object_id": "stl_1", "data": {"n": 1}},
            {"merchant_id": merchant.pk, "livemode": False, "type": "payout.created", "object_type": "payout",
             "object_id": "po_1", "data": {"n": 2}},
            {"merchant_id": merchant.pk, "livemode": False, "type": "settlement.created", "object_type": "settlement",
             "object_id": "stl_1", "data": {"n": 3}},
        ])
    assert [(e.object_id, e.sequence, e.data) for e in events] == [("stl_1", 2, {"n": 1}), ("po_1", 1, {"n": 2}),
                                                                  ("stl_1", 3, {"n": 3})]
    stored = Event.objects.filter(pk__in=[e.pk for e in events])
    assert {(e.object_id, e.sequence, e.type) for e in stored} == {(e.object_id, e.sequence, e.type) for e in events}
    deliveries = {(d.event.data["n"], d.endpoint.url) for d in WebhookDelivery.objects.filter(event__in=events)}
    wants_all = "https://example.com/all"
    assert deliveries == {(1, wants_all), (2, wants_all), (2, "https://example.com/payouts"), (3, wants_all)}
    assert len(enqueued) == 4
    assert services.events_publish(events=[]) == []


def test_old_events_are_purged_with_their_delivery_logs_but_never_while_a_delivery_is_pending(
        merchant, receiver, enqueued, settings):
    settings.EVENT_RETENTION_DAYS = 30
    make_endpoint(merchant, receiver.url)

    def publish(object_id, *, age_days):
        event = services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created",
                                       object_type="payment", object_id=object_id, data={})
        Event.objects.filter(pk=event.pk).update(created=timezone.now() - timedelta(days=age_days))
        return event

    delivered = publish("pay_old", age_days=31)
    pending = publish("pay_pending", age_days=31)
    recent = publish("pay_new", age_days=29)
    services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get(event=delivered).pk)
    assert WebhookAttempt.objects.filter(delivery__event=delivered).exists()
    WebhookEndpoint.objects.update(status=WebhookEndpointStatus.DISABLED)
    without_endpoint = publish("pay_quiet", age_days=40)  # no delivery at all

    assert services.events_purge(batch=1) == 2  # batches of one: every batch is its own short transaction
    assert set(Event.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert not WebhookDelivery.objects.filter(event_id__in=[delivered.pk, without_endpoint.pk]).exists()
    assert not WebhookAttempt.objects.filter(delivery__event_id=delivered.pk).exists()

    WebhookDelivery.objects.filter(event=pending).update(status=DeliveryStatus.FAILED)  # its retries ended
    assert services.events_purge() == 1
    assert list(Event.objects.values_list("pk", flat=True)) == [recent.pk]

    settings.EVENT_RETENTION_DAYS = 0  # keep everything
    assert services.events_purge(now=timezone.now() + timedelta(days=365)) == 0
    assert Event.objects.count() == 1
