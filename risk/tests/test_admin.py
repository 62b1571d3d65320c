"""The risk back office: rules validated when saved, the backtest page, lists, assessments."""

import pytest
from django.urls import reverse

from ..constants import Decision
from ..models import ListEntry, Rule

pytestmark = pytest.mark.django_db


def rule_form(**overrides):
    return {"name": "Big foreign", "expression": "payment.amount > 500000 && card.country != merchant.country",
            "action": "review", "message": "Big payment with a foreign card", "merchant": "", "position": 0,
            **overrides}


def test_rule_is_validated_when_saved(admin_client):
    url = reverse("admin:risk_rule_add")
    bad = admin_client.post(url, rule_form(expression="payment.amont > 1"))
    assert bad.status_code == 200 and "Unknown field &#x27;payment.amont&#x27;" in bad.content.decode()
    assert not Rule.objects.exists()
    good = admin_client.post(url, rule_form())
    assert good.status_code == 302
    rule = Rule.objects.get()
    assert not rule.enabled and rule.created_by  # saved as a draft, by whom


def test_backtest_page(admin_client, assess):
    assess(amount=600_000)
    assess(amount=100, card_fingerprint="b")
    rule = Rule.objects.create(name="r", expression="payment.amount > 500000", action="block", message="m")
    page = admin_client.get(reverse("admin:risk_rule_backtest", args=[rule.pk]), {"days": 7})
    text = page.content.decode()
    assert page.status_code == 200
    assert '<td id="bt-matched">1</td>' in text
    assert "6000.00 EUR" in text or "6,000.00 EUR" in text
    change = admin_client.get(reverse("admin:risk_rule_change", args=[rule.pk])).content.decode()
    assert "Backtest over the last 30 days" in change


def test_list_entry_form_normalizes_and_takes_effect(admin_client, assess):
    r = admin_client.post(reverse("admin:risk_listentry_add"), {"kind": "email_domain", "value": "@Fraud.Example",
                                                                 "action": "block", "note": "x"})
    assert r.status_code == 302
    assert ListEntry.objects.get().value == "fraud.example"
    assert assess(customer_email="a@fraud.example").decision == Decision.BLOCK
    bad = admin_client.post(reverse("admin:risk_listentry_add"), {"kind": "bin", "value": "12", "action": "block"})
    assert bad.status_code == 200 and ListEntry.objects.count() == 1


def test_pages_render(admin_client, assess):
    a = assess(ip="198.51.100.1")
    for name in ("assessment", "listentry", "rule", "merchantlimit", "amountstats", "velocitybucket"):
        assert admin_client.get(reverse(f"admin:risk_{name}_changelist")).status_code == 200, name
    page = admin_client.get(reverse("admin:risk_assessment_change", args=[a.pk])).content.decode()
    assert "geo:country_mismatch" in page
