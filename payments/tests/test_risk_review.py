"""The risk engine inside payments (issue #5): block -> failed `fraudulent` (402), review ->
requires_review (no processor call), approve / reject / time out, from the services, the admin and
the API."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditLogEntry
from risk.constants import ListKind, ReviewOutcome
from risk.models import Assessment
from risk.services import list_entry_create

from .. import services
from ..constants import EventType, PaymentStatus
from ..models import Payment
from .factories import card_data, make_payment

pytestmark = pytest.mark.django_db

ALWAYS_BLOCKED = "4100000000000019"
HIGHEST_RISK = "4000000000004954"
ELEVATED = "4000000000009235"


def test_allowed_payment_carries_its_assessment(merchant, processor_calls):
    payment = make_payment(merchant, customer_ip="192.0.2.3")
    assert payment.status == PaymentStatus.SUCCEEDED
    assessment = Assessment.objects.get(payment_id=payment.pk)
    assert payment.risk_assessment_id == assessment.pk
    assert (assessment.decision, assessment.card_bin, assessment.card_last4) == ("allow", "424242", "4242")
    assert len(assessment.card_fingerprint) == 32  # the vault's fingerprint, never the number
    assert "4242424242424242" not in str(Assessment.objects.filter(pk=assessment.pk).values().first())
    assert len(processor_calls["authorize"]) == 1


@pytest.mark.parametrize("number", [ALWAYS_BLOCKED, HIGHEST_RISK])
def test_blocked_payment_fails_without_calling_the_processor(api, number, processor_calls):
    r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card": card_data(number)}, format="json")
    assert r.status_code == 402
    error = r.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == ("card_error", "card_declined", "fraudulent")
    payment = error["payment"]
    assert payment["status"] == "failed" and payment["failure_code"] == "fraudulent"
    assert payment["risk"]["decision"] == "block" and payment["risk"]["reasons"]
    assert processor_calls["authorize"] == []
    events = list(Payment.objects.get(pk=payment["id"]).events.values_list("type", "to_status"))
    assert events == [(EventType.PAYMENT_CREATED, "processing"), (EventType.PAYMENT_FAILED, "failed")]


def test_review_holds_the_payment_and_shows_it_in_the_api(api, processor_calls):
    r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card": card_data(ELEVATED)}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "requires_review"
    assert body["risk"]["decision"] == "review" and body["risk"]["score"] == 75
    assert body["risk"]["reasons"][0]["rule"] == "test_card:elevated_risk"
    assert (body["amount_capturable"], body["amount_captured"]) == (0, 0)
    assert processor_calls["authorize"] == []
    again = api.get(f"/v1/payments/{body['id']}").json()
    assert again["status"] == "requires_review" and again["risk"] == body["risk"]
    listed = api.get("/v1/payments", {"status": "requires_review"}).json()["data"]
    assert [p["id"] for p in listed] == [body["id"]]
    events = list(Payment.objects.get(pk=body["id"]).events.values_list("type", flat=True))
    assert events == [EventType.PAYMENT_CREATED, EventType.PAYMENT_REQUIRES_REVIEW]


@pytest.mark.parametrize(("capture", "final"), [(True, PaymentStatus.SUCCEEDED),
                                                 (False, PaymentStatus.REQUIRES_CAPTURE)])
def test_approve_authorizes_and_captures_if_asked(merchant, processor_calls, capture, final):
    payment = make_payment(merchant, number=ELEVATED, capture=capture, amount=700)
    assert payment.status == PaymentStatus.REQUIRES_REVIEW
    approved = services.payment_review_approve(payment_id=payment.pk, note="Called the customer", actor="staff:ann")
    assert approved.status == final
    assert len(processor_calls["authorize"]) == 1 and processor_calls["authorize"][0]["capture"] is capture
    payment.refresh_from_db()
    assert (payment.amount_captured, payment.amount_capturable) == ((700, 0) if capture else (0, 700))
    types = list(payment.events.values_list("type", "from_status", "to_status", "actor"))
    assert (EventType.PAYMENT_REVIEW_APPROVED, "requires_review", "processing", "staff:ann") in types
    assessment = Assessment.objects.get(pk=payment.risk_assessment_id)
    assert (assessment.review_outcome, assessment.review_note, assessment.reviewed_by) == (
        ReviewOutcome.APPROVED, "Called the customer", "staff:ann")
    with pytest.raises(Exception) as excinfo:  # once only
        services.payment_review_approve(payment_id=payment.pk, note="again")
    assert excinfo.value.code == "payment_unexpected_state"
    assert len(processor_calls["authorize"]) == 1


def test_approved_payment_can_still_be_declined_by_the_processor(merchant, monkeypatch):
    from ..processors import AuthorizationResult, TestSimulator

    payment = make_payment(merchant, number=ELEVATED)
    monkeypatch.setattr(TestSimulator, "authorize", lambda self, **kw: AuthorizationResult(
        approved=False, reference="x", decline_code="insufficient_funds"))
    result = services.payment_review_approve(payment_id=payment.pk, note="ok")
    assert (result.status, result.failure_code) == (PaymentStatus.FAILED, "insufficient_funds")


def test_reject_cancels(merchant, processor_calls):
    payment = make_payment(merchant, number=ELEVATED)
    rejected = services.payment_review_reject(payment_id=payment.pk, note="Stolen identity", actor="staff:bo")
    assert rejected.status == PaymentStatus.CANCELED
    assert processor_calls["authorize"] == [] and processor_calls["void"] == []
    assessment = Assessment.objects.get(pk=payment.risk_assessment_id)
    assert (assessment.review_outcome, assessment.review_note) == (ReviewOutcome.REJECTED, "Stolen identity")
    with pytest.raises(Exception):
        services.payment_review_approve(payment_id=payment.pk)


def test_unreviewed_payments_are_canceled_after_the_timeout(merchant, settings):
    from ..tasks import cancel_unreviewed_payments

    settings.RISK_REVIEW_TIMEOUT_SECONDS = 3600
    old = make_payment(merchant, number=ELEVATED)
    fresh = make_payment(merchant, number=ELEVATED)
    Payment.objects.filter(pk=old.pk).update(updated=timezone.now() - timedelta(hours=2))
    assert cancel_unreviewed_payments() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == (PaymentStatus.CANCELED, PaymentStatus.REQUIRES_REVIEW)
    assert Assessment.objects.get(pk=old.risk_assessment_id).review_outcome == ReviewOutcome.EXPIRED
    assert old.events.filter(type=EventType.PAYMENT_CANCELED, actor="system:review_timeout").exists()
    assert cancel_unreviewed_payments() == 0


def test_resume_applies_a_risk_decision_left_unapplied(merchant, monkeypatch, processor_calls):
    """A request that died after recording the intent: resume applies the stored decision, never authorizes."""
    monkeypatch.setattr(services, "_payment_apply_risk", lambda p, a: (_ for _ in ()).throw(RuntimeError("died")))
    with pytest.raises(RuntimeError):
        make_payment(merchant, number=ELEVATED)
    monkeypatch.undo()
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PROCESSING
    assert services.payment_resume(payment_id=payment.pk).status == PaymentStatus.REQUIRES_REVIEW
    assert processor_calls["authorize"] == []


def test_merchant_block_list_blocks_its_payments(merchant, other_merchant):
    list_entry_create(kind=ListKind.EMAIL_DOMAIN, value="fraud.example", merchant_id=merchant.pk, livemode=False)
    blocked = make_payment(merchant, customer_email="x@fraud.example")
    assert (blocked.status, blocked.failure_code) == (PaymentStatus.FAILED, "fraudulent")
    assert make_payment(other_merchant, customer_email="x@fraud.example").status == PaymentStatus.SUCCEEDED


# --- The admin review queue ------------------------------------------------------------------------


def _queue_url():
    return reverse("admin:payments_paymentreview_changelist")


def test_review_queue_lists_only_payments_in_review(admin_client, merchant):
    held = make_payment(merchant, number=ELEVATED)
    other = make_payment(merchant)
    page = admin_client.get(_queue_url()).content.decode()
    assert held.pk in page and other.pk not in page
    detail = admin_client.get(reverse("admin:payments_payment_change", args=[held.pk])).content.decode()
    assert "test_card:elevated_risk" in detail


@pytest.mark.parametrize(("action", "final"), [("approve", PaymentStatus.SUCCEEDED),
                                                ("reject", PaymentStatus.CANCELED)])
def test_admin_approve_and_reject_need_a_note(admin_client, merchant, action, final):
    held = make_payment(merchant, number=ELEVATED)
    form = {"action": action, "_selected_action": [held.pk], "index": 0}
    page = admin_client.post(_queue_url(), form)
    assert page.status_code == 200 and b"note" in page.content  # the note form
    held.refresh_from_db()
    assert held.status == PaymentStatus.REQUIRES_REVIEW
    admin_client.post(_queue_url(), {**form, "apply": "1", "note": ""})
    held.refresh_from_db()
    assert held.status == PaymentStatus.REQUIRES_REVIEW  # no note, no decision
    response = admin_client.post(_queue_url(), {**form, "apply": "1", "note": "checked"}, follow=True)
    assert response.status_code == 200
    held.refresh_from_db()
    assert held.status == final
    assert Assessment.objects.get(pk=held.risk_assessment_id).review_note == "checked"
    assert AuditLogEntry.objects.filter(action=f"payment.review_{action}", object_id=held.pk).exists()
