"""Staff rules in CEL: validation, ordering, scope, switching off, shadow mode, and backtests."""

from datetime import timedelta

import pytest
from django.utils import timezone

from .. import rules
from ..constants import Decision, RuleAction
from ..models import Assessment, Rule
from ..services import config_changed, rule_backtest
from .conftest import rule_names

pytestmark = pytest.mark.django_db


def make_rule(expression, action=RuleAction.REVIEW, **kwargs):
    rules.validate(expression)
    rule = Rule.objects.create(name=kwargs.pop("name", expression[:40]), expression=expression, action=action,
                               message=kwargs.pop("message", f"matched {expression}"),
                               enabled=kwargs.pop("enabled", True), **kwargs)
    config_changed()
    return rule


@pytest.mark.parametrize("expression", [
    "payment.amount > 500000 && card.country != merchant.country",
    'customer.email_domain in ["mailinator.com", "guerrillamail.com"]',
    "velocity.card_count_1h >= 3 || amount_stats.zscore > 4.0",
    'card.bin.startsWith("4000") && !payment.livemode',
    "score >= 50 && size(customer.email) > 0",
])
def test_valid_expressions(expression):
    rules.validate(expression)


@pytest.mark.parametrize(("expression", "says"), [
    ("payment.amount >", "Syntax error"),
    ("", "empty"),
    ("payment.amont > 5", "Unknown field 'payment.amont'"),
    ("paymnt.amount > 5", "Unknown name 'paymnt'"),
    ("secret > 1", "Unknown name 'secret'"),
    ("payment.amount + 1", "true or false"),
    ('payment.amount > "x"', "cannot be evaluated"),
    ("payment.amount > 5 && card.country", "true or false"),
    ('os.system("x")', "Unknown name 'os'"),
    ("exec(payment.amount)", "not allowed"),
    ("{'a': 1}.a == 1", "not allowed"),
])
def test_invalid_expressions_are_refused_with_a_reason(expression, says):
    with pytest.raises(rules.RuleError) as excinfo:
        rules.validate(expression)
    assert says in str(excinfo.value)


def test_the_issue_example_reviews_a_big_foreign_payment(assess):
    rule = make_rule("payment.amount > 500000 && card.country != merchant.country", RuleAction.REVIEW)
    a = assess(amount=600_000)  # US card, DE merchant
    assert a.decision == Decision.REVIEW
    assert rule_names(a) == [f"rule:{rule.pk}"] and a.reasons[0]["message"] == rule.message
    assert assess(amount=400_000, card_fingerprint="b").decision == Decision.ALLOW
    assert assess(amount=600_000, merchant_country="US", card_fingerprint="c").decision == Decision.ALLOW


def test_order_block_then_review_then_allow(assess):
    allow = make_rule("payment.amount > 100", RuleAction.ALLOW, position=-10)
    review = make_rule("payment.amount > 1000", RuleAction.REVIEW, position=5)
    block = make_rule("payment.amount > 5000", RuleAction.BLOCK, position=9)
    a = assess(amount=6000)
    assert a.decision == Decision.BLOCK and rule_names(a) == [f"rule:{block.pk}"]
    b = assess(amount=2000, card_fingerprint="b")
    assert b.decision == Decision.REVIEW and rule_names(b) == [f"rule:{review.pk}"]
    c = assess(amount=500, card_fingerprint="c")
    assert c.decision == Decision.ALLOW and rule_names(c) == [f"rule:{allow.pk}"]


def test_allow_rule_overrides_the_score_but_not_a_block_list(assess, settings):
    settings.RISK_REVIEW_SCORE = 20
    make_rule('customer.ip_country == "DE"', RuleAction.ALLOW)
    assert assess(card_bin="424242", ip="198.51.100.1").decision == Decision.ALLOW  # mismatch scored 25
    from ..services import list_entry_create

    list_entry_create(kind="country", value="DE")
    assert assess(card_bin="424242", ip="198.51.100.1", card_fingerprint="x").decision == Decision.BLOCK


def test_scope_switch_off_and_shadow(assess, merchant, other_merchant):
    scoped = make_rule("payment.amount > 1000", RuleAction.BLOCK, merchant=merchant)
    assert assess(amount=2000).decision == Decision.BLOCK
    assert assess(amount=2000, merchant_id=other_merchant.pk).decision == Decision.ALLOW
    Rule.objects.filter(pk=scoped.pk).update(enabled=False)
    config_changed()
    assert assess(amount=2000, card_fingerprint="b").decision == Decision.ALLOW
    shadow = make_rule("payment.amount > 1000", RuleAction.BLOCK, shadow=True)
    a = assess(amount=2000, card_fingerprint="c")
    assert a.decision == Decision.ALLOW and a.reasons == []
    assert a.shadow_matches == [{"rule": shadow.pk, "action": "block", "message": shadow.message}]
    assert Assessment.objects.get(pk=a.pk).shadow_matches[0]["rule"] == shadow.pk


def test_a_rule_failing_at_run_time_is_recorded_not_matched(assess):
    rule = make_rule("payment.amount / (payment.amount - 1000) > 1", RuleAction.BLOCK)  # fine on the sample
    a = assess(amount=1000)
    assert a.decision == Decision.ALLOW
    assert a.errors and a.errors[0]["rule"] == rule.pk


def test_changing_a_rule_takes_effect_on_the_next_assessment(assess):
    rule = make_rule("payment.amount > 1000", RuleAction.BLOCK)
    assert assess(amount=2000).decision == Decision.BLOCK
    rule.expression = "payment.amount > 5000"
    rule.save()
    config_changed()
    assert assess(amount=2000, card_fingerprint="b").decision == Decision.ALLOW


# --- Backtests ------------------------------------------------------------------------------------

BACKTEST_EXPRESSIONS = [
    "payment.amount > 5000",
    'payment.amount >= 2000 && card.country != merchant.country',
    'customer.email_domain in ["bad.example", "worse.example"] || score > 20',
    "!(payment.currency == \"EUR\") || payment.amount * 2 > 9000",
    "velocity.card_count_1h >= 2",
    "amount_stats.count >= 0 && payment.amount - 100 < 1500",
]


@pytest.mark.parametrize("expression", BACKTEST_EXPRESSIONS)
def test_backtest_in_sql_agrees_with_evaluating_each_row(assess, expression, settings):
    settings.RISK_REVIEW_SCORE = 20
    for i, (amount, bin_, domain, currency, ip) in enumerate([
        (1000, "424242", "ok.example", "EUR", None), (6000, "424242", "bad.example", "EUR", "198.51.100.1"),
        (2500, "999999", "worse.example", "USD", None), (4000, "400005", "ok.example", "EUR", "192.0.2.1"),
        (9000, "424242", "ok.example", "EUR", None), (1200, "424242", "ok.example", "EUR", None),
    ]):
        assess(amount=amount, card_bin=bin_, customer_email=f"c{i}@{domain}", currency=currency, ip=ip,
               card_fingerprint="same" if i % 2 else f"fp{i}")
    sql = rule_backtest(expression=expression, action="block", days=30)
    assert sql.method == "sql"
    python = rules.Untranslatable  # force the row-by-row path for comparison
    import risk.rules as rules_module

    original = rules_module.to_sql_filter

    def refuse(_):
        raise python("forced")

    rules_module.to_sql_filter = refuse
    try:
        slow = rule_backtest(expression=expression, action="block", days=30)
    finally:
        rules_module.to_sql_filter = original
    assert slow.method.startswith("python")
    assert (sql.total, sql.matched, sql.volume, sql.changed) == (slow.total, slow.matched, slow.volume, slow.changed)
    assert [e["id"] for e in sql.examples] == [e["id"] for e in slow.examples]


def test_backtest_counts_volume_and_the_period(assess):
    for amount in (1000, 6000, 7000):
        assess(amount=amount, card_fingerprint=str(amount))
    old = assess(amount=8000, card_fingerprint="old")
    Assessment.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=40))
    result = rule_backtest(expression="payment.amount > 5000", action="review", days=30)
    assert (result.total, result.matched, result.volume, result.changed) == (3, 2, {"EUR": 13000}, 2)
    assert [e["amount"] for e in result.examples] == [7000, 6000]
    assert rule_backtest(expression="payment.amount > 5000", action="review", days=60).matched == 3


def test_untranslatable_expressions_fall_back_to_row_by_row(assess):
    assess(customer_email="a@x.example")
    result = rule_backtest(expression='customer.email.endsWith("x.example")', action="block", days=30)
    assert result.method.startswith("python") and result.matched == 1
