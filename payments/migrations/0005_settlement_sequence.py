"""Settlement by sequence ranges: no row is written per item when a settlement runs.

Every captured payment and every refund drawn on the pending balance gets a number in its merchant's
settlement sequence (merchant, currency, mode: SettlementSequence), and a settlement becomes the
range of numbers it pays out (seq_from < seq <= seq_to). The settlement lines table becomes a view
over the payments and refunds in each settlement's range.

Existing data keeps what it says: in each sequence, the items already settled are numbered first,
settlement by settlement (period, then id; within one, by time and id), so each settlement's range
holds exactly its lines; then the items not settled yet, by booking time (capture time; a refund's
last update). The sequence is left at the last number, settled up to the last settled one.
Reversible: going back materializes the view into the lines table again.

On SQLite, a later migration that alters payments_payment, payments_refund or payments_settlement
(which SQLite does by rebuilding the table) must drop the view first and create it again after
(VIEW below): SQLite refuses to rename a table a view reads from.
"""

from collections import defaultdict

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

VIEW = """
CREATE VIEW payments_settlementline AS
SELECT p.id AS id, s.id AS settlement_id, CAST('payment' AS varchar(16)) AS type, p.id AS payment_id,
       p.amount_captured AS gross, p.fee AS fee, p.amount_captured - p.fee AS net,
       p.captured_at AS occurred_at, p.settlement_seq AS seq
  FROM payments_settlement s
  JOIN payments_payment p
    ON p.settlement_sequence_id = s.sequence_id AND p.settlement_seq > s.seq_from AND p.settlement_seq <= s.seq_to
UNION ALL
SELECT r.id, s.id, CAST('refund' AS varchar(16)), r.payment_id, -r.amount, 0, -r.amount, r.booked_at,
       r.settlement_seq
  FROM payments_settlement s
  JOIN payments_refund r
    ON r.settlement_sequence_id = s.sequence_id AND r.settlement_seq > s.seq_from AND r.settlement_seq <= s.seq_to
"""


def _rows(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def number_items(apps, schema_editor):
    """Number every item, settled ones first (see the module's docstring). Reads each table once, then writes
    row by row (executemany): one UPDATE per item, a migration's cost paid once."""
    with schema_editor.connection.cursor() as cursor:
        lines = defaultdict(list)  # settlement id -> [(occurred_at, item id, type)]
        for settlement_id, occurred_at, item_id, kind in _rows(
                cursor, "SELECT settlement_id, occurred_at, id, type FROM payments_settlementline"):
            lines[settlement_id].append((occurred_at, item_id, kind))
        settlements = _rows(cursor, "SELECT id, merchant_id, currency, livemode FROM payments_settlement "
                                    "ORDER BY merchant_id, currency, livemode, period, id")
        unsettled = _rows(cursor, """
            SELECT p.merchant_id, p.currency, p.livemode, p.captured_at, p.id, 'payment' FROM payments_payment p
             WHERE p.amount_captured > 0 AND NOT EXISTS (SELECT 1 FROM payments_settlementline l WHERE l.id = p.id)
            UNION ALL
            SELECT r.merchant_id, r.currency, r.livemode, r.updated, r.id, 'refund' FROM payments_refund r
             WHERE r.status = 'succeeded' AND r.funded_from = 'pending'
               AND NOT EXISTS (SELECT 1 FROM payments_settlementline l WHERE l.id = r.id)""")
        unsettled.sort(key=lambda row: (row[0], row[1], bool(row[2]), row[3], row[4]))
        booked = defaultdict(int)  # (merchant, currency, livemode) -> last number
        last_at, settled = {}, {}
        numbers = {"payment": [], "refund": []}  # (group, seq, booked_at, item id)
        ranges = []  # (group, seq_from, seq_to, settlement id)
        for settlement_id, merchant_id, currency, livemode in settlements:
            group = (merchant_id, currency, bool(livemode))
            start = booked[group]
            for occurred_at, item_id, kind in sorted(lines.get(settlement_id, ())):
                booked[group] += 1
                numbers[kind].append((group, booked[group], occurred_at, item_id))
                last_at[group] = max(last_at.get(group, occurred_at), occurred_at)
            ranges.append((group, start, booked[group], settlement_id))
            settled[group] = booked[group]
        for merchant_id, currency, livemode, at, item_id, kind in unsettled:
            group = (merchant_id, currency, bool(livemode))
            booked[group] += 1
            numbers[kind].append((group, booked[group], at, item_id))
            last_at[group] = max(last_at.get(group, at), at)
        groups = set(booked) | {(m, c, bool(lm)) for _, m, c, lm in settlements}
        now = timezone.now()
        cursor.executemany(
            "INSERT INTO payments_settlementsequence (merchant_id, currency, livemode, booked, booked_at, settled) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(*group, booked[group], last_at.get(group, now), settled.get(group, 0)) for group in sorted(groups)])
        ids = {(m, c, bool(lm)): pk for pk, m, c, lm in _rows(
            cursor, "SELECT id, merchant_id, currency, livemode FROM payments_settlementsequence")}
        cursor.executemany("UPDATE payments_payment SET settlement_sequence_id = %s, settlement_seq = %s WHERE id = %s",
                           [(ids[group], seq, item_id) for group, seq, _, item_id in numbers["payment"]])
        cursor.executemany("UPDATE payments_refund SET settlement_sequence_id = %s, settlement_seq = %s, booked_at = %s "
                           "WHERE id = %s", [(ids[group], *rest) for group, *rest in numbers["refund"]])
        cursor.executemany("UPDATE payments_settlement SET sequence_id = %s, seq_from = %s, seq_to = %s WHERE id = %s",
                           [(ids[group], *rest) for group, *rest in ranges])
        if schema_editor.connection.vendor == "postgresql":  # the FK checks now, so the ALTER TABLEs that follow can run
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def covering_indexes(apps, schema_editor):
    """On PostgreSQL, the two unique indexes on the sequence numbers also carry the amounts and the time
    (INCLUDE): a settlement run reads them index-only, in sequence order, never the payments' rows. Same
    names and uniqueness as the model's constraints (Django creates no covering unique index on SQLite,
    so the model declares them plain)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, name, include in (("payments_payment", "payment_settlement_seq", "amount_captured, fee, captured_at"),
                                 ("payments_refund", "refund_settlement_seq", "amount, booked_at")):
        schema_editor.execute(f"DROP INDEX {name}")
        schema_editor.execute(f"CREATE UNIQUE INDEX {name} ON {table} (settlement_sequence_id, settlement_seq) "
                              f"INCLUDE ({include}) WHERE settlement_sequence_id IS NOT NULL")


def materialize_lines(apps, schema_editor):
    """Going back: the view's rows become the lines table's again."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO payments_settlementline (id, settlement_id, type, payment_id, gross, fee, net, occurred_at)
            SELECT p.id, s.id, 'payment', p.id, p.amount_captured, p.fee, p.amount_captured - p.fee, p.captured_at
              FROM payments_settlement s JOIN payments_payment p ON p.settlement_sequence_id = s.sequence_id
               AND p.settlement_seq > s.seq_from AND p.settlement_seq <= s.seq_to""")
        cursor.execute("""
            INSERT INTO payments_settlementline (id, settlement_id, type, payment_id, gross, fee, net, occurred_at)
            SELECT r.id, s.id, 'refund', r.payment_id, -r.amount, 0, -r.amount, r.booked_at
              FROM payments_settlement s JOIN payments_refund r ON r.settlement_sequence_id = s.sequence_id
               AND r.settlement_seq > s.seq_from AND r.settlement_seq <= s.seq_to""")


class Migration(migrations.Migration):

    dependencies = [
        ('merchants', '0005_portal_accounts'),
        ('payments', '0004_lean_settlement_lines'),
    ]

    operations = [
        migrations.CreateModel(
            name='SettlementSequence',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('currency', models.CharField(max_length=3)),
                ('livemode', models.BooleanField(default=False)),
                ('booked', models.BigIntegerField(default=0, help_text='The last number taken')),
                ('booked_at', models.DateTimeField(help_text="The last item's booking time")),
                ('settled', models.BigIntegerField(default=0, help_text='Items up to this number are settled')),
                ('merchant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='merchants.merchant')),
            ],
            options={
                'constraints': [
                    models.UniqueConstraint(fields=('merchant', 'currency', 'livemode'), name='settlement_sequence_once'),
                    models.CheckConstraint(condition=models.Q(('settled__gte', 0), ('settled__lte', models.F('booked'))), name='settlement_sequence_settled_le_booked'),
                ],
            },
        ),
        migrations.AddField(
            model_name='payment',
            name='settlement_sequence',
            field=models.ForeignKey(blank=True, db_index=False, editable=False, help_text="The merchant's settlement sequence (currency, mode)", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='payments.settlementsequence'),
        ),
        migrations.AddField(
            model_name='payment',
            name='settlement_seq',
            field=models.BigIntegerField(blank=True, editable=False, help_text='Its number in that sequence, taken at capture: settled by the settlement whose range holds it (payments/settlement.py)', null=True),
        ),
        migrations.AddField(
            model_name='refund',
            name='settlement_sequence',
            field=models.ForeignKey(blank=True, db_index=False, editable=False, help_text="Drawn on pending: the merchant's settlement sequence", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='payments.settlementsequence'),
        ),
        migrations.AddField(
            model_name='refund',
            name='booked_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When it took its place in the settlement sequence', null=True),
        ),
        migrations.AddField(
            model_name='refund',
            name='settlement_seq',
            field=models.BigIntegerField(blank=True, editable=False, help_text='Its number in that sequence, taken when it succeeded', null=True),
        ),
        migrations.AddField(
            model_name='settlement',
            name='sequence',
            field=models.ForeignKey(db_index=False, null=True, help_text="The merchant's settlement sequence (currency, mode) it is a range of", on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='payments.settlementsequence'),
        ),
        migrations.AddField(
            model_name='settlement',
            name='seq_from',
            field=models.BigIntegerField(default=0, help_text='Its items follow this number of the sequence (excluded)'),
        ),
        migrations.AddField(
            model_name='settlement',
            name='seq_to',
            field=models.BigIntegerField(default=0, help_text='... up to this one (included)'),
        ),
        migrations.RunPython(number_items, materialize_lines),
        migrations.AlterField(
            model_name='settlement',
            name='sequence',
            field=models.ForeignKey(db_index=False, help_text="The merchant's settlement sequence (currency, mode) it is a range of", on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='payments.settlementsequence'),
        ),
        migrations.AddIndex(
            model_name='settlement',
            index=models.Index(fields=['sequence', 'seq_to'], name='settlement_sequence_range'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.UniqueConstraint(condition=models.Q(('settlement_sequence__isnull', False)), fields=('settlement_sequence', 'settlement_seq'), name='payment_settlement_seq'),
        ),
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.UniqueConstraint(condition=models.Q(('settlement_sequence__isnull', False)), fields=('settlement_sequence', 'settlement_seq'), name='refund_settlement_seq'),
        ),
        migrations.AddConstraint(
            model_name='settlement',
            constraint=models.CheckConstraint(condition=models.Q(('seq_from__gte', 0), ('seq_to__gte', models.F('seq_from'))), name='settlement_seq_range'),
        ),
        # A settlement is created whole and final: `open` (which lived only inside a run's transaction while
        # lines were written) is gone.
        migrations.RemoveConstraint(
            model_name='settlement',
            name='settlement_status_valid',
        ),
        migrations.AlterField(
            model_name='settlement',
            name='status',
            field=models.CharField(choices=[('completed', 'Completed')], default='completed', max_length=16),
        ),
        migrations.AddConstraint(
            model_name='settlement',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['completed'])), name='settlement_status_valid'),
        ),
        migrations.RunPython(covering_indexes, migrations.RunPython.noop),
        migrations.DeleteModel(name='SettlementLine'),
        migrations.CreateModel(
            name='SettlementLine',
            fields=[
                ('id', models.CharField(editable=False, help_text="The settled item's id: the payment's (type payment) or the refund's (type refund)", max_length=40, primary_key=True, serialize=False)),
                ('type', models.CharField(choices=[('payment', 'Payment'), ('refund', 'Refund')], max_length=16)),
                ('gross', models.BigIntegerField(help_text='Captured amount, or minus the refunded amount')),
                ('fee', models.BigIntegerField(default=0)),
                ('net', models.BigIntegerField()),
                ('occurred_at', models.DateTimeField(help_text='When it was captured or refunded')),
                ('seq', models.BigIntegerField(help_text="Its number in the merchant's settlement sequence")),
                ('payment', models.ForeignKey(db_constraint=False, help_text='The payment captured, or the payment the refund gave money back on', on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='payments.payment')),
                ('settlement', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='lines', to='payments.settlement')),
            ],
            options={
                'db_table': 'payments_settlementline',
                'managed': False,
            },
        ),
        migrations.RunSQL(VIEW, reverse_sql="DROP VIEW payments_settlementline"),
    ]
