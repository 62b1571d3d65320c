"""Block and allow lists of every kind, for every merchant or one, and their normalization."""

import pytest

from core.errors import NotFound, ValidationError

from ..constants import Decision, ListAction, ListKind
from ..services import list_entry_create, list_entry_delete
from .conftest import rule_names

pytestmark = pytest.mark.django_db

CASES = [
    (ListKind.FINGERPRINT, "FP1", {"card_fingerprint": "fp1"}, {"card_fingerprint": "fp2"}),
    (ListKind.BIN, "424242", {"card_bin": "424242"}, {"card_bin": "555555"}),
    (ListKind.BIN, "42424242", {"card_bin": "42424242"}, {"card_bin": "42424243"}),
    (ListKind.IP_RANGE, "203.0.113.0/24", {"ip": "203.0.113.77"}, {"ip": "203.0.114.1"}),
    (ListKind.IP_RANGE, "2001:db8::/32", {"ip": "2001:db8::5"}, {"ip": "2001:db9::5"}),
    (ListKind.EMAIL_DOMAIN, "@Mailinator.com", {"customer_email": "x@MAILINATOR.com"},
     {"customer_email": "x@example.com"}),
    (ListKind.COUNTRY, "ng", {"ip": "203.0.113.1"}, {"ip": "192.0.2.1"}),  # by IP country
    (ListKind.COUNTRY, "us", {"card_bin": "424242"}, {"card_bin": "999999"}),  # by card country
]


@pytest.mark.parametrize(("kind", "value", "hit", "miss"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_block_list_entry_blocks_only_what_matches(assess, kind, value, hit, miss):
    entry = list_entry_create(kind=kind, value=value, action=ListAction.BLOCK)
    blocked = assess(**hit)
    assert (blocked.decision, blocked.score) == (Decision.BLOCK, 100)
    assert rule_names(blocked)[0] == f"list:{entry.pk}"
    assert "block list" in blocked.reasons[0]["message"]
    assert assess(**miss).decision == Decision.ALLOW


@pytest.mark.parametrize(("kind", "value", "hit", "miss"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_allow_list_entry_overrides_a_review(assess, kind, value, hit, miss):
    list_entry_create(kind=kind, value=value, action=ListAction.ALLOW)
    # the elevated-risk test card goes to review unless allowed
    elevated = {"card_bin": "400000", "card_last4": "9235"}
    allowed = assess(**{**elevated, **hit})
    if "card_bin" in hit:  # the entry is on the BIN: the test card itself is not on it
        return
    assert allowed.decision == Decision.ALLOW
    assert any(r.startswith("list:") for r in rule_names(allowed))
    assert assess(**{**elevated, **miss}).decision == Decision.REVIEW


def test_block_beats_allow(assess):
    list_entry_create(kind=ListKind.FINGERPRINT, value="fp1", action=ListAction.ALLOW)
    list_entry_create(kind=ListKind.COUNTRY, value="US", action=ListAction.BLOCK)
    assert assess().decision == Decision.BLOCK


def test_merchant_entries_apply_to_that_merchant_and_mode_only(assess, merchant, other_merchant):
    list_entry_create(kind=ListKind.FINGERPRINT, value="fp1", merchant_id=merchant.pk, livemode=False)
    assert assess().decision == Decision.BLOCK
    assert assess(merchant_id=other_merchant.pk).decision == Decision.ALLOW
    assert assess(livemode=True).decision == Decision.ALLOW


def test_deleting_an_entry_takes_effect(assess, merchant, other_merchant):
    entry = list_entry_create(kind=ListKind.FINGERPRINT, value="fp1", merchant_id=merchant.pk, livemode=False)
    with pytest.raises(NotFound):  # another merchant's entry
        list_entry_delete(entry_id=entry.pk, merchant_id=other_merchant.pk, livemode=False)
    assert assess().decision == Decision.BLOCK
    list_entry_delete(entry_id=entry.pk, merchant_id=merchant.pk, livemode=False)
    assert assess().decision == Decision.ALLOW


@pytest.mark.parametrize(("kind", "value"), [
    (ListKind.BIN, "4242"), (ListKind.BIN, "42424x"), (ListKind.IP_RANGE, "300.1.1.1/8"),
    (ListKind.IP_RANGE, "nonsense"), (ListKind.EMAIL_DOMAIN, "nodot"), (ListKind.EMAIL_DOMAIN, "a@b.com"),
    (ListKind.COUNTRY, "DEU"), (ListKind.COUNTRY, "1A"), (ListKind.FINGERPRINT, "has space"), ("other", "x"),
])
def test_invalid_values_are_refused(kind, value):
    with pytest.raises(ValidationError):
        list_entry_create(kind=kind, value=value)


def test_values_are_normalized_and_entries_not_duplicated():
    a = list_entry_create(kind=ListKind.IP_RANGE, value="203.0.113.9/24")
    assert a.value == "203.0.113.0/24"
    assert list_entry_create(kind=ListKind.IP_RANGE, value="203.0.113.0/24").pk == a.pk
    assert list_entry_create(kind=ListKind.COUNTRY, value=" de ").value == "DE"
