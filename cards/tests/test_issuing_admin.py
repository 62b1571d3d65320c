"""Card operations in the admin (#4): find cards by last 4, cardholder or account; freeze, unfreeze, block,
reissue, close, activate and set limits through actions that call the services (audited); fund accounts and
change credit limits; set up programs. No page ever shows a card number or a CVC."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditLogEntry

from .. import issuing
from ..issuing_models import CardAccount, Cardholder, CardProgram, IssuedCard, IssuingAuthorization
from ..issuing_selectors import account_balances
from .issuing_factories import issue_card, make_cardholder, make_program, secrets_of
from .test_admin import add, assert_no_pan, change, changelist, results, run_action
from .test_authorization import authorize

pytestmark = pytest.mark.django_db


@pytest.fixture
def cards(merchant, other_merchant):
    program = make_program(merchant, bin="535350")
    jane = make_cardholder(merchant, name="Jane Holder", email="jane@example.com")
    john = make_cardholder(other_merchant, name="John Other", email="john@example.com")
    first = issue_card(merchant, program=program, cardholder=jane, fund=10_000)
    second = issue_card(merchant, program=program, cardholder=jane, type="physical", fund=0)
    third = issue_card(other_merchant, program=make_program(other_merchant, bin="535351"), cardholder=john)
    authorize(first, 1_500)
    authorize(first, 99_999)  # declined
    return {"program": program, "jane": jane, "john": john, "first": first, "second": second, "third": third,
            "secrets": [secrets_of(c) for c in (first, second, third)]}


def assert_no_card_secrets(response, cards):
    assert_no_pan(response)
    text = response.content.decode()
    for secret in cards["secrets"]:
        assert secret["number"] not in text
        assert f'"{secret["cvc"]}"' not in text and f">{secret['cvc']}<" not in text


def test_issuing_pages_render_without_card_numbers(admin_client, cards):
    for model in (CardProgram, Cardholder, CardAccount, IssuedCard, IssuingAuthorization):
        response = admin_client.get(changelist(model))
        assert response.status_code == 200, model
        assert_no_card_secrets(response, cards)
        for obj in model.objects.all():
            response = admin_client.get(change(obj))
            assert response.status_code == 200, obj
            assert_no_card_secrets(response, cards)
    text = admin_client.get(change(cards["first"])).content.decode()
    assert f"535350******{cards['secrets'][0]['number'][-4:]}" in text


def test_find_cards_by_last4_cardholder_and_account(admin_client, cards):
    first, second, third = cards["first"], cards["second"], cards["third"]
    assert results(admin_client, IssuedCard, first.vault_card.last4) >= {first.pk}
    assert results(admin_client, IssuedCard, "Jane") == {first.pk, second.pk}
    assert results(admin_client, IssuedCard, "john@example.com") == {third.pk}
    assert results(admin_client, IssuedCard, first.account_id) == {first.pk}
    assert results(admin_client, IssuedCard, cards["jane"].pk) == {first.pk, second.pk}
    assert results(admin_client, CardAccount, "Jane") == {first.account_id, second.account_id}
    assert results(admin_client, IssuingAuthorization, first.pk) == set(
        IssuingAuthorization.objects.filter(card=first).values_list("pk", flat=True))


def test_a_full_card_number_typed_in_the_search_is_not_searched(admin_client, cards):
    number = cards["secrets"][0]["number"]
    response = admin_client.get(changelist(IssuedCard), {"q": number})
    assert response.status_code == 302 and number not in response.url
    assert "Full card numbers are never searchable" in admin_client.get(response.url).content.decode()


def test_lifecycle_actions_call_the_services_and_are_audited(admin_client, cards):
    first, second = cards["first"], cards["second"]
    messages = run_action(admin_client, IssuedCard, "freeze", [first, second])
    assert ("success", f"Frozen: 1 ({first.pk}).") in messages
    assert any(level == "error" and second.pk in text and "card_unexpected_state" in text
               for level, text in messages)
    assert IssuedCard.objects.get(pk=first.pk).status == "frozen"
    assert IssuedCard.objects.get(pk=second.pk).status == "inactive"
    run_action(admin_client, IssuedCard, "unfreeze", [first])
    run_action(admin_client, IssuedCard, "activate", [second])
    assert set(IssuedCard.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {"active"}
    audits = AuditLogEntry.objects.filter(object_type="issued_card")
    assert audits.filter(action="issued_card.freeze", object_id=first.pk, data__ok=True).exists()
    assert audits.filter(action="issued_card.freeze", object_id=second.pk, data__ok=False).exists()
    assert first.events.filter(type="card.frozen", actor__startswith="staff:").exists()


def _form_action(client, model, action, objects, data):
    """Post the action, then its form (the intermediate page); returns the messages shown."""
    response = client.post(changelist(model), {"action": action, "_selected_action": [o.pk for o in objects],
                                               "index": 0})
    assert response.status_code == 200 and b'name="apply"' in response.content
    assert_no_pan(response)
    response = client.post(changelist(model), {"action": action, "_selected_action": [o.pk for o in objects],
                                               "index": 0, "apply": "1", **data}, follow=True)
    assert response.status_code == 200
    assert_no_pan(response)
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_block_and_reissue_ask_for_the_reason(admin_client, cards):
    first, second = cards["first"], cards["second"]
    messages = _form_action(admin_client, IssuedCard, "block", [second], {"reason": "lost"})
    assert any(level == "error" and "card_unexpected_state" in text for level, text in messages)  # inactive
    issuing.card_activate(card_id=second.pk)
    _form_action(admin_client, IssuedCard, "block", [second], {"reason": "lost"})
    assert (IssuedCard.objects.get(pk=second.pk).status, IssuedCard.objects.get(pk=second.pk).block_reason) == (
        "blocked", "lost")
    messages = _form_action(admin_client, IssuedCard, "reissue", [first], {"reason": "stolen"})
    assert any(level == "success" for level, _ in messages)
    new = IssuedCard.objects.get(replacement_for=first)
    assert (new.account_id, new.status) == (first.account_id, "active")
    assert IssuedCard.objects.get(pk=first.pk).status == "blocked"
    # An invalid reason shows the form again and changes nothing.
    response = admin_client.post(changelist(IssuedCard), {"action": "block", "_selected_action": [new.pk],
                                                           "index": 0, "apply": "1", "reason": "bored"})
    assert response.status_code == 200 and b'name="apply"' in response.content
    assert IssuedCard.objects.get(pk=new.pk).status == "active"


def test_set_spending_controls_action(admin_client, cards):
    first = cards["first"]
    _form_action(admin_client, IssuedCard, "set_spending_controls", [first],
                 {"daily_limit": "5000", "allowed_currencies": "eur", "allowed_countries": "DE, fr"})
    first.refresh_from_db()
    assert (first.limit_daily, first.limit_per_transaction, first.allowed_countries) == (5000, None, ["DE", "FR"])
    messages = _form_action(admin_client, IssuedCard, "set_spending_controls", [first],
                            {"allowed_countries": "Germany"})
    assert any(level == "error" for level, _ in messages)
    first.refresh_from_db()
    assert first.allowed_countries == ["DE", "FR"]


def test_fund_and_credit_limit_actions(admin_client, cards, merchant):
    first = cards["first"]
    _form_action(admin_client, CardAccount, "fund", [first.account], {"amount": "2500", "reference": "wire-77"})
    assert account_balances(first.account)["available"] == 10_000 - 1_500 + 2_500
    assert AuditLogEntry.objects.filter(action="card_account.fund", object_id=first.account_id,
                                        data__ok=True).exists()
    credit = issue_card(merchant, program=make_program(merchant, type="credit"), credit_limit=1_000)
    messages = _form_action(admin_client, CardAccount, "set_credit_limit", [credit.account, first.account],
                            {"credit_limit": "4000"})
    assert any(level == "error" and first.account_id in text for level, text in messages)
    assert CardAccount.objects.get(pk=credit.account_id).credit_limit == 4_000
    assert account_balances(credit.account)["available"] == 4_000


def test_staff_set_up_a_program(admin_client, merchant):
    url = add(CardProgram)
    response = admin_client.post(url, {"merchant": merchant.pk, "livemode": "on", "name": "Acme Prepaid",
                                       "bin": "535399", "currency": "eur", "type": "prepaid",
                                       "default_credit_limit": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    program = CardProgram.objects.get(bin="535399")
    assert (program.brand, program.currency, program.livemode) == ("mastercard", "EUR", True)
    assert AuditLogEntry.objects.filter(action="issuing_program.created", object_id=program.pk).exists()
    response = admin_client.post(url, {"merchant": merchant.pk, "name": "Again", "bin": "535399", "currency": "EUR",
                                       "type": "prepaid", "default_credit_limit": "0"})
    assert response.status_code == 200 and "already used" in response.content.decode()
    response = admin_client.post(url, {"merchant": merchant.pk, "name": "Bad", "bin": "999999", "currency": "EUR",
                                       "type": "prepaid", "default_credit_limit": "0"})
    assert response.status_code == 200 and "no supported card brand" in response.content.decode()
    assert CardProgram.objects.count() == 1
    assert admin_client.post(f"{changelist(CardProgram)}{program.pk}/change/", {"name": "x"}).status_code == 403


@pytest.mark.parametrize("model", [IssuedCard, CardAccount, Cardholder, IssuingAuthorization])
def test_issuing_changelists_run_a_constant_number_of_queries(admin_client, cards, merchant, model):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(changelist(model)).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for _ in range(3):
        card = issue_card(merchant, program=cards["program"], fund=1_000)
        authorize(card, 100)
    assert count() == before
