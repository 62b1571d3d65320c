"""Each built-in signal, the score thresholds, merchant limits and the test cards."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ..constants import Decision
from ..models import AmountStats, Assessment, MerchantLimit
from ..services import assessment_record_outcome, config_changed
from .conftest import rule_names

pytestmark = [pytest.mark.django_db, pytest.mark.risk_scoring]


def test_a_plain_payment_is_allowed_and_stored(assess):
    a = assess(payment_id="pay_1", customer_email="Ann@Example.com", ip="192.0.2.7")
    assert (a.decision, a.score, a.reasons) == (Decision.ALLOW, 0, [])
    stored = Assessment.objects.get(pk=a.pk)
    assert stored.id.startswith("ra_") and stored.payment_id == "pay_1"
    assert (stored.email_domain, stored.ip_country, stored.card_country) == ("example.com", "US", "US")
    assert stored.signals["velocity"]["card_count_1h"] == 0


def test_card_velocity_scores_and_sends_to_review(assess):
    now = timezone.now()
    for i in range(26):
        last = assess(now=now + timedelta(seconds=i))
    assert last.signals["velocity"]["card_count_1h"] == 25
    assert last.signals["velocity"]["card_sum_1h"] == 25 * 1000
    assert {"velocity:card_count_1h", "velocity:card_count_24h"} <= set(rule_names(last))
    assert last.score == 75 and last.decision == Decision.REVIEW
    # another card is unaffected
    assert assess(card_fingerprint="fp2", now=now + timedelta(seconds=30)).score == 0


def test_velocity_windows_slide(assess):
    now = timezone.now()
    for i in range(3):
        assess(now=now - timedelta(hours=2, seconds=i))
    a = assess(now=now)
    assert a.signals["velocity"]["card_count_1h"] == 0
    assert a.signals["velocity"]["card_count_24h"] == 3


def test_ip_and_email_velocity(assess):
    now = timezone.now()
    for i in range(10):
        assess(card_fingerprint=f"c{i}", ip="198.51.100.9", customer_email=f"x{i}@example.com", now=now)
    a = assess(card_fingerprint="new", ip="198.51.100.9", now=now)
    assert "velocity:ip_count_1h" in rule_names(a)
    for i in range(10):
        assess(card_fingerprint=f"d{i}", customer_email="same@example.com", now=now)
    b = assess(card_fingerprint="new2", customer_email="SAME@example.com", now=now)
    assert "velocity:email_count_24h" in rule_names(b)


def test_card_testing_many_small_attempts_from_one_ip(assess, settings):
    now = timezone.now()
    for i in range(5):
        assess(card_fingerprint=f"t{i}", amount=100, ip="203.0.113.5", now=now)
    a = assess(card_fingerprint="t9", amount=100, ip="203.0.113.5", now=now)
    assert "velocity:ip_small_count_1h" in rule_names(a)
    big = assess(card_fingerprint="t10", amount=settings.RISK_SMALL_AMOUNT + 1, ip="203.0.113.6", now=now)
    assert big.signals["velocity"]["ip_small_count_1h"] == 0


def test_card_testing_declines_from_one_ip(assess):
    now = timezone.now()
    for i in range(3):
        attempt = assess(card_fingerprint=f"d{i}", ip="203.0.113.8", now=now)
        assessment_record_outcome(assessment=attempt, approved=False, now=now)
    a = assess(card_fingerprint="d9", ip="203.0.113.8", now=now)
    assert a.signals["velocity"]["ip_declined_count_1h"] == 3
    assert a.signals["velocity"]["merchant_declined_count_1h"] == 3
    assert "velocity:ip_declined_count_1h" in rule_names(a)


def test_unusual_amount_from_incremental_statistics(assess, merchant):
    for i in range(40):
        a = assess(card_fingerprint=f"s{i}", amount=1000 + (i % 5) * 10)
        assessment_record_outcome(assessment=a, approved=True)
    stats = AmountStats.objects.get(merchant_id=merchant.pk, currency="EUR")
    amounts = [1000 + (i % 5) * 10 for i in range(40)]
    mean = sum(amounts) / 40
    assert stats.count == 40
    assert stats.mean == pytest.approx(mean)
    assert stats.m2 == pytest.approx(sum((x - mean) ** 2 for x in amounts))
    usual = assess(card_fingerprint="u1", amount=1020)
    assert "amount:unusual" not in rule_names(usual)
    huge = assess(card_fingerprint="u2", amount=50_000)
    assert "amount:unusual" in rule_names(huge)
    assert huge.signals["amount_stats"]["zscore"] > 8
    # a declined payment does not move the statistics
    assessment_record_outcome(assessment=huge, approved=False)
    assert AmountStats.objects.get(pk=stats.pk).count == 40
    # another currency has its own statistics
    assert "amount:unusual" not in rule_names(assess(card_fingerprint="u3", amount=50_000, currency="USD"))


def test_bin_country_vs_ip_country(assess):
    mismatch = assess(card_bin="424242", ip="198.51.100.1")  # US card, DE IP
    assert "geo:country_mismatch" in rule_names(mismatch)
    assert "US" in mismatch.reasons[0]["message"] and "DE" in mismatch.reasons[0]["message"]
    assert "geo:country_mismatch" not in rule_names(assess(card_bin="424242", ip="192.0.2.1"))  # both US
    assert "geo:country_mismatch" not in rule_names(assess(card_bin="999999", ip="198.51.100.1"))  # BIN unknown
    assert "geo:country_mismatch" not in rule_names(assess(card_bin="424242", ip="10.0.0.1"))  # IP unknown
    assert "geo:country_mismatch" in rule_names(assess(card_bin="999999", card_country="FR", ip="198.51.100.1"))


def test_merchant_limits(assess, merchant):
    MerchantLimit.objects.create(merchant=merchant, currency="EUR", max_amount=5000, max_count_1h=3,
                                 max_volume_1h=100_000, action=Decision.BLOCK)
    config_changed()
    assert assess(amount=5000, card_fingerprint="a").decision == Decision.ALLOW
    over = assess(amount=5001, card_fingerprint="b")
    assert over.decision == Decision.BLOCK and "limit:max_amount" in rule_names(over)
    assert assess(amount=10, card_fingerprint="c").decision == Decision.ALLOW  # the third in the hour
    fourth = assess(amount=10, card_fingerprint="e")
    assert fourth.decision == Decision.BLOCK and "limit:max_count_1h" in rule_names(fourth)
    assert assess(amount=10, currency="USD", card_fingerprint="d").decision == Decision.ALLOW  # other currency


def test_merchant_volume_limit_reviews(assess, merchant):
    MerchantLimit.objects.create(merchant=merchant, currency="EUR", max_volume_1h=2500, action=Decision.REVIEW)
    config_changed()
    assert assess(amount=2000, card_fingerprint="a").decision == Decision.ALLOW
    second = assess(amount=600, card_fingerprint="b")
    assert second.decision == Decision.REVIEW and "limit:max_volume_1h" in rule_names(second)


@pytest.mark.parametrize(("bin_", "last4", "decision", "score", "reason"), [
    ("410000", "0019", Decision.BLOCK, 0, "test_card:always_blocked"),
    ("400000", "4954", Decision.BLOCK, 100, "test_card:highest_risk"),
    ("400000", "9235", Decision.REVIEW, 75, "test_card:elevated_risk"),
])
def test_test_cards(assess, bin_, last4, decision, score, reason):
    a = assess(card_bin=bin_, card_last4=last4)
    assert (a.decision, a.score, rule_names(a)) == (decision, score, [reason])
    # in live mode they are ordinary cards
    assert assess(card_bin=bin_, card_last4=last4, livemode=True).decision == Decision.ALLOW


def test_thresholds_come_from_settings(assess, settings):
    settings.RISK_REVIEW_SCORE = 20
    a = assess(card_bin="424242", ip="198.51.100.1")  # 25 points: country mismatch
    assert (a.score, a.decision) == (25, Decision.REVIEW)
    settings.RISK_BLOCK_SCORE = 25
    assert assess(card_bin="424242", ip="198.51.100.1", card_fingerprint="z").decision == Decision.BLOCK


def test_amount_statistics_are_cached_briefly_per_process(assess, merchant, settings, monkeypatch):
    """Another process's updates are seen within RISK_AMOUNT_STATS_CACHE_SECONDS; this process's own at once."""
    from .. import services

    settings.RISK_AMOUNT_MIN_HISTORY = 2
    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    assert "amount:unusual" not in rule_names(assess(card_fingerprint="c0", amount=50_000))  # caches "no history"
    # another process records a history of small amounts
    AmountStats.objects.create(merchant_id=merchant.pk, livemode=False, currency="EUR", count=50, mean=1000.0,
                               m2=49 * 10.0 ** 2)
    assert "amount:unusual" not in rule_names(assess(card_fingerprint="c1", amount=50_000))  # still cached
    clock[0] += settings.RISK_AMOUNT_STATS_CACHE_SECONDS
    assert "amount:unusual" in rule_names(assess(card_fingerprint="c2", amount=50_000))  # read again
    # this process's own update replaces its copy at once: a huge approved amount widens the deviation
    huge = assess(card_fingerprint="c3", amount=10_000_000)
    assessment_record_outcome(assessment=huge, approved=True)
    assert "amount:unusual" not in rule_names(assess(card_fingerprint="c4", amount=50_000))
