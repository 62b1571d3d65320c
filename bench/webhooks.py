#!/usr/bin/env python
"""`make bench` (webhooks): events delivered per second to a local receiver, with one and with two workers.

One run: create a fresh PostgreSQL database and migrate it; start a local HTTP receiver (answers 204,
records every webhook-id); for each worker count, publish N events through merchants.services.event_publish
(each queued on commit to Redis, as in production) while no worker runs, then start the Celery workers
(`--pool solo`, one process each) and time the deliveries from the first to the last one received. The
figure is deliveries per second once the workers are up (their start-up is not counted). The database is
dropped at the end, whatever happened.

Knobs (environment): BENCH_EVENTS (default 2000), BENCH_DATABASE_SERVER (postgres://postgres@127.0.0.1:5432),
BENCH_REDIS_URL (redis://127.0.0.1:6379/14; its database is flushed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EVENTS = int(os.environ.get("BENCH_EVENTS", "2000"))
SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432").rstrip("/")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DB_NAME = f"bench_webhooks_{os.getpid()}"


def log(message: str) -> None:
    print(f"[bench webhooks] {message}", flush=True)


class Receiver:
    def __init__(self):
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.seen.setdefault(self.headers["webhook-id"], time.monotonic())
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        with self.lock:
            self.seen.clear()


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main() -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL",)}
    env.update({"DATABASE_URL": f"{SERVER}/{DB_NAME}", "REDIS_URL": REDIS, "DB_CONN_MAX_AGE": "60",
                "WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE": "true", "LOG_LEVEL": "WARNING"})
    os.environ.update(env)
    admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DB_NAME}"')
    workers: list[subprocess.Popen] = []
    try:
        subprocess.run([str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                       check=True)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        import redis
        from django.db import transaction

        from merchants import services
        from merchants.constants import MerchantStatus
        from merchants.models import WebhookDelivery

        redis.Redis.from_url(REDIS).flushdb()
        receiver = Receiver()
        rows = []
        for count in (1, 2):
            merchant = services.merchant_create(name=f"Bench {count}")
            services.merchant_set_status(merchant_id=merchant.pk, to_status=MerchantStatus.ACTIVE, actor="bench")
            services.webhook_endpoint_create(merchant_id=merchant.pk, livemode=False, url=receiver.url,
                                             enabled_events=["*"])
            receiver.reset()
            log(f"publishing {EVENTS} events (queued on commit), then starting {count} worker(s)")
            for n in range(EVENTS):
                with transaction.atomic():
                    services.event_publish(merchant_id=merchant.pk, livemode=False, type="payment.succeeded",
                                           object_type="payment", object_id=f"pay_bench_{count}_{n}",
                                           data={"id": f"pay_bench_{count}_{n}", "amount": 1000, "currency": "EUR"})
            workers = [subprocess.Popen(
                [str(BIN / "celery"), "-A", "config", "worker", "--pool", "solo", "--loglevel", "WARNING",
                 "-n", f"bench{count}-{i}@%h", "--without-mingle", "--without-gossip"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                for i in range(count)]
            deadline = time.monotonic() + 600
            while len(receiver.seen) < EVENTS and time.monotonic() < deadline:
                time.sleep(0.2)
            for w in workers:
                os.killpg(w.pid, signal.SIGTERM)
            for w in workers:
                w.wait(timeout=60)
            workers = []
            times = sorted(receiver.seen.values())
            delivered = WebhookDelivery.objects.filter(endpoint__merchant=merchant, status="delivered").count()
            if len(times) < 2:
                raise RuntimeError("nothing was delivered")
            seconds = times[-1] - times[0]
            rows.append((count, len(times), delivered, seconds, (len(times) - 1) / seconds if seconds else 0.0))
        print()
        print("| workers | events received | deliveries recorded | seconds | events delivered / s |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        for count, received, delivered, seconds, rate in rows:
            print(f"| {count} | {received} | {delivered} | {seconds:.2f} | {rate:.0f} |")
        print()
        return 0
    finally:
        for w in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(w.pid, signal.SIGKILL)
        from django.db import connections

        connections.close_all()
        admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
