"""Every write to payments and refunds.

Processor calls happen with no transaction open: record the intent, commit, call out, record
the result. Status changes go through `_payment_transition` / `_refund_transition` only.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum

from cards import selectors as card_selectors
from cards import services as card_services
from cards.vault import check_card
from core.errors import NotFound, StateError, ValidationError
from core.money import MAX_PAYMENT_AMOUNT, CurrencyError, normalize_currency

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
from .processors import processor_for, processor_named


def _check_amount(amount, *, param="amount", maximum=MAX_PAYMENT_AMOUNT) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError("Amount must be an integer in the currency's minor unit.", param=param,
                              code="parameter_invalid")
    if amount <= 0:
        raise ValidationError("Amount must be greater than zero.", param=param, code="amount_too_small")
    if amount > maximum:
        raise ValidationError(f"Amount must be at most {maximum}.", param=param, code="amount_too_large")
    return amount


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
) -> Payment:
    """Authorize (and by default capture) a card payment.

    Returns the payment whatever the card's answer: a declined payment is stored as `failed`
    with its failure code, and the caller decides how to present it.
    """
    amount = _check_amount(amount)
    try:
        currency = normalize_currency(currency)
    except CurrencyError as exc:
        raise ValidationError(str(exc), param="currency", code="invalid_currency")
    if (card is None) == (card_token is None):
        raise ValidationError("Give either card or card_token.", param="card", code="parameter_missing")
    processor = processor_for(livemode=livemode)

    if card is not None:
        checked = check_card(**card)
        number = checked.number
        stored = card_services.card_vault(merchant_id=merchant_id, livemode=livemode, card=checked, reusable=False)
        cvc_given = card.get("cvc") is not None
    else:
        stored = card_selectors.card_get_usable(merchant_id=merchant_id, livemode=livemode, card_id=card_token)
        if stored is None:
            raise ValidationError("No such card token.", param="card_token", code="resource_missing")
        number = card_services.card_number(stored)
        cvc_given = False

    payment = Payment(merchant_id=merchant_id, livemode=livemode, api_client_id=api_client_id, amount=amount,
                      currency=currency, capture=capture, card=stored, description=description,
                      metadata=metadata or {}, customer_email=customer_email, customer_ip=customer_ip or None,
                      processor=processor.name)
    result = processor.authorize(number=number, cvc_given=cvc_given, amount=amount, currency=currency,
                                 capture=capture, reference=payment.id)
    del number

    payment.processor_reference = result.reference
    events = [(EventType.PAYMENT_CREATED, "", None)]
    if not result.approved:
        payment.status = PaymentStatus.FAILED
        payment.failure_code = result.decline_code
        payment.failure_message = DECLINES.get(result.decline_code, DECLINES["card_declined"])[1]
        events.append((EventType.PAYMENT_FAILED, PaymentStatus.FAILED, None))
    elif capture:
        payment.status = PaymentStatus.SUCCEEDED
        payment.amount_captured = amount
        events.append((EventType.PAYMENT_CAPTURED, PaymentStatus.SUCCEEDED, amount))
        events.append((EventType.PAYMENT_SUCCEEDED, PaymentStatus.SUCCEEDED, None))
    else:
        payment.status = PaymentStatus.REQUIRES_CAPTURE
        payment.amount_capturable = amount
    events[0] = (EventType.PAYMENT_CREATED, payment.status, amount)

    with transaction.atomic():
        payment.save(force_insert=True)
        PaymentEvent.objects.bulk_create(
            [PaymentEvent(payment=payment, type=t, from_status="", to_status=s, amount=a) for t, s, a in events]
        )
    return payment


def _payment_transition(*, payment_id: str, to_status: str, event_type: str, changes: dict, expected_from: str,
                        actor: str = "") -> Payment:
    """The one place a payment's status changes: lock, check the table, write, record the event."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("card").get(pk=payment_id)
        if payment.status != expected_from or to_status not in PAYMENT_TRANSITIONS.get(payment.status, set()):
            raise StateError(
                f"This payment is {payment.status}; it cannot become {to_status}.",
                code="payment_unexpected_state",
            )
        from_status = payment.status
        payment.status = to_status
        for field, value in changes.items():
            setattr(payment, field, value)
        payment.save(update_fields=["status", "updated", *changes])
        PaymentEvent.objects.create(payment=payment, type=event_type, from_status=from_status, to_status=to_status,
                                    amount=changes.get("amount_captured"), actor=actor)
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
                  reason: str = "", actor: str = "") -> Refund:
    """Refund a captured payment, fully or partly.

    The amount is reserved under the payment's row lock (pending refunds count), so concurrent
    refunds can never exceed what was captured. The processor is called after that commit.
    """
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
        pending = payment.refunds.filter(status=RefundStatus.PENDING).aggregate(s=Sum("amount"))["s"] or 0
        remaining = payment.amount_captured - payment.amount_refunded - pending
        if remaining <= 0:
            raise StateError("This payment has already been fully refunded.", code="charge_already_refunded",
                             param="payment")
        amount = remaining if amount is None else amount
        if amount > remaining:
            raise ValidationError(f"The refund amount exceeds what can still be refunded ({remaining}).",
                                  param="amount", code="amount_too_large")
        refund = Refund.objects.create(payment=payment, merchant_id=merchant_id, livemode=livemode, amount=amount,
                                       currency=payment.currency, reason=reason)
        PaymentEvent.objects.create(payment=payment, type=EventType.REFUND_CREATED, refund=refund, amount=amount,
                                    actor=actor)
    result = processor_named(payment.processor).refund(
        processor_reference=payment.processor_reference, amount=amount, reference=refund.id
    )
    return _refund_transition(
        refund_id=refund.id,
        to_status=RefundStatus.SUCCEEDED if result.ok else RefundStatus.FAILED,
        processor_reference=result.reference,
        failure_code=result.failure_code,
        actor=actor,
    )


def _refund_transition(*, refund_id: str, to_status: str, processor_reference: str = "", failure_code: str = "",
                       actor: str = "") -> Refund:
    """The one place a refund's status changes. A success moves the payment's amount_refunded."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        if to_status not in REFUND_TRANSITIONS.get(refund.status, set()):
            raise StateError(f"This refund is {refund.status}; it cannot become {to_status}.",
                             code="refund_unexpected_state")
        refund.status = to_status
        refund.processor_reference = processor_reference
        refund.failure_code = failure_code
        refund.save(update_fields=["status", "processor_reference", "failure_code", "updated"])
        if to_status == RefundStatus.SUCCEEDED:
            payment.amount_refunded += refund.amount
            payment.save(update_fields=["amount_refunded", "updated"])
        event = EventType.REFUND_SUCCEEDED if to_status == RefundStatus.SUCCEEDED else EventType.REFUND_FAILED
        PaymentEvent.objects.create(payment=payment, type=event, refund=refund, amount=refund.amount, actor=actor)
    return refund
