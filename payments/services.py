"""Every write to payments and refunds.

Processor calls happen with no transaction open: record the intent, commit, call out, record
the result. Status changes go through `_payment_transition` / `_refund_transition` only.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from cards import selectors as card_selectors
from cards import services as card_services
from cards.vault import check_card, fingerprint, looks_like_pan
from core.errors import NotFound, StateError, ValidationError
from core.money import MAX_PAYMENT_AMOUNT, CurrencyError, normalize_currency
from merchants import selectors as merchant_selectors
from merchants.services import event_publish
from risk import services as risk_services
from risk.constants import Decision as RiskDecision
from risk.constants import ReviewOutcome

from . import bookkeeping, selectors
from .constants import (
    DECLINES,
    PAYMENT_TRANSITIONS,
    REFUND_TRANSITIONS,
    EventType,
    PaymentStatus,
    RefundReason,
    RefundStatus,
)
from .models import Payment, PaymentEvent, Refund
from .processors import AuthorizationResult, processor_for, processor_named
from .representations import payment_representation, refund_representation


def _check_amount(amount, *, param="amount", maximum=MAX_PAYMENT_AMOUNT) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError("Amount must be an integer in the currency's minor unit.", param=param,
                              code="parameter_invalid")
    if amount <= 0:
        raise ValidationError("Amount must be greater than zero.", param=param, code="amount_too_small")
    if amount > maximum:
        raise ValidationError(f"Amount must be at most {maximum}.", param=param, code="amount_too_large")
    return amount


def _refuse_card_numbers(*, description: str, metadata: dict, customer_email: str) -> None:
    """Card numbers belong in `card` only: free text holding one is refused, so no PAN is stored in clear."""
    fields = {"description": description, "customer_email": customer_email,
              "metadata": " ".join(metadata)}  # the keys: named without echoing them
    fields.update({f"metadata[{key}]": value for key, value in metadata.items()})
    for param, text in fields.items():
        if text and looks_like_pan(str(text)):
            raise ValidationError(f"{param} looks like it holds a card number. Never send card numbers outside "
                                  "`card`.", param=param, code="card_number_in_text")


def _release_if_expired(model, obj) -> bool:
    """An object's idempotency key outlives the key itself (IDEMPOTENCY_KEY_TTL): once expired the
    key may name a new request, so the old object lets go of it. True if it was released."""
    if obj.created >= timezone.now() - settings.IDEMPOTENCY_KEY_TTL:
        return False
    model.objects.filter(pk=obj.pk).update(idempotency_key="")
    return True


# --- Events (webhooks) ----------------------------------------------------------------------------
# Every status change publishes, in its own transaction, events whose `data.object` is the object as
# the API shows it (merchants.services.event_publish; README "Events and webhooks"):
#   created (processing)          -> payment.created
#   processing -> requires_capture -> payment.authorized
#   processing -> succeeded        -> payment.succeeded (captured at once)
#   requires_capture -> succeeded  -> payment.captured, then payment.succeeded
#   -> failed / -> canceled / -> any other status s -> payment.failed / payment.canceled / payment.<s>
#   refund created (pending) -> refund.created; pending -> succeeded / failed -> refund.succeeded / refund.failed


def _payment_event_types(from_status: str, to_status: str) -> list[str]:
    if to_status == PaymentStatus.REQUIRES_CAPTURE:
        return ["payment.authorized"]
    if to_status == PaymentStatus.PROCESSING:  # a review approved: the authorization that follows is published
        return []
    if to_status == PaymentStatus.SUCCEEDED and from_status == PaymentStatus.REQUIRES_CAPTURE:
        return ["payment.captured", "payment.succeeded"]
    return [f"payment.{to_status}"]


def _publish_payment(payment: Payment, *types: str) -> None:
    data = payment_representation(payment)
    for event_type in types:
        event_publish(merchant_id=payment.merchant_id, livemode=payment.livemode, type=event_type,
                      object_type="payment", object_id=payment.id, data=data)


def _publish_refund(refund: Refund, event_type: str) -> None:
    event_publish(merchant_id=refund.merchant_id, livemode=refund.livemode, type=str(event_type),
                  object_type="refund", object_id=refund.id, data=refund_representation(refund))


def payment_create(
    *,
    merchant_id: str,
    livemode: bool,
    amount: int,
    currency: str,
    card: dict | None = None,
    card_token: str | None = None,
    capture: bool = True,
    description: str = "",
    metadata: dict | None = None,
    customer_email: str = "",
    customer_ip: str | None = None,
    api_client_id: int | None = None,
    idempotency_key: str = "",
) -> Payment:
    """Authorize (and by default capture) a card payment.

    1. Record the intent: the card and the payment (`processing`) in one transaction, committed.
    2. Call the processor, with no transaction open, using the payment id as its reference.
    3. Record the answer through `_payment_transition`.

    Returns the payment whatever the card's answer: a declined payment is stored as `failed`
    with its failure code, and the caller decides how to present it. With an idempotency key,
    a second call for the same API client and key returns the first payment (finishing it if
    the first call died after step 1), so a card is never charged twice for one key.
    """
    amount = _check_amount(amount)
    try:
        currency = normalize_currency(currency)
    except CurrencyError as exc:
        raise ValidationError(str(exc), param="currency", code="invalid_currency")
    if (card is None) == (card_token is None):
        raise ValidationError("Give either card or card_token.", param="card", code="parameter_missing")
    _refuse_card_numbers(description=description, metadata=metadata or {}, customer_email=customer_email)
    processor = processor_for(livemode=livemode)

    if card is not None:
        checked = check_card(number=card.get("number"), exp_month=card.get("exp_month"),
                             exp_year=card.get("exp_year"), cvc=card.get("cvc"), name=card.get("name") or "")
        if livemode and card.get("cvc") is None:  # live (on-us): a card typed in must prove it is at hand
            raise ValidationError("In live mode a card needs its CVC.", param="card[cvc]", code="parameter_missing")
        number = checked.number
        cvc = card.get("cvc")  # in memory only, for the processor: never stored, logged or queued
        expiry = (checked.exp_month, checked.exp_year)
        card_facts = (fingerprint(number), number.bin, number.last4, checked.brand)
    else:
        stored = card_selectors.card_get_usable(merchant_id=merchant_id, livemode=livemode, card_id=card_token)
        if stored is None:
            raise ValidationError("No such card token.", param="card_token", code="resource_missing")
        number = card_services.card_number(stored)
        cvc = None  # a stored card (card on file) has no CVC
        expiry = (stored.exp_month, stored.exp_year)
        card_facts = (stored.fingerprint, stored.bin, stored.last4, stored.brand)

    payment = Payment(merchant_id=merchant_id, livemode=livemode, api_client_id=api_client_id, amount=amount,
                      currency=currency, capture=capture, description=description, metadata=metadata or {},
                      customer_email=customer_email, customer_ip=customer_ip or None, processor=processor.name,
                      status=PaymentStatus.PROCESSING, idempotency_key=idempotency_key)
    for attempt in range(2):
        try:
            with transaction.atomic():
                # Risk (issue #5): assessed before the processor is called, stored in the same commit as the
                # intent (a retried duplicate rolls its assessment back with it).
                payment.risk_assessment = _risk_assess(payment, card_facts)
                # The card is stored with its payment: one commit for both, never a card without a payment.
                payment.card = stored if card is None else card_services.card_vault(
                    merchant_id=merchant_id, livemode=livemode, card=checked, reusable=False)
                payment.save(force_insert=True)
                PaymentEvent.objects.create(payment=payment, type=EventType.PAYMENT_CREATED,
                                            to_status=PaymentStatus.PROCESSING, amount=amount)
                _publish_payment(payment, "payment.created")
            break
        except IntegrityError:
            # The unique (api_client, idempotency_key) says an earlier request with this key recorded its
            # payment (and died before answering, or is racing us): that one is the payment.
            existing = Payment.objects.filter(api_client_id=api_client_id, idempotency_key=idempotency_key).first()
            if not idempotency_key or existing is None or attempt:
                raise
            if not _release_if_expired(Payment, existing):
                return payment_resume(payment_id=existing.pk)

    assessment = payment.risk_assessment
    if assessment.decision != RiskDecision.ALLOW:  # block or review: no processor call, no money moves
        del number, cvc
        return _payment_apply_risk(payment, assessment)
    result = processor.authorize(number=number, cvc=cvc, exp_month=expiry[0], exp_year=expiry[1], amount=amount,
                                 currency=currency, capture=capture, reference=payment.id, merchant_id=merchant_id,
                                 merchant_country=_merchant_country(merchant_id))
    del number, cvc
    with transaction.atomic():  # the answer and what risk learns from it: one commit
        payment = _payment_record_authorization(payment, result)
        # Right after the ledger entry, before the commit: like the merchant's balance, the merchant's
        # amount statistics are one row every payment of the merchant updates.
        risk_services.assessment_record_outcome(assessment=assessment, approved=result.approved)
    payment.risk_assessment = assessment
    return payment


# --- Risk (issue #5) -----------------------------------------------------------------------------


def _merchant_country(merchant_id: str) -> str:
    key = f"payments:merchant-country:{merchant_id}"
    country = cache.get(key)
    if country is None:
        merchant = merchant_selectors.merchant_get(merchant_id=merchant_id)
        country = merchant.country if merchant is not None else ""
        cache.set(key, country, 300)
    return country


def _risk_assess(payment: Payment, card_facts: tuple):
    """The risk engine's plain input: fingerprint, BIN, last 4 and brand of the card, never its number."""
    card_fingerprint, card_bin, card_last4, card_brand = card_facts
    return risk_services.assessment_create(data=risk_services.AssessmentInput(
        payment_id=payment.id, merchant_id=payment.merchant_id, livemode=payment.livemode, amount=payment.amount,
        currency=payment.currency, card_fingerprint=card_fingerprint, card_bin=card_bin, card_last4=card_last4,
        card_brand=card_brand, customer_email=payment.customer_email, ip=payment.customer_ip,
        merchant_country=_merchant_country(payment.merchant_id),
    ))


def _payment_apply_risk(payment: Payment, assessment) -> Payment:
    """processing -> failed (`fraudulent`) on block, processing -> requires_review on review."""
    if assessment.decision == RiskDecision.BLOCK:
        payment = _payment_transition(
            payment_id=payment.id, to_status=PaymentStatus.FAILED, event_type=EventType.PAYMENT_FAILED,
            changes={"failure_code": "fraudulent", "failure_message": "The payment was blocked by risk checks."},
            expected_from=PaymentStatus.PROCESSING, actor="risk")
    else:
        payment = _payment_transition(payment_id=payment.id, to_status=PaymentStatus.REQUIRES_REVIEW,
                                      event_type=EventType.PAYMENT_REQUIRES_REVIEW, changes={},
                                      expected_from=PaymentStatus.PROCESSING, actor="risk")
    payment.risk_assessment = assessment
    return payment


def payment_review_approve(*, payment_id: str, note: str = "", actor: str = "") -> Payment:
    """An analyst approves a payment held for review: requires_review -> processing, then the processor
    is asked (authorization, and capture if the payment asked for it) exactly as at creation."""
    with transaction.atomic():
        payment = _payment_transition(payment_id=payment_id, to_status=PaymentStatus.PROCESSING,
                                      event_type=EventType.PAYMENT_REVIEW_APPROVED, changes={},
                                      expected_from=PaymentStatus.REQUIRES_REVIEW, actor=actor)
        if payment.risk_assessment_id:
            risk_services.assessment_record_review(assessment_id=payment.risk_assessment_id,
                                                   outcome=ReviewOutcome.APPROVED, note=note, actor=actor)
    return payment_resume(payment_id=payment_id)


def payment_review_reject(*, payment_id: str, note: str = "", actor: str = "",
                          outcome: str = ReviewOutcome.REJECTED) -> Payment:
    """An analyst rejects a payment held for review (or it timed out): requires_review -> canceled."""
    with transaction.atomic():
        payment = _payment_transition(payment_id=payment_id, to_status=PaymentStatus.CANCELED,
                                      event_type=EventType.PAYMENT_CANCELED, changes={},
                                      expected_from=PaymentStatus.REQUIRES_REVIEW, actor=actor)
        if payment.risk_assessment_id:
            risk_services.assessment_record_review(assessment_id=payment.risk_assessment_id, outcome=outcome,
                                                   note=note, actor=actor)
    return payment


def cancel_unreviewed_payments(*, older_than) -> int:
    """Cancel payments left in requires_review since before `older_than` (Celery beat)."""
    ids = list(Payment.objects.filter(status=PaymentStatus.REQUIRES_REVIEW, updated__lt=older_than)
               .order_by("updated").values_list("pk", flat=True)[:500])
    done = 0
    for payment_id in ids:
        try:
            payment_review_reject(payment_id=payment_id, note="Not reviewed in time.", actor="system:review_timeout",
                                  outcome=ReviewOutcome.EXPIRED)
            done += 1
        except StateError:  # reviewed meanwhile
            pass
    return done


def _payment_record_authorization(payment: Payment, result) -> Payment:
    """processing -> succeeded | requires_capture | failed, from the processor's answer."""
    changes = {"processor_reference": result.reference}
    if not result.approved:
        code = result.decline_code or "card_declined"
        changes.update(failure_code=code, failure_message=DECLINES.get(code, DECLINES["card_declined"])[1])
        return _payment_transition(payment_id=payment.id, to_status=PaymentStatus.FAILED,
                                   event_type=EventType.PAYMENT_FAILED, changes=changes,
                                   expected_from=PaymentStatus.PROCESSING)
    if payment.capture:
        changes.update(amount_captured=payment.amount)
        return _payment_transition(payment_id=payment.id, to_status=PaymentStatus.SUCCEEDED,
                                   event_type=EventType.PAYMENT_CAPTURED, changes=changes,
                                   expected_from=PaymentStatus.PROCESSING,
                                   extra_events=[EventType.PAYMENT_SUCCEEDED])
    changes.update(amount_capturable=payment.amount)
    return _payment_transition(payment_id=payment.id, to_status=PaymentStatus.REQUIRES_CAPTURE,
                               event_type=EventType.PAYMENT_AUTHORIZED, changes=changes,
                               expected_from=PaymentStatus.PROCESSING)


def payment_resume(*, payment_id: str) -> Payment:
    """Finish a payment whose request died between recording the intent and recording the answer.

    The processor is asked again with the same reference (processors are idempotent on it), so
    the card is authorized at most once. A payment that is not `processing` is returned as it is.
    """
    payment = Payment.objects.select_related("card", "risk_assessment").get(pk=payment_id)
    if payment.status != PaymentStatus.PROCESSING:
        return payment
    assessment = payment.risk_assessment
    if assessment is not None and assessment.decision != RiskDecision.ALLOW and (
            assessment.review_outcome != ReviewOutcome.APPROVED):
        try:  # the request died before the risk decision was applied: apply it now
            return _payment_apply_risk(payment, assessment)
        except StateError:
            return Payment.objects.select_related("card").get(pk=payment_id)
    card = payment.card
    if card.pan_ciphertext is None:  # the card was deleted meanwhile: nothing can be authorized
        result = AuthorizationResult(approved=False, reference="", decline_code="processing_error")
    else:
        # The CVC of the first request was never kept: the processor is asked without it (card on file).
        result = processor_named(payment.processor).authorize(
            number=card_services.card_number(card), cvc=None, exp_month=card.exp_month, exp_year=card.exp_year,
            amount=payment.amount, currency=payment.currency, capture=payment.capture, reference=payment.id,
            merchant_id=payment.merchant_id, merchant_country=_merchant_country(payment.merchant_id))
    try:
        payment = _payment_record_authorization(payment, result)
    except StateError:  # another worker recorded the answer first
        return Payment.objects.select_related("card").get(pk=payment_id)
    if assessment is not None:
        risk_services.assessment_record_outcome(assessment=assessment, approved=result.approved)
        payment.risk_assessment = assessment
    return payment


def _payment_transition(*, payment_id: str, to_status: str, event_type: str, changes: dict, expected_from: str,
                        actor: str = "", extra_events: tuple = ()) -> Payment:
    """The one place a payment's status changes: lock, check the table, write, record the event."""
    with transaction.atomic():
        payment = (Payment.objects.select_for_update(of=("self",)).select_related("card", "risk_assessment")
                   .get(pk=payment_id))
        if payment.status != expected_from or to_status not in PAYMENT_TRANSITIONS.get(payment.status, set()):
            raise StateError(
                f"This payment is {payment.status}; it cannot become {to_status}.",
                code="payment_unexpected_state",
            )
        from_status = payment.status
        payment.status = to_status
        for field, value in changes.items():
            setattr(payment, field, value)
        capturing = to_status == PaymentStatus.SUCCEEDED and payment.amount_captured > 0
        capture_fields = bookkeeping.capture_fields(payment) if capturing else []
        payment.save(update_fields=["status", "updated", *changes, *capture_fields])
        events = [PaymentEvent(payment=payment, type=event_type, from_status=from_status, to_status=to_status,
                               amount=changes.get("amount_captured"), actor=actor)]
        events += [PaymentEvent(payment=payment, type=t, from_status=from_status, to_status=to_status, actor=actor)
                   for t in extra_events]
        PaymentEvent.objects.bulk_create(events)
        _publish_payment(payment, *_payment_event_types(from_status, to_status))
        if capturing:
            # The capture is booked in the same transaction, last: it locks the merchant's pending balance,
            # a row every capture of this merchant needs, so it is held only from here to the commit.
            bookkeeping.book_capture(payment)
    return payment


def _get_payment(*, merchant_id: str, livemode: bool, payment_id: str) -> Payment:
    payment = Payment.objects.filter(pk=payment_id, merchant_id=merchant_id, livemode=livemode).first()
    if payment is None:
        raise NotFound("No such payment.", param="id")
    return payment


def payment_capture(*, merchant_id: str, livemode: bool, payment_id: str, amount: int | None = None,
                    actor: str = "") -> Payment:
    """Capture an authorized payment, fully or partly; a partial capture releases the rest."""
    payment = _get_payment(merchant_id=merchant_id, livemode=livemode, payment_id=payment_id)
    if payment.status != PaymentStatus.REQUIRES_CAPTURE:
        raise StateError(f"This payment is {payment.status}; only a payment that requires capture can be captured.",
                         code="payment_unexpected_state")
    amount = payment.amount_capturable if amount is None else _check_amount(amount, maximum=payment.amount_capturable)
    result = processor_named(payment.processor).capture(
        processor_reference=payment.processor_reference, amount=amount, reference=f"{payment.id}:capture"
    )
    if not result.ok:
        raise StateError("The processor refused the capture.", code=result.failure_code or "capture_failed")
    return _payment_transition(
        payment_id=payment.id,
        to_status=PaymentStatus.SUCCEEDED,
        event_type=EventType.PAYMENT_CAPTURED,
        changes={"amount_captured": amount, "amount_capturable": 0},
        expected_from=PaymentStatus.REQUIRES_CAPTURE,
        actor=actor,
    )


def payment_cancel(*, merchant_id: str, livemode: bool, payment_id: str, actor: str = "") -> Payment:
    """Cancel an authorized, uncaptured payment and release the hold."""
    payment = _get_payment(merchant_id=merchant_id, livemode=livemode, payment_id=payment_id)
    if payment.status != PaymentStatus.REQUIRES_CAPTURE:
        raise StateError(f"This payment is {payment.status}; only a payment that requires capture can be canceled.",
                         code="payment_unexpected_state")
    result = processor_named(payment.processor).void(
        processor_reference=payment.processor_reference, reference=f"{payment.id}:void"
    )
    if not result.ok:
        raise StateError("The processor refused the cancellation.", code=result.failure_code or "cancel_failed")
    return _payment_transition(
        payment_id=payment.id,
        to_status=PaymentStatus.CANCELED,
        event_type=EventType.PAYMENT_CANCELED,
        changes={"amount_capturable": 0},
        expected_from=PaymentStatus.REQUIRES_CAPTURE,
        actor=actor,
    )


# --- Refunds -------------------------------------------------------------------------------------


def refund_create(*, merchant_id: str, livemode: bool, payment_id: str, amount: int | None = None,
                  reason: str = "", actor: str = "", api_client_id: int | None = None,
                  idempotency_key: str = "") -> Refund:
    """Refund a captured payment, fully or partly.

    The amount is reserved under the payment's row lock (pending refunds count), so concurrent
    refunds can never exceed what was captured. The processor is called after that commit. With
    an idempotency key, a second call for the same API client and key returns the first refund
    (finishing it if the first call died before recording the processor's answer).
    """
    if idempotency_key and api_client_id is not None:
        existing = Refund.objects.filter(api_client_id=api_client_id, idempotency_key=idempotency_key).first()
        if existing is not None and not _release_if_expired(Refund, existing):
            return refund_resume(refund_id=existing.pk)
    if reason and reason not in RefundReason.values:
        raise ValidationError(f"reason must be one of {', '.join(RefundReason.values)}.", param="reason",
                              code="parameter_invalid")
    if amount is not None:
        _check_amount(amount)
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(pk=payment_id, merchant_id=merchant_id, livemode=livemode)
            .first()
        )
        if payment is None:
            raise NotFound("No such payment.", param="payment")
        if payment.status != PaymentStatus.SUCCEEDED:
            raise StateError(f"This payment is {payment.status}; only a succeeded payment can be refunded.",
                             code="payment_unexpected_state", param="payment")
        remaining = selectors.refundable_amount(payment)  # pending refunds count: read under the row lock
        if remaining <= 0:
            raise StateError("This payment has already been fully refunded.", code="charge_already_refunded",
                             param="payment")
        amount = remaining if amount is None else amount
        if amount > remaining:
            raise ValidationError(f"The refund amount exceeds what can still be refunded ({remaining}).",
                                  param="amount", code="amount_too_large")
        refund = Refund.objects.create(payment=payment, merchant_id=merchant_id, livemode=livemode, amount=amount,
                                       currency=payment.currency, reason=reason, api_client_id=api_client_id,
                                       idempotency_key=idempotency_key)
        PaymentEvent.objects.create(payment=payment, type=EventType.REFUND_CREATED, refund=refund, amount=amount,
                                    actor=actor)
        _publish_refund(refund, "refund.created")
        bookkeeping.book_refund(payment, refund)  # draws on the merchant's balance, or refuses (ledger)
    return _refund_call_processor(refund, payment, actor=actor)


def _refund_call_processor(refund: Refund, payment: Payment, *, actor: str = "") -> Refund:
    result = processor_named(payment.processor).refund(
        processor_reference=payment.processor_reference, amount=refund.amount, reference=refund.id
    )
    return _refund_transition(
        refund_id=refund.id,
        to_status=RefundStatus.SUCCEEDED if result.ok else RefundStatus.FAILED,
        processor_reference=result.reference,
        failure_code=result.failure_code,
        actor=actor,
    )


def refund_resume(*, refund_id: str) -> Refund:
    """Finish a refund left `pending` by a request that died after reserving its amount.

    The processor is asked again with the refund id as reference (idempotent there), so the
    money is returned at most once. A refund that is no longer pending is returned as it is.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING:
        return refund
    try:
        return _refund_call_processor(refund, refund.payment, actor="system:resume")
    except StateError:  # another worker recorded the answer first
        return Refund.objects.get(pk=refund_id)


def resume_stuck_operations(*, older_than) -> dict[str, int]:
    """Finish payments left `processing` and refunds left `pending` before `older_than`.

    Run periodically (Celery beat): a request that died mid-way leaves its intent recorded;
    this asks the processor again with the same reference and records the answer.
    """
    payments = list(Payment.objects.filter(status=PaymentStatus.PROCESSING, updated__lt=older_than)
                    .values_list("pk", flat=True)[:500])
    refunds = list(Refund.objects.filter(status=RefundStatus.PENDING, updated__lt=older_than)
                   .values_list("pk", flat=True)[:500])
    for payment_id in payments:
        payment_resume(payment_id=payment_id)
    for refund_id in refunds:
        refund_resume(refund_id=refund_id)
    return {"payments": len(payments), "refunds": len(refunds)}


def _refund_transition(*, refund_id: str, to_status: str, processor_reference: str = "", failure_code: str = "",
                       actor: str = "") -> Refund:
    """The one place a refund's status changes. A success moves the payment's amount_refunded."""
    with transaction.atomic():
        # Lock order everywhere: the payment, then its refund.
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if to_status not in REFUND_TRANSITIONS.get(refund.status, set()):
            raise StateError(f"This refund is {refund.status}; it cannot become {to_status}.",
                             code="refund_unexpected_state")
        refund.status = to_status
        refund.processor_reference = processor_reference
        refund.failure_code = failure_code
        booked = bookkeeping.book_refund_success(refund) if to_status == RefundStatus.SUCCEEDED else []
        refund.save(update_fields=["status", "processor_reference", "failure_code", "updated", *booked])
        if to_status == RefundStatus.SUCCEEDED:
            payment.amount_refunded += refund.amount
            payment.save(update_fields=["amount_refunded", "updated"])
        if to_status == RefundStatus.FAILED:
            bookkeeping.book_refund_failure(refund)  # reverses the reservation (ledger)
        event = EventType.REFUND_SUCCEEDED if to_status == RefundStatus.SUCCEEDED else EventType.REFUND_FAILED
        PaymentEvent.objects.create(payment=payment, type=event, refund=refund, amount=refund.amount, actor=actor)
        _publish_refund(refund, event)
    return refund
