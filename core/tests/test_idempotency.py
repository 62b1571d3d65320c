"""Idempotency-Key on POST, proven through the API (POST /v1/payments and POST /v1/cards)."""

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from cards.models import Card
from core.idempotency import purge_expired_keys, request_fingerprint
from core.models import IdempotencyKey
from payments.models import Payment

VISA = "4242424242424242"
DECLINED = "4000000000000002"


def payment_body(number=VISA, amount=1000, **extra):
    return {
        "amount": amount,
        "currency": "EUR",
        "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        **extra,
    }


CARD_BODY = {"number": VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def post(api, path, body, key):
    return api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_returns_the_first_response_and_creates_nothing(api):
    first = post(api, "/v1/payments", payment_body(), "order-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first

    again = post(api, "/v1/payments", payment_body(), "order-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["Request-Id"] != first["Request-Id"]
    assert Payment.objects.count() == 1

    record = IdempotencyKey.objects.get()
    assert record.status == IdempotencyKey.Status.COMPLETED
    assert record.response_status == 201
    assert record.client_id == api.api_client.pk


def test_replay_on_cards(api):
    first = post(api, "/v1/cards", CARD_BODY, "card-1")
    assert first.status_code == 201, first.content
    again = post(api, "/v1/cards", CARD_BODY, "card-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Card.objects.count() == 1


def test_without_key_every_post_creates(api):
    assert api.post("/v1/payments", payment_body(), format="json").status_code == 201
    assert api.post("/v1/payments", payment_body(), format="json").status_code == 201
    assert Payment.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


def test_same_key_different_body_is_422(api):
    assert post(api, "/v1/payments", payment_body(amount=1000), "k").status_code == 201
    r = post(api, "/v1/payments", payment_body(amount=2000), "k")
    assert r.status_code == 422, r.content
    error = r.json()["error"]
    assert error["type"] == "idempotency_error"
    assert error["code"] == "idempotency_key_reused"
    assert error["param"] == "Idempotency-Key"
    assert "Idempotent-Replayed" not in r
    assert Payment.objects.count() == 1


def test_same_key_different_path_is_422(api):
    assert post(api, "/v1/payments", payment_body(), "k").status_code == 201
    r = post(api, "/v1/cards", CARD_BODY, "k")
    assert r.status_code == 422, r.content
    assert r.json()["error"]["type"] == "idempotency_error"
    assert Card.objects.count() == 1  # the payment's card only: no card was tokenized
    assert IdempotencyKey.objects.count() == 1


def test_body_key_order_does_not_matter(api):
    body = payment_body(metadata={"a": "1", "b": "2"})
    assert post(api, "/v1/payments", body, "k").status_code == 201
    reordered = dict(reversed(list(body.items())))
    reordered["metadata"] = {"b": "2", "a": "1"}
    r = post(api, "/v1/payments", reordered, "k")
    assert r.status_code == 201
    assert r["Idempotent-Replayed"] == "true"


def test_key_is_scoped_to_the_api_client(api, merchant, make_token):
    _, token = make_token(merchant)  # a second client of the same merchant
    second = APIClient()
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    a = post(api, "/v1/payments", payment_body(), "shared-key")
    b = post(second, "/v1/payments", payment_body(), "shared-key")
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b
    assert a.json()["id"] != b.json()["id"]
    assert Payment.objects.count() == 2
    assert IdempotencyKey.objects.filter(key="shared-key").count() == 2


@pytest.mark.parametrize("key", ["x" * 256, "", "schlüssel", "tab\there"])
def test_invalid_key_is_400(api, key):
    r = post(api, "/v1/payments", payment_body(), key)
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "idempotency_key_invalid"
    assert error["param"] == "Idempotency-Key"
    assert not Payment.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_key_of_255_characters_is_accepted(api):
    assert post(api, "/v1/payments", payment_body(), "k" * 255).status_code == 201


def test_decline_is_stored_and_replayed(api):
    first = post(api, "/v1/payments", payment_body(number=DECLINED), "declined-1")
    assert first.status_code == 402, first.content
    assert first.json()["error"]["type"] == "card_error"
    assert first.json()["error"]["decline_code"] == "card_declined"

    again = post(api, "/v1/payments", payment_body(number=DECLINED), "declined-1")
    assert again.status_code == 402
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Payment.objects.count() == 1
    assert Payment.objects.get().status == "failed"


def test_validation_error_is_stored_and_replayed(api):
    body = payment_body(amount=0)
    first = post(api, "/v1/payments", body, "bad-1")
    assert first.status_code == 400
    again = post(api, "/v1/payments", body, "bad-1")
    assert again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_server_error_releases_the_key(api, monkeypatch):
    from payments import services

    real = services.payment_create

    def boom(**kwargs):
        raise RuntimeError("processor exploded")

    monkeypatch.setattr(services, "payment_create", boom)
    r = post(api, "/v1/payments", payment_body(), "retry-me")
    assert r.status_code == 500
    assert not IdempotencyKey.objects.exists()

    monkeypatch.setattr(services, "payment_create", real)
    r = post(api, "/v1/payments", payment_body(), "retry-me")
    assert r.status_code == 201
    assert "Idempotent-Replayed" not in r


def test_auth_failures_do_not_claim_the_key(api, anon_api):
    r = anon_api.post("/v1/payments", payment_body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert r.status_code == 401
    assert not IdempotencyKey.objects.exists()


def test_fingerprint_is_keyed_not_a_plain_hash():
    """The request body holds card data: its fingerprint must not be a plain (brute-forceable) hash."""
    import hashlib
    import json

    body = payment_body()
    plain = hashlib.sha256(
        f"POST\n/v1/payments\n{json.dumps(body, sort_keys=True, separators=(',', ':'))}".encode()
    ).hexdigest()
    keyed = request_fingerprint("POST", "/v1/payments", body)
    assert keyed != plain
    assert len(keyed) == 64
    assert keyed == request_fingerprint("POST", "/v1/payments", dict(reversed(list(body.items()))))
    assert keyed != request_fingerprint("POST", "/v1/cards", body)


def _in_flight_row(api, body, *, locked_at):
    return IdempotencyKey.objects.create(
        client_id=api.api_client.pk,
        key="in-flight",
        fingerprint=request_fingerprint("POST", "/v1/payments", body),
        method="POST",
        path="/v1/payments",
        locked_at=locked_at,
    )


def test_in_flight_key_is_409(api):
    body = payment_body()
    _in_flight_row(api, body, locked_at=timezone.now() - timedelta(seconds=1))
    r = post(api, "/v1/payments", body, "in-flight")
    assert r.status_code == 409, r.content
    error = r.json()["error"]
    assert error["type"] == "idempotency_error"
    assert error["code"] == "idempotency_request_in_flight"
    assert not Payment.objects.exists()
    assert IdempotencyKey.objects.get().status == IdempotencyKey.Status.IN_PROGRESS


def test_in_flight_key_with_different_body_is_422(api):
    _in_flight_row(api, payment_body(amount=1), locked_at=timezone.now())
    r = post(api, "/v1/payments", payment_body(amount=2), "in-flight")
    assert r.status_code == 422


def test_stale_in_flight_key_is_taken_over(api):
    body = payment_body()
    stale = timezone.now() - settings.IDEMPOTENCY_LOCK_TIMEOUT - timedelta(seconds=5)
    row = _in_flight_row(api, body, locked_at=stale)
    r = post(api, "/v1/payments", body, "in-flight")
    assert r.status_code == 201, r.content
    assert Payment.objects.count() == 1
    row.refresh_from_db()
    assert row.status == IdempotencyKey.Status.COMPLETED
    assert row.response_body["id"] == r.json()["id"]
    assert row.locked_at > stale

    again = post(api, "/v1/payments", body, "in-flight")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == r.json()["id"]


def test_purge_expired_keys(api):
    assert post(api, "/v1/payments", payment_body(), "old").status_code == 201
    assert post(api, "/v1/payments", payment_body(), "fresh").status_code == 201
    now = timezone.now()
    IdempotencyKey.objects.filter(key="old").update(created=now - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1))
    # The payment it created ages with it (it keeps the key to finish a request that died mid-way).
    expired = now - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1)
    Payment.objects.filter(idempotency_key="old").update(created=expired)
    IdempotencyKey.objects.filter(key="fresh").update(created=now - settings.IDEMPOTENCY_KEY_TTL + timedelta(minutes=1))

    assert purge_expired_keys(now=now) == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    # Keys live at least 24 hours.
    assert timedelta(hours=24) <= settings.IDEMPOTENCY_KEY_TTL

    # An expired key is a new key again.
    r = post(api, "/v1/payments", payment_body(), "old")
    assert r.status_code == 201
    assert "Idempotent-Replayed" not in r
    assert Payment.objects.count() == 3


def test_purge_task_is_registered():
    from core.tasks import purge_expired_idempotency_keys

    assert purge_expired_idempotency_keys.name == "core.purge_expired_idempotency_keys"
    assert any(
        entry["task"] == "core.purge_expired_idempotency_keys" for entry in settings.CELERY_BEAT_SCHEDULE.values()
    )


# --- real concurrency (PostgreSQL) ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_the_same_key_create_one_payment(merchant, make_token, monkeypatch):
    from payments.processors import TestSimulator

    real_authorize = TestSimulator.authorize
    calls = []

    def slow_authorize(self, **kwargs):
        calls.append(kwargs["reference"])
        time.sleep(0.5)  # keep the first request in flight while the others arrive
        return real_authorize(self, **kwargs)

    monkeypatch.setattr(TestSimulator, "authorize", slow_authorize)
    _, token = make_token(merchant)
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list = [None] * threads_count

    def worker(i):
        try:
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            barrier.wait(timeout=10)
            r = post(api, "/v1/payments", payment_body(), "concurrent-key")
            results[i] = (r.status_code, r.json(), r.get("Idempotent-Replayed"))
        except Exception as exc:  # surfaced by the assertions below
            results[i] = ("exception", repr(exc), None)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert all(r is not None for r in results), results
    statuses = [r[0] for r in results]
    assert set(statuses) <= {201, 409}, results
    created = [r for r in results if r[0] == 201]
    assert created, results
    assert len(calls) == 1  # the card was authorized once
    assert len({r[1]["id"] for r in created}) == 1
    assert sum(1 for r in created if r[2] != "true") == 1  # one original, any others are replays
    for r in results:
        if r[0] == 409:
            assert r[1]["error"]["code"] == "idempotency_request_in_flight"
    assert Payment.objects.count() == 1
    assert IdempotencyKey.objects.get().status == IdempotencyKey.Status.COMPLETED
