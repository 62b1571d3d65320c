"""The processor interface, the test-mode simulator and the live-mode on-us processor.

A processor is called with no database transaction or row lock open. Every call carries an
idempotency reference, so a retried call is harmless at the processor. The CVC is passed in memory
only (`cvc`, None when not given): never stored, logged, queued or cached.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from cards import authorization as onus
from cards.vault import CardNumber
from core.errors import ApplicationError


@dataclass(frozen=True)
class AuthorizationResult:
    approved: bool
    reference: str
    decline_code: str = ""


@dataclass(frozen=True)
class OperationResult:
    ok: bool
    reference: str = ""
    failure_code: str = ""


class Processor(Protocol):
    name: str

    def authorize(self, *, number: CardNumber, cvc: str | None, exp_month: int, exp_year: int, amount: int,
                  currency: str, capture: bool, reference: str, merchant_id: str,
                  merchant_country: str) -> AuthorizationResult: ...

    def capture(self, *, processor_reference: str, amount: int, reference: str) -> OperationResult: ...

    def void(self, *, processor_reference: str, reference: str) -> OperationResult: ...

    def refund(self, *, processor_reference: str, amount: int, reference: str) -> OperationResult: ...


class TestSimulator:
    """Test mode: the well-known test card numbers decide the outcome; any other valid card succeeds."""

    name = "simulator"

    DECLINING_CARDS = {
        "4000000000000002": "card_declined",
        "4000000000009995": "insufficient_funds",
        "4000000000009987": "lost_card",
        "4000000000009979": "stolen_card",
        "4000000000000069": "expired_card",
        "4000000000000127": "incorrect_cvc",
        "4000000000000119": "processing_error",
    }

    def authorize(self, *, number, cvc, exp_month, exp_year, amount, currency, capture, reference, merchant_id,
                  merchant_country):
        decline = self.DECLINING_CARDS.get(number.reveal(), "")
        return AuthorizationResult(approved=not decline, reference=f"sim_{secrets.token_hex(8)}",
                                   decline_code=decline)

    def capture(self, *, processor_reference, amount, reference):
        return OperationResult(ok=True, reference=processor_reference)

    def void(self, *, processor_reference, reference):
        return OperationResult(ok=True, reference=processor_reference)

    def refund(self, *, processor_reference, amount, reference):
        return OperationResult(ok=True, reference=f"simre_{secrets.token_hex(8)}")


class OnUsProcessor:
    """Live mode: cards issued by this bank authorize against the cardholder's account, in-process
    (cards/authorization.py: a hold in the ledger, captured, released or refunded). No card network is
    connected, so a card of another issuer is declined `card_not_supported`. The processor reference
    is the issuing authorization's id (`iauth_...`)."""

    name = "onus"

    def authorize(self, *, number, cvc, exp_month, exp_year, amount, currency, capture, reference, merchant_id,
                  merchant_country):
        answer = onus.authorization_request(livemode=True, number=number, cvc=cvc, exp_month=exp_month,
                                            exp_year=exp_year, amount=amount, currency=currency, capture=capture,
                                            reference=reference, merchant_id=merchant_id,
                                            merchant_country=merchant_country)
        return AuthorizationResult(approved=answer.approved, reference=answer.authorization_id,
                                   decline_code=answer.decline_code)

    def capture(self, *, processor_reference, amount, reference):
        answer = onus.authorization_capture(authorization_id=processor_reference, amount=amount, reference=reference)
        return OperationResult(ok=answer.ok, reference=processor_reference, failure_code=answer.failure_code)

    def void(self, *, processor_reference, reference):
        answer = onus.authorization_reverse(authorization_id=processor_reference, reference=reference)
        return OperationResult(ok=answer.ok, reference=processor_reference, failure_code=answer.failure_code)

    def refund(self, *, processor_reference, amount, reference):
        answer = onus.authorization_refund(authorization_id=processor_reference, amount=amount, reference=reference)
        return OperationResult(ok=answer.ok, reference=processor_reference if answer.ok else "",
                               failure_code=answer.failure_code)


_SIMULATOR = TestSimulator()
_ONUS = OnUsProcessor()
_PROCESSORS = {p.name: p for p in (_SIMULATOR, _ONUS)}


def processor_for(*, livemode: bool) -> Processor:
    return _ONUS if livemode else _SIMULATOR


def processor_named(name: str) -> Processor:
    try:
        return _PROCESSORS[name]
    except KeyError:
        raise ApplicationError(f"Processor {name} is not available.", code="processor_unavailable", status=503,
                               type="api_error") from None
