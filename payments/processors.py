"""The processor interface, and the test-mode simulator.

A processor is called with no database transaction or row lock open. Every call carries an
idempotency reference, so a retried call is harmless at the processor.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

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

    def authorize(self, *, number: CardNumber, cvc_given: bool, amount: int, currency: str, capture: bool,
                  reference: str) -> AuthorizationResult: ...

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

    def authorize(self, *, number, cvc_given, amount, currency, capture, reference):
        decline = self.DECLINING_CARDS.get(number.reveal(), "")
        return AuthorizationResult(approved=not decline, reference=f"sim_{secrets.token_hex(8)}",
                                   decline_code=decline)

    def capture(self, *, processor_reference, amount, reference):
        return OperationResult(ok=True, reference=processor_reference)

    def void(self, *, processor_reference, reference):
        return OperationResult(ok=True, reference=processor_reference)

    def refund(self, *, processor_reference, amount, reference):
        return OperationResult(ok=True, reference=f"simre_{secrets.token_hex(8)}")


_SIMULATOR = TestSimulator()


def processor_for(*, livemode: bool) -> Processor:
    if not livemode:
        return _SIMULATOR
    raise ApplicationError(
        "Live-mode payments are not available yet: no live processor is connected. Use a test-mode client.",
        code="livemode_unavailable",
        status=400,
    )


def processor_named(name: str) -> Processor:
    if name == _SIMULATOR.name:
        return _SIMULATOR
    raise ApplicationError(f"Processor {name} is not available.", code="processor_unavailable", status=503,
                           type="api_error")
