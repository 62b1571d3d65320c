"""The ledger on its own: balanced entries, exactly once, no negative balances, immutable postings."""

import pytest
from django.db import IntegrityError, connection, transaction

from ledger import selectors, services
from ledger.constants import AccountPurpose as P
from ledger.constants import EntryType
from ledger.models import Account, Posting
from ledger.services import InsufficientBalance, LedgerError, Line

pytestmark = pytest.mark.django_db


def capture(merchant, key="capture:pay_1", gross=1000, fee=39):
    return services.entry_post(key=key, type=EntryType.PAYMENT, currency="EUR", livemode=False,
                               merchant_id=merchant.pk, source="pay_1", amount=gross, fee=fee,
                               lines=[Line(P.SCHEME_RECEIVABLE, gross),
                                      Line(P.MERCHANT_PENDING, -(gross - fee), merchant.pk),
                                      Line(P.FEE_REVENUE, -fee)])


def test_entry_updates_cached_balances_on_the_normal_side(merchant):
    entry = capture(merchant)
    assert entry.id.startswith("txn_") and entry.net == 961
    assert selectors.balances_for_merchant(merchant_id=merchant.pk, livemode=False) == {
        "EUR": {"available": 0, "pending": 961}}
    assert selectors.account_balance(purpose=P.SCHEME_RECEIVABLE, currency="EUR", livemode=False) == 1000
    assert selectors.account_balance(purpose=P.FEE_REVENUE, currency="EUR", livemode=False) == 39
    assert selectors.ledger_problems() == []


def test_same_key_posts_once(merchant):
    first, second = capture(merchant), capture(merchant)
    assert first.pk == second.pk
    assert Posting.objects.count() == 3
    assert selectors.balances_for_merchant(merchant_id=merchant.pk, livemode=False)["EUR"]["pending"] == 961


def test_unbalanced_entry_is_refused_in_code(merchant):
    with pytest.raises(LedgerError, match="Unbalanced"):
        services.entry_post(key="x", type=EntryType.PAYMENT, currency="EUR", livemode=False,
                            lines=[Line(P.SCHEME_RECEIVABLE, 100), Line(P.FEE_REVENUE, -99)])
    assert Posting.objects.count() == 0


def test_available_balance_cannot_go_negative(merchant):
    with pytest.raises(InsufficientBalance) as exc:
        services.entry_post(key="refund:re_1", type=EntryType.REFUND, currency="EUR", livemode=False,
                            merchant_id=merchant.pk, lines=[Line(P.MERCHANT_AVAILABLE, 100, merchant.pk),
                                                            Line(P.SCHEME_RECEIVABLE, -100)])
    assert exc.value.code == "balance_insufficient"
    assert "cannot cover 100 EUR" in exc.value.message
    assert Posting.objects.count() == 0


def test_reversal_restores_balances_and_links_the_entry(merchant):
    entry = capture(merchant)
    reversal = services.entry_reverse(entry=entry, key="reverse:1", type=EntryType.PAYOUT_FAILURE)
    assert reversal.reverses_id == entry.pk and reversal.amount == -1000
    assert selectors.balances_for_merchant(merchant_id=merchant.pk, livemode=False)["EUR"]["pending"] == 0
    assert selectors.ledger_problems() == []


def test_verify_finds_a_tampered_cached_balance(merchant):
    capture(merchant)
    Account.objects.filter(purpose=P.MERCHANT_PENDING).update(balance=5)
    problems = selectors.ledger_problems()
    assert any("cached balance 5 != sum of postings 961" in p for p in problems)


def test_accounts_must_match_their_ownership(merchant):
    with pytest.raises(LedgerError):
        services.account_get_or_create(purpose=P.MERCHANT_PENDING, currency="EUR", livemode=False)
    with pytest.raises(LedgerError):
        services.account_get_or_create(purpose=P.FEE_REVENUE, currency="EUR", livemode=False, merchant_id=merchant.pk)


def test_holder_accounts_cache_their_balance_and_refuse_to_go_negative():
    """Card accounts of card issuing (#4) own ledger accounts by `holder`, cached and locked like a merchant's."""
    services.entry_post(key="issuing_funding:iacct_1:w1", type=EntryType.ISSUING_FUNDING, currency="EUR",
                               livemode=True, source="iacct_1",
                               lines=[Line(P.BANK_CASH, 500), Line(P.CARD_AVAILABLE, -500, holder="iacct_1")])
    services.entry_post(key="issuing_hold:iauth_1", type=EntryType.ISSUING_HOLD, currency="EUR", livemode=True,
                        lines=[Line(P.CARD_AVAILABLE, 300, holder="iacct_1"),
                               Line(P.CARD_HELD, -300, holder="iacct_1")])
    assert selectors.account_balance(purpose=P.CARD_AVAILABLE, currency="EUR", livemode=True, holder="iacct_1") == 200
    assert selectors.holder_balances(holders=["iacct_1", "iacct_2"]) == {
        "iacct_1": {P.CARD_AVAILABLE: 200, P.CARD_HELD: 300}, "iacct_2": {}}
    with pytest.raises(InsufficientBalance):
        services.entry_post(key="issuing_hold:iauth_2", type=EntryType.ISSUING_HOLD, currency="EUR", livemode=True,
                            lines=[Line(P.CARD_AVAILABLE, 201, holder="iacct_1"),
                                   Line(P.CARD_HELD, -201, holder="iacct_1")])
    # Another holder's account is another account; the platform's bank cash is shared and uncached.
    services.entry_post(key="issuing_funding:iacct_2:w1", type=EntryType.ISSUING_FUNDING, currency="EUR",
                        livemode=True, lines=[Line(P.BANK_CASH, 70), Line(P.CARD_AVAILABLE, -70, holder="iacct_2")])
    assert Account.objects.filter(purpose=P.CARD_AVAILABLE).count() == 2
    assert selectors.account_balance(purpose=P.BANK_CASH, currency="EUR", livemode=True) == 570
    assert selectors.ledger_problems() == []
    Account.objects.filter(holder="iacct_2").update(balance=1)
    assert any("cached balance 1 != sum of postings 70" in p for p in selectors.ledger_problems())


def test_holder_accounts_must_have_a_holder(merchant):
    with pytest.raises(LedgerError, match="needs holder"):
        services.account_get_or_create(purpose=P.CARD_AVAILABLE, currency="EUR", livemode=False)
    with pytest.raises(LedgerError, match="takes no holder"):
        services.account_get_or_create(purpose=P.BANK_CASH, currency="EUR", livemode=False, holder="iacct_1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(purpose=P.MERCHANT_PENDING, type="liability", currency="EUR", merchant=merchant,
                               holder="iacct_1")


def test_database_refuses_a_negative_non_negative_account(merchant):
    account = services.account_get_or_create(purpose=P.MERCHANT_AVAILABLE, currency="EUR", livemode=False,
                                             merchant_id=merchant.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=-1)


@pytest.mark.postgres
def test_postgres_refuses_updating_or_deleting_a_posting(merchant):
    capture(merchant)
    posting = Posting.objects.first()
    for statement in ("UPDATE ledger_posting SET amount = amount + 1 WHERE id = %s",
                      "DELETE FROM ledger_posting WHERE id = %s"):
        with pytest.raises(Exception, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [posting.pk])
    assert Posting.objects.get(pk=posting.pk).amount == posting.amount


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_an_unbalanced_entry_at_commit(merchant):
    entry = capture(merchant)
    account = Account.objects.get(purpose=P.FEE_REVENUE)
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        Posting.objects.create(entry=entry, account=account, amount=-1, currency="EUR")
    assert Posting.objects.filter(entry=entry).count() == 3


# --- Many entries at once (a settlement run posts two per merchant) ---------------------------------


def _settle_and_pay_out(merchant_id, total, n):
    return [services.NewEntry(key=f"settlement:{n}", type=EntryType.SETTLEMENT, currency="EUR", livemode=False,
                              merchant_id=merchant_id, amount=total,
                              lines=[Line(P.MERCHANT_PENDING, total, merchant_id),
                                     Line(P.MERCHANT_AVAILABLE, -total, merchant_id)]),
            services.NewEntry(key=f"payout:{n}", type=EntryType.PAYOUT, currency="EUR", livemode=False,
                              merchant_id=merchant_id, amount=-total,
                              lines=[Line(P.MERCHANT_AVAILABLE, total, merchant_id),
                                     Line(P.PAYOUT_CLEARING, -total)])]


def test_entries_post_posts_each_entry_in_order_like_entry_post(merchant, other_merchant):
    capture(merchant, key="capture:a", gross=1000, fee=39)
    capture(other_merchant, key="capture:b", gross=500, fee=20)
    entries = services.entries_post(entries=_settle_and_pay_out(merchant.pk, 961, 1)
                                    + _settle_and_pay_out(other_merchant.pk, 480, 2))
    assert [e.key for e in entries] == ["settlement:1", "payout:1", "settlement:2", "payout:2"]
    assert all(e.pk.startswith("txn_") for e in entries) and Posting.objects.filter(entry__in=entries).count() == 8
    for m in (merchant, other_merchant):  # available went up, then down again; pending is empty
        assert selectors.balances_for_merchant(merchant_id=m.pk, livemode=False) == {
            "EUR": {"available": 0, "pending": 0}}
    assert selectors.account_balance(purpose=P.PAYOUT_CLEARING, currency="EUR", livemode=False) == 961 + 480
    assert selectors.ledger_problems() == []


def test_entries_post_checks_every_entry_in_turn_and_posts_nothing_on_a_break(merchant):
    capture(merchant, gross=1000, fee=39)
    payout_first = list(reversed(_settle_and_pay_out(merchant.pk, 961, 1)))  # available is empty before the payout
    with pytest.raises(InsufficientBalance):
        services.entries_post(entries=payout_first)
    assert Posting.objects.count() == 3 and not Account.objects.filter(purpose=P.PAYOUT_CLEARING, balance__gt=0)
    with pytest.raises(LedgerError, match="Unbalanced"):
        services.entries_post(entries=[services.NewEntry(key="x", type=EntryType.PAYMENT, currency="EUR",
                                                         livemode=False, lines=[Line(P.SCHEME_RECEIVABLE, 100),
                                                                                Line(P.FEE_REVENUE, -99)])])
    assert selectors.balances_for_merchant(merchant_id=merchant.pk, livemode=False)["EUR"]["pending"] == 961


def test_entries_post_keeps_the_first_posting_of_a_key(merchant):
    capture(merchant, gross=1000, fee=39)
    first = services.entries_post(entries=_settle_and_pay_out(merchant.pk, 961, 1))
    again = services.entries_post(entries=_settle_and_pay_out(merchant.pk, 961, 1))
    assert [e.pk for e in again] == [e.pk for e in first] and Posting.objects.count() == 3 + 4
    assert selectors.ledger_problems() == []


def test_entries_post_takes_the_same_statements_for_two_entries_or_twenty(merchant, other_merchant,
                                                                          django_assert_num_queries):
    from merchants.tests.factories import MerchantFactory

    merchants = [MerchantFactory() for _ in range(10)]
    for n, m in enumerate([merchant, *merchants]):
        capture(m, key=f"capture:{n}")
        services.account_get_or_create(purpose=P.MERCHANT_AVAILABLE, currency="EUR", livemode=False,
                                       merchant_id=m.pk)
    services.account_get_or_create(purpose=P.PAYOUT_CLEARING, currency="EUR", livemode=False)
    with django_assert_num_queries(9) as one:  # 4 savepoint statements, entries, accounts, lock, postings, balances
        services.entries_post(entries=_settle_and_pay_out(merchant.pk, 961, "one"))
    with django_assert_num_queries(len(one.captured_queries)):
        services.entries_post(entries=[e for n, m in enumerate(merchants)
                                       for e in _settle_and_pay_out(m.pk, 961, f"many{n}")])
    assert selectors.ledger_problems() == []
