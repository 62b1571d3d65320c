"""Migration payments/0005 (settlement by sequence ranges) keeps every settlement's lines, both ways;
0006 tunes autovacuum for the run's index-only scans, and undoes it."""

import pytest
from django.core.management import call_command
from django.db import connection

from merchants.fees import fee_plan_set
from merchants.tests.factories import MerchantFactory

from .. import services
from ..models import Settlement, SettlementLine, SettlementSequence
from ..verification import verify_all
from .factories import make_payment
from .money_helpers import VALID_IBAN, settle

pytestmark = pytest.mark.django_db(transaction=True)

LINE_COLUMNS = "id, settlement_id, type, payment_id, gross, fee, net"


def lines() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {LINE_COLUMNS} FROM payments_settlementline ORDER BY id")
        return cursor.fetchall()


def test_going_back_materializes_the_lines_and_coming_forward_numbers_them_again():
    merchants = [MerchantFactory(payout_iban=VALID_IBAN) for _ in range(2)]
    for m in merchants:
        fee_plan_set(merchant_id=m.pk, currency="EUR", percent_bps=200, fixed_amount=10)
    first = make_payment(merchants[0], amount=10_000)
    make_payment(merchants[1], amount=3_000)
    services.refund_create(merchant_id=merchants[0].pk, livemode=False, payment_id=first.pk, amount=1_000)
    settle()
    make_payment(merchants[0], amount=4_000)
    make_payment(merchants[0], amount=2_000, currency="USD")
    settle()
    unsettled = make_payment(merchants[0], amount=500)  # booked, not settled
    before = lines()
    assert len(before) == 5 and verify_all(record=False) == []

    call_command("migrate", "payments", "0004", verbosity=0)
    assert lines() == before  # a table again, with every line

    call_command("migrate", "payments", verbosity=0)
    assert lines() == before  # a view again, over the renumbered items
    assert {(s.payment_count + s.refund_count, s.seq_to - s.seq_from) for s in Settlement.objects.all()} == {
        (2, 2), (1, 1)}
    assert SettlementLine.objects.filter(pk=unsettled.pk).count() == 0
    eur = SettlementSequence.objects.get(merchant=merchants[0], currency="EUR")
    assert (eur.booked, eur.settled) == (4, 3)
    assert verify_all(record=False) == []
    assert settle() and SettlementLine.objects.filter(pk=unsettled.pk).count() == 1
    assert verify_all(record=False) == []


def autovacuum_options() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class "
                       "WHERE relname IN ('payments_payment', 'payments_refund')")
        return {table: sorted(reloptions or []) for table, reloptions in cursor.fetchall()}


def test_on_postgresql_autovacuum_visits_the_settled_tables_after_a_fixed_number_of_changes():
    """0006: autovacuum comes after every 20,000 changed rows whatever the table's size, so a settlement
    run finds the day's pages all-visible; going back restores PostgreSQL's defaults."""
    if connection.vendor != "postgresql":
        pytest.skip("storage parameters are PostgreSQL's")
    tuned = sorted(["autovacuum_vacuum_insert_threshold=20000", "autovacuum_vacuum_insert_scale_factor=0",
                    "autovacuum_vacuum_threshold=20000", "autovacuum_vacuum_scale_factor=0"])
    assert autovacuum_options() == {"payments_payment": tuned, "payments_refund": tuned}
    call_command("migrate", "payments", "0005", verbosity=0)
    assert autovacuum_options() == {"payments_payment": [], "payments_refund": []}
    call_command("migrate", "payments", verbosity=0)
    assert autovacuum_options() == {"payments_payment": tuned, "payments_refund": tuned}
