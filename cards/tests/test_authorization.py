"""On-us authorization (#4): every decline reason, holds, captures (full, partial), reversals, hold
expiry, refunds, answers once per reference, and every authorization status transition from the table."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import StateError
from core.ids import new_id
from ledger import selectors as ledger_selectors
from ledger.constants import AccountPurpose

from .. import authorization, issuing
from ..constants import AUTHORIZATION_TRANSITIONS, AuthorizationEventType, AuthorizationStatus, Decline
from ..issuing_models import IssuingAuthorization, IssuingAuthorizationEvent
from ..issuing_selectors import account_balances, issuing_problems
from ..vault import CardNumber
from .issuing_factories import issue_card, make_program, secrets_of, set_expiry, wrong_cvc

pytestmark = pytest.mark.django_db


def authorize(card, amount, *, capture=False, currency="EUR", cvc=..., exp=None, number=None, reference=None,
              country="DE", merchant_id=None):
    details = secrets_of(card)
    exp_month, exp_year = exp or (details["exp_month"], details["exp_year"])
    return authorization.authorization_request(
        livemode=card.livemode, number=CardNumber(number or details["number"]),
        cvc=details["cvc"] if cvc is ... else cvc, exp_month=exp_month, exp_year=exp_year, amount=amount,
        currency=currency, capture=capture, reference=reference or new_id("payment"),
        merchant_id=merchant_id or card.merchant_id, merchant_country=country)


def balances(card):
    return account_balances(card.account)


def bank_cash(livemode=True):
    return ledger_selectors.account_balance(purpose=AccountPurpose.BANK_CASH, currency="EUR", livemode=livemode)


def assert_books_balance():
    assert ledger_selectors.ledger_problems() == []
    assert issuing_problems() == []


# --- Approvals ------------------------------------------------------------------------------------------


def test_approval_places_a_hold(merchant, settings):
    settings.ISSUING_HOLD_DAYS = 5
    card = issue_card(merchant, fund=10_000)
    answer = authorize(card, 2_500)
    assert answer.approved and answer.authorization_id.startswith("iauth_") and answer.decline_code == ""
    auth = IssuingAuthorization.objects.get(pk=answer.authorization_id)
    assert (auth.status, auth.amount, auth.amount_captured, auth.card_id) == ("pending", 2_500, 0, card.id)
    assert timedelta(days=4, hours=23) < auth.expires_at - timezone.now() <= timedelta(days=5)
    assert balances(card) == {"available": 7_500, "held": 2_500, "credit_line": 0}
    assert bank_cash() == 10_000  # nothing left the bank yet
    assert list(auth.events.values_list("type", "to_status")) == [(AuthorizationEventType.CREATED, "pending")]
    assert_books_balance()


def test_approval_with_capture_debits_at_once(merchant):
    card = issue_card(merchant, fund=10_000)
    answer = authorize(card, 4_000, capture=True)
    auth = IssuingAuthorization.objects.get(pk=answer.authorization_id)
    assert (auth.status, auth.amount_captured, auth.expires_at) == ("closed", 4_000, None)
    assert balances(card) == {"available": 6_000, "held": 0, "credit_line": 0}
    assert bank_cash() == 6_000  # paid out to the scheme; the acquiring side's settlement brings it back
    assert_books_balance()


def test_credit_card_spends_its_line(merchant):
    card = issue_card(merchant, program=make_program(merchant, type="credit"), credit_limit=5_000)
    assert authorize(card, 5_000, capture=True).approved
    assert authorize(card, 1).decline_code == Decline.INSUFFICIENT_FUNDS
    assert balances(card) == {"available": 0, "held": 0, "credit_line": 5_000}
    assert_books_balance()


def test_a_stored_card_without_cvc_is_authorized_as_card_on_file(merchant):
    card = issue_card(merchant)
    assert authorize(card, 100, cvc=None).approved


def test_an_answer_is_given_once_per_reference(merchant):
    card = issue_card(merchant, fund=1_000)
    first = authorize(card, 600, reference="pay_same")
    again = authorize(card, 600, reference="pay_same")
    assert first == again
    assert IssuingAuthorization.objects.count() == 1
    assert balances(card)["held"] == 600
    declined = authorize(card, 5_000, reference="pay_other")
    assert authorize(card, 1, reference="pay_other") == declined  # a retry does not turn a decline around


# --- Every decline reason -----------------------------------------------------------------------------------


def _blocked(reason):
    def make(card):
        issuing.card_block(card_id=card.id, reason=reason)
    return make


DECLINE_CASES = {
    "insufficient_funds": (lambda card: None, {"amount": 10_001}, Decline.INSUFFICIENT_FUNDS),
    "expired_status": (lambda card: issuing._card_transition(card_id=card.id, to_status="expired"), {},
                       Decline.EXPIRED_CARD),
    "expired_date": (lambda card: set_expiry(card, month=1, year=timezone.now().year - 1), {},
                     Decline.EXPIRED_CARD),
    "incorrect_cvc": (lambda card: None, {"cvc": "wrong"}, Decline.INCORRECT_CVC),
    "lost": (_blocked("lost"), {}, Decline.LOST_CARD),
    "stolen": (_blocked("stolen"), {}, Decline.STOLEN_CARD),
    "blocked_damaged": (_blocked("damaged"), {}, Decline.CARD_DECLINED),
    "closed": (lambda card: issuing.card_close(card_id=card.id), {}, Decline.CARD_DECLINED),
    "frozen": (lambda card: issuing.card_freeze(card_id=card.id), {}, Decline.CARD_FROZEN),
    "inactive": (None, {}, Decline.CARD_INACTIVE),
    "per_transaction_limit": (lambda card: issuing.card_set_spending_controls(
        card_id=card.id, spending_controls={"per_transaction_limit": 999}), {}, Decline.SPENDING_LIMIT_EXCEEDED),
    "daily_limit": (lambda card: issuing.card_set_spending_controls(
        card_id=card.id, spending_controls={"daily_limit": 999}), {}, Decline.SPENDING_LIMIT_EXCEEDED),
    "monthly_limit": (lambda card: issuing.card_set_spending_controls(
        card_id=card.id, spending_controls={"monthly_limit": 999}), {}, Decline.SPENDING_LIMIT_EXCEEDED),
    "account_currency": (lambda card: None, {"currency": "USD"}, Decline.CURRENCY_NOT_ALLOWED),
    "allowed_currencies": (lambda card: issuing.card_set_spending_controls(
        card_id=card.id, spending_controls={"allowed_currencies": ["USD"]}), {}, Decline.CURRENCY_NOT_ALLOWED),
    "allowed_countries": (lambda card: issuing.card_set_spending_controls(
        card_id=card.id, spending_controls={"allowed_countries": ["FR", "NL"]}), {}, Decline.COUNTRY_NOT_ALLOWED),
    "wrong_expiry": (lambda card: None, {"exp": "wrong"}, Decline.INVALID_EXPIRY),
}


@pytest.mark.parametrize("case", list(DECLINE_CASES))
def test_every_decline_reason_records_a_decline_and_moves_no_money(merchant, case):
    setup, overrides, code = DECLINE_CASES[case]
    card = issue_card(merchant, fund=10_000, type="virtual" if setup else "physical")
    if setup:
        setup(card)
        card.refresh_from_db()
    details = secrets_of(card)
    if overrides.get("cvc") == "wrong":
        overrides["cvc"] = wrong_cvc(details["cvc"])
    if overrides.get("exp") == "wrong":
        overrides["exp"] = (details["exp_month"] % 12 + 1, details["exp_year"])
    before = (balances(card), bank_cash())
    answer = authorize(card, overrides.pop("amount", 1_000), **overrides)
    assert (answer.approved, answer.decline_code) == (False, code)
    auth = IssuingAuthorization.objects.get(pk=answer.authorization_id)
    assert (auth.status, auth.approved, auth.decline_code) == ("declined", False, code)
    assert auth.decline_detail
    assert (balances(card), bank_cash()) == before
    assert_books_balance()


def test_the_card_data_is_checked_before_the_status_is_told(merchant):
    """Without the right expiry and CVC nobody learns that a card is frozen, blocked or short of funds."""
    card = issue_card(merchant, fund=100)
    issuing.card_freeze(card_id=card.id)
    details = secrets_of(card)
    assert authorize(card, 1_000, cvc=wrong_cvc(details["cvc"])).decline_code == Decline.INCORRECT_CVC
    assert authorize(card, 1_000, exp=(details["exp_month"], details["exp_year"] + 1)).decline_code == (
        Decline.INVALID_EXPIRY)
    assert authorize(card, 1_000).decline_code == Decline.CARD_FROZEN


def test_a_card_of_another_issuer_is_not_supported(merchant):
    answer = authorization.authorization_request(
        livemode=True, number=CardNumber("4242424242424242"), cvc="123", exp_month=12, exp_year=2034, amount=100,
        currency="EUR", capture=True, reference="pay_x", merchant_id=merchant.pk)
    assert answer == authorization.AuthorizationAnswer(approved=False, decline_code=Decline.CARD_NOT_SUPPORTED)
    assert IssuingAuthorization.objects.count() == 0


def test_a_test_mode_card_is_not_a_live_card(merchant):
    card = issue_card(merchant, livemode=False)
    details = secrets_of(card)
    answer = authorization.authorization_request(
        livemode=True, number=CardNumber(details["number"]), cvc=details["cvc"], exp_month=details["exp_month"],
        exp_year=details["exp_year"], amount=100, currency="EUR", capture=True, reference="pay_y",
        merchant_id=merchant.pk)
    assert answer.decline_code == Decline.CARD_NOT_SUPPORTED


def test_limits_count_holds_and_captures_but_not_released_holds(merchant):
    card = issue_card(merchant, fund=100_000, controls={"daily_limit": 5_000, "monthly_limit": 8_000})
    held = authorize(card, 2_000)
    captured = authorize(card, 2_000, capture=True)
    assert authorize(card, 1_001).decline_code == Decline.SPENDING_LIMIT_EXCEEDED  # 4,000 of 5,000 used today
    assert authorization.authorization_reverse(authorization_id=held.authorization_id).ok
    assert authorize(card, 3_000).approved  # the released 2,000 no longer counts
    authorization.authorization_capture(authorization_id=captured.authorization_id, amount=1, reference="x")
    # Yesterday's spending counts for the month, not for the day.
    IssuingAuthorization.objects.filter(card=card).update(created=timezone.now() - timedelta(days=1))
    if timezone.now().day == 1:  # yesterday was last month: the month starts afresh too
        assert authorize(card, 5_000).approved
    else:
        assert authorize(card, 3_001).decline_code == Decline.SPENDING_LIMIT_EXCEEDED  # 5,000 of 8,000 this month
        assert authorize(card, 3_000).approved


def test_partial_capture_counts_only_what_was_captured(merchant):
    card = issue_card(merchant, fund=100_000, controls={"daily_limit": 5_000})
    held = authorize(card, 5_000)
    assert authorization.authorization_capture(authorization_id=held.authorization_id, amount=1_000,
                                               reference="cap").ok
    assert authorize(card, 4_000).approved
    assert authorize(card, 1).decline_code == Decline.SPENDING_LIMIT_EXCEEDED


# --- Capture, reversal, expiry, refund ----------------------------------------------------------------------------


def test_full_capture_posts_the_debit(merchant):
    card = issue_card(merchant, fund=10_000)
    auth_id = authorize(card, 3_000).authorization_id
    assert authorization.authorization_capture(authorization_id=auth_id, amount=3_000, reference="pay_1:capture").ok
    auth = IssuingAuthorization.objects.get(pk=auth_id)
    assert (auth.status, auth.amount_captured, auth.expires_at) == ("closed", 3_000, None)
    assert balances(card) == {"available": 7_000, "held": 0, "credit_line": 0}
    assert bank_cash() == 7_000
    assert_books_balance()


def test_partial_capture_releases_the_rest(merchant):
    card = issue_card(merchant, fund=10_000)
    auth_id = authorize(card, 3_000).authorization_id
    assert authorization.authorization_capture(authorization_id=auth_id, amount=1_200, reference="c").ok
    assert balances(card) == {"available": 8_800, "held": 0, "credit_line": 0}
    assert IssuingAuthorization.objects.get(pk=auth_id).amount_captured == 1_200
    assert_books_balance()


def test_capture_is_applied_once_per_reference_and_refused_otherwise(merchant):
    card = issue_card(merchant, fund=10_000)
    auth_id = authorize(card, 3_000).authorization_id
    assert authorization.authorization_capture(authorization_id=auth_id, amount=5_000, reference="c") == (
        authorization.OperationAnswer(ok=False, failure_code="amount_too_large"))
    assert authorization.authorization_capture(authorization_id=auth_id, amount=3_000, reference="c").ok
    assert authorization.authorization_capture(authorization_id=auth_id, amount=3_000, reference="c").ok  # retry
    second = authorization.authorization_capture(authorization_id=auth_id, amount=3_000, reference="other")
    assert second == authorization.OperationAnswer(ok=False, failure_code="authorization_closed")
    assert not authorization.authorization_capture(authorization_id="iauth_none", amount=1, reference="c").ok
    assert balances(card)["available"] == 7_000
    assert_books_balance()


def test_reverse_releases_the_hold_once(merchant):
    card = issue_card(merchant, fund=10_000)
    auth_id = authorize(card, 3_000).authorization_id
    assert authorization.authorization_reverse(authorization_id=auth_id, reference="v").ok
    assert authorization.authorization_reverse(authorization_id=auth_id, reference="v").ok
    assert IssuingAuthorization.objects.get(pk=auth_id).status == "reversed"
    assert balances(card) == {"available": 10_000, "held": 0, "credit_line": 0}
    captured = authorize(card, 100, capture=True).authorization_id
    assert authorization.authorization_reverse(authorization_id=captured) == authorization.OperationAnswer(
        ok=False, failure_code="authorization_closed")
    assert_books_balance()


def test_holds_expire_and_release_the_funds(merchant):
    card = issue_card(merchant, fund=10_000)
    old = authorize(card, 3_000).authorization_id
    fresh = authorize(card, 1_000).authorization_id
    captured = authorize(card, 500, capture=True).authorization_id
    IssuingAuthorization.objects.filter(pk=old).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert authorization.authorizations_expire_due() == 1
    assert authorization.authorizations_expire_due() == 0  # idempotent
    statuses = dict(IssuingAuthorization.objects.values_list("pk", "status"))
    assert (statuses[old], statuses[fresh], statuses[captured]) == ("expired", "pending", "closed")
    assert balances(card) == {"available": 8_500, "held": 1_000, "credit_line": 0}
    event = IssuingAuthorizationEvent.objects.get(authorization_id=old, type=AuthorizationEventType.EXPIRED)
    assert event.actor == "system:hold_expiry"
    # Too late to capture; a cancellation is fine (already released).
    assert authorization.authorization_capture(authorization_id=old, amount=3_000, reference="c") == (
        authorization.OperationAnswer(ok=False, failure_code="authorization_expired"))
    assert authorization.authorization_reverse(authorization_id=old).ok
    assert_books_balance()


def test_the_expiry_task_runs_the_service(merchant, settings):
    from ..issuing_tasks import issuing_expire_cards, issuing_expire_holds

    card = issue_card(merchant, fund=10_000)
    auth_id = authorize(card, 3_000).authorization_id
    IssuingAuthorization.objects.filter(pk=auth_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert issuing_expire_holds.apply().get() == 1
    assert issuing_expire_cards.apply().get() == 0
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"cards.issuing_expire_holds", "cards.issuing_expire_cards"} <= names


def test_refunds_return_money_to_the_card_never_more_than_captured(merchant):
    card = issue_card(merchant, fund=10_000)
    auth_id = authorize(card, 4_000, capture=True).authorization_id
    assert authorization.authorization_refund(authorization_id=auth_id, amount=1_500, reference="re_1").ok
    assert authorization.authorization_refund(authorization_id=auth_id, amount=1_500, reference="re_1").ok  # retry
    assert balances(card)["available"] == 7_500
    too_much = authorization.authorization_refund(authorization_id=auth_id, amount=2_501, reference="re_2")
    assert too_much == authorization.OperationAnswer(ok=False, failure_code="amount_too_large")
    assert authorization.authorization_refund(authorization_id=auth_id, amount=2_500, reference="re_3").ok
    assert IssuingAuthorization.objects.get(pk=auth_id).amount_refunded == 4_000
    assert balances(card)["available"] == 10_000
    pending = authorize(card, 100).authorization_id
    assert authorization.authorization_refund(authorization_id=pending, amount=100, reference="re_4") == (
        authorization.OperationAnswer(ok=False, failure_code="authorization_pending"))
    assert_books_balance()


# --- Every authorization status transition from the table ----------------------------------------------------

AUTH_ALLOWED = sorted((f, t) for f, targets in AUTHORIZATION_TRANSITIONS.items() for t in targets)
AUTH_FORBIDDEN = sorted((f, t) for f in AuthorizationStatus.values for t in AuthorizationStatus.values
                        if t not in AUTHORIZATION_TRANSITIONS.get(f, set()))


def test_authorization_table_covers_every_status():
    assert set(AUTHORIZATION_TRANSITIONS) == set(AuthorizationStatus.values)
    assert len(AUTH_ALLOWED) + len(AUTH_FORBIDDEN) == len(AuthorizationStatus.values) ** 2


def auth_in(card, status) -> IssuingAuthorization:
    if status == AuthorizationStatus.DECLINED:
        answer = authorize(card, 10**9)
    elif status == AuthorizationStatus.CLOSED:
        answer = authorize(card, 100, capture=True)
    else:
        answer = authorize(card, 100)
    if status == AuthorizationStatus.REVERSED:
        authorization.authorization_reverse(authorization_id=answer.authorization_id)
    if status == AuthorizationStatus.EXPIRED:
        IssuingAuthorization.objects.filter(pk=answer.authorization_id).update(expires_at=timezone.now())
        authorization.authorizations_expire_due()
    auth = IssuingAuthorization.objects.get(pk=answer.authorization_id)
    assert auth.status == status
    return auth


def move_auth(auth, to_status):
    """The public service that makes the move (the one transition function underneath)."""
    if to_status == AuthorizationStatus.CLOSED:
        answer = authorization.authorization_capture(authorization_id=auth.id, amount=auth.amount, reference="m")
        if not answer.ok:
            raise StateError(answer.failure_code, code=answer.failure_code)
        return
    if to_status == AuthorizationStatus.REVERSED and auth.status not in ("reversed", "expired"):
        answer = authorization.authorization_reverse(authorization_id=auth.id, reference="m")
        if not answer.ok:
            raise StateError(answer.failure_code, code=answer.failure_code)
        return
    authorization._authorization_transition(authorization_id=auth.id, to_status=to_status,
                                            event_type=AuthorizationEventType.EXPIRED, changes={})


@pytest.mark.parametrize(("from_status", "to_status"), AUTH_ALLOWED, ids=[f"{f}->{t}" for f, t in AUTH_ALLOWED])
def test_allowed_authorization_transition(merchant, from_status, to_status):
    card = issue_card(merchant, fund=10_000)
    auth = auth_in(card, from_status)
    before = auth.events.count()
    if to_status == AuthorizationStatus.EXPIRED:
        IssuingAuthorization.objects.filter(pk=auth.pk).update(expires_at=timezone.now())
        assert authorization.authorizations_expire_due() == 1
    else:
        move_auth(auth, to_status)
    auth.refresh_from_db()
    assert auth.status == to_status
    assert auth.events.count() == before + 1
    assert auth.events.last().from_status == from_status
    assert balances(card)["held"] == 0
    assert_books_balance()


@pytest.mark.parametrize(("from_status", "to_status"), AUTH_FORBIDDEN,
                         ids=[f"{f}->{t}" for f, t in AUTH_FORBIDDEN])
def test_forbidden_authorization_transition_changes_nothing(merchant, from_status, to_status):
    card = issue_card(merchant, fund=10_000)
    auth = auth_in(card, from_status)
    before = (auth.events.count(), balances(card))
    with pytest.raises(StateError):
        authorization._authorization_transition(authorization_id=auth.id, to_status=to_status,
                                                event_type=AuthorizationEventType.EXPIRED, changes={})
    auth.refresh_from_db()
    assert auth.status == from_status
    assert (auth.events.count(), balances(card)) == before
