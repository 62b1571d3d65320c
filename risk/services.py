"""Every write of the risk engine, and the one assessment service payments calls.

`assessment_create(data=AssessmentInput(...))` scores and decides one payment attempt before the
processor is called: it reads lists, velocity counters, the merchant's amount statistics and
limits, runs the staff rules, stores a risk.Assessment and records the attempt in the counters.
It takes plain data (never a PAN, never a payments model): risk imports nothing above it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from core.errors import NotFound, ValidationError
from core.ids import id_factory

from . import geo, rules, velocity
from .constants import (
    DECISION_RANK,
    TEST_CARD_ALWAYS_BLOCKED,
    TEST_CARD_ELEVATED_RISK,
    TEST_CARD_HIGHEST_RISK,
    VELOCITY_WINDOWS,
    Decision,
    ListAction,
    ListKind,
    ReviewOutcome,
    RuleAction,
)
from .models import AmountStats, Assessment, ListEntry, MerchantLimit, Rule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssessmentInput:
    """What the risk engine may know of a payment attempt. Never a full card number."""

    merchant_id: str
    livemode: bool
    amount: int
    currency: str
    card_fingerprint: str = ""
    card_bin: str = ""
    card_last4: str = ""
    card_brand: str = ""
    card_country: str = ""  # if the caller knows it; else looked up from the BIN
    customer_email: str = ""
    ip: str | None = None
    merchant_country: str = ""
    payment_id: str = ""


# --- Built-in signals: (threshold, points) steps; the highest step reached counts ------------------

VELOCITY_POINTS: dict[str, tuple[tuple[int, int], ...]] = {
    "card_count_1h": ((3, 20), (10, 40)),
    "card_count_24h": ((10, 20), (25, 35)),
    "ip_count_1h": ((10, 20), (30, 35)),
    "email_count_24h": ((10, 15), (30, 30)),
    # card testing: many small or declined attempts from one IP or against one merchant
    "ip_small_count_1h": ((5, 40), (15, 60)),
    "merchant_small_count_1h": ((50, 25), (200, 45)),
    "ip_declined_count_1h": ((3, 40), (10, 60)),
    "merchant_declined_count_1h": ((20, 25), (100, 45)),
    "card_declined_count_24h": ((3, 30), (6, 50)),
}
VELOCITY_MESSAGES = {
    "card_count_1h": "This card was used {n} times in the last hour.",
    "card_count_24h": "This card was used {n} times in the last 24 hours.",
    "ip_count_1h": "{n} payments came from this IP address in the last hour.",
    "email_count_24h": "{n} payments used this customer email in the last 24 hours.",
    "ip_small_count_1h": "{n} small payments came from this IP address in the last hour (card testing?).",
    "merchant_small_count_1h": "{n} small payments were tried at this merchant in the last hour (card testing?).",
    "ip_declined_count_1h": "{n} payments from this IP address were declined in the last hour (card testing?).",
    "merchant_declined_count_1h": "{n} payments at this merchant were declined in the last hour (card testing?).",
    "card_declined_count_24h": "This card was declined {n} times in the last 24 hours.",
}
AMOUNT_Z_POINTS = ((4.0, 30), (8.0, 45))
COUNTRY_MISMATCH_POINTS = 25
ELEVATED_TEST_CARD_SCORE = 75


def _reason(rule: str, message: str) -> dict:
    return {"rule": rule, "message": message}


# --- Configuration (lists, rules, limits): cached per process, invalidated on change -----------------

_CONFIG_VERSION_KEY = "risk:config-version"
_config_cache: dict = {"version": None, "loaded_at": 0.0, "checked_at": 0.0, "config": None}
# How often a process asks the shared cache whether lists, rules or limits changed: a change made in
# another process applies within this time; one made in this process applies at once.
CONFIG_VERSION_CHECK_SECONDS = 1.0


def config_changed() -> None:
    """Call after any change to lists, rules or limits: every process reloads on its next assessment."""
    version = f"{time.time_ns()}"
    cache.set(_CONFIG_VERSION_KEY, version, None)
    _config_cache["config"] = None


def _load_config() -> dict:
    exact: dict[tuple[str, str], list] = {}
    ranges: list = []
    for e in ListEntry.objects.values_list("id", "kind", "value", "action", "merchant_id", "livemode"):
        entry_id, kind, value, action, merchant_id, livemode = e
        item = (entry_id, action, merchant_id, livemode, kind, value)
        if kind == ListKind.IP_RANGE:
            try:
                ranges.append((ipaddress.ip_network(value, strict=False), item))
            except ValueError:
                continue
        else:
            exact.setdefault((kind, value), []).append(item)
    rank = {RuleAction.BLOCK: 0, RuleAction.REVIEW: 1, RuleAction.ALLOW: 2}
    live_rules = sorted(
        Rule.objects.filter(enabled=True).values("id", "name", "expression", "action", "merchant_id", "shadow",
                                                 "message", "position", "updated"),
        key=lambda r: (rank[r["action"]], r["position"], r["id"]),
    )
    limits = {(lim.merchant_id, lim.currency): lim for lim in MerchantLimit.objects.all()}
    return {"exact": exact, "ranges": ranges, "rules": live_rules, "limits": limits}


def _config() -> dict:
    now = time.monotonic()
    cached = _config_cache
    if cached["config"] is not None and now - cached["checked_at"] < CONFIG_VERSION_CHECK_SECONDS:
        return cached["config"]  # no round trip to the shared cache on every assessment
    version = cache.get(_CONFIG_VERSION_KEY)
    cached["checked_at"] = now
    if (cached["config"] is None or cached["version"] != version
            or now - cached["loaded_at"] > settings.RISK_CONFIG_CACHE_SECONDS):
        cached.update(config=_load_config(), version=version, loaded_at=now)
    return cached["config"]


# --- The assessment -------------------------------------------------------------------------------


def _applies(item, merchant_id: str, livemode: bool) -> bool:
    _, _, entry_merchant, entry_livemode, _, _ = item
    return entry_merchant in (None, merchant_id) and entry_livemode in (None, livemode)


def _list_matches(config, *, merchant_id, livemode, fingerprint, bin_, email_domain, countries, ip) -> list:
    found = []
    keys = [(ListKind.FINGERPRINT, fingerprint), (ListKind.EMAIL_DOMAIN, email_domain)]
    keys += [(ListKind.BIN, bin_[:n]) for n in (6, 8) if len(bin_) >= n]
    keys += [(ListKind.COUNTRY, c) for c in countries if c]
    for key in keys:
        if key[1]:
            found += [item for item in config["exact"].get(key, ()) if _applies(item, merchant_id, livemode)]
    if ip and config["ranges"]:
        address = ipaddress.ip_address(ip)
        found += [item for net, item in config["ranges"]
                  if address.version == net.version and address in net and _applies(item, merchant_id, livemode)]
    return found


_LIST_WORDS = {
    ListKind.FINGERPRINT: "this card",
    ListKind.BIN: "the card's BIN {value}",
    ListKind.IP_RANGE: "the IP range {value}",
    ListKind.EMAIL_DOMAIN: "the email domain {value}",
    ListKind.COUNTRY: "the country {value}",
}


def _velocity_keys(data: AssessmentInput, email: str) -> dict[str, str]:
    mode = "1" if data.livemode else "0"
    keys = {"merchant": velocity.velocity_key("merchant", f"{mode}:{data.merchant_id}:{data.currency}")}
    keys["merchant_small"] = velocity.velocity_key("merchant_small", f"{mode}:{data.merchant_id}")
    keys["merchant_declined"] = velocity.velocity_key("merchant_declined", f"{mode}:{data.merchant_id}")
    if data.card_fingerprint:
        keys["card"] = velocity.velocity_key("card", f"{mode}:{data.card_fingerprint}")
        keys["card_declined"] = velocity.velocity_key("card_declined", f"{mode}:{data.card_fingerprint}")
    if data.ip:
        keys["ip"] = velocity.velocity_key("ip", f"{mode}:{data.ip}")
        keys["ip_small"] = velocity.velocity_key("ip_small", f"{mode}:{data.ip}")
        keys["ip_declined"] = velocity.velocity_key("ip_declined", f"{mode}:{data.ip}")
    if email:
        keys["email"] = velocity.velocity_key("email", f"{mode}:{email}")
    return keys


def _now_ms(now) -> int:
    return int(now.timestamp() * 1000)


# A merchant's amount statistics move slowly (one payment among thousands barely shifts mean and deviation),
# so each process keeps them RISK_AMOUNT_STATS_CACHE_SECONDS: a busy merchant's assessments then skip that
# query. This process's own updates replace its copy at once.
_stats_cache: dict[tuple[str, bool, str], tuple[float, tuple[int, float, float]]] = {}
_STATS_CACHE_MAX = 10_000
_STATS_SQL = (f"SELECT count, mean, m2 FROM {AmountStats._meta.db_table} "  # noqa: S608 (our table)
              "WHERE merchant_id = %s AND livemode = %s AND currency = %s")


def _stats(merchant_id: str, livemode: bool, currency: str) -> tuple[int, float, float]:
    """(count, mean, standard deviation) of the merchant's approved amounts in this currency and mode."""
    key = (merchant_id, livemode, currency)
    now = time.monotonic()
    cached = _stats_cache.get(key)
    if cached is not None and now - cached[0] < settings.RISK_AMOUNT_STATS_CACHE_SECONDS:
        return cached[1]
    with connection.cursor() as cursor:  # raw: the ORM takes longer to build this query than PostgreSQL to run it
        cursor.execute(_STATS_SQL, [merchant_id, livemode, currency])
        row = cursor.fetchone()
    if row is None:
        value = (0, 0.0, 0.0)
    else:
        count, mean, m2 = row
        value = (count, mean, math.sqrt(m2 / (count - 1)) if count > 1 else 0.0)
    if len(_stats_cache) >= _STATS_CACHE_MAX:
        _stats_cache.clear()
    _stats_cache[key] = (now, value)
    return value


def _steps(value, steps) -> int:
    points = 0
    for threshold, step_points in steps:
        if value >= threshold:
            points = step_points
    return points


def assessment_create(*, data: AssessmentInput, now=None, backend=None) -> Assessment:
    """Score and decide one payment attempt; store the assessment and count the attempt.

    Order: block lists (and the always-blocked test card) and block rules block; else allow lists
    allow; else the score decides (>= RISK_BLOCK_SCORE block, >= RISK_REVIEW_SCORE review),
    raised by a merchant limit or a review rule, lowered to allow by an allow rule (never below a
    merchant limit). Shadow rules are recorded and never acted on.
    """
    now = now or timezone.now()
    now_ms = _now_ms(now)
    backend = backend or velocity.backend()
    config = _config()
    email = (data.customer_email or "").strip().lower()
    email_domain = email.rpartition("@")[2] if "@" in email else ""
    ip = data.ip or None
    ip_country = geo.ip_country(ip) if ip else ""
    card_country = (data.card_country or geo.bin_country(data.card_bin)).upper()
    merchant_country = (data.merchant_country or "").upper()
    reasons: list[dict] = []
    points = 0

    # Lists
    matches = _list_matches(config, merchant_id=data.merchant_id, livemode=data.livemode,
                            fingerprint=data.card_fingerprint, bin_=data.card_bin, email_domain=email_domain,
                            countries={card_country, ip_country}, ip=ip)
    blocked = [m for m in matches if m[1] == ListAction.BLOCK]
    allowed = [m for m in matches if m[1] == ListAction.ALLOW]
    for entry_id, action, merchant_id, _, kind, value in blocked + allowed:
        whose = "the merchant's" if merchant_id else "the"
        what = _LIST_WORDS[kind].format(value=value)
        reasons.append(_reason(f"list:{entry_id}", f"{what[0].upper()}{what[1:]} is on {whose} {action} list."))

    # Velocity (earlier attempts in each sliding window)
    keys = _velocity_keys(data, email)
    wanted = [(keys[dim], window) for dim, window, _ in VELOCITY_WINDOWS if dim in keys]
    # This attempt is counted in the same round trip that reads the earlier ones (it is not in what is read).
    assessment_id = id_factory("risk_assessment")()
    entries = [velocity.Entry(keys[dim], assessment_id, data.amount) for dim in ("card", "ip", "email", "merchant")
               if dim in keys]
    if data.amount <= settings.RISK_SMALL_AMOUNT:
        entries += [velocity.Entry(keys[dim], assessment_id, data.amount) for dim in ("ip_small", "merchant_small")
                    if dim in keys]
    counts = backend.read_and_record(wanted, entries, now_ms)
    velocity_signals = {}
    for dim, window, suffix in VELOCITY_WINDOWS:
        count, total = counts.get((keys.get(dim), window), (0, 0))
        velocity_signals[f"{dim}_count_{suffix}"] = count
        velocity_signals[f"{dim}_sum_{suffix}"] = total
    for name, steps in VELOCITY_POINTS.items():
        got = _steps(velocity_signals[name], steps)
        if got:
            points += got
            reasons.append(_reason(f"velocity:{name}", VELOCITY_MESSAGES[name].format(n=velocity_signals[name])))

    # Amount far above the merchant's usual
    n, mean, stddev = _stats(data.merchant_id, data.livemode, data.currency)
    zscore = (data.amount - mean) / stddev if n >= settings.RISK_AMOUNT_MIN_HISTORY and stddev > 0 else 0.0
    got = _steps(zscore, AMOUNT_Z_POINTS)
    if got:
        points += got
        reasons.append(_reason("amount:unusual", f"The amount is {zscore:.1f} standard deviations above this "
                                                 f"merchant's usual {data.currency} payments (mean {mean:.0f})."))

    # BIN country vs IP country
    if card_country and ip_country and card_country != ip_country:
        points += COUNTRY_MISMATCH_POINTS
        reasons.append(_reason("geo:country_mismatch", f"The card was issued in {card_country} but the customer's "
                                                      f"IP address is in {ip_country}."))

    # Test-mode risk cards (recognized by BIN and last 4)
    test_block = test_review = False
    card_id = (data.card_bin[:6], data.card_last4)
    if not data.livemode:
        if card_id == TEST_CARD_ALWAYS_BLOCKED:
            test_block = True
            reasons.append(_reason("test_card:always_blocked", "This test card is always blocked."))
        elif card_id == TEST_CARD_HIGHEST_RISK:
            points = max(points, 100)
            test_block = True
            reasons.append(_reason("test_card:highest_risk", "This test card always scores the highest risk."))
        elif card_id == TEST_CARD_ELEVATED_RISK:
            points = max(points, ELEVATED_TEST_CARD_SCORE)
            test_review = True
            reasons.append(_reason("test_card:elevated_risk", "This test card always scores an elevated risk."))

    if blocked:
        points = max(points, 100)
    score = min(100, points)

    # Merchant limits
    limit_decision = None
    limit = config["limits"].get((data.merchant_id, data.currency))
    if limit is not None:
        hit = []
        if limit.max_amount is not None and data.amount > limit.max_amount:
            hit.append(_reason("limit:max_amount", f"The amount is above the merchant's limit of {limit.max_amount} "
                                                   f"{data.currency} minor units per payment."))
        if limit.max_count_1h is not None and velocity_signals["merchant_count_1h"] + 1 > limit.max_count_1h:
            hit.append(_reason("limit:max_count_1h", f"The merchant's limit of {limit.max_count_1h} payments per "
                                                     "hour is reached."))
        if limit.max_volume_1h is not None and (
                velocity_signals["merchant_sum_1h"] + data.amount > limit.max_volume_1h):
            hit.append(_reason("limit:max_volume_1h", f"The merchant's hourly volume limit of {limit.max_volume_1h} "
                                                      f"{data.currency} minor units would be exceeded."))
        if hit:
            limit_decision = limit.action
            reasons += hit

    # Staff rules, in order block > review > allow; shadow rules only recorded
    signals = {"velocity": velocity_signals,
               "amount_stats": {"count": n, "mean": round(mean, 2), "stddev": round(stddev, 2),
                                "zscore": round(zscore, 3)}}
    fields = {
        "payment": {"amount": data.amount, "currency": data.currency, "livemode": data.livemode},
        "card": {"fingerprint": data.card_fingerprint, "bin": data.card_bin, "last4": data.card_last4,
                 "brand": data.card_brand, "country": card_country},
        "customer": {"email": email, "email_domain": email_domain, "ip": ip or "", "ip_country": ip_country},
        "merchant": {"id": data.merchant_id, "country": merchant_country},
        "velocity": velocity_signals,
        "amount_stats": {"count": n, "mean": float(mean), "stddev": float(stddev), "zscore": float(zscore)},
        "score": score,
    }
    rule_match: dict | None = None
    shadow_matches, errors = [], []
    applicable = [r for r in config["rules"] if r["merchant_id"] in (None, data.merchant_id)]
    if applicable:
        act = rules.activation(fields)
        for rule in applicable:
            if rule_match is not None and not rule["shadow"]:
                continue
            try:
                prog = rules.program(rule["id"], rule["updated"].isoformat(), rule["expression"])
                matched = rules.evaluate(prog, act)
            except rules.RuleError as exc:
                errors.append({"rule": rule["id"], "error": str(exc)[:300]})
                continue
            if not matched:
                continue
            if rule["shadow"]:
                shadow_matches.append({"rule": rule["id"], "action": rule["action"], "message": rule["message"]})
            else:
                rule_match = rule

    # Decision
    by_score = (Decision.BLOCK if score >= settings.RISK_BLOCK_SCORE
                else Decision.REVIEW if score >= settings.RISK_REVIEW_SCORE else Decision.ALLOW)
    rule_action = rule_match["action"] if rule_match else None
    if rule_match:
        reasons.append(_reason(f"rule:{rule_match['id']}", rule_match["message"]))
    if blocked or test_block or rule_action == RuleAction.BLOCK:
        decision = Decision.BLOCK
    elif allowed:
        decision = Decision.ALLOW
    else:
        decision = Decision.ALLOW if rule_action == RuleAction.ALLOW else by_score
        if rule_action == RuleAction.REVIEW or test_review:
            decision = max(decision, Decision.REVIEW, key=DECISION_RANK.get)
        if limit_decision:
            decision = max(decision, limit_decision, key=DECISION_RANK.get)

    assessment = Assessment.objects.create(
        id=assessment_id, payment_id=data.payment_id, merchant_id=data.merchant_id, livemode=data.livemode,
        amount=data.amount, currency=data.currency, card_fingerprint=data.card_fingerprint, card_bin=data.card_bin,
        card_last4=data.card_last4, card_brand=data.card_brand, card_country=card_country,
        customer_email=email, email_domain=email_domain, ip=ip, ip_country=ip_country,
        merchant_country=merchant_country, score=score, decision=decision, reasons=reasons,
        shadow_matches=shadow_matches, signals=signals, errors=errors,
    )
    return assessment


def assessment_record_outcome(*, assessment: Assessment, approved: bool, now=None, backend=None) -> None:
    """The processor's answer: an approval feeds the merchant's amount statistics (Welford, one UPDATE,
    never a scan of history); a decline feeds the card-testing counters."""
    if approved:
        _amount_stats_add(merchant_id=assessment.merchant_id, livemode=assessment.livemode,
                          currency=assessment.currency, amount=assessment.amount)
        return
    now = now or timezone.now()
    backend = backend or velocity.backend()
    data = AssessmentInput(merchant_id=assessment.merchant_id, livemode=assessment.livemode,
                           amount=assessment.amount, currency=assessment.currency,
                           card_fingerprint=assessment.card_fingerprint, ip=assessment.ip)
    keys = _velocity_keys(data, "")
    backend.record([velocity.Entry(keys[dim], assessment.id, assessment.amount)
                    for dim in ("card_declined", "ip_declined", "merchant_declined") if dim in keys], _now_ms(now))


def _amount_stats_add(*, merchant_id: str, livemode: bool, currency: str, amount: int) -> None:
    """Welford's update as one UPDATE: every right-hand side reads the row's old values.

    mean' = mean + (x - mean) / (n + 1);  M2' = M2 + (x - mean)^2 * n / (n + 1);  n' = n + 1
    """
    x = float(amount)
    _stats_cache.pop((merchant_id, livemode, currency), None)  # read afresh next time (after this commits)
    rows = AmountStats.objects.filter(merchant_id=merchant_id, livemode=livemode, currency=currency)
    updated = rows.update(
        mean=F("mean") + (x - F("mean")) / (F("count") + 1.0),
        m2=F("m2") + (x - F("mean")) * (x - F("mean")) * F("count") / (F("count") + 1.0),
        count=F("count") + 1,
    )
    if not updated:
        try:
            with transaction.atomic():
                AmountStats.objects.create(merchant_id=merchant_id, livemode=livemode, currency=currency, count=1,
                                           mean=x, m2=0.0)
        except IntegrityError:  # created by a concurrent payment: add to it
            _amount_stats_add(merchant_id=merchant_id, livemode=livemode, currency=currency, amount=amount)


def assessment_record_review(*, assessment_id: str, outcome: str, note: str = "", actor: str = "") -> None:
    """The analyst's (or the timeout's) decision on a payment sent to review."""
    if outcome not in ReviewOutcome.values:
        raise ValidationError(f"outcome must be one of {', '.join(ReviewOutcome.values)}.", param="outcome")
    Assessment.objects.filter(pk=assessment_id).update(review_outcome=outcome, review_note=note[:5000],
                                                       reviewed_by=actor[:200], reviewed_at=timezone.now())


def velocity_purge(*, now=None) -> int:
    """Delete database velocity rows older than the longest window (the Redis backend trims itself)."""
    return velocity.DatabaseVelocity().purge(_now_ms(now or timezone.now()))


# --- Lists ----------------------------------------------------------------------------------------


def list_value_normalize(*, kind: str, value: str) -> str:
    """The canonical form of a list value; ValidationError if it is not one."""
    value = (value or "").strip()
    if kind == ListKind.FINGERPRINT:
        if not value or len(value) > 64 or not value.isalnum():
            raise ValidationError("A card fingerprint is 1 to 64 letters and digits.", param="value")
        return value.lower()
    if kind == ListKind.BIN:
        if not value.isdigit() or len(value) not in (6, 8):
            raise ValidationError("A BIN is 6 or 8 digits.", param="value")
        return value
    if kind == ListKind.IP_RANGE:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValidationError("An IP range is an address or a CIDR network, e.g. 203.0.113.0/24.",
                                  param="value") from None
    if kind == ListKind.EMAIL_DOMAIN:
        value = value.lower().lstrip("@")
        if not value or "." not in value or " " in value or "@" in value or len(value) > 253:
            raise ValidationError("An email domain looks like example.com.", param="value")
        return value
    if kind == ListKind.COUNTRY:
        if len(value) != 2 or not value.isalpha() or not value.isascii():
            raise ValidationError("A country is an ISO 3166-1 alpha-2 code, e.g. DE.", param="value")
        return value.upper()
    raise ValidationError(f"type must be one of {', '.join(ListKind.values)}.", param="type")


def list_entry_create(*, kind: str, value: str, action: str = ListAction.BLOCK, merchant_id: str | None = None,
                      livemode: bool | None = None, note: str = "", actor: str = "") -> ListEntry:
    if action not in ListAction.values:
        raise ValidationError(f"action must be one of {', '.join(ListAction.values)}.", param="action")
    value = list_value_normalize(kind=kind, value=value)
    existing = ListEntry.objects.filter(kind=kind, value=value, action=action, merchant_id=merchant_id,
                                        livemode=livemode).first()
    if existing is not None:
        return existing
    entry = ListEntry.objects.create(kind=kind, value=value, action=action, merchant_id=merchant_id,
                                     livemode=livemode, note=note[:500], created_by=actor[:200])
    transaction.on_commit(config_changed)
    config_changed()
    return entry


def list_entry_delete(*, entry_id: str, merchant_id: str | None = None, livemode: bool | None = None) -> None:
    """Delete an entry; with merchant_id, only that merchant's own entry (another's answers 404)."""
    qs = ListEntry.objects.filter(pk=entry_id)
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id, livemode=livemode)
    if not qs.delete()[0]:
        raise NotFound("No such block list entry.", param="id")
    config_changed()


# --- Backtests ------------------------------------------------------------------------------------


@dataclass
class BacktestResult:
    days: int
    total: int
    matched: int
    volume: dict  # currency -> minor units
    changed: int  # matched assessments whose decision the rule would change
    examples: list
    method: str  # "sql" or "python (sample of N)"
    seconds: float


def rule_backtest(*, expression: str, action: str, days: int = 30, merchant_id: str | None = None,
                  example_count: int = 10, now=None) -> BacktestResult:
    """Run a (draft) rule over the stored assessments of the last `days` days.

    Translated to one SQL aggregate where the expression allows (fast on millions of rows); other
    expressions are evaluated row by row over the newest RISK_BACKTEST_PYTHON_LIMIT assessments.
    """
    rules.validate(expression)
    started = time.perf_counter()
    now = now or timezone.now()
    qs = Assessment.objects.filter(created__gte=now - timedelta(days=days))
    if merchant_id:
        qs = qs.filter(merchant_id=merchant_id)
    try:
        aliases, condition = rules.to_sql_filter(expression)
    except rules.Untranslatable:
        return _backtest_python(qs, expression, action, days, example_count, started)
    total = qs.count()
    matched_qs = qs.alias(**aliases).filter(condition) if aliases else qs.filter(condition)
    by_currency = list(matched_qs.values("currency").annotate(n=Count("id"), volume=Sum("amount")).order_by())
    changed = matched_qs.exclude(decision=action).count() if by_currency else 0
    examples = list(matched_qs.order_by("-created").values("id", "payment_id", "merchant_id", "amount", "currency",
                                                            "score", "decision", "created")[:example_count])
    return BacktestResult(days=days, total=total, matched=sum(r["n"] for r in by_currency),
                          volume={r["currency"]: r["volume"] for r in by_currency}, changed=changed,
                          examples=examples, method="sql", seconds=time.perf_counter() - started)


def _backtest_python(qs, expression, action, days, example_count, started) -> BacktestResult:
    limit = settings.RISK_BACKTEST_PYTHON_LIMIT
    prog = rules.program("backtest", expression, expression)
    matched, changed, volume, examples, total = 0, 0, {}, [], 0
    fields = ("id", "payment_id", "merchant_id", "amount", "currency", "score", "decision", "created", "livemode",
              "card_fingerprint", "card_bin", "card_last4", "card_brand", "card_country", "customer_email",
              "email_domain", "ip", "ip_country", "merchant_country", "signals")
    for row in qs.order_by("-created").values(*fields)[:limit].iterator(chunk_size=2000):
        total += 1
        signals = row["signals"] or {}
        act = rules.activation({
            "payment": {"amount": row["amount"], "currency": row["currency"], "livemode": row["livemode"]},
            "card": {"fingerprint": row["card_fingerprint"], "bin": row["card_bin"], "last4": row["card_last4"],
                     "brand": row["card_brand"], "country": row["card_country"]},
            "customer": {"email": row["customer_email"], "email_domain": row["email_domain"], "ip": row["ip"] or "",
                         "ip_country": row["ip_country"]},
            "merchant": {"id": row["merchant_id"], "country": row["merchant_country"]},
            "velocity": signals.get("velocity", {}),
            "amount_stats": {k: float(v) if k != "count" else v
                             for k, v in signals.get("amount_stats", {}).items()},
            "score": row["score"],
        })
        try:
            if not rules.evaluate(prog, act):
                continue
        except rules.RuleError:
            continue
        matched += 1
        volume[row["currency"]] = volume.get(row["currency"], 0) + row["amount"]
        changed += row["decision"] != action
        if len(examples) < example_count:
            examples.append({k: row[k] for k in ("id", "payment_id", "merchant_id", "amount", "currency", "score",
                                                 "decision", "created")})
    return BacktestResult(days=days, total=total, matched=matched, volume=volume, changed=changed, examples=examples,
                          method=f"python (newest {limit} assessments at most)",
                          seconds=time.perf_counter() - started)
