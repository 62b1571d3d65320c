"""Every write of card issuing (#4), except authorizations (cards/authorization.py).

Card programs (staff), cardholders, card accounts and their money (funding, credit limit: ledger
entries on the account's holder-owned ledger accounts), issuing a card (a fresh number under the
program's BIN, vaulted like any card; the CVC derived from ISSUING_CVC_KEY, never stored), the card
lifecycle (`_card_transition` is the only place a card's status changes) and spending controls.

Services that act for a partner take `merchant_id` and `livemode` and answer 404 for anything of
another merchant or mode; staff (admin, management commands) pass neither.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import date
from functools import lru_cache

from babel import Locale
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_record
from core.errors import NotFound, StateError, ValidationError
from core.money import CurrencyError, normalize_currency
from ledger import services as ledger
from ledger.constants import AccountPurpose, EntryType
from ledger.services import InsufficientBalance, Line

from . import issuing_events as events
from .constants import (
    CARD_EVENT_FOR,
    CARD_EVENT_INTO,
    CARD_TRANSITIONS,
    REISSUABLE,
    BlockReason,
    CardEventType,
    CardStatus,
    CardType,
    ProgramType,
)
from .issuing_models import MAX_SPENDING_LIMIT, CardAccount, Cardholder, CardProgram, IssuedCard, IssuedCardEvent
from .services import card_number, card_vault
from .vault import Brand, CardNumber, CheckedCard, detect_brand, fingerprint, looks_like_pan, luhn_check_digit

MAX_LIMIT = MAX_SPENDING_LIMIT  # spending limits and funding amounts: at most this many minor units
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_NOT_COUNTRIES = {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    return frozenset(code for code in Locale("en").territories
                     if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)


def normalize_country(value, *, param: str) -> str:
    if not isinstance(value, str) or value.strip().upper() not in _countries():
        raise ValidationError(f"{param} must be an ISO 3166-1 alpha-2 country code such as DE.", param=param,
                              code="parameter_invalid")
    return value.strip().upper()


def _text(value, *, param: str, max_length: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{param} must be a string.", param=param, code="parameter_invalid")
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{param} is required.", param=param, code="parameter_missing")
    if len(value) > max_length:
        raise ValidationError(f"{param} must be at most {max_length} characters.", param=param,
                              code="parameter_invalid")
    if looks_like_pan(value):
        raise ValidationError(f"{param} looks like it holds a card number.", param=param,
                              code="card_number_in_text")
    return value


def _amount(value, *, param: str, maximum: int = MAX_LIMIT, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{param} must be an integer in the currency's minor unit.", param=param,
                              code="parameter_invalid")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError(f"{param} must be greater than zero.", param=param, code="parameter_invalid")
    if value > maximum:
        raise ValidationError(f"{param} must be at most {maximum}.", param=param, code="parameter_invalid")
    return value


# --- Card programs (bank staff) --------------------------------------------------------------------


def program_brand(bin_: str) -> str:
    """The brand a BIN's cards have (16 digits; Amex 15), or Brand.UNKNOWN."""
    for length in (16, 15):
        brand = detect_brand(bin_.ljust(length, "0"))
        if brand != Brand.UNKNOWN:
            return brand
    return Brand.UNKNOWN


def card_program_clean(*, name: str, bin: str, currency: str, type: str, brand: str = "",
                       default_credit_limit: int = 0) -> dict:
    """The program's fields checked and normalized (brand from the BIN), or ValidationError."""
    name = _text(name, param="name", max_length=100, required=True)
    if not isinstance(bin, str) or not bin.isascii() or not bin.isdigit() or len(bin) not in (6, 8):
        raise ValidationError("The BIN must be 6 or 8 digits.", param="bin", code="parameter_invalid")
    detected = program_brand(bin)
    if detected == Brand.UNKNOWN:
        raise ValidationError("This BIN belongs to no supported card brand.", param="bin", code="parameter_invalid")
    if brand and brand != detected:
        raise ValidationError(f"BIN {bin} is a {detected} BIN, not {brand}.", param="brand", code="parameter_invalid")
    try:
        currency = normalize_currency(currency)
    except CurrencyError as exc:
        raise ValidationError(str(exc), param="currency", code="invalid_currency")
    if type not in ProgramType.values:
        raise ValidationError(f"type must be one of {', '.join(ProgramType.values)}.", param="type",
                              code="parameter_invalid")
    default_credit_limit = _amount(default_credit_limit, param="default_credit_limit", allow_zero=True)
    if default_credit_limit and type != ProgramType.CREDIT:
        raise ValidationError("Only credit programs have a credit limit.", param="default_credit_limit",
                              code="parameter_invalid")
    return {"name": name, "bin": bin, "brand": detected, "currency": currency, "type": type,
            "default_credit_limit": default_credit_limit}


def card_program_create(*, merchant_id: str, livemode: bool, name: str, bin: str, currency: str, type: str,
                        brand: str = "", default_credit_limit: int = 0) -> CardProgram:
    """A card program for a partner merchant: its cards get numbers under `bin` (6 or 8 digits)."""
    fields = card_program_clean(name=name, bin=bin, currency=currency, type=type, brand=brand,
                                default_credit_limit=default_credit_limit)
    try:
        with transaction.atomic():
            return CardProgram.objects.create(merchant_id=merchant_id, livemode=livemode, **fields)
    except IntegrityError:
        raise ValidationError(f"BIN {bin} is already used by another card program.", param="bin",
                              code="bin_taken")


# --- Cardholders ---------------------------------------------------------------------------------------


def cardholder_create(*, merchant_id: str, livemode: bool, name: str, billing: dict, email: str = "",
                      phone_number: str = "") -> Cardholder:
    if not isinstance(billing, dict):
        raise ValidationError("billing must be an object (the billing address).", param="billing",
                              code="parameter_invalid")
    unknown = set(billing) - {"line1", "line2", "city", "state", "postal_code", "country"}
    if unknown:
        raise ValidationError(f"Unknown billing field(s): {', '.join(sorted(unknown))}.", param="billing",
                              code="parameter_unknown")
    phone_number = _text(phone_number, param="phone_number", max_length=20)
    if phone_number and not _PHONE.match(phone_number):
        raise ValidationError("phone_number must be in E.164 form, e.g. +4930123456.", param="phone_number",
                              code="parameter_invalid")
    fields = dict(
        merchant_id=merchant_id, livemode=livemode,
        name=_text(name, param="name", max_length=100, required=True),
        email=_text(email, param="email", max_length=254),
        phone_number=phone_number,
        billing_line1=_text(billing.get("line1"), param="billing[line1]", max_length=200, required=True),
        billing_line2=_text(billing.get("line2"), param="billing[line2]", max_length=200),
        billing_city=_text(billing.get("city"), param="billing[city]", max_length=100, required=True),
        billing_state=_text(billing.get("state"), param="billing[state]", max_length=100),
        billing_postal_code=_text(billing.get("postal_code"), param="billing[postal_code]", max_length=20,
                                  required=True),
        billing_country=normalize_country(billing.get("country"), param="billing[country]"),
    )
    with transaction.atomic():  # the cardholder and its event: one commit
        holder = Cardholder.objects.create(**fields)
        events.publish_cardholder(holder, events.CARDHOLDER_CREATED)
    return holder


# --- Card accounts and their money -------------------------------------------------------------------------


def _account_locked(*, account_id: str, merchant_id: str | None, livemode: bool | None) -> CardAccount:
    qs = CardAccount.objects.select_for_update().filter(pk=account_id)
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id, livemode=livemode)
    account = qs.first()
    if account is None:
        raise NotFound("No such card account.", param="account")
    return account


def _post_credit_line(account: CardAccount, delta: int) -> None:
    """Grow (delta > 0) or shrink the credit line: DR credit line, CR available by delta (or the mirror)."""
    ledger.entry_post(
        key=f"issuing_credit_limit:{account.id}:{uuid.uuid4().hex}", type=EntryType.ISSUING_CREDIT_LIMIT,
        currency=account.currency, livemode=account.livemode, source=account.id,
        lines=[Line(AccountPurpose.CARD_CREDIT_LINE, delta, holder=account.id),
               Line(AccountPurpose.CARD_AVAILABLE, -delta, holder=account.id)],
        description=f"Credit limit {account.credit_limit - delta} -> {account.credit_limit}")


def card_account_set_credit_limit(*, account_id: str, credit_limit: int, actor: str = "",
                                  merchant_id: str | None = None, livemode: bool | None = None) -> CardAccount:
    """Change a credit account's limit. Lowering it below what is already spent or held is refused."""
    credit_limit = _amount(credit_limit, param="credit_limit", allow_zero=True)
    with transaction.atomic():
        account = _account_locked(account_id=account_id, merchant_id=merchant_id, livemode=livemode)
        if account.type != ProgramType.CREDIT:
            raise ValidationError("Only credit accounts have a credit limit.", param="credit_limit",
                                  code="parameter_invalid")
        delta = credit_limit - account.credit_limit
        if delta == 0:
            return account
        account.credit_limit = credit_limit
        account.save(update_fields=["credit_limit"])
        try:
            with transaction.atomic():
                _post_credit_line(account, delta)
        except InsufficientBalance:
            raise ValidationError("The credit limit cannot be lowered below what is already spent or held.",
                                  param="credit_limit", code="credit_limit_too_low")
    return account


def card_account_fund(*, account_id: str, amount: int, reference: str, actor: str = "",
                      merchant_id: str | None = None, livemode: bool | None = None):
    """Credit money received for a debit or prepaid account (a deposit, a top-up): DR bank cash, CR the
    account's available balance. Exactly once per `reference` (e.g. the incoming transfer's reference):
    the same reference again returns the same entry; with another amount it is refused."""
    amount = _amount(amount, param="amount")
    reference = _text(reference, param="reference", max_length=64, required=True)
    if not reference.isprintable():
        raise ValidationError("reference must be printable text.", param="reference", code="parameter_invalid")
    with transaction.atomic():
        account = _account_locked(account_id=account_id, merchant_id=merchant_id, livemode=livemode)
        if account.type == ProgramType.CREDIT:
            raise ValidationError("Credit accounts spend their credit line; change the limit instead.",
                                  param="account", code="parameter_invalid")
        key = f"issuing_funding:{account.id}:{reference}"
        existing = ledger.entry_get(key=key)
        if existing is not None:
            if existing.amount != amount:
                raise ValidationError(f"Reference {reference!r} already funded this account with {existing.amount}.",
                                      param="reference", code="reference_already_used")
            return existing
        return ledger.entry_post(
            key=key, type=EntryType.ISSUING_FUNDING, currency=account.currency, livemode=account.livemode,
            source=account.id, amount=amount,
            lines=[Line(AccountPurpose.BANK_CASH, amount),
                   Line(AccountPurpose.CARD_AVAILABLE, -amount, holder=account.id)],
            description=f"Funding {reference} by {actor or 'system'}"[:200])


# --- Numbers and CVCs ------------------------------------------------------------------------------------


def _new_number(program: CardProgram) -> CardNumber:
    length = 15 if program.brand == Brand.AMEX else 16
    body = program.bin + "".join(str(secrets.randbelow(10)) for _ in range(length - len(program.bin) - 1))
    return CardNumber(body + luhn_check_digit(body))


def derive_cvc(number: CardNumber, *, exp_month: int, exp_year: int, brand: str) -> str:
    """The card's CVC: a keyed HMAC (ISSUING_CVC_KEY) of number and expiry, cut to 3 digits (Amex 4).
    Computed when the card details are shown or an authorization checks it; never stored."""
    length = 4 if brand == Brand.AMEX else 3
    message = f"{number.reveal()}|{exp_month:02d}{exp_year % 100:02d}".encode()
    digest = hmac.new(settings.ISSUING_CVC_KEY, message, hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**length).zfill(length)


def cvc_matches(number: CardNumber, cvc: str, *, exp_month: int, exp_year: int, brand: str) -> bool:
    expected = derive_cvc(number, exp_month=exp_month, exp_year=exp_year, brand=brand)
    return isinstance(cvc, str) and hmac.compare_digest(expected, cvc)


def _expiry(today: date | None = None) -> tuple[int, int]:
    today = today or timezone.now().date()
    return today.month, today.year + settings.ISSUING_CARD_VALIDITY_YEARS


# --- Spending controls -----------------------------------------------------------------------------------

CONTROL_FIELDS = {
    "per_transaction_limit": "limit_per_transaction",
    "daily_limit": "limit_daily",
    "monthly_limit": "limit_monthly",
    "allowed_currencies": "allowed_currencies",
    "allowed_countries": "allowed_countries",
}


def clean_spending_controls(controls) -> dict:
    """{model field: value} for the controls given. Limits: a positive integer, or null for none;
    lists: currencies (ISO 4217) or countries (alpha-2), empty for any."""
    if not isinstance(controls, dict):
        raise ValidationError("spending_controls must be an object.", param="spending_controls",
                              code="parameter_invalid")
    unknown = set(controls) - set(CONTROL_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown spending control(s): {', '.join(sorted(unknown))}. Known: "
                              f"{', '.join(CONTROL_FIELDS)}.", param="spending_controls", code="parameter_unknown")
    out = {}
    for name, value in controls.items():
        param = f"spending_controls[{name}]"
        if name.endswith("_limit"):
            out[CONTROL_FIELDS[name]] = None if value is None else _amount(value, param=param)
            continue
        if not isinstance(value, list) or len(value) > 250:
            raise ValidationError(f"{param} must be a list (empty for any).", param=param, code="parameter_invalid")
        if name == "allowed_currencies":
            try:
                cleaned = [normalize_currency(v) for v in value]
            except CurrencyError as exc:
                raise ValidationError(str(exc), param=param, code="invalid_currency")
        else:
            cleaned = [normalize_country(v, param=param) for v in value]
        out[CONTROL_FIELDS[name]] = sorted(set(cleaned))
    daily, monthly = out.get("limit_daily"), out.get("limit_monthly")
    if daily and monthly and daily > monthly:
        raise ValidationError("The daily limit cannot exceed the monthly limit.",
                              param="spending_controls[daily_limit]", code="parameter_invalid")
    return out


def spending_controls_of(card: IssuedCard) -> dict:
    return {name: getattr(card, field) for name, field in CONTROL_FIELDS.items()}


# --- Issuing -------------------------------------------------------------------------------------------------


def _get_card(*, card_id: str, merchant_id: str | None, livemode: bool | None, lock: bool = False) -> IssuedCard:
    qs = IssuedCard.objects.filter(pk=card_id)
    if lock:
        qs = qs.select_for_update()
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id, livemode=livemode)
    card = qs.first()
    if card is None:
        raise NotFound("No such card.", param="id")
    return card


def _issue(*, account: CardAccount, cardholder_id: str, type: str, controls: dict, actor: str,
           replacement_for: IssuedCard | None = None) -> IssuedCard:
    """A new card on `account`: a unique number under the program's BIN (Luhn-valid), vaulted; inactive."""
    program = account.program
    exp_month, exp_year = _expiry()
    for _ in range(20):
        number = _new_number(program)
        fp = fingerprint(number)
        if IssuedCard.objects.filter(fingerprint=fp).exists():
            continue
        try:
            with transaction.atomic():
                vault = card_vault(merchant_id=account.merchant_id, livemode=account.livemode, reusable=False,
                                   card=CheckedCard(number=number, brand=program.brand, exp_month=exp_month,
                                                    exp_year=exp_year, name=account.cardholder.name))
                card = IssuedCard.objects.create(
                    merchant_id=account.merchant_id, livemode=account.livemode, program=program, account=account,
                    cardholder_id=cardholder_id, vault_card=vault, fingerprint=fp, type=type,
                    status=CardStatus.INACTIVE, replacement_for=replacement_for, **controls)
        except IntegrityError:  # the same number issued concurrently: draw another
            continue
        IssuedCardEvent.objects.create(card=card, type=CardEventType.ISSUED, to_status=CardStatus.INACTIVE,
                                       actor=actor, data={"replacement_for": replacement_for.id}
                                       if replacement_for else {})
        return card
    raise StateError("No free card number is left under this program's BIN.", code="bin_exhausted", status=503,
                     type="api_error")


def card_issue(*, merchant_id: str, livemode: bool, cardholder_id: str, type: str, program_id: str | None = None,
               account_id: str | None = None, status: str | None = None, spending_controls: dict | None = None,
               credit_limit: int | None = None, actor: str = "") -> IssuedCard:
    """Issue a card to a cardholder: on a new account of `program_id` (the merchant's only program when
    neither is given), or on an existing `account_id` of the cardholder. `status` active or inactive;
    by default a virtual card is active at once, a physical one waits for activation."""
    if type not in CardType.values:
        raise ValidationError(f"type must be one of {', '.join(CardType.values)}.", param="type",
                              code="parameter_invalid")
    if status is None:
        status = CardStatus.ACTIVE if type == CardType.VIRTUAL else CardStatus.INACTIVE
    if status not in (CardStatus.ACTIVE, CardStatus.INACTIVE):
        raise ValidationError("status must be active or inactive.", param="status", code="parameter_invalid")
    controls = clean_spending_controls(spending_controls or {})
    cardholder = Cardholder.objects.filter(pk=cardholder_id, merchant_id=merchant_id, livemode=livemode).first()
    if cardholder is None:
        raise NotFound("No such cardholder.", param="cardholder")
    if account_id and program_id:
        raise ValidationError("Give program (a new account) or account (an existing one), not both.",
                              param="account", code="parameter_invalid")
    with transaction.atomic():
        if account_id:
            if credit_limit is not None:
                raise ValidationError("credit_limit applies to a new account only.", param="credit_limit",
                                      code="parameter_invalid")
            account = _account_locked(account_id=account_id, merchant_id=merchant_id, livemode=livemode)
            if account.cardholder_id != cardholder.id:
                raise ValidationError("This account belongs to another cardholder.", param="account",
                                      code="parameter_invalid")
        else:
            account = _account_open(merchant_id=merchant_id, livemode=livemode, cardholder=cardholder,
                                    program_id=program_id, credit_limit=credit_limit)
        card = _issue(account=account, cardholder_id=cardholder.id, type=type, controls=controls, actor=actor)
        if status == CardStatus.ACTIVE:  # part of issuing it: one `created` event, with the final status
            card = _card_transition(card_id=card.id, to_status=CardStatus.ACTIVE, actor=actor, publish=False)
        events.publish_card(card.id, events.CARD_CREATED)
    return card


def _account_open(*, merchant_id: str, livemode: bool, cardholder: Cardholder, program_id: str | None,
                  credit_limit: int | None) -> CardAccount:
    programs = CardProgram.objects.filter(merchant_id=merchant_id, livemode=livemode)
    if program_id:
        program = programs.filter(pk=program_id).first()
        if program is None:
            raise NotFound("No such card program.", param="program")
    else:
        found = list(programs[:2])
        if len(found) != 1:
            raise ValidationError("Name the card program (program)." if found else
                                  "This merchant has no card program in this mode: the bank sets one up first.",
                                  param="program", code="parameter_missing" if found else "no_card_program")
        program = found[0]
    if program.type == ProgramType.CREDIT:
        credit_limit = program.default_credit_limit if credit_limit is None else _amount(
            credit_limit, param="credit_limit", allow_zero=True)
    elif credit_limit is not None:
        raise ValidationError("Only credit programs have a credit limit.", param="credit_limit",
                              code="parameter_invalid")
    account = CardAccount.objects.create(merchant_id=merchant_id, livemode=livemode, program=program,
                                         cardholder=cardholder, type=program.type, currency=program.currency,
                                         credit_limit=credit_limit or 0)
    if account.credit_limit:
        _post_credit_line(account, account.credit_limit)
    return account


# --- The lifecycle ---------------------------------------------------------------------------------------------


def _card_transition(*, card_id: str, to_status: str, actor: str = "", expected_from: set | None = None,
                     block_reason: str = "", data: dict | None = None, publish: bool = True) -> IssuedCard:
    """The one place a card's status changes: lock the card, check the table, write, record the event and
    publish `issuing_card.updated` (`publish` False: the card is being issued, its `created` event follows)."""
    with transaction.atomic():
        card = IssuedCard.objects.select_for_update().get(pk=card_id)
        allowed = to_status in CARD_TRANSITIONS.get(card.status, set())
        if not allowed or (expected_from is not None and card.status not in expected_from):
            raise StateError(f"This card is {card.status}; it cannot become {to_status}.",
                             code="card_unexpected_state")
        from_status = card.status
        card.status = to_status
        fields = ["status", "updated"]
        if to_status == CardStatus.BLOCKED:
            card.block_reason = block_reason
            fields.append("block_reason")
        card.save(update_fields=fields)
        IssuedCardEvent.objects.create(
            card=card, type=CARD_EVENT_FOR.get((from_status, to_status), CARD_EVENT_INTO[to_status]),
            from_status=from_status, to_status=to_status, reason=block_reason, data=data or {}, actor=actor)
        if publish:
            events.publish_card(card.id, events.CARD_UPDATED)
    return card


def card_activate(*, card_id: str, actor: str = "", merchant_id: str | None = None,
                  livemode: bool | None = None) -> IssuedCard:
    _get_card(card_id=card_id, merchant_id=merchant_id, livemode=livemode)
    return _card_transition(card_id=card_id, to_status=CardStatus.ACTIVE, actor=actor,
                            expected_from={CardStatus.INACTIVE})


def card_freeze(*, card_id: str, actor: str = "", merchant_id: str | None = None,
                livemode: bool | None = None) -> IssuedCard:
    _get_card(card_id=card_id, merchant_id=merchant_id, livemode=livemode)
    return _card_transition(card_id=card_id, to_status=CardStatus.FROZEN, actor=actor)


def card_unfreeze(*, card_id: str, actor: str = "", merchant_id: str | None = None,
                  livemode: bool | None = None) -> IssuedCard:
    _get_card(card_id=card_id, merchant_id=merchant_id, livemode=livemode)
    return _card_transition(card_id=card_id, to_status=CardStatus.ACTIVE, actor=actor,
                            expected_from={CardStatus.FROZEN})


def _block_reason(reason) -> str:
    if reason not in BlockReason.values:
        raise ValidationError(f"reason must be one of {', '.join(BlockReason.values)}.", param="reason",
                              code="parameter_invalid")
    return reason


def card_block(*, card_id: str, reason: str, actor: str = "", merchant_id: str | None = None,
               livemode: bool | None = None) -> IssuedCard:
    """Block a lost or stolen card for good (authorizations are declined `lost_card` / `stolen_card`)."""
    reason = _block_reason(reason)
    _get_card(card_id=card_id, merchant_id=merchant_id, livemode=livemode)
    return _card_transition(card_id=card_id, to_status=CardStatus.BLOCKED, actor=actor, block_reason=reason)


def card_close(*, card_id: str, actor: str = "", merchant_id: str | None = None,
               livemode: bool | None = None) -> IssuedCard:
    _get_card(card_id=card_id, merchant_id=merchant_id, livemode=livemode)
    return _card_transition(card_id=card_id, to_status=CardStatus.CLOSED, actor=actor)


def card_reissue(*, card_id: str, reason: str, actor: str = "", merchant_id: str | None = None,
                 livemode: bool | None = None) -> IssuedCard:
    """A new card (new number, expiry and CVC) on the same account, same cardholder, type and spending
    controls; the old card is blocked with `reason`. Returns the new card (virtual: active at once)."""
    reason = _block_reason(reason)
    with transaction.atomic():
        old = _get_card(card_id=card_id, merchant_id=merchant_id, livemode=livemode, lock=True)
        if old.status not in REISSUABLE:
            raise StateError(f"This card is {old.status}; only an active or frozen card can be reissued.",
                             code="card_unexpected_state")
        account = CardAccount.objects.select_related("program", "cardholder").get(pk=old.account_id)
        controls = {field: getattr(old, field) for field in CONTROL_FIELDS.values()}
        new = _issue(account=account, cardholder_id=old.cardholder_id, type=old.type, controls=controls,
                     actor=actor, replacement_for=old)
        _card_transition(card_id=old.id, to_status=CardStatus.BLOCKED, actor=actor, block_reason=reason,
                         data={"replaced_by": new.id})
        IssuedCardEvent.objects.create(card=old, type=CardEventType.REISSUED, reason=reason,
                                       data={"replaced_by": new.id}, actor=actor)
        if new.type == CardType.VIRTUAL:
            new = _card_transition(card_id=new.id, to_status=CardStatus.ACTIVE, actor=actor, publish=False)
        events.publish_card(new.id, events.CARD_CREATED)
    return new


def card_set_spending_controls(*, card_id: str, spending_controls: dict, actor: str = "",
                               merchant_id: str | None = None, livemode: bool | None = None) -> IssuedCard:
    """Change some spending controls (those given; null clears a limit). Recorded as a card event."""
    changes = clean_spending_controls(spending_controls)
    with transaction.atomic():
        card = _get_card(card_id=card_id, merchant_id=merchant_id, livemode=livemode, lock=True)
        if card.status in (CardStatus.BLOCKED, CardStatus.CLOSED):
            raise StateError(f"This card is {card.status}: its controls can no longer change.",
                             code="card_unexpected_state")
        merged = {**{f: getattr(card, f) for f in CONTROL_FIELDS.values()}, **changes}
        if merged["limit_daily"] and merged["limit_monthly"] and merged["limit_daily"] > merged["limit_monthly"]:
            raise ValidationError("The daily limit cannot exceed the monthly limit.",
                                  param="spending_controls[daily_limit]", code="parameter_invalid")
        before = spending_controls_of(card)
        for field, value in changes.items():
            setattr(card, field, value)
        card.save(update_fields=[*changes, "updated"])
        IssuedCardEvent.objects.create(card=card, type=CardEventType.SPENDING_CONTROLS_UPDATED, actor=actor,
                                       data={"before": before, "after": spending_controls_of(card)})
        if spending_controls_of(card) != before:
            events.publish_card(card.id, events.CARD_UPDATED)
    return card


def card_details_reveal(*, card_id: str, actor: str, merchant_id: str, livemode: bool) -> dict:
    """The full number, CVC and expiry of a virtual card, in memory, for the card details endpoint.
    Every read is audited (core.audit) and recorded on the card. Never log, queue or store the result."""
    with transaction.atomic():
        card = _get_card(card_id=card_id, merchant_id=merchant_id, livemode=livemode)
        if card.type != CardType.VIRTUAL:
            raise StateError("Only a virtual card's details can be read; a physical card carries them.",
                             code="card_details_unavailable")
        if card.status in (CardStatus.BLOCKED, CardStatus.CLOSED):
            raise StateError(f"This card is {card.status}: its details are no longer shown.",
                             code="card_details_unavailable")
        vault = card.vault_card
        audit_record(actor=actor, action="issuing_card.details_read", object_type="issued_card", object_id=card.id,
                     merchant_id=card.merchant_id, data={"last4": vault.last4})
        IssuedCardEvent.objects.create(card=card, type=CardEventType.DETAILS_READ, actor=actor)
    number = card_number(vault)
    return {"card": card, "number": number, "exp_month": vault.exp_month, "exp_year": vault.exp_year,
            "cvc": derive_cvc(number, exp_month=vault.exp_month, exp_year=vault.exp_year, brand=vault.brand)}


def cards_expire_due(*, today: date | None = None, batch: int = 500) -> int:
    """Cards past their expiry month become `expired` (beat task `cards.issuing_expire_cards`)."""
    today = today or timezone.now().date()
    live = [CardStatus.INACTIVE, CardStatus.ACTIVE, CardStatus.FROZEN]
    due = (Q(vault_card__exp_year__lt=today.year)
           | Q(vault_card__exp_year=today.year, vault_card__exp_month__lt=today.month))
    done = 0
    while True:
        ids = list(IssuedCard.objects.filter(due, status__in=live).values_list("pk", flat=True)[:batch])
        if not ids:
            return done
        for card_id in ids:
            try:
                _card_transition(card_id=card_id, to_status=CardStatus.EXPIRED, actor="system:expiry")
                done += 1
            except StateError:  # changed meanwhile
                pass
