"""Lean settlement lines: the line's primary key is the settled item's id (pay_... or re_...).

Before: a bigint id, 8 indexes (payment_id twice, a partial unique on payment_id, refund_id unique
twice, settlement_id twice) and a deferred FK check on the settlement per line. After: 2 indexes
(the primary key, which also makes each payment and refund settle at most once, and
settlement_line_settlement) and no per-line FK check; `refund` and `currency` are gone (a refund
line's id is the refund's, the currency is the settlement's). Existing lines keep their settlement,
amounts and time; their id becomes COALESCE(refund_id, payment_id). Not reversible once lines exist
(their ids are no longer numbers).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0003_settlement_and_payouts'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='settlementline',
            name='settlement_line_payment_once',
        ),
        migrations.RemoveConstraint(
            model_name='settlementline',
            name='settlement_line_kind',
        ),
        migrations.AlterField(
            model_name='settlementline',
            name='id',
            field=models.CharField(editable=False, help_text="The settled item's id: the payment's (type payment) or the refund's (type refund)", max_length=40, primary_key=True, serialize=False),
        ),
        migrations.RunSQL(
            "UPDATE payments_settlementline SET id = COALESCE(refund_id, payment_id)",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RemoveField(
            model_name='settlementline',
            name='currency',
        ),
        migrations.RemoveField(
            model_name='settlementline',
            name='refund',
        ),
        migrations.AlterField(
            model_name='settlementline',
            name='payment',
            field=models.ForeignKey(db_constraint=False, db_index=False, help_text='The payment captured, or the payment the refund gave money back on', on_delete=django.db.models.deletion.PROTECT, related_name='+', to='payments.payment'),
        ),
        migrations.AlterField(
            model_name='settlementline',
            name='settlement',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='payments.settlement'),
        ),
        migrations.AddIndex(
            model_name='settlementline',
            index=models.Index(fields=['settlement'], name='settlement_line_settlement'),
        ),
        migrations.AddConstraint(
            model_name='settlementline',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('id', models.F('payment_id')), ('type', 'payment')), models.Q(('type', 'refund'), models.Q(('id', models.F('payment_id')), _negated=True)), _connector='OR'), name='settlement_line_kind'),
        ),
    ]
