"""Velocity counters in per-minute buckets (risk/velocity.py) instead of one row per attempt.

Reads cost the minutes of a window, not its attempts. The attempts of the last day are summed into
their minute's bucket. Going back leaves the attempt table empty (the counters restart).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('risk', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='VelocityBucket',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=64)),
                ('bucket', models.BigIntegerField(help_text='Minutes since 2020-01-01 (risk.velocity.EPOCH_MS)')),
                ('stripe', models.PositiveSmallIntegerField(default=0)),
                ('count', models.BigIntegerField(default=0)),
                ('amount', models.BigIntegerField(default=0, help_text="Sum of the attempts' amounts (minor units)")),
            ],
        ),
        migrations.AddIndex(
            model_name='velocitybucket',
            index=models.Index(fields=['bucket'], name='risk_velocity_bucket'),
        ),
        migrations.AddConstraint(
            model_name='velocitybucket',
            constraint=models.UniqueConstraint(fields=('key', 'bucket', 'stripe'), name='risk_velocity_key_bucket'),
        ),
        migrations.RunSQL(  # the counters of the last day carry over: one row per key and minute
            "INSERT INTO risk_velocitybucket (key, bucket, stripe, count, amount) "
            "SELECT key, ts / 60000, 0, COUNT(*), SUM(amount) FROM risk_velocityevent GROUP BY key, ts / 60000",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.DeleteModel(
            name='VelocityEvent',
        ),
    ]
