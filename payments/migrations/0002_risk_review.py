# Risk engine (issue #5): the requires_review status, its event types, and the link to the assessment.

import django.db.models.deletion
from django.db import migrations, models

STATUSES = ["processing", "requires_capture", "succeeded", "failed", "canceled", "requires_review"]


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
        ("risk", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="payment", name="payment_status_valid"),
        migrations.AddField(
            model_name="payment",
            name="risk_assessment",
            field=models.ForeignKey(
                blank=True, help_text="The risk engine's assessment (issue #5)", null=True,
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="risk.assessment",
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="status",
            field=models.CharField(
                choices=[("processing", "Processing"), ("requires_capture", "Requires capture"),
                         ("succeeded", "Succeeded"), ("failed", "Failed"), ("canceled", "Canceled"),
                         ("requires_review", "Requires review")],
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="paymentevent",
            name="type",
            field=models.CharField(
                choices=[("payment.created", "Payment Created"), ("payment.authorized", "Payment Authorized"),
                         ("payment.succeeded", "Payment Succeeded"), ("payment.failed", "Payment Failed"),
                         ("payment.canceled", "Payment Canceled"), ("payment.captured", "Payment Captured"),
                         ("payment.requires_review", "Payment Requires Review"),
                         ("payment.review_approved", "Payment Review Approved"),
                         ("refund.created", "Refund Created"), ("refund.succeeded", "Refund Succeeded"),
                         ("refund.failed", "Refund Failed")],
                max_length=32,
            ),
        ),
        migrations.CreateModel(
            name="PaymentReview",
            fields=[],
            options={"verbose_name": "payment to review", "verbose_name_plural": "review queue", "proxy": True,
                     "indexes": [], "constraints": []},
            bases=("payments.payment",),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(condition=models.Q(status__in=STATUSES), name="payment_status_valid"),
        ),
    ]
