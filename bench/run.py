#!/usr/bin/env python
"""`make bench`: POST /v1/payments against a bare one-INSERT DRF view, on gunicorn and PostgreSQL.

One run: create a fresh PostgreSQL database, migrate and seed it, start gunicorn with the bench
settings (DEBUG off, Redis cache), get OAuth2 tokens, then load each endpoint with N keep-alive
connections (a warm-up, then a fixed duration) and print throughput, p50/p99 latency and errors,
the ratio payments / reference and whether the targets are met. Payments are measured twice: in
test mode (the simulator) and in live mode (on-us: a card issued by the bank, authorized against its
funded account, #4). gunicorn is stopped and the database dropped at the end, whatever happened.

Exit status: 0 when the harness ran (targets met or not), 2 when the harness itself failed.
See bench/README.md for the knobs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"

PAYMENTS_PATH = "/v1/payments"
LABELS = {"payments": f"POST {PAYMENTS_PATH} (test)", "live": f"POST {PAYMENTS_PATH} (live)",
          "reference": "POST /bench/reference"}
# The live demo card's account (seed_issuing_demo) is funded with the most one funding allows: enough
# for millions of bench payments.
LIVE_FUNDING = 9_999_999_900
REFERENCE_PATH = "/bench/reference"
# DRF renders compact JSON: every payment answered during the load must be this one, captured.
PAYMENT_CAPTURED = '"status":"succeeded"'
# The load pays with one card thousands of times an hour, which the risk engine's velocity signals
# score as review. The engine still computes every signal on every payment; only the thresholds
# move beyond its highest score (100), so each payment takes the captured path the bench measures.
RISK_OVERRIDE = {"RISK_REVIEW_SCORE": "101", "RISK_BLOCK_SCORE": "101"}
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


class HarnessError(Exception):
    """The benchmark could not run (not: the targets were missed)."""


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- Services and database ---------------------------------------------------------------------


def _run(cmd: list[str], *, env: dict | None = None, check: bool = True, quiet: bool = False) -> str:
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise HarnessError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    if not quiet and result.stderr.strip():
        print(result.stderr.strip(), file=sys.stderr)
    return result.stdout


def _wait_for(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise HarnessError(f"{what} did not come up within {timeout:.0f} s")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def ensure_services(pg: urllib.parse.ParseResult, redis: urllib.parse.ParseResult) -> None:
    """PostgreSQL and Redis must answer; on this machine we start them like .ci/run does."""
    pg_host, pg_port = pg.hostname or HOST, pg.port or 5432
    if not _port_open(pg_host, pg_port):
        local_cluster = (pg_host, pg_port) == (HOST, 5432) and Path("/etc/postgresql").is_dir()
        if not local_cluster or not shutil.which("pg_ctlcluster"):
            raise HarnessError(f"PostgreSQL is not answering at {pg_host}:{pg_port}")
        version = sorted(os.listdir("/etc/postgresql"))[0]
        log(f"starting PostgreSQL {version}")
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
        _wait_for(lambda: _port_open(pg_host, pg_port), "PostgreSQL")
    r_host, r_port = redis.hostname or HOST, redis.port or 6379
    if not _port_open(r_host, r_port):
        if (r_host, r_port) != (HOST, 6379) or not shutil.which("redis-server"):
            raise HarnessError(f"Redis is not answering at {r_host}:{r_port}")
        log("starting Redis")
        _run(["redis-server", "--daemonize", "yes", "--bind", HOST, "--port", str(r_port), "--save", "",
              "--appendonly", "no"], check=False)
        _wait_for(lambda: _port_open(r_host, r_port), "Redis")


def _admin_connection(server_url: str):
    import psycopg

    return psycopg.connect(server_url.rstrip("/") + "/postgres", autocommit=True, connect_timeout=10)


def create_database(server_url: str, name: str) -> None:
    from psycopg import sql

    with _admin_connection(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server_url: str, name: str) -> None:
    from psycopg import sql

    with _admin_connection(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# What a run leaves in its Redis db: the API client's rate-limit counter and the risk engine's velocity
# counters (the card's lives 24 hours, and the test card's fingerprint is the same in every run).
BENCH_REDIS_KEYS = ("*throttle:*", "risk:v:*", "risk:vb:*")


def clear_bench_keys(redis_url: str) -> None:
    """Runs must not inherit each other's counters: cleared before the run and after it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for pattern in BENCH_REDIS_KEYS:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i:i + 1000])


# --- gunicorn ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def http(method: str, url: str, *, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 30.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Gunicorn:
    def __init__(self, *, args, env: dict, port: int, log_path: Path):
        self.args, self.env, self.port, self.log_path = args, env, port, log_path
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        cmd = [
            str(BIN / "gunicorn"), "config.wsgi:application",
            "--bind", f"{HOST}:{self.port}",
            "--workers", str(self.args.workers),
            "--worker-class", self.args.worker_class,
            "--threads", str(self.args.threads),
            "--keep-alive", "5",
            # Each worker gets its own SO_REUSEPORT listener, so the kernel spreads the keep-alive
            # connections over the workers. With one shared listener, the first gthread worker to
            # wake accepts all 16 connections and the other workers stay idle for the whole run.
            "--reuse-port",
            "--timeout", "60",
            "--log-level", "warning",
        ]
        log(f"starting gunicorn on {self.base_url}: {self.args.workers} {self.args.worker_class} worker(s) "
            f"x {self.args.threads} thread(s)")
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

        def up() -> bool:
            if self.proc.poll() is not None:
                raise HarnessError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                return http("GET", self.base_url + "/healthz", timeout=2)[0] == 200
            except OSError:
                return False

        _wait_for(up, "gunicorn", timeout=60)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()
        self.proc = None


# --- Load generators ------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    generator: str
    duration_s: float
    requests: int
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    unexpected: int = 0  # 2xx responses whose body lacked the expected text

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if code.startswith("2"))

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if not code.startswith("2")) + sum(
            self.socket_errors.values()) + self.unexpected

    @property
    def throughput(self) -> float:
        """Successful responses (2xx, with the expected body) per second."""
        return (self.ok - self.unexpected) / self.duration_s if self.duration_s else 0.0


@dataclass
class Target:
    name: str
    path: str
    body: bytes
    token: str = ""
    expect: str = ""  # text every 2xx body must contain


def ensure_wrk(allow_install: bool) -> str | None:
    found = shutil.which("wrk")
    if found or not allow_install:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    log("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(install, env=env, capture_output=True)
    return shutil.which("wrk")


def run_wrk(wrk: str, base_url: str, target: Target, *, seconds: float, connections: int, threads: int,
            workdir: Path, label: str) -> Result:
    body_file = workdir / f"{target.name}.json"
    body_file.write_bytes(target.body)
    prefix = f"{label}-{uuid.uuid4().hex[:12]}"
    cmd = [wrk, "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
           "--timeout", "10s", "-s", str(BENCH_DIR / "load.lua"), base_url + target.path,
           "--", target.path, str(body_file), prefix, target.token, target.expect]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise HarnessError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    lat = data["latency_us"]
    return Result(name=target.name, generator="wrk", duration_s=data["duration_us"] / 1e6, requests=data["requests"],
                  statuses=data["statuses"], socket_errors={k: v for k, v in data["socket_errors"].items() if v},
                  p50_ms=lat["p50"] / 1000, p99_ms=lat["p99"] / 1000, max_ms=lat["max"] / 1000,
                  unexpected=data["unexpected"])


async def _python_connection(port: int, target: Target, prefix: str, deadline: float, latencies: list[float],
                             statuses: dict[str, int], socket_errors: dict[str, int], unexpected: list[int]) -> None:
    head = [f"POST {target.path} HTTP/1.1", f"Host: {HOST}:{port}", "Content-Type: application/json",
            f"Content-Length: {len(target.body)}", "Connection: keep-alive"]
    if target.token:
        head.append(f"Authorization: Bearer {target.token}")
    head_bytes = ("\r\n".join(head) + "\r\n").encode()
    reader = writer = None
    counter = 0
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            counter += 1
            request = head_bytes + f"Idempotency-Key: {prefix}-{counter}\r\n\r\n".encode() + target.body
            start = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("connection closed by server")
            status = status_line.split()[1].decode()
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    raise ConnectionError("chunked responses are not supported by the Python generator")
            body = await reader.readexactly(length) if length else b""
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if target.expect and status.startswith("2") and target.expect.encode() not in body:
                unexpected[0] += 1
            if close:
                writer.close()
                reader = writer = None
        except (OSError, ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError) as exc:
            kind = "connect" if writer is None else "read"
            socket_errors[kind] = socket_errors.get(kind, 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
            if socket_errors[kind] > 1000:
                raise HarnessError(f"the Python generator cannot talk to the server: {exc!r}") from exc
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


def run_python(port: int, target: Target, *, seconds: float, connections: int, label: str) -> Result:
    """asyncio generator: N keep-alive connections, each sending its next request when the last one answered."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    socket_errors: dict[str, int] = {}
    unexpected = [0]
    prefix = f"{label}-{uuid.uuid4().hex[:12]}"

    async def main() -> float:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(
            _python_connection(port, target, f"{prefix}-{i}", deadline, latencies, statuses, socket_errors,
                               unexpected)
            for i in range(connections)
        ))
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, max(0, math.ceil(p / 100 * len(latencies)) - 1))] * 1000

    return Result(name=target.name, generator="python", duration_s=elapsed, requests=len(latencies),
                  statuses=statuses, socket_errors=socket_errors, p50_ms=pct(50), p99_ms=pct(99),
                  max_ms=latencies[-1] * 1000 if latencies else 0.0, unexpected=unexpected[0])


# --- The run ---------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per endpoint (not measured)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"],
                        help="gunicorn worker class (sync closes the connection after each response)")
    parser.add_argument("--generator", default="auto", choices=["auto", "wrk", "python"],
                        help="load generator: wrk (installed with apt-get when missing) or the asyncio one")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (the server needs the cores)")
    parser.add_argument("--only", choices=["payments", "live", "reference"],
                        help="measure one endpoint only (live: live-mode payments with the bank's own demo card)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server (user, host, port), without a database name")
    parser.add_argument("--db-name", default="payments_bench", help="database to create (dropped first)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1"))
    parser.add_argument("--rate-limit", default="1000000/min",
                        help="API_RATE_LIMIT for the run: the throttle still runs on every request, but the "
                             "bench must not be limited by the production rate")
    parser.add_argument("--real-risk-thresholds", action="store_true",
                        help="keep the risk engine's review/block scores: the same test card thousands of times "
                             "an hour then (rightly) sends payments to review, and the run reports them as failed")
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (0: a free one)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1 or args.workers < 1 or args.threads < 1:
        parser.error("durations must be positive, counts at least 1")
    return args


def payment_body(card: dict | None = None) -> bytes:
    return json.dumps({
        "amount": 1999,
        "currency": "EUR",
        "capture": True,
        "description": "bench payment",
        "card": card or {"number": "4242424242424242", "exp_month": 12, "exp_year": date.today().year + 3,
                         "cvc": "123"},
    }).encode()


def live_card(base_url: str, token: str, card_id: str) -> dict:
    """The live demo card's number, expiry and CVC, read as a partner would (issuing:card_details, audited).
    They go into the load generator's body file in the run's temporary folder, removed at the end."""
    status, body = http("GET", f"{base_url}/v1/issuing/cards/{card_id}/details",
                        headers={"Authorization": f"Bearer {token}"})
    if status != 200:
        raise HarnessError(f"GET /v1/issuing/cards/{card_id}/details answered {status}: {body[:300]!r}")
    details = json.loads(body)
    return {k: details[k] for k in ("number", "exp_month", "exp_year", "cvc")}


def get_token(base_url: str, client_id: str, client_secret: str, scope: str = "payments:write") -> str:
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    status, body = http("POST", base_url + "/oauth/token/",
                        body=urllib.parse.urlencode({"grant_type": "client_credentials",
                                                     "scope": scope}).encode(),
                        headers={"Authorization": f"Basic {basic}",
                                 "Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise HarnessError(f"/oauth/token/ answered {status}: {body[:500]!r}")
    return json.loads(body)["access_token"]


def smoke_test(base_url: str, targets: list[Target]) -> None:
    """One request each, checked in full, before any load: a broken endpoint is a harness failure."""
    for target in targets:
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"smoke-{uuid.uuid4().hex}"}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        status, body = http("POST", base_url + target.path, body=target.body, headers=headers)
        if status != 201:
            raise HarnessError(f"POST {target.path} answered {status}: {body[:500]!r}")
        if target.name in ("payments", "live"):
            payment = json.loads(body)
            if payment.get("status") != "succeeded" or payment.get("amount_captured") != payment.get("amount"):
                raise HarnessError(f"the smoke payment was not captured: {payment}")


def report(results: list[Result], args: argparse.Namespace, server_desc: str) -> None:
    print()
    print(f"POST at {args.connections} keep-alive connections, {args.duration:g} s each after {args.warmup:g} s "
          f"warm-up; server: {server_desc}; generator: {results[0].generator}")
    header = f"{'endpoint':<29}{'requests':>10}{'req/s (2xx)':>13}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
    rule = "-" * len(header)
    print(rule)
    print(header)
    print(rule)
    for r in results:
        print(f"{LABELS[r.name]:<29}{r.requests:>10}{r.throughput:>13.1f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.max_ms:>9.1f}"
              f"{r.errors:>8}")
    print(rule)
    by_name = {r.name: r for r in results}
    pay, ref, live = by_name.get("payments"), by_name.get("reference"), by_name.get("live")
    if live and pay and pay.throughput:
        print(f"live (on-us) / test-mode payments throughput: {live.throughput / pay.throughput:.2f} "
              f"({live.throughput:.1f} vs {pay.throughput:.1f} req/s)")
    if live and ref and ref.throughput:
        print(f"ratio live payments / reference throughput: {live.throughput / ref.throughput:.2f}")
    if pay and ref:
        ratio = pay.throughput / ref.throughput if ref.throughput else 0.0
        ratio_ok, p99_ok = ratio >= TARGET_RATIO, pay.p99_ms < TARGET_P99_MS
        print(f"ratio payments / reference throughput: {ratio:.2f}")
        print(f"target ratio >= {TARGET_RATIO}:{'':<14}{'MET' if ratio_ok else 'MISSED'} ({ratio:.2f})")
        print(f"target payments p99 < {TARGET_P99_MS:g} ms:{'':<8}{'MET' if p99_ok else 'MISSED'} "
              f"({pay.p99_ms:.2f} ms)")
    elif pay:
        print(f"target payments p99 < {TARGET_P99_MS:g} ms: {'MET' if pay.p99_ms < TARGET_P99_MS else 'MISSED'}")
    failed = [r for r in results if r.errors]
    for r in failed:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(r.statuses.items()) if not code.startswith("2"))
        sockets = ", ".join(f"{kind}: {n}" for kind, n in sorted(r.socket_errors.items()))
        print()
        print("!" * 78)
        print(f"!!! {r.name}: {r.errors} of {r.requests} requests FAILED "
              f"(status {codes or 'none'}; socket {sockets or 'none'}; 2xx with an unexpected body {r.unexpected})")
        print("!!! the figures above are NOT valid for this endpoint")
        print("!" * 78)
    if not failed:
        print("errors: none (every response was 2xx)")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    pg = urllib.parse.urlparse(args.pg_url)
    redis_url = urllib.parse.urlparse(args.redis_url)
    db_url = f"{args.pg_url.rstrip('/')}/{args.db_name}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": args.redis_url,
        "DEBUG": "false",
        "API_RATE_LIMIT": args.rate_limit,
        **({} if args.real_risk_thresholds else RISK_OVERRIDE),
        "VAR_DIR": str(workdir / "var"),
        "PYTHONUNBUFFERED": "1",
    }
    server: Gunicorn | None = None
    db_created = False
    try:
        wrk = None
        if args.generator in ("auto", "wrk"):
            wrk = ensure_wrk(allow_install=True)
            if wrk is None and args.generator == "wrk":
                raise HarnessError("wrk is not installed and could not be installed (apt-get install -y wrk)")
            if wrk is None:
                log("wrk not available: using the Python asyncio generator")
        ensure_services(pg, redis_url)
        log(f"creating database {args.db_name}")
        create_database(args.pg_url, args.db_name)
        db_created = True
        manage = [str(BIN / "python"), "manage.py"]
        _run([*manage, "migrate", "--noinput", "-v", "0"], env=env)
        seed = json.loads(_run([*manage, "seed_issuing_demo", "--json"], env=env).strip().splitlines()[-1])
        _run([*manage, "issuing_fund", seed["issuing_account"], str(LIVE_FUNDING), "--reference", "bench",
              "--actor", "bench"], env=env)
        clear_bench_keys(args.redis_url)

        server = Gunicorn(args=args, env=env, port=args.port or free_port(), log_path=workdir / "gunicorn.log")
        server.start()
        token = get_token(server.base_url, seed["client_id"], seed["client_secret"])
        live_token = get_token(server.base_url, seed["live_client_id"], seed["live_client_secret"],
                               scope="payments:write issuing:card_details")
        card = live_card(server.base_url, live_token, seed["issuing_card"])
        targets = [Target("payments", PAYMENTS_PATH, payment_body(), token, expect=PAYMENT_CAPTURED),
                   Target("live", PAYMENTS_PATH, payment_body(card), live_token, expect=PAYMENT_CAPTURED),
                   Target("reference", REFERENCE_PATH, b'{"note": "reference"}')]
        if args.only:
            targets = [t for t in targets if t.name == args.only]
        smoke_test(server.base_url, targets)

        results = []
        for target in targets:
            for label, seconds in (("warmup", args.warmup), ("run", args.duration)):
                if seconds <= 0:
                    continue
                log(f"{target.name}: {label} {seconds:g} s at {args.connections} connections")
                if wrk:
                    result = run_wrk(wrk, server.base_url, target, seconds=seconds, connections=args.connections,
                                     threads=args.wrk_threads, workdir=workdir, label=label)
                else:
                    result = run_python(server.port, target, seconds=seconds, connections=args.connections,
                                        label=label)
            results.append(result)
        if server.proc.poll() is not None:
            raise HarnessError(f"gunicorn died during the run:\n{server.log_tail()}")
        server_desc = f"gunicorn {args.workers} x {args.worker_class}" + (
            f" ({args.threads} threads)" if args.worker_class == "gthread" else "")
        if any(r.errors for r in results):
            log(f"requests failed; the last lines of gunicorn's log:\n{server.log_tail(6)}")
        report(results, args, server_desc)
        return 0
    except Exception as exc:
        detail = str(exc) if isinstance(exc, HarnessError) else traceback.format_exc()
        print(f"\n[bench] HARNESS FAILURE: {detail}", file=sys.stderr)
        if server is not None:
            print(f"[bench] gunicorn log tail:\n{server.log_tail()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\n[bench] interrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            log("stopping gunicorn")
            server.stop()
        if db_created:
            try:
                clear_bench_keys(args.redis_url)
            except Exception as exc:
                print(f"[bench] could not clear the bench's Redis keys: {exc}", file=sys.stderr)
        if db_created and not args.keep_db:
            log(f"dropping database {args.db_name}")
            try:
                drop_database(args.pg_url, args.db_name)
            except Exception as exc:
                print(f"[bench] could not drop {args.db_name}: {exc}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
