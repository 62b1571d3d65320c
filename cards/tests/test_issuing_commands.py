"""`seed_issuing_demo` (a live demo card to try a live payment with) and `issuing_fund` (staff funding)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.scopes import MERCHANT_SCOPES
from merchants.models import ApiClient

from ..issuing_models import IssuedCard
from ..issuing_selectors import account_balances
from .issuing_factories import issue_card

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_issuing_demo_is_idempotent_and_funds_once():
    first = json.loads(run("seed_issuing_demo", "--json"))
    second = json.loads(run("seed_issuing_demo", "--json"))
    assert first == second
    for key in ("client_id", "live_client_id", "issuing_card", "issuing_account", "issuing_program"):
        assert first[key]
    card = IssuedCard.objects.get(pk=first["issuing_card"])
    assert (card.livemode, card.status, card.type, card.merchant_id) == (True, "active", "virtual",
                                                                         first["merchant_id"])
    assert account_balances(card.account)["available"] == 1_000_000
    live = ApiClient.objects.get(client_id=first["live_client_id"])
    test = ApiClient.objects.get(client_id=first["client_id"])
    assert live.livemode and not test.livemode
    for client in (live, test):  # every merchant scope, the issuing ones included
        assert client.allowed_scope_set == set(MERCHANT_SCOPES)
        assert {"issuing:read", "issuing:write", "issuing:card_details"} <= client.allowed_scope_set
    assert first["live_client_secret"] not in str(ApiClient.objects.values_list("client_secret", flat=True))


def test_seed_issuing_demo_refuses_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run("seed_issuing_demo")


def test_issuing_fund_command(merchant):
    card = issue_card(merchant, fund=0)
    assert "available 2500" in run("issuing_fund", card.account_id, "2500", "--reference", "wire-9")
    assert "available 2500" in run("issuing_fund", card.account_id, "2500", "--reference", "wire-9")  # once
    with pytest.raises(CommandError, match="reference_already_used"):
        run("issuing_fund", card.account_id, "100", "--reference", "wire-9")
    with pytest.raises(CommandError, match="No such card account"):
        run("issuing_fund", "iacct_nope", "100", "--reference", "x")
