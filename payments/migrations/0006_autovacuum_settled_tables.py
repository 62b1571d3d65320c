"""Keep the day's payments and refunds all-visible for the settlement run's index-only scans.

A settlement run reads each sequence's unsettled items from covering indexes (0005), index-only as
long as the visibility map marks their heap pages all-visible; a page not marked costs one heap visit
per item on it. PostgreSQL's default autovacuum comes after changes to 20 % of a table, so on a table
holding years of payments it would not visit a day's new pages before that day is settled, and the
run would read every item's row (measured: the settlement of 1,000,001 payments takes 1.09 s instead
of 0.22 s, bench/README.md). A fixed threshold makes autovacuum come after every 20,000 inserted and
every 20,000 updated or deleted rows, whatever the table's size. Each visit costs what changed since
the last: VACUUM skips the pages already all-visible, and skips the indexes while few rows are dead.

PostgreSQL only (storage parameters); nothing on SQLite. Reversible: RESET restores the defaults.
"""

from django.db import migrations

TABLES = ("payments_payment", "payments_refund")
PARAMETERS = {
    "autovacuum_vacuum_insert_threshold": 20000,
    "autovacuum_vacuum_insert_scale_factor": 0,
    "autovacuum_vacuum_threshold": 20000,
    "autovacuum_vacuum_scale_factor": 0,
}


def _set(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    settings = ", ".join(f"{name} = {value}" for name, value in PARAMETERS.items())
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} SET ({settings})")


def _reset(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} RESET ({', '.join(PARAMETERS)})")


class Migration(migrations.Migration):
    dependencies = [("payments", "0005_settlement_sequence")]

    operations = [migrations.RunPython(_set, _reset)]
