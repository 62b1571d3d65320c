"""The bank staff back office (Django admin) for every model of core, merchants, cards and payments.

Every page renders with data present, search and filters work, actions change state only
through the services (events and audit entries recorded), wrong-state actions change nothing,
money and status fields are read-only, and no page ever shows a full card number.
"""

import re
import secrets
from datetime import timedelta
from urllib.parse import unquote_plus

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken, get_application_admin_class
from rest_framework.test import APIClient

from cards import services as card_services
from cards.models import Card
from core.audit import audit_record
from core.models import AuditLogEntry, IdempotencyKey
from merchants import services as merchant_services
from merchants.admin import ApiClientAdmin
from merchants.constants import MerchantStatus
from merchants.models import ApiClient, Merchant, MerchantMember, MerchantStatusEvent
from merchants.tests.factories import MerchantFactory, issue_token, make_client
from payments import services as payment_services
from payments.constants import EventType, PaymentStatus, RefundStatus
from payments.models import Payment, PaymentEvent, Refund
from payments.tests.factories import make_payment

from .factories import AMEX_OK, DISCOVER_OK, MASTERCARD_OK, VISA_OK, make_card
from .pci import find_pans

pytestmark = pytest.mark.django_db

OUR_APPS = ("core", "merchants", "cards", "payments")
ALL_PANS = [VISA_OK, MASTERCARD_OK, AMEX_OK, DISCOVER_OK, "4000000000000002"]


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def add(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")


def delete(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_delete", args=[obj.pk])


def assert_no_pan(response):
    text = response.content.decode()
    assert find_pans(text) == [], response.request["PATH_INFO"]
    for pan in ALL_PANS:
        assert pan not in text
    assert "pan_ciphertext" not in text


def run_action(client, model, action, objects):
    """Run an admin action; returns the (level, text) messages shown on the page it leads back to."""
    response = client.post(changelist(model), {"action": action, "_selected_action": [o.pk for o in objects],
                                               "index": 0}, follow=True)
    assert response.redirect_chain and response.redirect_chain[0][1] == 302, response.content[:2000]
    assert response.status_code == 200
    assert_no_pan(response)
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def snapshot(payment):
    payment.refresh_from_db()
    return {f.attname: getattr(payment, f.attname) for f in Payment._meta.concrete_fields}


@pytest.fixture
def world(db, admin_user):
    """Data in every table the admin shows."""
    merchant = MerchantFactory(name="Acme Shoes", status=MerchantStatus.PENDING)
    merchant_services.merchant_set_status(merchant_id=merchant.pk, to_status=MerchantStatus.ACTIVE, actor="system")
    other = MerchantFactory(name="Globex Travel")
    person = User.objects.create_user("jane", "jane@acme.example", "a-long-password-123")
    merchant_services.member_add(merchant=merchant, user=person)
    from merchants.accounts import invitation_create  # portal (#7): a team invitation

    invitation_create(merchant=merchant, email="joe@acme.example", role="viewer", invited_by=person,
                      link_for=lambda token: f"https://portal.example/{token}")
    client, _secret = make_client(merchant, name="Acme server")
    connect, _ = make_client(merchant, name="Acme app", kind="connect", redirect_uris="https://app.example/cb")
    _, token = issue_token(merchant, client=client)
    access = AccessToken.objects.get(application=client)
    RefreshToken.objects.create(user=person, token=secrets.token_urlsafe(20), application=connect,
                                access_token=None)
    Grant.objects.create(user=person, code=secrets.token_urlsafe(20), application=connect,
                         expires=timezone.now() + timedelta(minutes=1), redirect_uri="https://app.example/cb",
                         scope="payments:read", code_challenge="x" * 43, code_challenge_method="S256")
    IDToken.objects.create(user=person, application=connect, expires=timezone.now() + timedelta(hours=1),
                           scope="openid")

    captured = make_payment(merchant, amount=2500, number=VISA_OK)
    authorized = make_payment(merchant, amount=4000, capture=False, number=MASTERCARD_OK)
    failed = make_payment(merchant, amount=1700, number="4000000000000002")
    make_payment(merchant, amount=1200, number="4000000000009235")  # held for risk review (issue #5)
    card = make_card(merchant, number=AMEX_OK, cvc="1234")
    deleted = make_card(merchant, number=MASTERCARD_OK)
    card_services.card_delete(merchant_id=merchant.pk, livemode=False, card_id=deleted.pk)
    refund = payment_services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=captured.pk,
                                            amount=500, reason="requested_by_customer", actor="system")
    other_payment = payment_services.payment_create(
        merchant_id=other.pk, livemode=False, amount=999, currency="JPY", capture=False,
        card={"number": AMEX_OK, "exp_month": 1, "exp_year": 2035, "cvc": "4321"})

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = api.post("/v1/cards", {"number": DISCOVER_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
                 format="json", HTTP_IDEMPOTENCY_KEY="admin-test-1")
    assert r.status_code == 201, r.content
    r = api.post("/v1/payments", {"amount": 3100, "currency": "EUR", "card_token": r.json()["id"]}, format="json",
                 HTTP_IDEMPOTENCY_KEY="admin-test-2")
    assert r.status_code == 201, r.content
    api_payment = Payment.objects.get(pk=r.json()["id"])
    audit_record(actor="system", action="test.seed", object_type="merchant", object_id=merchant.pk,
                 merchant_id=merchant.pk)
    # Events and webhooks (#6): an endpoint, a test event, its delivery, one logged attempt, a notice.
    from merchants.models import MerchantNotice, WebhookDelivery

    endpoint, _ = merchant_services.webhook_endpoint_create(merchant_id=merchant.pk, livemode=False,
                                                            url="http://127.0.0.1:9/hooks", enabled_events=["*"])
    merchant_services.webhook_endpoint_send_test(merchant_id=merchant.pk, livemode=False, endpoint_id=endpoint.pk)
    merchant_services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get(endpoint=endpoint).pk)
    MerchantNotice.objects.create(merchant=merchant, kind="webhook_endpoint.disabled", message="test notice")
    # Money (#3): a fee plan, a settlement with its lines and event, a payout with its event.
    from merchants.fees import fee_plan_set
    from payments.tests.money_helpers import settle

    fee_plan_set(merchant_id=merchant.pk, currency="EUR", percent_bps=140, fixed_amount=25)
    settle()
    from payments.models import Payout
    from payments.settlement import payout_transition

    for payout in Payout.objects.all():  # failed: the money is back in available (refunds stay possible)
        payout_transition(payout_id=payout.pk, to_status="failed", failure_code="account_closed")
    # Card issuing (#4): a program, a cardholder, a funded card with an authorization (and their events).
    from .issuing_factories import issue_card
    from .test_authorization import authorize

    authorize(issue_card(other, livemode=True, fund=5_000), 1_000)
    return {
        "merchant": merchant, "other": other, "person": person, "client": client, "connect": connect,
        "access": access, "captured": captured, "authorized": authorized, "failed": failed, "card": card,
        "deleted_card": deleted, "refund": refund, "other_payment": other_payment, "admin": admin_user,
        "api_payment": api_payment,
    }


# --- Registration -------------------------------------------------------------------------------


def test_every_model_of_our_apps_is_registered():
    for label in OUR_APPS:
        for model in apps.get_app_config(label).get_models():
            assert admin.site.is_registered(model), model._meta.label


def test_api_client_has_exactly_one_registration_and_it_is_ours():
    assert type(admin.site._registry[ApiClient]) is ApiClientAdmin
    assert get_application_admin_class() is ApiClientAdmin
    assert sum(1 for model in admin.site._registry if model._meta.label == "merchants.ApiClient") == 1


def test_core_admin_does_not_import_upper_layers():
    import ast
    from pathlib import Path

    import core

    tree = ast.parse((Path(core.__file__).parent / "admin.py").read_text())
    imported = {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and
                node.module} | {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                                for alias in node.names}
    assert not imported & {"merchants", "cards", "payments", "risk", "ledger", "portal"}


# --- Every page renders -------------------------------------------------------------------------


def test_every_changelist_and_change_page_renders(admin_client, world):
    for model, model_admin in admin.site._registry.items():
        response = admin_client.get(changelist(model))
        assert response.status_code == 200, model._meta.label
        assert_no_pan(response)
        obj = model_admin.get_queryset(response.wsgi_request).first()
        if model._meta.app_label in OUR_APPS or model in (AccessToken, RefreshToken, Grant, IDToken):
            assert obj is not None, f"no {model._meta.label} in the test data"
        if obj is not None:
            response = admin_client.get(change(obj))
            assert response.status_code == 200, model._meta.label
            assert_no_pan(response)


def test_change_pages_of_every_payment_card_and_refund_show_no_pan(admin_client, world):
    for model in (Payment, Card, Refund, PaymentEvent, IdempotencyKey, AuditLogEntry):
        for obj in model.objects.all():
            response = admin_client.get(change(obj))
            assert response.status_code == 200
            assert_no_pan(response)


def test_card_pages_show_bin_and_last4_only(admin_client, world):
    card = world["card"]
    response = admin_client.get(change(card))
    text = response.content.decode()
    assert "378282******0005" in text
    assert "pan_ciphertext" not in text
    response = admin_client.get(change(world["captured"]))
    assert "424242******4242" in response.content.decode()
    response = admin_client.get(changelist(Payment))
    assert "555555******4444" in response.content.decode()


def test_filters_and_date_hierarchy_render(admin_client, world):
    year = timezone.now().year
    for url in (
        f"{changelist(Payment)}?status__exact=succeeded",
        f"{changelist(Payment)}?livemode__exact=0&currency=EUR",
        f"{changelist(Payment)}?card__brand=visa",
        f"{changelist(Payment)}?created__year={year}",
        f"{changelist(Refund)}?status__exact=succeeded&reason__exact=requested_by_customer",
        f"{changelist(Card)}?deleted=yes",
        f"{changelist(Card)}?brand=amex&reusable__exact=1",
        f"{changelist(Merchant)}?status__exact=active",
        f"{changelist(ApiClient)}?revoked=no&kind__exact=server",
        f"{changelist(PaymentEvent)}?type__exact=payment.captured",
        f"{changelist(IdempotencyKey)}?status__exact=completed",
        f"{changelist(AuditLogEntry)}?created__year={year}",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url  # an unknown filter would redirect to ?e=1
        assert response.context["cl"].result_count >= 1, url


def test_filter_results_are_right(admin_client, world):
    cl = admin_client.get(f"{changelist(Payment)}?status__exact=requires_capture").context["cl"]
    assert {p.pk for p in cl.result_list} == {world["authorized"].pk, world["other_payment"].pk}
    cl = admin_client.get(f"{changelist(Card)}?deleted=yes").context["cl"]
    assert [c.pk for c in cl.result_list] == [world["deleted_card"].pk]
    cl = admin_client.get(f"{changelist(Payment)}?currency=JPY").context["cl"]
    assert [p.pk for p in cl.result_list] == [world["other_payment"].pk]


# --- Search -------------------------------------------------------------------------------------


def results(client, model, query):
    response = client.get(changelist(model), {"q": query})
    assert response.status_code == 200
    assert_no_pan(response)
    return {obj.pk for obj in response.context["cl"].result_list}


def test_search_payments_by_last4_id_and_merchant(admin_client, world):
    assert results(admin_client, Payment, "4444") == {world["authorized"].pk}
    assert results(admin_client, Payment, "4242") == {world["captured"].pk}
    assert results(admin_client, Payment, world["failed"].pk) == {world["failed"].pk}
    assert results(admin_client, Payment, world["failed"].pk[:-3]) == {world["failed"].pk}  # id prefix
    assert results(admin_client, Payment, "Globex") == {world["other_payment"].pk}
    assert results(admin_client, Payment, world["other"].pk) == {world["other_payment"].pk}
    assert results(admin_client, Payment, world["client"].client_id) == {world["api_payment"].pk}
    assert results(admin_client, Payment, "1117") == {world["api_payment"].pk}
    assert results(admin_client, Payment, "9999") == set()


def test_search_cards_refunds_merchants_and_clients(admin_client, world):
    assert results(admin_client, Card, "0005") == {world["card"].pk, world["other_payment"].card_id}
    assert results(admin_client, Card, world["card"].pk) == {world["card"].pk}
    assert results(admin_client, Refund, world["captured"].pk) == {world["refund"].pk}
    assert results(admin_client, Refund, "4242") == {world["refund"].pk}
    assert results(admin_client, Merchant, "Acme") == {world["merchant"].pk}
    assert results(admin_client, Merchant, world["other"].pk) == {world["other"].pk}
    assert results(admin_client, ApiClient, world["client"].client_id) == {world["client"].pk}
    assert results(admin_client, ApiClient, "Acme") == {world["client"].pk, world["connect"].pk}
    assert results(admin_client, PaymentEvent, world["authorized"].pk) == set(
        PaymentEvent.objects.filter(payment=world["authorized"]).values_list("pk", flat=True))


def test_a_full_card_number_is_never_searched_nor_echoed(admin_client, world):
    for model in (Payment, Card, Refund):
        for query in (VISA_OK, "4242 4242 4242 4242", f"x {AMEX_OK}"):
            response = admin_client.get(changelist(model), {"q": query})
            assert response.status_code == 302
            assert find_pans(response.url) == []
            url = unquote_plus(response.url)
            assert "424242******4242" in url or "378282******0005" in url
            followed = admin_client.get(response.url)
            assert followed.status_code == 200
            assert_no_pan(followed)
            assert "Full card numbers are never searchable" in followed.content.decode()


# --- No N+1 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [Payment, Refund, Card, PaymentEvent, Merchant, ApiClient, MerchantStatusEvent,
                                   MerchantMember])
def test_changelists_run_a_constant_number_of_queries(admin_client, world, model):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(changelist(model)).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    merchant = MerchantFactory(name="More")
    merchant_services.merchant_set_status(merchant_id=merchant.pk, to_status=MerchantStatus.SUSPENDED,
                                          actor="system")
    for i in range(4):
        payment = make_payment(merchant, amount=1000 + i)
        payment_services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk)
        make_card(merchant)
        make_client(merchant, name=f"c{i}")
        user = User.objects.create_user(f"user{i}", f"u{i}@example.com", "a-long-password-123")
        merchant_services.member_add(merchant=merchant, user=user)
    assert count() == before


# --- Actions: payments --------------------------------------------------------------------------


def test_capture_action(admin_client, world):
    payment = world["authorized"]
    messages = run_action(admin_client, Payment, "capture", [payment])
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount_captured == 4000 and payment.amount_capturable == 0
    event = PaymentEvent.objects.get(payment=payment, type=EventType.PAYMENT_CAPTURED)
    assert event.actor == "staff:admin" and event.from_status == "requires_capture"
    entry = AuditLogEntry.objects.get(action="payment.capture", object_id=payment.pk)
    assert entry.actor == "staff:admin" and entry.merchant_id == payment.merchant_id and entry.data["ok"] is True
    assert messages == [("success", f"Captured: 1 ({payment.pk}).")]


def test_cancel_action(admin_client, world):
    payment = world["authorized"]
    messages = run_action(admin_client, Payment, "cancel", [payment])
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED
    assert payment.amount_capturable == 0 and payment.amount_captured == 0
    assert PaymentEvent.objects.get(payment=payment, type=EventType.PAYMENT_CANCELED).actor == "staff:admin"
    assert AuditLogEntry.objects.filter(action="payment.cancel", object_id=payment.pk, data__ok=True).count() == 1
    assert messages[0][0] == "success"


def test_refund_in_full_action(admin_client, world):
    payment = world["captured"]  # 2500 captured, 500 already refunded
    messages = run_action(admin_client, Payment, "refund_in_full", [payment])
    payment.refresh_from_db()
    assert payment.amount_refunded == 2500 == payment.amount_captured
    refund = Refund.objects.filter(payment=payment).exclude(pk=world["refund"].pk).get()
    assert (refund.amount, refund.status) == (2000, RefundStatus.SUCCEEDED)
    assert PaymentEvent.objects.filter(refund=refund, actor="staff:admin").count() == 2  # created, succeeded
    assert AuditLogEntry.objects.filter(action="payment.refund", object_id=payment.pk, data__ok=True).exists()
    assert messages[0][0] == "success"

    # A second full refund has nothing left to refund: reported, nothing changes.
    messages = run_action(admin_client, Payment, "refund_in_full", [payment])
    assert len(messages) == 1 and messages[0][0] == "error"
    assert messages[0][1].startswith(f"{payment.pk}: ") and messages[0][1].endswith("(charge_already_refunded)")
    assert Refund.objects.filter(payment=payment).count() == 2


def test_other_merchants_payment_is_acted_on_with_its_own_merchant_and_mode(admin_client, world):
    payment = world["other_payment"]
    run_action(admin_client, Payment, "capture", [payment])
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured, payment.currency) == ("succeeded", 999, "JPY")
    assert AuditLogEntry.objects.get(action="payment.capture", object_id=payment.pk).merchant_id == world["other"].pk


@pytest.mark.parametrize("action", ["capture", "cancel"])
@pytest.mark.parametrize("which", ["captured", "failed"])
def test_action_on_a_payment_in_the_wrong_state_changes_nothing(admin_client, world, action, which):
    payment = world[which]
    before = snapshot(payment)
    events = PaymentEvent.objects.filter(payment=payment).count()
    messages = run_action(admin_client, Payment, action, [payment])
    assert len(messages) == 1
    level, text = messages[0]
    assert level == "error"
    assert text.startswith(f"{payment.pk}: ") and "(payment_unexpected_state)" in text
    assert snapshot(payment) == before
    assert PaymentEvent.objects.filter(payment=payment).count() == events
    entry = AuditLogEntry.objects.get(action=f"payment.{action}", object_id=payment.pk)
    assert entry.data["ok"] is False and entry.data["code"] == "payment_unexpected_state"


@pytest.mark.parametrize("which", ["authorized", "failed"])
def test_refund_of_a_payment_that_did_not_succeed_changes_nothing(admin_client, world, which):
    payment = world[which]
    before = snapshot(payment)
    messages = run_action(admin_client, Payment, "refund_in_full", [payment])
    assert [level for level, _ in messages] == ["error"]
    assert snapshot(payment) == before
    assert not Refund.objects.filter(payment=payment).exists()


def test_mixed_selection_reports_each_object(admin_client, world):
    ok, bad = world["authorized"], world["failed"]
    messages = run_action(admin_client, Payment, "capture", [ok, bad])
    levels = sorted(level for level, _ in messages)
    assert levels == ["error", "success"]
    assert any(bad.pk in text for level, text in messages if level == "error")
    assert any(ok.pk in text for level, text in messages if level == "success")
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert (ok.status, bad.status) == ("succeeded", "failed")


def test_staff_without_change_permission_cannot_run_money_actions(client, world):
    viewer = User.objects.create_user("viewer", "viewer@bank.example", "a-long-password-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client.force_login(viewer)
    response = client.get(changelist(Payment))
    assert response.status_code == 200
    assert 'value="capture"' not in response.content.decode()
    payment = world["authorized"]
    client.post(changelist(Payment), {"action": "capture", "_selected_action": [payment.pk], "index": 0})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_CAPTURE
    assert not AuditLogEntry.objects.filter(action="payment.capture").exists()


# --- Actions: merchants and API clients ---------------------------------------------------------


def test_activate_and_suspend_merchants(admin_client, world):
    pending = MerchantFactory(name="Initech", status=MerchantStatus.PENDING)
    messages = run_action(admin_client, Merchant, "activate", [pending])
    pending.refresh_from_db()
    assert pending.status == MerchantStatus.ACTIVE
    event = MerchantStatusEvent.objects.get(merchant=pending)
    assert (event.from_status, event.to_status, event.actor) == ("pending", "active", "staff:admin")
    assert messages[0][0] == "success"
    assert AuditLogEntry.objects.get(action="merchant.set_status.active", object_id=pending.pk).data["ok"] is True

    merchant = world["merchant"]
    run_action(admin_client, Merchant, "suspend", [merchant, pending])
    merchant.refresh_from_db()
    pending.refresh_from_db()
    assert merchant.status == pending.status == MerchantStatus.SUSPENDED
    assert MerchantStatusEvent.objects.filter(to_status="suspended", actor="staff:admin").count() == 2


def test_merchant_action_in_the_wrong_state_reports_and_changes_nothing(admin_client, world):
    merchant = world["merchant"]  # active
    events = MerchantStatusEvent.objects.filter(merchant=merchant).count()
    messages = run_action(admin_client, Merchant, "activate", [merchant])
    assert len(messages) == 1 and messages[0][0] == "error"
    assert messages[0][1].startswith(f"{merchant.pk}: ") and messages[0][1].endswith("(invalid_transition)")
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.ACTIVE
    assert MerchantStatusEvent.objects.filter(merchant=merchant).count() == events


def test_revoke_api_client(admin_client, world):
    client = world["client"]
    assert AccessToken.objects.filter(application=client).exists()
    messages = run_action(admin_client, ApiClient, "revoke", [client])
    client.refresh_from_db()
    assert client.revoked_at is not None
    assert not AccessToken.objects.filter(application=client).exists()
    assert messages == [("success", f"Revoked: 1 ({client.public_id}).")]
    assert AuditLogEntry.objects.get(action="api_client.revoke", object_id=client.public_id).merchant_id == \
        world["merchant"].pk
    world["connect"].refresh_from_db()
    assert world["connect"].revoked_at is None


# --- Read-only money and status ------------------------------------------------------------------


def editable_inputs(html: str) -> set[str]:
    """Names of the form controls a change page lets staff edit."""
    names = set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', html))
    hidden = set(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"', html))
    hidden |= set(re.findall(r'<input[^>]*name="([^"]+)"[^>]*type="hidden"', html))
    return names - hidden - {"csrfmiddlewaretoken", "_save", "_continue", "_addanother", "q"}


MONEY_AND_STATUS = {"amount", "currency", "amount_capturable", "amount_captured", "amount_refunded", "status",
                    "capture", "livemode"}


@pytest.mark.parametrize("key", ["captured", "authorized", "refund", "card"])
def test_money_and_status_are_read_only_on_change_pages(admin_client, world, key):
    obj = world[key]
    response = admin_client.get(change(obj))
    assert response.status_code == 200
    html = response.content.decode()
    inputs = editable_inputs(html)
    assert not inputs & MONEY_AND_STATUS, inputs
    assert not any(name.split("-")[-1] in MONEY_AND_STATUS for name in inputs), inputs  # inlines too
    assert 'name="_save"' not in html


def test_posting_to_a_payment_change_page_is_refused(admin_client, world):
    payment = world["authorized"]
    before = snapshot(payment)
    response = admin_client.post(change(payment), {"amount": 1, "status": "succeeded", "amount_captured": 1})
    assert response.status_code == 403
    assert snapshot(payment) == before


def test_payments_refunds_cards_events_cannot_be_added_or_deleted(admin_client, world):
    for model, obj in ((Payment, world["captured"]), (Refund, world["refund"]), (Card, world["card"]),
                       (PaymentEvent, PaymentEvent.objects.first()), (IdempotencyKey, IdempotencyKey.objects.first()),
                       (AuditLogEntry, AuditLogEntry.objects.first()), (MerchantStatusEvent,
                                                                        MerchantStatusEvent.objects.first())):
        assert admin_client.get(add(model)).status_code == 403, model
        assert admin_client.post(delete(obj), {"post": "yes"}).status_code == 403, model
        assert model.objects.filter(pk=obj.pk).exists()
    response = admin_client.post(changelist(Payment), {"action": "delete_selected",
                                                       "_selected_action": [world["captured"].pk], "post": "yes"})
    assert Payment.objects.filter(pk=world["captured"].pk).exists()
    assert response.status_code in (200, 302)


def test_merchants_and_clients_cannot_be_deleted_or_clients_added(admin_client, world):
    assert admin_client.post(delete(world["merchant"]), {"post": "yes"}).status_code == 403
    assert admin_client.post(delete(world["client"]), {"post": "yes"}).status_code == 403
    assert admin_client.get(add(ApiClient)).status_code == 403
    assert Merchant.objects.filter(pk=world["merchant"].pk).exists()
    assert ApiClient.objects.filter(pk=world["client"].pk).exists()


def test_merchant_status_is_read_only_and_edits_keep_it(admin_client, world):
    merchant = world["merchant"]
    html = admin_client.get(change(merchant)).content.decode()
    assert "status" not in editable_inputs(html)
    response = admin_client.post(change(merchant), {
        "name": "Acme Shoes GmbH", "legal_name": "Acme Shoes GmbH", "country": "de", "default_currency": "eur",
        "support_email": "help@acme.example", "status": "suspended",
        **inline_management(html),
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    merchant.refresh_from_db()
    assert (merchant.name, merchant.country, merchant.default_currency) == ("Acme Shoes GmbH", "DE", "EUR")
    assert merchant.status == MerchantStatus.ACTIVE
    entry = AuditLogEntry.objects.get(action="merchant.updated", object_id=merchant.pk)
    assert entry.actor == "staff:admin" and "name" in entry.data["fields"]


def test_merchant_form_refuses_an_unknown_currency(admin_client, world):
    merchant = world["merchant"]
    html = admin_client.get(change(merchant)).content.decode()
    response = admin_client.post(change(merchant), {"name": "Acme", "country": "DE", "default_currency": "XYZ",
                                                    **inline_management(html)})
    assert response.status_code == 200
    assert "Unknown currency" in response.content.decode()
    merchant.refresh_from_db()
    assert merchant.default_currency == "EUR"


def test_merchant_can_be_added_as_pending(admin_client, world):
    html = admin_client.get(add(Merchant)).content.decode()
    response = admin_client.post(add(Merchant), {"name": "Umbrella", "country": "fr", "default_currency": "eur",
                                                 **inline_management(html)})
    assert response.status_code == 302, response.content.decode()[:3000]
    merchant = Merchant.objects.get(name="Umbrella")
    assert (merchant.status, merchant.country, merchant.default_currency) == ("pending", "FR", "EUR")


def test_api_client_page_never_shows_the_secret_and_scopes_go_through_the_service(admin_client, world):
    client = world["client"]
    hashed = ApiClient.objects.get(pk=client.pk).client_secret
    html = admin_client.get(change(client)).content.decode()
    assert hashed not in html
    assert "client_secret" not in editable_inputs(html)
    assert {"livemode", "kind", "merchant", "client_id", "revoked_at"}.isdisjoint(editable_inputs(html))

    response = admin_client.post(change(client), {"name": "Acme server", "redirect_uris": "",
                                                  "allowed_scopes": "payments:read bogus:scope"})
    assert response.status_code == 200
    assert "Unknown scope" in response.content.decode()
    response = admin_client.post(change(client), {"name": "Acme server 2", "redirect_uris": "",
                                                  "allowed_scopes": "payments:write payments:read"})
    assert response.status_code == 302, response.content.decode()[:3000]
    client.refresh_from_db()
    assert client.allowed_scopes == "payments:read payments:write"
    assert client.name == "Acme server 2"
    assert client.client_secret == hashed
    assert client.revoked_at is None


def inline_management(html: str) -> dict:
    """The management form fields of the (read-only) inlines on a change page."""
    return dict(re.findall(r'<input[^>]*name="([^"]*-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="([^"]*)"',
                           html))


def test_member_admin_lists_people(admin_client, world):
    response = admin_client.get(changelist(MerchantMember), {"q": "jane"})
    assert response.status_code == 200
    assert [m.user.username for m in response.context["cl"].result_list] == ["jane"]
