"""Reads about a merchant's people, their invitations, API clients and authorized apps (the portal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import AccessToken, RefreshToken

from .account_models import MerchantInvitation
from .constants import ClientKind, MemberRole
from .models import ApiClient, MerchantMember


def team_members(*, merchant_id: str):
    """Owners first, then developers, then viewers; each group by e-mail."""
    order = Case(*(When(role=r, then=Value(i)) for i, r in enumerate(MemberRole.values)),
                 output_field=IntegerField())
    return (MerchantMember.objects.filter(merchant_id=merchant_id).select_related("user")
            .order_by(order, "user__email", "pk"))


def invitations_open(*, merchant_id: str):
    """Invitations neither accepted nor revoked, newest first (expired ones too: they can be sent again)."""
    return MerchantInvitation.objects.filter(merchant_id=merchant_id, accepted_at__isnull=True,
                                             revoked_at__isnull=True).select_related("invited_by")


def api_clients(*, merchant_id: str, kind: str = ClientKind.SERVER):
    """The merchant's API clients of one kind: active ones first, then revoked; newest first."""
    return (ApiClient.objects.filter(merchant_id=merchant_id, kind=kind)
            .order_by("revoked_at", "-created").only(
                "id", "public_id", "name", "client_id", "kind", "livemode", "allowed_scopes", "redirect_uris",
                "created", "last_used_at", "revoked_at", "merchant_id"))


def api_client_get(*, merchant_id: str, public_id: str, kind: str | None = None) -> ApiClient | None:
    qs = ApiClient.objects.filter(merchant_id=merchant_id, public_id=public_id)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.first()


def first_test_client(*, merchant_id: str) -> ApiClient | None:
    """The merchant's newest active test-mode server client (for the docs' examples)."""
    return (ApiClient.objects.filter(merchant_id=merchant_id, kind=ClientKind.SERVER, livemode=False,
                                     revoked_at__isnull=True).order_by("-created").first())


def user_has_totp(*, user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_pending_device(*, user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


@dataclass
class AuthorizedApp:
    client: ApiClient
    scopes: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    first_authorized: datetime | None = None
    last_authorized: datetime | None = None

    def seen(self, *, scope: str, person: str, when: datetime) -> None:
        self.scopes.update(scope.split())
        self.people.add(person)
        self.first_authorized = min(filter(None, [self.first_authorized, when]))
        self.last_authorized = max(filter(None, [self.last_authorized, when]))


def authorized_apps(*, merchant_id: str) -> list[AuthorizedApp]:
    """Third-party apps holding a live grant from this merchant's people: an unexpired access token or an
    unrevoked refresh token. Scopes are what the tokens hold, capped by what the app may still ask for.
    Two queries whatever the number of tokens."""
    users = MerchantMember.objects.filter(merchant_id=merchant_id).values("user_id")
    now = timezone.now()
    common = {"user__in": users, "application__kind": ClientKind.CONNECT, "application__revoked_at__isnull": True}
    related = ("application__merchant", "user")
    apps: dict[int, AuthorizedApp] = {}
    rows = [
        *AccessToken.objects.filter(expires__gt=now, **common).select_related(*related),
        *RefreshToken.objects.filter(revoked__isnull=True, **common).select_related(*related, "access_token"),
    ]
    for token in rows:
        scope = token.scope if isinstance(token, AccessToken) else getattr(token.access_token, "scope", "")
        app = apps.setdefault(token.application_id, AuthorizedApp(client=token.application))
        allowed = " ".join(s for s in scope.split() if s in token.application.allowed_scope_set)
        app.seen(scope=allowed, person=token.user.email or token.user.get_username(), when=token.created)
    return sorted(apps.values(), key=lambda a: a.last_authorized, reverse=True)
