"""On-us authorization (#4): a live payment made with a card of this bank, answered against the card.

The live-mode processor (payments/processors.py `OnUsProcessor`) calls these services in-process,
with no transaction of the payment open. Each runs its own short transaction:

- `authorization_request`: find the card by the number's keyed fingerprint; lock the card (its
  spending limits) and its account (its money), in that order; check status, expiry, CVC, spending
  controls and funds; record the authorization (approved or declined) and, if approved, its ledger
  entry: a hold (DR card_available, CR card_held) or, when the payment captures at once, the debit
  (DR card_available, CR bank_cash). Answered once per `reference` (the payment id): a retry gets
  the first answer.
- `authorization_capture`: the hold becomes a posted debit (DR card_held all, CR bank_cash the
  captured amount, CR card_available the rest: a partial capture releases the rest).
- `authorization_reverse`: the hold is released (DR card_held, CR card_available).
- `authorizations_expire_due`: holds older than ISSUING_HOLD_DAYS are released (beat task).
- `authorization_refund`: a refund of a captured payment goes back to the card (DR bank_cash,
  CR card_available), never more than captured.

Only `_authorization_transition` changes an authorization's status. Captures, reversals and refunds
are applied once per acquiring-side reference (retries are harmless). The CVC is compared in memory
and dropped: it is never stored, logged or queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Sum, When
from django.utils import timezone

from core.errors import StateError
from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.constants import AccountPurpose, EntryType
from ledger.services import Line

from . import issuing_events as events
from .constants import (
    AUTHORIZATION_TRANSITIONS,
    AuthorizationEventType,
    AuthorizationStatus,
    BlockReason,
    CardStatus,
    Decline,
)
from .issuing import cvc_matches
from .issuing_models import CardAccount, IssuedCard, IssuingAuthorization, IssuingAuthorizationEvent
from .vault import CardNumber, fingerprint


@dataclass(frozen=True)
class AuthorizationAnswer:
    approved: bool
    authorization_id: str = ""
    decline_code: str = ""


@dataclass(frozen=True)
class OperationAnswer:
    ok: bool
    failure_code: str = ""


def _answer(auth: IssuingAuthorization) -> AuthorizationAnswer:
    return AuthorizationAnswer(approved=auth.approved, authorization_id=auth.id, decline_code=auth.decline_code)


# --- Checks ------------------------------------------------------------------------------------------------

_STATUS_DECLINES = {
    CardStatus.INACTIVE: (Decline.CARD_INACTIVE, "the card is not activated"),
    CardStatus.FROZEN: (Decline.CARD_FROZEN, "the card is frozen"),
    CardStatus.EXPIRED: (Decline.EXPIRED_CARD, "the card has expired"),
    CardStatus.CLOSED: (Decline.CARD_DECLINED, "the card is closed"),
}
_BLOCK_DECLINES = {BlockReason.LOST: Decline.LOST_CARD, BlockReason.STOLEN: Decline.STOLEN_CARD}


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _spent_since(card_id: str, since: datetime) -> int:
    """What the card's approved authorizations since `since` count against its limits: the held amount
    while pending, the captured amount once closed (a released or expired hold counts nothing)."""
    counted = Case(When(status=AuthorizationStatus.PENDING, then=F("amount")), default=F("amount_captured"))
    return IssuingAuthorization.objects.filter(card_id=card_id, approved=True, created__gte=since).aggregate(
        s=Sum(counted))["s"] or 0


def _card_data_failures(card_id: str, now: datetime) -> int:
    """Authorizations of the card declined for a wrong CVC or expiry date within the guessing window
    (the card's row is locked, so concurrent guesses are counted one after the other)."""
    since = now - timedelta(hours=settings.ISSUING_CARD_DATA_FAILURE_HOURS)
    return IssuingAuthorization.objects.filter(
        card_id=card_id, created__gte=since, decline_code__in=(Decline.INCORRECT_CVC, Decline.INVALID_EXPIRY)).count()


def _decline_reason(*, card: IssuedCard, account: CardAccount, cvc: str | None, exp_month: int, exp_year: int,
                    amount: int, currency: str, merchant_country: str, now: datetime,
                    number: CardNumber) -> tuple[str, str]:
    """(decline code, detail) of the first rule the request breaks, or ("", ""). The card data is checked
    first, so only someone who holds the card's expiry and CVC learns its status or balance."""
    vault = card.vault_card
    if _card_data_failures(card.id, now) >= settings.ISSUING_CARD_DATA_FAILURE_LIMIT:
        return (Decline.CARD_DATA_ATTEMPTS_EXCEEDED,
                f"{settings.ISSUING_CARD_DATA_FAILURE_LIMIT} wrong CVCs or expiry dates within "
                f"{settings.ISSUING_CARD_DATA_FAILURE_HOURS} hours")
    if (exp_month, exp_year) != (vault.exp_month, vault.exp_year):
        return Decline.INVALID_EXPIRY, "the expiry date given is not the card's"
    if cvc is not None and not cvc_matches(number, cvc, exp_month=vault.exp_month, exp_year=vault.exp_year,
                                           brand=vault.brand):
        return Decline.INCORRECT_CVC, "the CVC does not match"
    if card.status == CardStatus.BLOCKED:
        code = _BLOCK_DECLINES.get(card.block_reason, Decline.CARD_DECLINED)
        return code, f"the card is blocked ({card.block_reason})"
    if card.status in _STATUS_DECLINES:
        return _STATUS_DECLINES[card.status]
    if (vault.exp_year, vault.exp_month) < (now.year, now.month):
        return Decline.EXPIRED_CARD, "the card is past its expiry date"
    if currency != account.currency:
        return Decline.CURRENCY_NOT_ALLOWED, f"the card's account is in {account.currency}, not {currency}"
    if card.allowed_currencies and currency not in card.allowed_currencies:
        return Decline.CURRENCY_NOT_ALLOWED, f"{currency} is not among the card's allowed currencies"
    if card.allowed_countries and merchant_country not in card.allowed_countries:
        return Decline.COUNTRY_NOT_ALLOWED, f"merchant country {merchant_country or 'unknown'} is not allowed"
    if card.limit_per_transaction is not None and amount > card.limit_per_transaction:
        return Decline.SPENDING_LIMIT_EXCEEDED, f"per-transaction limit {card.limit_per_transaction}"
    if card.limit_daily is not None:
        spent = _spent_since(card.id, now.replace(hour=0, minute=0, second=0, microsecond=0))
        if spent + amount > card.limit_daily:
            return Decline.SPENDING_LIMIT_EXCEEDED, f"daily limit {card.limit_daily}, {spent} spent today"
    if card.limit_monthly is not None:
        spent = _spent_since(card.id, _month_start(now))
        if spent + amount > card.limit_monthly:
            return Decline.SPENDING_LIMIT_EXCEEDED, f"monthly limit {card.limit_monthly}, {spent} spent this month"
    available = ledger_selectors.account_balance(purpose=AccountPurpose.CARD_AVAILABLE, currency=account.currency,
                                                 livemode=account.livemode, holder=account.id)
    if available < amount:
        return Decline.INSUFFICIENT_FUNDS, f"{available} available"
    return "", ""


# --- Authorizing ------------------------------------------------------------------------------------------------


def authorization_request(*, livemode: bool, number: CardNumber, cvc: str | None, exp_month: int, exp_year: int,
                          amount: int, currency: str, capture: bool, reference: str, merchant_id: str,
                          merchant_country: str = "") -> AuthorizationAnswer:
    """Answer an authorization request for a card of this bank. `cvc` None: not given (a stored card).

    A request with a reference already answered (a retry) gets that answer: the unique reference
    refuses the second record, and the first one is read back."""
    now = timezone.now()
    try:
        with transaction.atomic():
            # The card and its account, locked in one statement (card first, as everywhere).
            card = (IssuedCard.objects.select_for_update(of=("self", "account"))
                    .select_related("vault_card", "account")
                    .filter(fingerprint=fingerprint(number), livemode=livemode).first())
            if card is None:
                return AuthorizationAnswer(approved=False, decline_code=Decline.CARD_NOT_SUPPORTED)
            account = card.account
            code, detail = _decline_reason(card=card, account=account, cvc=cvc, exp_month=exp_month,
                                           exp_year=exp_year, amount=amount, currency=currency,
                                           merchant_country=merchant_country, now=now, number=number)
            if code:
                status = AuthorizationStatus.DECLINED
            else:
                status = AuthorizationStatus.CLOSED if capture else AuthorizationStatus.PENDING
            auth = IssuingAuthorization.objects.create(
                card=card, account=account, livemode=livemode, reference=reference, acquiring_merchant_id=merchant_id,
                merchant_country=merchant_country, amount=amount, currency=currency, approved=not code,
                decline_code=code, decline_detail=detail[:200], status=status,
                amount_captured=amount if status == AuthorizationStatus.CLOSED else 0,
                expires_at=now + timedelta(days=settings.ISSUING_HOLD_DAYS)
                if status == AuthorizationStatus.PENDING else None)
            IssuingAuthorizationEvent.objects.create(authorization=auth, type=AuthorizationEventType.CREATED,
                                                     to_status=status, amount=amount, reference=reference)
            if status == AuthorizationStatus.PENDING:
                _post(auth, "issuing_hold", EntryType.ISSUING_HOLD,
                      [Line(AccountPurpose.CARD_AVAILABLE, amount, holder=account.id),
                       Line(AccountPurpose.CARD_HELD, -amount, holder=account.id)])
            elif status == AuthorizationStatus.CLOSED:
                _post(auth, "issuing_capture", EntryType.ISSUING_CAPTURE,
                      [Line(AccountPurpose.CARD_AVAILABLE, amount, holder=account.id),
                       Line(AccountPurpose.BANK_CASH, -amount)])
            events.publish_authorization(auth, events.AUTHORIZATION_CREATED, merchant_id=card.merchant_id)
    except IntegrityError:  # the same reference answered concurrently: that answer stands
        existing = IssuingAuthorization.objects.filter(reference=reference).first()
        if existing is None:
            raise
        return _answer(existing)
    return _answer(auth)


def _post(auth: IssuingAuthorization, key: str, entry_type: str, lines: list[Line], suffix: str = "") -> None:
    ledger.entry_post(key=f"{key}:{auth.id}{suffix}", type=entry_type, currency=auth.currency,
                      livemode=auth.livemode, source=auth.id, lines=lines)


def _authorization_transition(*, authorization_id: str, to_status: str, event_type: str, changes: dict,
                              amount: int | None = None, reference: str = "", actor: str = "") -> IssuingAuthorization:
    """The one place an authorization's status changes: lock, check the table, write, record the event."""
    with transaction.atomic():
        auth = IssuingAuthorization.objects.select_for_update().get(pk=authorization_id)
        if to_status not in AUTHORIZATION_TRANSITIONS.get(auth.status, set()):
            raise StateError(f"This authorization is {auth.status}; it cannot become {to_status}.",
                             code=f"authorization_{auth.status}")
        from_status = auth.status
        auth.status = to_status
        for field, value in changes.items():
            setattr(auth, field, value)
        auth.save(update_fields=["status", "updated", *changes])
        IssuingAuthorizationEvent.objects.create(authorization=auth, type=event_type, from_status=from_status,
                                                 to_status=to_status, amount=amount, reference=reference,
                                                 actor=actor)
        events.publish_authorization(auth, events.AUTHORIZATION_UPDATED)
    return auth


def _applied(authorization_id: str, reference: str) -> bool:
    return bool(reference) and IssuingAuthorizationEvent.objects.filter(
        authorization_id=authorization_id, reference=reference).exists()


def authorization_capture(*, authorization_id: str, amount: int, reference: str, actor: str = "") -> OperationAnswer:
    """Capture `amount` (up to the authorized amount) of a pending authorization; the rest is released."""
    auth = IssuingAuthorization.objects.filter(pk=authorization_id).first()
    if auth is None:
        return OperationAnswer(ok=False, failure_code="authorization_missing")
    if _applied(auth.id, reference):
        return OperationAnswer(ok=True)
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= auth.amount:
        return OperationAnswer(ok=False, failure_code="amount_too_large")
    try:
        with transaction.atomic():
            auth = _authorization_transition(
                authorization_id=auth.id, to_status=AuthorizationStatus.CLOSED,
                event_type=AuthorizationEventType.CAPTURED, changes={"amount_captured": amount, "expires_at": None},
                amount=amount, reference=reference, actor=actor)
            holder = auth.account_id
            _post(auth, "issuing_capture", EntryType.ISSUING_CAPTURE,
                  [Line(AccountPurpose.CARD_HELD, auth.amount, holder=holder),
                   Line(AccountPurpose.BANK_CASH, -amount),
                   Line(AccountPurpose.CARD_AVAILABLE, -(auth.amount - amount), holder=holder)])
    except StateError as exc:
        if _applied(auth.id, reference):  # captured by a concurrent retry with the same reference
            return OperationAnswer(ok=True)
        return OperationAnswer(ok=False, failure_code=exc.code)
    return OperationAnswer(ok=True)


def _release(*, authorization_id: str, to_status: str, event_type: str, reference: str = "",
             actor: str = "") -> IssuingAuthorization:
    with transaction.atomic():
        auth = _authorization_transition(authorization_id=authorization_id, to_status=to_status,
                                         event_type=event_type, changes={"expires_at": None}, reference=reference,
                                         actor=actor)
        _post(auth, "issuing_release", EntryType.ISSUING_RELEASE,
              [Line(AccountPurpose.CARD_HELD, auth.amount, holder=auth.account_id),
               Line(AccountPurpose.CARD_AVAILABLE, -auth.amount, holder=auth.account_id)])
    return auth


def authorization_reverse(*, authorization_id: str, reference: str = "", actor: str = "") -> OperationAnswer:
    """The merchant canceled: release the hold. An already released (reversed, expired) hold is fine."""
    auth = IssuingAuthorization.objects.filter(pk=authorization_id).first()
    if auth is None:
        return OperationAnswer(ok=False, failure_code="authorization_missing")
    try:
        _release(authorization_id=auth.id, to_status=AuthorizationStatus.REVERSED,
                 event_type=AuthorizationEventType.REVERSED, reference=reference, actor=actor)
    except StateError as exc:
        current = IssuingAuthorization.objects.values_list("status", flat=True).get(pk=auth.id)
        if current in (AuthorizationStatus.REVERSED, AuthorizationStatus.EXPIRED):
            return OperationAnswer(ok=True)
        return OperationAnswer(ok=False, failure_code=exc.code)
    return OperationAnswer(ok=True)


def authorizations_expire_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Release every pending hold past its `expires_at` (beat task `cards.issuing_expire_holds`)."""
    now = now or timezone.now()
    done = 0
    while True:
        ids = list(IssuingAuthorization.objects.filter(status=AuthorizationStatus.PENDING, expires_at__lt=now)
                   .order_by("expires_at").values_list("pk", flat=True)[:batch])
        if not ids:
            return done
        for authorization_id in ids:
            try:
                _release(authorization_id=authorization_id, to_status=AuthorizationStatus.EXPIRED,
                         event_type=AuthorizationEventType.EXPIRED, actor="system:hold_expiry")
                done += 1
            except StateError:  # captured or reversed meanwhile
                pass


def authorization_refund(*, authorization_id: str, amount: int, reference: str, actor: str = "") -> OperationAnswer:
    """Return `amount` of a captured authorization to the card's account, once per `reference`."""
    if not reference:
        return OperationAnswer(ok=False, failure_code="reference_missing")
    with transaction.atomic():
        auth = IssuingAuthorization.objects.select_for_update().filter(pk=authorization_id).first()
        if auth is None:
            return OperationAnswer(ok=False, failure_code="authorization_missing")
        if _applied(auth.id, reference):
            return OperationAnswer(ok=True)
        if auth.status != AuthorizationStatus.CLOSED:
            return OperationAnswer(ok=False, failure_code=f"authorization_{auth.status}")
        if isinstance(amount, bool) or not isinstance(amount, int) or not (
                0 < amount <= auth.amount_captured - auth.amount_refunded):
            return OperationAnswer(ok=False, failure_code="amount_too_large")
        auth.amount_refunded += amount
        auth.save(update_fields=["amount_refunded", "updated"])
        IssuingAuthorizationEvent.objects.create(authorization=auth, type=AuthorizationEventType.REFUNDED,
                                                 amount=amount, reference=reference, actor=actor)
        ledger.entry_post(key=f"issuing_refund:{auth.id}:{reference}", type=EntryType.ISSUING_REFUND,
                          currency=auth.currency, livemode=auth.livemode, source=auth.id,
                          lines=[Line(AccountPurpose.BANK_CASH, amount),
                                 Line(AccountPurpose.CARD_AVAILABLE, -amount, holder=auth.account_id)])
        events.publish_authorization(auth, events.AUTHORIZATION_UPDATED)
    return OperationAnswer(ok=True)
