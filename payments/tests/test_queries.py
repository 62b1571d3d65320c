"""Query budgets of the hot endpoints.

Measured (SQLite and PostgreSQL alike), inside the test transaction, so every `atomic` block
shows up as a SAVEPOINT / RELEASE pair (in production they are BEGIN/COMMIT, not round trips):

POST /v1/payments, captured, with Idempotency-Key: 15 statements, 9 of them real round trips:
    token lookup; SAVEPOINT + INSERT idempotency key + RELEASE; the intent: SAVEPOINT + INSERT card +
    INSERT payment (`processing`) + INSERT its created event + RELEASE; then, after the processor
    answered: SAVEPOINT + SELECT ... FOR UPDATE + UPDATE payment + one bulk INSERT of its events +
    RELEASE, inside one more SAVEPOINT/RELEASE pair that also holds what risk learns from the answer
    (one commit); then UPDATE idempotency key.
POST /v1/payments without a key: 11. A replay of a stored response: 6 (the failed INSERT in its
savepoint, then one SELECT), whatever the first request cost.
GET /v1/payments: 2 statements (token lookup, one SELECT joined with the card), at any page size.
Every authenticated call then adds the API request log's INSERT, after the response (REQUEST_LOG).

The bounds are the measurement plus one, so one stray query is tolerated and an N+1 is not.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.tests.factories import make_card

from .. import services
from .factories import card_data, make_payment

pytestmark = pytest.mark.django_db

# Events (merchants.services.event_publish, issue #6): payment.created, then payment.succeeded or
# payment.authorized, 3 statements each (upsert of the sequence counter, INSERT event, SELECT the endpoints).
EVENTS = 2 * 3
# Risk (issue #5), database velocity backend: SELECT velocity counters, SELECT amount statistics,
# INSERT assessment, INSERT velocity rows, UPDATE amount statistics after the approval, and the
# assessment read by the event's payment representation. With Redis, the two velocity statements
# become one pipelined round trip each and leave the database. These tests measure a merchant's first
# payment, which also reads the merchant's country (then cached) and creates its amount statistics row
# (UPDATE finding none, then SAVEPOINT + INSERT + RELEASE): 4 more; and every test starts with the risk
# configuration marked changed (conftest.py), so lists, rules and limits are loaded once (3 SELECTs, cached after).
RISK = 6 + 4 + 3
# Ledger (issue #3), a capture: SELECT fee plan, UPDATE the payment's fee, then the journal entry: SAVEPOINT,
# SELECT its key, SAVEPOINT + INSERT + RELEASE, SELECT ... FOR UPDATE of its 3 accounts, one INSERT of the
# postings, one UPDATE of the balances, RELEASE. The first capture of a merchant in a currency also creates
# its accounts (per account: SELECT, SAVEPOINT + INSERT + RELEASE, and one more locking SELECT): these
# tests capture a new merchant's first payment. Before the entry, the capture's number in the merchant's
# settlement sequence: one upsert (payments/settlement.py).
LEDGER = 11 + 3 * 4 + 1 + 1
# API request log (core.request_log, issue #7): one INSERT after the response was sent; inside the test
# transaction it shows as SAVEPOINT + INSERT + RELEASE (in production: the INSERT alone, in autocommit).
REQUEST_LOG = 3
CREATE_WITH_KEY_MAX = 18 + EVENTS + RISK + LEDGER + REQUEST_LOG
CREATE_WITHOUT_KEY_MAX = 14 + EVENTS + RISK + LEDGER + REQUEST_LOG
REPLAY_MAX = 7 + REQUEST_LOG
LIST_MAX = 3 + REQUEST_LOG


def warm_up(api):
    """The first request of a client stamps its last_used_at (at most once a minute): keep it out of the count."""
    assert api.get("/v1/payments", {"limit": 1}).status_code == 200


def test_create_captured_with_idempotency_key(api, django_assert_max_num_queries):
    warm_up(api)
    with django_assert_max_num_queries(CREATE_WITH_KEY_MAX):
        r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card": card_data()}, format="json",
                     headers={"Idempotency-Key": "q-1"})
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "succeeded"


def test_create_replay_is_cheaper_than_the_first_request(api, django_assert_max_num_queries):
    warm_up(api)
    body = {"amount": 1000, "currency": "EUR", "card": card_data()}
    api.post("/v1/payments", body, format="json", headers={"Idempotency-Key": "q-2"})
    with django_assert_max_num_queries(REPLAY_MAX):
        r = api.post("/v1/payments", body, format="json", headers={"Idempotency-Key": "q-2"})
    assert r["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("capture", [True, False])
def test_create_without_idempotency_key(api, capture, django_assert_max_num_queries):
    warm_up(api)
    with django_assert_max_num_queries(CREATE_WITHOUT_KEY_MAX):
        r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card": card_data(), "capture": capture},
                     format="json")
    assert r.status_code == 201, r.content


def test_create_with_card_token(api, merchant, django_assert_max_num_queries):
    card = make_card(merchant)
    warm_up(api)
    with django_assert_max_num_queries(CREATE_WITH_KEY_MAX):
        r = api.post("/v1/payments", {"amount": 1000, "currency": "EUR", "card_token": card.pk}, format="json",
                     headers={"Idempotency-Key": "q-3"})
    assert r.status_code == 201, r.content


def _count(request) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = request()
    assert r.status_code == 200, r.content
    return len(ctx.captured_queries)


def test_payment_list_has_no_n_plus_one(api, merchant, django_assert_max_num_queries):
    warm_up(api)
    make_payment(merchant)
    one = _count(lambda: api.get("/v1/payments", {"limit": 100}))
    for _ in range(25):
        make_payment(merchant, capture=False)
    services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=make_payment(merchant).pk)
    many = _count(lambda: api.get("/v1/payments", {"limit": 100}))
    assert one == many
    with django_assert_max_num_queries(LIST_MAX):
        r = api.get("/v1/payments", {"limit": 100, "status": "requires_capture", "created[gte]": "0"})
    assert len(r.json()["data"]) == 25
    # Deep pages cost the same as the first.
    page = api.get("/v1/payments", {"limit": 5}).json()["data"]
    assert _count(lambda: api.get("/v1/payments", {"limit": 5, "starting_after": page[-1]["id"]})) == one
    assert _count(lambda: api.get("/v1/payments", {"limit": 5, "ending_before": page[-1]["id"]})) == one


def test_refund_list_has_no_n_plus_one(api, merchant, django_assert_max_num_queries):
    warm_up(api)
    payment = make_payment(merchant, amount=10_000)
    services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=1)
    one = _count(lambda: api.get("/v1/refunds", {"limit": 100}))
    for _ in range(20):
        services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=payment.pk, amount=1)
    assert _count(lambda: api.get("/v1/refunds", {"limit": 100})) == one
    with django_assert_max_num_queries(LIST_MAX):
        assert len(api.get("/v1/refunds", {"limit": 100, "payment": payment.pk}).json()["data"]) == 21
