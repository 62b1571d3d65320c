"""The API request log (core.request_log): what is recorded for a /v1/ call, what never is, and the purge."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from cards.tests.factories import VISA_OK
from core.ids import first_id_at, new_id
from core.models import ApiRequestLog
from core.request_log import api_requests_for_merchant, purge_api_request_log

pytestmark = pytest.mark.django_db

CARD = {"number": VISA_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def test_a_call_is_recorded_with_its_client_status_key_and_request_id(api, merchant):
    r = api.post("/v1/payments", {"amount": 1234, "currency": "EUR", "card": CARD}, format="json",
                 headers={"Idempotency-Key": "order-77"})
    assert r.status_code == 201
    row = ApiRequestLog.objects.get()
    assert row.id == r["Request-Id"]
    assert (row.merchant_id, row.livemode, row.client_id) == (merchant.pk, False, api.api_client.public_id)
    assert (row.method, row.path, row.status_code, row.idempotency_key) == ("POST", "/v1/payments", 201, "order-77")
    assert row.latency_ms >= 0
    assert row.created <= timezone.now()


def test_errors_are_recorded_and_the_query_string_is_not(api):
    r = api.get("/v1/payments/pay_does_not_exist?expand=secret-thing")
    assert r.status_code == 404
    row = ApiRequestLog.objects.get()
    assert (row.method, row.path, row.status_code, row.idempotency_key) == ("GET", "/v1/payments/pay_does_not_exist",
                                                                          404, "")


def test_calls_without_a_resolved_client_are_not_recorded(anon_api):
    assert anon_api.get("/v1/payments").status_code == 401
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert anon_api.get("/v1/payments").status_code == 401
    assert anon_api.get("/healthz").status_code == 200
    assert not ApiRequestLog.objects.exists()


def test_card_numbers_in_the_path_or_key_are_masked_and_bodies_never_stored(api):
    api.get(f"/v1/payments/{VISA_OK}")
    api.post("/v1/refunds", {"payment": "pay_x", "reason": f"card {VISA_OK}"}, format="json",
             headers={"Idempotency-Key": "key-4242-4242-4242-4242"})
    rows = list(ApiRequestLog.objects.order_by("pk").values())
    assert rows[0]["path"] == "/v1/payments/[redacted]"
    assert rows[1]["idempotency_key"] == "key-[redacted]"
    assert VISA_OK not in str(rows) and "4242-4242-4242-4242" not in str(rows)


def test_live_and_test_calls_are_kept_apart(api, merchant, make_token):
    from rest_framework.test import APIClient

    client, token = make_token(merchant, livemode=True)
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    live.get("/v1/payments")
    api.get("/v1/payments")
    assert api_requests_for_merchant(merchant_id=merchant.pk, livemode=True).get().client_id == client.public_id
    assert api_requests_for_merchant(merchant_id=merchant.pk, livemode=False).get().client_id == \
        api.api_client.public_id


def test_selector_filters(api, merchant):
    api.get("/v1/payments")
    api.get("/v1/payments/pay_missing")
    api.post("/v1/payments", {}, format="json")
    rows = api_requests_for_merchant
    assert rows(merchant_id=merchant.pk, livemode=False).count() == 3
    assert rows(merchant_id=merchant.pk, livemode=False, status="ok").count() == 1
    assert rows(merchant_id=merchant.pk, livemode=False, status="error").count() == 2
    assert rows(merchant_id=merchant.pk, livemode=False, method="POST").count() == 1
    assert rows(merchant_id=merchant.pk, livemode=False, client_id="cli_other").count() == 0


def test_can_be_switched_off(api, settings):
    settings.API_REQUEST_LOG_ENABLED = False
    assert api.get("/v1/payments").status_code == 200
    assert not ApiRequestLog.objects.exists()


def test_a_failing_insert_does_not_break_the_answer(api, monkeypatch, caplog):
    def boom(entry):
        raise RuntimeError("database gone")

    monkeypatch.setattr("core.request_log._insert", boom)
    assert api.get("/v1/payments").status_code == 200
    assert "Could not record API request" in caplog.text


def _row(merchant, when, **kwargs):
    return ApiRequestLog.objects.create(id=new_id("req", now_ms=int(when.timestamp() * 1000)), merchant_id=merchant.pk,
                                        method="GET", path="/v1/payments", status_code=200, latency_ms=3,
                                        created=when, **kwargs)


def test_purge_keeps_the_retention_window(merchant, settings):
    settings.API_REQUEST_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    old = [_row(merchant, now - timedelta(days=31, minutes=i)) for i in range(7)]
    kept = [_row(merchant, now - timedelta(days=29)), _row(merchant, now)]
    assert purge_api_request_log(now=now, batch=3) == len(old)
    assert set(ApiRequestLog.objects.values_list("pk", flat=True)) == {r.pk for r in kept}
    assert purge_api_request_log(now=now) == 0


def test_first_id_at_orders_ids_by_time():
    now = timezone.now()
    bound = first_id_at("req", now)
    assert new_id("req", now_ms=int(now.timestamp() * 1000) - 1) < bound <= new_id("req")


def test_purge_task_is_scheduled():
    from core.tasks import purge_api_request_log as task

    assert task.name == "core.purge_api_request_log"
    assert any(entry["task"] == task.name for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_on_postgresql_the_log_row_does_not_wait_for_the_disk(merchant):
    from django.db import connection

    from core.request_log import record

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone()[0] == "on"
        record(ApiRequestLog(id=new_id("req"), merchant_id=merchant.pk, method="GET", path="/v1/payments",
                             status_code=200, latency_ms=1, created=timezone.now()))
        cursor.execute("SELECT current_setting('synchronous_commit')")  # this transaction only (SET LOCAL)
        assert cursor.fetchone()[0] == "off"
    assert ApiRequestLog.objects.get().merchant_id == merchant.pk
