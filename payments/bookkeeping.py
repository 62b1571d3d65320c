"""The ledger entries of payments and refunds, posted inside the state change's transaction.

Called from payments/services.py only (a few lines there), always under the payment's row lock:

- capture (`_payment_transition` to succeeded, full or partial): DR scheme_receivable gross,
  CR merchant_pending net, CR fee_revenue fee. Only the captured amount is booked. The payment
  takes its number in the merchant's settlement sequence (payments/settlement.py) first.
- refund reserved (`refund_create`): DR the merchant's pending balance while the payment is not
  settled, its available balance once settled (refused with `balance_insufficient` if available
  cannot cover it, before the processor is called); CR scheme_receivable. Fees are not returned.
- refund succeeded (`_refund_transition`): one drawn on pending takes its number in the settlement
  sequence (the next settlement deducts it); one drawn on available was settled when it was made.
- refund failed (`_refund_transition`): the reversal of the reservation entry.
"""

from __future__ import annotations

from ledger import services as ledger
from ledger.constants import AccountPurpose, EntryType
from ledger.services import Line
from merchants.fees import fee_for

from . import settlement

PENDING, AVAILABLE = "pending", "available"


def capture_fields(payment) -> list[str]:
    """Set the capture's fee, time and settlement number on the payment (saved by the caller's transition
    UPDATE). The capture time is the booking time of its settlement number."""
    payment.fee = fee_for(merchant_id=payment.merchant_id, currency=payment.currency, gross=payment.amount_captured)
    payment.settlement_sequence_id, payment.settlement_seq, payment.captured_at = settlement.sequence_book(
        merchant_id=payment.merchant_id, currency=payment.currency, livemode=payment.livemode)
    return ["fee", "captured_at", "settlement_sequence", "settlement_seq"]


def book_capture(payment) -> None:
    """The capture entry, exactly once per payment (key `capture:<id>`); fee set by `capture_fields`."""
    gross, fee = payment.amount_captured, payment.fee
    if gross <= 0:
        return
    ledger.entry_post(
        key=f"capture:{payment.id}", type=EntryType.PAYMENT, currency=payment.currency, livemode=payment.livemode,
        merchant_id=payment.merchant_id, source=payment.id, amount=gross, fee=fee,
        lines=[
            Line(AccountPurpose.SCHEME_RECEIVABLE, gross),
            Line(AccountPurpose.MERCHANT_PENDING, -(gross - fee), payment.merchant_id),
            Line(AccountPurpose.FEE_REVENUE, -fee),
        ],
    )


def _payment_is_settled(payment) -> bool:
    """Under the sequence's lock: a settlement run settling this payment right now is waited for."""
    settled = settlement.sequence_settled(sequence_id=payment.settlement_sequence_id)
    return payment.settlement_seq is not None and payment.settlement_seq <= settled


def book_refund(payment, refund) -> None:
    """Draw the refund from the merchant's balance (pending if unsettled, else available)."""
    funded_from = AVAILABLE if _payment_is_settled(payment) else PENDING
    purpose = AccountPurpose.MERCHANT_AVAILABLE if funded_from == AVAILABLE else AccountPurpose.MERCHANT_PENDING
    ledger.entry_post(
        key=f"refund:{refund.id}", type=EntryType.REFUND, currency=refund.currency, livemode=refund.livemode,
        merchant_id=refund.merchant_id, source=refund.id, amount=-refund.amount, fee=0,
        lines=[Line(purpose, refund.amount, refund.merchant_id),
               Line(AccountPurpose.SCHEME_RECEIVABLE, -refund.amount)],
    )
    refund.funded_from = funded_from
    refund.save(update_fields=["funded_from"])


def book_refund_success(refund) -> list[str]:
    """A refund drawn on pending takes its settlement number (saved by the caller). Returns the fields set."""
    if refund.funded_from != PENDING:
        return []
    refund.settlement_sequence_id, refund.settlement_seq, refund.booked_at = settlement.sequence_book(
        merchant_id=refund.merchant_id, currency=refund.currency, livemode=refund.livemode)
    return ["settlement_sequence", "settlement_seq", "booked_at"]


def book_refund_failure(refund) -> None:
    """The processor refused the refund: the reservation is reversed (money back where it came from)."""
    entry = ledger.entry_get(key=f"refund:{refund.id}")
    if entry is not None:
        ledger.entry_reverse(entry=entry, key=f"refund_failure:{refund.id}", type=EntryType.REFUND_FAILURE)
