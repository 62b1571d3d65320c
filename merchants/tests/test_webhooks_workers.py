"""Real concurrency and real workers, on PostgreSQL (skipped on SQLite, see /conftest.py).

- Concurrent publishers for one object get distinct, gapless sequence numbers.
- A Celery worker killed (SIGKILL) in the middle of a delivery loses nothing: another worker sends the
  delivery again, with the same webhook-id, once the lease has expired and the beat sweep finds it.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from standardwebhooks.webhooks import Webhook

from merchants import services
from merchants.constants import DeliveryStatus
from merchants.models import Event, WebhookDelivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_publishers_get_distinct_gapless_sequences(merchant):
    threads_count = 10
    barrier = threading.Barrier(threads_count)
    errors = []

    def publish():
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created",
                                       object_type="payment", object_id="pay_race", data={})
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish) for _ in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(Event.objects.filter(object_id="pay_race").values_list("sequence", flat=True)) == list(
        range(1, threads_count + 1))


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_worker(name, env, log_dir):
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 (closed by the test)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-B", "--pool", "solo",
         "--loglevel", "INFO", "-n", f"{name}@%h", "--without-mingle", "--without-gossip",
         "-s", str(log_dir / f"{name}-beat-schedule")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    process.log = log
    return process


def stop(process, sig=signal.SIGKILL):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)
    process.log.close()


def test_a_worker_killed_mid_delivery_leads_to_a_redelivery(merchant, receiver, tmp_path, monkeypatch):
    monkeypatch.setattr(services, "_enqueue_deliveries", lambda ids, countdown=None: None)  # the workers' sweep
    receiver.hang_first = True  # the first request never gets an answer: the worker is stuck in it
    _endpoint, secret = services.webhook_endpoint_create(merchant_id=merchant.pk, livemode=False, url=receiver.url,
                                                        enabled_events=["*"])
    with transaction.atomic():
        event = services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.created",
                                       object_type="payment", object_id="pay_killed", data={"id": "pay_killed"})
    delivery = WebhookDelivery.objects.get(event=event)

    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL")}
    env.update({
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
                        f"{db['PORT'] or 5432}/{db['NAME']}",
        "VAR_DIR": str(tmp_path),  # a private filesystem broker
        "WEBHOOK_DELIVERY_LEASE_SECONDS": "2",
        "WEBHOOK_SWEEP_SECONDS": "1",
        "WEBHOOK_TIMEOUT_SECONDS": "120",
        "WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE": "true",
    })
    first = start_worker("w1", env, tmp_path)
    second = None
    try:
        wait_for(lambda: len(receiver.requests) >= 1, what="the first worker to reach the receiver")
        stop(first)  # SIGKILL the whole process group mid-request
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts >= 1  # claimed, never recorded
        second = start_worker("w2", env, tmp_path)
        wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED,
                 what="the second worker to deliver")
    finally:
        receiver.release()
        if second is not None:
            stop(second, signal.SIGTERM)
        if first.poll() is None:
            stop(first)
    assert len(receiver.requests) >= 2
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {event.pk}
    assert Webhook(secret).verify(receiver.requests[-1]["body"], receiver.requests[-1]["headers"])["id"] == event.pk
