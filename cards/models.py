from django.db import models

from core.ids import ID_MAX_LENGTH, id_factory


class Card(models.Model):
    """A card in the vault. The PAN is held only as AES-256-GCM ciphertext; never the CVC."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("card"), editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="cards")
    livemode = models.BooleanField(default=False)
    brand = models.CharField(max_length=16)
    bin = models.CharField(max_length=8)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100, blank=True)
    fingerprint = models.CharField(max_length=64, db_index=True)
    pan_ciphertext = models.BinaryField(null=True, editable=False)
    key_version = models.PositiveSmallIntegerField(null=True)
    reusable = models.BooleanField(default=True, help_text="Tokenized through /v1/cards (usable as card_token)")
    created = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="card_merchant_list")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(exp_month__gte=1, exp_month__lte=12), name="card_exp_month_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(deleted_at__isnull=False)
                | models.Q(pan_ciphertext__isnull=False, key_version__isnull=False),
                name="card_live_has_ciphertext",
            ),
        ]

    def __str__(self):
        return f"{self.brand} {self.bin}...{self.last4} ({self.id})"

    @property
    def masked(self) -> str:
        return f"{self.bin}******{self.last4}"


from .issuing_models import (  # noqa: E402, F401  (card issuing, #4)
    CardAccount,
    Cardholder,
    CardProgram,
    IssuedCard,
    IssuedCardEvent,
    IssuingAuthorization,
    IssuingAuthorizationEvent,
)
