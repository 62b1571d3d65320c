"""Webhook events of card issuing (#4): published through the outbox to the partner merchant in the
card's mode, once per change, with the API's representation, never on a refused or rolled-back
change, and never holding the card number or the CVC."""

import json
from datetime import date, timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from core.errors import NotFound, StateError, ValidationError
from merchants import webhooks
from merchants.constants import EVENT_TYPES
from merchants.models import Event, WebhookDelivery
from merchants.services import webhook_endpoint_create

from .. import authorization, issuing
from ..issuing_models import IssuingAuthorization
from ..issuing_representations import authorization_representation, card_representation, cardholder_representation
from ..issuing_selectors import issued_card_get
from .issuing_factories import issue_card, make_cardholder, make_program, secrets_of, set_expiry, wrong_cvc
from .pci import contains_token
from .test_authorization import authorize

pytestmark = pytest.mark.django_db

TYPES = ("issuing_cardholder.created", "issuing_card.created", "issuing_card.updated",
         "issuing_authorization.created", "issuing_authorization.updated")


def jsonable(data) -> dict:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def events(object_id=None, type=None):
    qs = Event.objects.filter(type__startswith="issuing_").order_by("created", "sequence")
    if object_id:
        qs = qs.filter(object_id=object_id)
    if type:
        qs = qs.filter(type=type)
    return list(qs)


def card_as_api(card) -> dict:
    return jsonable(card_representation(issued_card_get(merchant_id=card.merchant_id, livemode=card.livemode,
                                                         card_id=card.id)))


def only_event(object_id, type):
    found = events(object_id, type)
    assert len(found) == 1, [e.type for e in events(object_id)]
    return found[0]


def test_the_issuing_types_can_be_subscribed_to(merchant, monkeypatch):
    assert set(TYPES) <= set(EVENT_TYPES)
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.216.34"])
    endpoint, _ = webhook_endpoint_create(merchant_id=merchant.pk, livemode=True, url="https://hooks.example.com/x",
                                          enabled_events=["issuing_card.updated"])
    card = issue_card(merchant)
    issuing.card_freeze(card_id=card.id)
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert [d.event.type for d in deliveries] == ["issuing_card.updated"]


def test_the_portal_offers_the_issuing_types():
    from portal.data_forms import SUBSCRIBABLE_EVENTS

    assert set(TYPES) <= set(SUBSCRIBABLE_EVENTS)


@pytest.mark.parametrize("livemode", [True, False])
def test_cardholder_created(merchant, livemode):
    holder = make_cardholder(merchant, livemode=livemode)
    event = only_event(holder.id, "issuing_cardholder.created")
    assert (event.merchant_id, event.livemode, event.object_type) == (merchant.pk, livemode, "issuing.cardholder")
    assert event.data == jsonable(cardholder_representation(holder))
    assert event.data["object"] == "issuing.cardholder"


def test_a_refused_cardholder_publishes_nothing(merchant):
    with pytest.raises(ValidationError):
        make_cardholder(merchant, phone_number="0301234")
    assert events() == []


@pytest.mark.parametrize("livemode", [True, False])
def test_issuing_a_virtual_card_publishes_created_once_with_its_final_status(merchant, livemode):
    card = issue_card(merchant, livemode=livemode, fund=0)
    event = only_event(card.id, "issuing_card.created")
    assert (event.merchant_id, event.livemode, event.object_type) == (merchant.pk, livemode, "issuing.card")
    assert event.data == card_as_api(card)
    assert event.data["status"] == "active"
    assert events(card.id, "issuing_card.updated") == []


def test_every_status_change_publishes_updated_once(merchant):
    card = issue_card(merchant, type="physical", fund=0)
    assert only_event(card.id, "issuing_card.created").data["status"] == "inactive"
    steps = [(issuing.card_activate, {}, "active"), (issuing.card_freeze, {}, "frozen"),
             (issuing.card_unfreeze, {}, "active"), (issuing.card_block, {"reason": "lost"}, "blocked")]
    for service, kwargs, status in steps:
        service(card_id=card.id, merchant_id=merchant.pk, livemode=True, **kwargs)
        latest = events(card.id, "issuing_card.updated")[-1]
        assert latest.data == card_as_api(card)
        assert latest.data["status"] == status
    updated = events(card.id, "issuing_card.updated")
    assert [e.data["status"] for e in updated] == ["active", "frozen", "active", "blocked"]
    assert updated[-1].data["block_reason"] == "lost"
    assert [e.sequence for e in events(card.id)] == [1, 2, 3, 4, 5]

    other = issue_card(merchant, fund=0)
    issuing.card_close(card_id=other.id)
    assert [e.data["status"] for e in events(other.id, "issuing_card.updated")] == ["closed"]


def test_expiry_publishes_updated(merchant):
    card = issue_card(merchant, fund=0)
    set_expiry(card, month=1, year=2020)
    assert issuing.cards_expire_due(today=date(2026, 1, 1)) == 1
    assert only_event(card.id, "issuing_card.updated").data["status"] == "expired"


def test_reissue_publishes_created_for_the_new_card_and_updated_for_the_old(merchant):
    old = issue_card(merchant, fund=0)
    new = issuing.card_reissue(card_id=old.id, reason="stolen", merchant_id=merchant.pk, livemode=True)
    created = only_event(new.id, "issuing_card.created")
    assert created.data == card_as_api(new)
    assert (created.data["status"], created.data["replacement_for"]) == ("active", old.id)
    updated = only_event(old.id, "issuing_card.updated")
    assert (updated.data["status"], updated.data["block_reason"]) == ("blocked", "stolen")
    assert events(new.id, "issuing_card.updated") == []


def test_spending_control_changes_publish_updated(merchant):
    card = issue_card(merchant, fund=0)
    issuing.card_set_spending_controls(card_id=card.id, spending_controls={"daily_limit": 5000,
                                                                           "allowed_countries": ["de"]})
    event = only_event(card.id, "issuing_card.updated")
    assert event.data == card_as_api(card)
    assert event.data["spending_controls"]["daily_limit"] == 5000
    assert event.data["spending_controls"]["allowed_countries"] == ["DE"]
    # The same controls again change nothing: no event.
    issuing.card_set_spending_controls(card_id=card.id, spending_controls={"daily_limit": 5000})
    assert len(events(card.id, "issuing_card.updated")) == 1


def test_refused_card_changes_publish_nothing(merchant, other_merchant):
    card = issue_card(merchant, fund=0)
    before = len(events())
    with pytest.raises(StateError):
        issuing.card_unfreeze(card_id=card.id)  # active, not frozen
    with pytest.raises(NotFound):
        issuing.card_freeze(card_id=card.id, merchant_id=other_merchant.pk, livemode=True)
    with pytest.raises(NotFound):
        issuing.card_freeze(card_id=card.id, merchant_id=merchant.pk, livemode=False)
    with pytest.raises(ValidationError):
        issuing.card_set_spending_controls(card_id=card.id, spending_controls={"daily_limit": 9000,
                                                                               "monthly_limit": 100})
    with pytest.raises(ValidationError):
        issuing.card_block(card_id=card.id, reason="bored")
    issuing.card_block(card_id=card.id, reason="lost")
    with pytest.raises(StateError):
        issuing.card_reissue(card_id=card.id, reason="lost")
    with pytest.raises(StateError):
        issuing.card_set_spending_controls(card_id=card.id, spending_controls={"daily_limit": 10})
    assert [e.type for e in events()[before:]] == ["issuing_card.updated"]  # the block only


def test_a_rolled_back_change_leaves_no_event(merchant):
    card = issue_card(merchant, fund=0)
    before = len(events())
    with pytest.raises(RuntimeError), transaction.atomic():
        issuing.card_freeze(card_id=card.id)
        make_cardholder(merchant)
        raise RuntimeError("the caller's transaction fails after the change")
    assert len(events()) == before


def test_issuing_a_card_that_fails_publishes_nothing(merchant):
    program = make_program(merchant)
    holder = make_cardholder(merchant)
    before = len(events())
    with pytest.raises(ValidationError):
        issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=holder.id, program_id=program.id,
                           type="virtual", spending_controls={"currencies": ["EUR"]})
    assert len(events()) == before


# --- Authorizations --------------------------------------------------------------------------------------------


def test_an_approved_authorization_publishes_created(merchant, other_merchant):
    card = issue_card(merchant)
    answer = authorize(card, 1250, merchant_id=other_merchant.pk)
    auth = IssuingAuthorization.objects.get(pk=answer.authorization_id)
    event = only_event(auth.id, "issuing_authorization.created")
    # The partner that issued the card hears of it, not the shop that was paid.
    assert (event.merchant_id, event.livemode, event.object_type) == (merchant.pk, True, "issuing.authorization")
    assert event.data == jsonable(authorization_representation(auth))
    assert (event.data["approved"], event.data["status"], event.data["decline_code"]) == (True, "pending", None)


def test_a_declined_authorization_publishes_created_with_the_code(merchant):
    card = issue_card(merchant, fund=100)
    answer = authorize(card, 5000)
    event = only_event(answer.authorization_id, "issuing_authorization.created")
    assert (event.data["approved"], event.data["status"], event.data["decline_code"]) == (
        False, "declined", "insufficient_funds")
    answer = authorize(card, 50, cvc=wrong_cvc(secrets_of(card)["cvc"]))
    assert only_event(answer.authorization_id, "issuing_authorization.created").data["decline_code"] == "incorrect_cvc"


def test_a_retried_authorization_publishes_once(merchant):
    card = issue_card(merchant)
    first = authorize(card, 100, reference="pay_retry1")
    again = authorize(card, 100, reference="pay_retry1")
    assert first.authorization_id == again.authorization_id
    assert len(events(first.authorization_id)) == 1


def test_capture_refund_reverse_and_expiry_publish_updated(merchant):
    card = issue_card(merchant, fund=10_000)
    auth_id = authorize(card, 1000).authorization_id
    assert authorization.authorization_capture(authorization_id=auth_id, amount=600, reference="cap1").ok
    assert authorization.authorization_capture(authorization_id=auth_id, amount=600, reference="cap1").ok  # retry
    assert not authorization.authorization_capture(authorization_id=auth_id, amount=600, reference="cap2").ok
    captured = only_event(auth_id, "issuing_authorization.updated")
    assert (captured.data["status"], captured.data["amount_captured"]) == ("closed", 600)
    assert captured.data == jsonable(authorization_representation(IssuingAuthorization.objects.get(pk=auth_id)))

    assert authorization.authorization_refund(authorization_id=auth_id, amount=200, reference="re1").ok
    assert authorization.authorization_refund(authorization_id=auth_id, amount=200, reference="re1").ok  # retry
    assert not authorization.authorization_refund(authorization_id=auth_id, amount=500, reference="re2").ok
    updated = events(auth_id, "issuing_authorization.updated")
    assert [e.data["amount_refunded"] for e in updated] == [0, 200]

    reversed_id = authorize(card, 300).authorization_id
    assert authorization.authorization_reverse(authorization_id=reversed_id).ok
    assert authorization.authorization_reverse(authorization_id=reversed_id).ok  # already released: no event
    assert only_event(reversed_id, "issuing_authorization.updated").data["status"] == "reversed"

    expiring_id = authorize(card, 400).authorization_id
    assert authorization.authorizations_expire_due(now=timezone.now() + timedelta(days=365)) == 1
    assert only_event(expiring_id, "issuing_authorization.updated").data["status"] == "expired"
    assert not authorization.authorization_capture(authorization_id=expiring_id, amount=400, reference="late").ok
    assert len(events(expiring_id, "issuing_authorization.updated")) == 1


def test_event_payloads_hold_no_card_number_and_no_cvc(merchant):
    card = issue_card(merchant, type="virtual")
    secrets = secrets_of(card)
    issuing.card_details_reveal(card_id=card.id, actor="test", merchant_id=merchant.pk, livemode=True)
    # Amounts of other lengths than a CVC's three digits, so that no amount can be mistaken for one.
    auth_id = authorize(card, 7000).authorization_id
    authorization.authorization_capture(authorization_id=auth_id, amount=7000, reference="c")
    authorize(card, 10, cvc=wrong_cvc(secrets["cvc"]))
    new = issuing.card_reissue(card_id=card.id, reason="lost")
    new_secrets = secrets_of(new)
    payloads = [json.dumps(e.data) for e in events()]
    assert {e.type for e in events()} == set(TYPES)
    for text in payloads:
        for s in (secrets, new_secrets):
            assert s["number"] not in text
            assert s["number"][6:12] not in text  # not even the middle digits
            assert not contains_token(text, s["cvc"])
        assert '"number"' not in text and '"cvc"' not in text
