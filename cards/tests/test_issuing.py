"""Card issuing (#4): programs, cardholders, issuing (number, expiry, CVC), accounts and their money,
spending controls, and every card lifecycle transition from the table."""

import hashlib
import hmac
from datetime import date

import pytest

from core.errors import NotFound, StateError, ValidationError
from ledger import selectors as ledger_selectors
from ledger.constants import AccountPurpose

from .. import issuing
from ..constants import CARD_TRANSITIONS, CardEventType, CardStatus
from ..issuing_models import CardAccount, IssuedCard, IssuedCardEvent
from ..issuing_selectors import account_balances, issuing_problems
from ..models import Card
from ..vault import decrypt_pan, fingerprint, luhn_valid
from .issuing_factories import issue_card, make_cardholder, make_program, next_bin, secrets_of, set_expiry
from .pci import contains_token, find_pans, iter_database_values

pytestmark = pytest.mark.django_db


# --- Programs and cardholders ---------------------------------------------------------------------------


def test_program_takes_its_brand_from_the_bin(merchant):
    assert make_program(merchant, bin="535310").brand == "mastercard"
    assert make_program(merchant, bin="41234567").brand == "visa"
    assert make_program(merchant, bin="371234", type="credit", default_credit_limit=50_000).brand == "amex"


@pytest.mark.parametrize(("kwargs", "param", "code"), [
    ({"bin": "5353"}, "bin", "parameter_invalid"),
    ({"bin": "53531x"}, "bin", "parameter_invalid"),
    ({"bin": "999999"}, "bin", "parameter_invalid"),
    ({"bin": "535310", "brand": "visa"}, "brand", "parameter_invalid"),
    ({"currency": "XYZ"}, "currency", "invalid_currency"),
    ({"type": "gold"}, "type", "parameter_invalid"),
    ({"type": "debit", "default_credit_limit": 100}, "default_credit_limit", "parameter_invalid"),
    ({"name": " "}, "name", "parameter_missing"),
])
def test_program_refuses_bad_input(merchant, kwargs, param, code):
    with pytest.raises(ValidationError) as exc:
        make_program(merchant, **kwargs)
    assert (exc.value.param, exc.value.code) == (param, code)


def test_a_bin_belongs_to_one_program(merchant, other_merchant):
    make_program(merchant, bin="535311")
    with pytest.raises(ValidationError) as exc:
        make_program(other_merchant, bin="535311", livemode=False)
    assert exc.value.code == "bin_taken"


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"name": ""}, "name"),
    ({"phone_number": "030 1234"}, "phone_number"),
    ({"billing": {"line1": "x", "city": "y", "postal_code": "1", "country": "XX"}}, "billing[country]"),
    ({"billing": {"line1": "x", "city": "y", "postal_code": "1"}}, "billing[country]"),
    ({"billing": {"city": "y", "postal_code": "1", "country": "DE"}}, "billing[line1]"),
    ({"billing": {"line1": "x", "city": "y", "postal_code": "1", "country": "DE", "planet": "Mars"}}, "billing"),
    ({"billing": {"line1": "card 4242 4242 4242 4242", "city": "y", "postal_code": "1", "country": "DE"}},
     "billing[line1]"),
])
def test_cardholder_refuses_bad_input(merchant, kwargs, param):
    with pytest.raises(ValidationError) as exc:
        make_cardholder(merchant, **kwargs)
    assert exc.value.param == param


def test_cardholder_keeps_its_details(merchant):
    holder = make_cardholder(merchant, phone_number="+4930123456",
                             billing={"line1": "Hauptstr. 1", "line2": "3. OG", "city": "Berlin",
                                      "postal_code": "10115", "country": "de"})
    assert holder.id.startswith("ich_")
    assert (holder.billing_country, holder.billing_line2, holder.phone_number) == ("DE", "3. OG", "+4930123456")


# --- Issuing ------------------------------------------------------------------------------------------------


def test_issued_number_is_luhn_valid_under_the_bin_unique_and_vaulted(merchant):
    program = make_program(merchant, bin="535312")
    cards = [issue_card(merchant, program=program) for _ in range(5)]
    numbers = set()
    for card in cards:
        assert card.id.startswith("ic_")
        vault = card.vault_card
        number = decrypt_pan(vault.pan_ciphertext, key_version=vault.key_version, record_id=vault.id).reveal()
        assert number.startswith("535312") and len(number) == 16 and luhn_valid(number)
        assert (vault.bin, vault.last4, vault.brand) == ("535312", number[-4:], "mastercard")
        assert card.fingerprint == vault.fingerprint == fingerprint(decrypt_pan(
            vault.pan_ciphertext, key_version=vault.key_version, record_id=vault.id))
        assert vault.reusable is False  # not a token the partner can charge
        numbers.add(number)
    assert len(numbers) == 5


def test_amex_program_issues_15_digit_numbers_with_4_digit_cvcs(merchant):
    card = issue_card(merchant, program=make_program(merchant, bin="376543"))
    details = secrets_of(card)
    assert len(details["number"]) == 15 and luhn_valid(details["number"])
    assert len(details["cvc"]) == 4


def test_expiry_is_validity_years_ahead(merchant, settings):
    settings.ISSUING_CARD_VALIDITY_YEARS = 4
    card = issue_card(merchant)
    today = date.today()
    assert (card.vault_card.exp_month, card.vault_card.exp_year) == (today.month, today.year + 4)


def _expected_cvc(key: bytes, details: dict) -> str:
    message = f"{details['number']}|{details['exp_month']:02d}{details['exp_year'] % 100:02d}".encode()
    return str(int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[:8], "big") % 1000).zfill(3)


def test_cvc_is_derived_from_a_secret_and_never_stored(merchant, settings):
    card = issue_card(merchant)
    details = secrets_of(card)
    assert details["cvc"] == _expected_cvc(settings.ISSUING_CVC_KEY, details)  # keyed HMAC of number and expiry
    assert details["cvc"] == secrets_of(card)["cvc"]  # deterministic: checkable at authorization
    settings.ISSUING_CVC_KEY = b"another-key-another-key-another-key!"
    assert secrets_of(card)["cvc"] == _expected_cvc(b"another-key-another-key-another-key!", details)
    for table, column, value in iter_database_values():
        if isinstance(value, str | dict | list):
            assert not contains_token(str(value), details["cvc"]), (table, column)
            assert find_pans(str(value)) == [], (table, column)


def test_virtual_cards_start_active_physical_ones_inactive(merchant):
    virtual = issue_card(merchant)
    physical = issue_card(merchant, type="physical")
    assert (virtual.status, physical.status) == ("active", "inactive")
    assert list(virtual.events.values_list("type", flat=True)) == [CardEventType.ISSUED, CardEventType.ACTIVATED]
    assert list(physical.events.values_list("type", flat=True)) == [CardEventType.ISSUED]
    assert issue_card(merchant, status="inactive").status == "inactive"


def test_issue_refuses_another_merchants_cardholder_and_program(merchant, other_merchant):
    program = make_program(other_merchant)
    holder = make_cardholder(other_merchant)
    mine = make_cardholder(merchant)
    make_program(merchant)
    with pytest.raises(NotFound) as exc:
        issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=holder.pk, type="virtual")
    assert exc.value.param == "cardholder"
    with pytest.raises(NotFound) as exc:
        issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=mine.pk, program_id=program.pk,
                           type="virtual")
    assert exc.value.param == "program"
    with pytest.raises(NotFound):  # the same program in the other mode does not exist for a test-mode client
        issuing.card_issue(merchant_id=merchant.pk, livemode=False, cardholder_id=mine.pk, type="virtual")
    assert IssuedCard.objects.count() == 0 and Card.objects.count() == 0


def test_issue_without_program_uses_the_only_one_or_asks(merchant):
    holder = make_cardholder(merchant)
    with pytest.raises(ValidationError) as exc:
        issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=holder.pk, type="virtual")
    assert exc.value.code == "no_card_program"
    program = make_program(merchant)
    card = issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=holder.pk, type="virtual")
    assert card.program_id == program.pk
    make_program(merchant)
    with pytest.raises(ValidationError) as exc:
        issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=holder.pk, type="virtual")
    assert (exc.value.code, exc.value.param) == ("parameter_missing", "program")


def test_second_card_on_the_same_account(merchant):
    first = issue_card(merchant)
    second = issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=first.cardholder_id,
                                account_id=first.account_id, type="physical")
    assert second.account_id == first.account_id and second.program_id == first.program_id
    other_holder = make_cardholder(merchant, name="Someone Else")
    with pytest.raises(ValidationError):
        issuing.card_issue(merchant_id=merchant.pk, livemode=True, cardholder_id=other_holder.pk,
                           account_id=first.account_id, type="virtual")


# --- Accounts and their money ---------------------------------------------------------------------------------


def test_funding_posts_once_per_reference(merchant):
    card = issue_card(merchant, fund=0)
    entry = issuing.card_account_fund(account_id=card.account_id, amount=2500, reference="wire-1", actor="staff:x")
    again = issuing.card_account_fund(account_id=card.account_id, amount=2500, reference="wire-1", actor="staff:x")
    assert entry.pk == again.pk
    assert account_balances(card.account) == {"available": 2500, "held": 0, "credit_line": 0}
    with pytest.raises(ValidationError) as exc:
        issuing.card_account_fund(account_id=card.account_id, amount=3000, reference="wire-1")
    assert exc.value.code == "reference_already_used"
    for bad in (0, -5, "100", 10.5, True):
        with pytest.raises(ValidationError):
            issuing.card_account_fund(account_id=card.account_id, amount=bad, reference="wire-2")
    with pytest.raises(ValidationError):
        issuing.card_account_fund(account_id=card.account_id, amount=100, reference="")
    assert ledger_selectors.account_balance(purpose=AccountPurpose.BANK_CASH, currency="EUR", livemode=True) == 2500
    assert ledger_selectors.ledger_problems() == [] and issuing_problems() == []


def test_funding_is_scoped_to_the_merchant_when_asked(merchant, other_merchant):
    card = issue_card(merchant, fund=0)
    with pytest.raises(NotFound):
        issuing.card_account_fund(account_id=card.account_id, amount=100, reference="x",
                                  merchant_id=other_merchant.pk, livemode=True)


def test_credit_account_books_its_line_and_changes_it(merchant):
    program = make_program(merchant, type="credit", default_credit_limit=100_000)
    card = issue_card(merchant, program=program)
    account = card.account
    assert (account.type, account.credit_limit) == ("credit", 100_000)
    assert account_balances(account) == {"available": 100_000, "held": 0, "credit_line": 100_000}
    with pytest.raises(ValidationError):  # credit accounts are not funded
        issuing.card_account_fund(account_id=account.id, amount=100, reference="x")
    issuing.card_account_set_credit_limit(account_id=account.id, credit_limit=150_000, actor="staff:x")
    assert account_balances(account)["available"] == 150_000
    issuing.card_account_set_credit_limit(account_id=account.id, credit_limit=20_000, actor="staff:x")
    assert account_balances(account) == {"available": 20_000, "held": 0, "credit_line": 20_000}
    assert CardAccount.objects.get(pk=account.id).credit_limit == 20_000
    assert issuing_problems() == [] and ledger_selectors.ledger_problems() == []


def test_credit_limit_cannot_drop_below_what_is_spent(merchant):
    from .test_authorization import authorize

    card = issue_card(merchant, program=make_program(merchant, type="credit"), credit_limit=10_000)
    assert authorize(card, 7_000).approved
    with pytest.raises(ValidationError) as exc:
        issuing.card_account_set_credit_limit(account_id=card.account_id, credit_limit=2_000)
    assert exc.value.code == "credit_limit_too_low"
    assert CardAccount.objects.get(pk=card.account_id).credit_limit == 10_000
    assert account_balances(card.account) == {"available": 3_000, "held": 7_000, "credit_line": 10_000}
    with pytest.raises(ValidationError):  # debit accounts have no limit
        issuing.card_account_set_credit_limit(account_id=issue_card(merchant).account_id, credit_limit=5)


# --- Spending controls --------------------------------------------------------------------------------------


def test_spending_controls_are_validated_and_recorded(merchant):
    card = issue_card(merchant, controls={"per_transaction_limit": 5000, "allowed_countries": ["de", "FR"]})
    assert (card.limit_per_transaction, card.allowed_countries) == (5000, ["DE", "FR"])
    card = issuing.card_set_spending_controls(card_id=card.id, actor="partner",
                                              spending_controls={"per_transaction_limit": None, "daily_limit": 900,
                                                                 "allowed_currencies": ["eur"]})
    assert (card.limit_per_transaction, card.limit_daily, card.allowed_currencies) == (None, 900, ["EUR"])
    event = card.events.get(type=CardEventType.SPENDING_CONTROLS_UPDATED)
    assert event.data["before"]["per_transaction_limit"] == 5000 and event.data["after"]["daily_limit"] == 900


@pytest.mark.parametrize("controls", [
    {"daily_limit": 0}, {"daily_limit": -1}, {"daily_limit": "10"}, {"monthly_limit": 1.5},
    {"allowed_currencies": ["EURO"]}, {"allowed_countries": ["Germany"]}, {"allowed_countries": "DE"},
    {"weekly_limit": 10}, {"daily_limit": 2000, "monthly_limit": 1000},
])
def test_bad_spending_controls_change_nothing(merchant, controls):
    card = issue_card(merchant, controls={"daily_limit": 1500})
    with pytest.raises(ValidationError):
        issuing.card_set_spending_controls(card_id=card.id, spending_controls=controls)
    card.refresh_from_db()
    assert (card.limit_daily, card.limit_monthly, card.allowed_currencies) == (1500, None, [])


def test_a_daily_limit_above_the_existing_monthly_one_is_refused(merchant):
    card = issue_card(merchant, controls={"monthly_limit": 1000})
    with pytest.raises(ValidationError):
        issuing.card_set_spending_controls(card_id=card.id, spending_controls={"daily_limit": 2000})


# --- The lifecycle: every transition in the table --------------------------------------------------------------

CARD_ALLOWED = sorted((f, t) for f, targets in CARD_TRANSITIONS.items() for t in targets)
CARD_FORBIDDEN = sorted((f, t) for f in CardStatus.values for t in CardStatus.values
                        if t not in CARD_TRANSITIONS.get(f, set()))


def test_table_covers_every_status():
    assert set(CARD_TRANSITIONS) == set(CardStatus.values)
    assert all(targets <= set(CardStatus.values) for targets in CARD_TRANSITIONS.values())
    assert len(CARD_ALLOWED) + len(CARD_FORBIDDEN) == len(CardStatus.values) ** 2
    assert CARD_TRANSITIONS[CardStatus.BLOCKED] == set()  # blocked is final


def card_in(merchant, status) -> IssuedCard:
    """A card in `status`, reached through the services."""
    card = issue_card(merchant, type="physical", fund=0)
    if status == CardStatus.INACTIVE:
        return card
    if status == CardStatus.EXPIRED:
        return issuing._card_transition(card_id=card.id, to_status=CardStatus.EXPIRED, actor="test")
    if status == CardStatus.CLOSED:
        return issuing.card_close(card_id=card.id, actor="test")
    card = issuing.card_activate(card_id=card.id, actor="test")
    if status == CardStatus.FROZEN:
        card = issuing.card_freeze(card_id=card.id, actor="test")
    if status == CardStatus.BLOCKED:
        card = issuing.card_block(card_id=card.id, reason="lost", actor="test")
    assert card.status == status
    return card


# The public service that makes each move (the table's one transition function underneath).
def move(card, to_status):
    if to_status == CardStatus.ACTIVE:
        if card.status == CardStatus.FROZEN:
            return issuing.card_unfreeze(card_id=card.id, actor="mover")
        return issuing.card_activate(card_id=card.id, actor="mover")
    if to_status == CardStatus.FROZEN:
        return issuing.card_freeze(card_id=card.id, actor="mover")
    if to_status == CardStatus.BLOCKED:
        return issuing.card_block(card_id=card.id, reason="stolen", actor="mover")
    if to_status == CardStatus.CLOSED:
        return issuing.card_close(card_id=card.id, actor="mover")
    if to_status == CardStatus.EXPIRED:
        return issuing._card_transition(card_id=card.id, to_status=CardStatus.EXPIRED, actor="mover")
    return issuing._card_transition(card_id=card.id, to_status=to_status, actor="mover")


@pytest.mark.parametrize(("from_status", "to_status"), CARD_ALLOWED, ids=[f"{f}->{t}" for f, t in CARD_ALLOWED])
def test_allowed_card_transition(merchant, from_status, to_status):
    card = card_in(merchant, from_status)
    before = card.events.count()
    card = move(card, to_status)
    card.refresh_from_db()
    assert card.status == to_status
    assert card.events.count() == before + 1
    event = card.events.last()
    assert (event.from_status, event.to_status, event.actor) == (from_status, to_status, "mover")
    if to_status == CardStatus.BLOCKED:
        assert card.block_reason == "stolen" and event.reason == "stolen"


@pytest.mark.parametrize(("from_status", "to_status"), CARD_FORBIDDEN, ids=[f"{f}->{t}" for f, t in CARD_FORBIDDEN])
def test_forbidden_card_transition_changes_nothing(merchant, from_status, to_status):
    card = card_in(merchant, from_status)
    before = (card.events.count(), IssuedCard.objects.get(pk=card.pk).updated)
    with pytest.raises(StateError) as exc:
        move(card, to_status)
    assert exc.value.code == "card_unexpected_state"
    card.refresh_from_db()
    assert card.status == from_status
    assert (card.events.count(), card.updated) == before


def test_unfreeze_does_not_activate_an_inactive_card(merchant):
    card = card_in(merchant, CardStatus.INACTIVE)
    with pytest.raises(StateError):
        issuing.card_unfreeze(card_id=card.id)
    with pytest.raises(StateError):  # and activate does not unfreeze
        issuing.card_activate(card_id=card_in(merchant, CardStatus.FROZEN).id)


def test_block_needs_a_reason(merchant):
    card = card_in(merchant, CardStatus.ACTIVE)
    with pytest.raises(ValidationError):
        issuing.card_block(card_id=card.id, reason="bored")
    assert IssuedCard.objects.get(pk=card.id).status == "active"


def test_lifecycle_services_answer_404_for_another_merchant(merchant, other_merchant):
    card = card_in(merchant, CardStatus.ACTIVE)
    for call in (issuing.card_freeze, issuing.card_activate, issuing.card_unfreeze, issuing.card_close):
        with pytest.raises(NotFound):
            call(card_id=card.id, merchant_id=other_merchant.pk, livemode=True)
    with pytest.raises(NotFound):
        issuing.card_freeze(card_id=card.id, merchant_id=merchant.pk, livemode=False)
    assert IssuedCard.objects.get(pk=card.id).status == "active"


# --- Reissue -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("from_status", [CardStatus.ACTIVE, CardStatus.FROZEN])
def test_reissue_blocks_the_old_card_and_issues_a_new_one_on_the_same_account(merchant, from_status):
    old = card_in(merchant, from_status)
    issuing.card_set_spending_controls(card_id=old.id, spending_controls={"daily_limit": 700})
    new = issuing.card_reissue(card_id=old.id, reason="damaged", actor="partner")
    old.refresh_from_db()
    assert (old.status, old.block_reason) == ("blocked", "damaged")
    assert (new.account_id, new.cardholder_id, new.type, new.limit_daily) == (old.account_id, old.cardholder_id,
                                                                                "physical", 700)
    assert new.replacement_for_id == old.id and new.status == "inactive"  # physical: activated on arrival
    assert secrets_of(new)["number"] != secrets_of(old)["number"]
    assert old.events.filter(type=CardEventType.REISSUED, data__replaced_by=new.id).exists()


@pytest.mark.parametrize("from_status", [CardStatus.INACTIVE, CardStatus.BLOCKED, CardStatus.EXPIRED,
                                         CardStatus.CLOSED])
def test_reissue_is_refused_from_other_statuses(merchant, from_status):
    card = card_in(merchant, from_status)
    with pytest.raises(StateError):
        issuing.card_reissue(card_id=card.id, reason="lost")
    assert IssuedCard.objects.count() == 1


def test_reissued_virtual_card_is_active(merchant):
    old = issue_card(merchant)
    new = issuing.card_reissue(card_id=old.id, reason="stolen")
    assert new.status == "active"


# --- Expiry -------------------------------------------------------------------------------------------------------


def test_cards_past_their_expiry_month_expire(merchant):
    due = issue_card(merchant)
    frozen = card_in(merchant, CardStatus.FROZEN)
    fine = issue_card(merchant)
    blocked = card_in(merchant, CardStatus.BLOCKED)
    today = date.today()
    for card in (due, frozen, blocked):
        set_expiry(card, month=today.month, year=today.year - 1)
    set_expiry(fine, month=today.month, year=today.year)  # the current month is still valid
    assert issuing.cards_expire_due() == 2
    statuses = dict(IssuedCard.objects.values_list("pk", "status"))
    assert (statuses[due.pk], statuses[frozen.pk], statuses[fine.pk], statuses[blocked.pk]) == (
        "expired", "expired", "active", "blocked")
    assert issuing.cards_expire_due() == 0
    assert IssuedCardEvent.objects.filter(type=CardEventType.EXPIRED, actor="system:expiry").count() == 2


def test_new_bins_never_repeat():
    assert len({next_bin() for _ in range(50)}) == 50
