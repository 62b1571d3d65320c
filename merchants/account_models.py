from django.conf import settings
from django.db import models
from django.db.models import Q

from core.ids import ID_MAX_LENGTH, id_factory

from .constants import MemberRole


class MerchantInvitation(models.Model):
    """An invitation to join a merchant's team with a role, sent by e-mail (portal, issue #7).

    Only the SHA-256 of the random token is stored: the link in the e-mail is the one place the token
    exists. An invitation is single use (`accepted_at`), can be revoked (`revoked_at`), and expires.
    """

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=id_factory("invitation"), editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=MemberRole.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=MemberRole.values), name="invitation_role_valid"),
            models.CheckConstraint(condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                                   name="invitation_accepted_or_revoked"),
            # One open invitation per address and merchant: inviting again replaces the old one.
            models.UniqueConstraint(fields=["merchant", "email"], condition=Q(accepted_at__isnull=True,
                                                                             revoked_at__isnull=True),
                                    name="invitation_one_open_per_email"),
        ]

    def __str__(self):
        return f"{self.email} -> {self.merchant_id} ({self.role})"

    def status(self, now) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"
