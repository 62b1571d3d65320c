"""Every write to merchants, their members and their API clients."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, RefreshToken

from core.errors import StateError, ValidationError
from core.money import CurrencyError, normalize_currency
from core.scopes import MERCHANT_SCOPES

from .constants import MERCHANT_TRANSITIONS, ClientKind, MemberRole, MerchantStatus
from .models import ApiClient, Merchant, MerchantMember, MerchantStatusEvent


def merchant_create(*, name: str, country: str = "DE", default_currency: str = "EUR", support_email: str = "",
                    legal_name: str = "") -> Merchant:
    if not name.strip():
        raise ValidationError("A merchant needs a name.", param="name")
    try:
        currency = normalize_currency(default_currency)
    except CurrencyError as exc:
        raise ValidationError(str(exc), param="default_currency")
    if len(country) != 2 or not country.isalpha():
        raise ValidationError("Country must be an ISO 3166-1 alpha-2 code.", param="country")
    return Merchant.objects.create(
        name=name.strip(),
        legal_name=legal_name,
        country=country.upper(),
        default_currency=currency,
        support_email=support_email,
    )


@transaction.atomic
def merchant_set_status(*, merchant_id: str, to_status: str, actor: str, note: str = "") -> Merchant:
    """The one place a merchant's status changes: lock, check the table, record the event."""
    merchant = Merchant.objects.select_for_update().get(pk=merchant_id)
    if to_status not in MERCHANT_TRANSITIONS.get(merchant.status, set()):
        raise StateError(f"This merchant is {merchant.status}; it cannot become {to_status}.",
                         code="invalid_transition")
    MerchantStatusEvent.objects.create(
        merchant=merchant, from_status=merchant.status, to_status=to_status, actor=actor, note=note
    )
    merchant.status = to_status
    merchant.save(update_fields=["status", "updated"])
    return merchant


def member_add(*, merchant: Merchant, user, role: str = MemberRole.OWNER) -> MerchantMember:
    if role not in MemberRole.values:
        raise ValidationError(f"Unknown role {role}.", param="role")
    return MerchantMember.objects.create(merchant=merchant, user=user, role=role)


def _check_scopes(scopes) -> str:
    unknown = sorted(set(scopes) - set(MERCHANT_SCOPES))
    if unknown:
        raise ValidationError(f"Unknown scope(s): {' '.join(unknown)}.", param="scopes")
    return " ".join(s for s in MERCHANT_SCOPES if s in set(scopes))


@transaction.atomic
def api_client_create(*, merchant: Merchant, name: str, livemode: bool = False, scopes=MERCHANT_SCOPES,
                      kind: str = ClientKind.SERVER, redirect_uris: str = "", client_id: str | None = None,
                      client_secret: str | None = None) -> tuple[ApiClient, str]:
    """A new API client. Returns the client and its secret in clear - shown once, stored hashed."""
    if livemode and merchant.status != MerchantStatus.ACTIVE:
        raise StateError("Live-mode clients need an approved (active) merchant.", code="merchant_not_active")
    if kind == ClientKind.CONNECT:
        uris = redirect_uris.split()
        if not uris:
            raise ValidationError("A third-party app needs at least one exact redirect URI.", param="redirect_uris")
        grant = ApiClient.GRANT_AUTHORIZATION_CODE
    elif kind == ClientKind.SERVER:
        grant = ApiClient.GRANT_CLIENT_CREDENTIALS
    else:
        raise ValidationError(f"Unknown client kind {kind}.", param="kind")
    secret = client_secret or generate_client_secret()
    client = ApiClient(
        merchant=merchant,
        name=name,
        kind=kind,
        livemode=livemode,
        allowed_scopes=_check_scopes(scopes),
        client_type=ApiClient.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        redirect_uris=redirect_uris,
        client_secret=secret,
        hash_client_secret=True,
    )
    if client_id:
        client.client_id = client_id
    client.full_clean(exclude=["user", "client_secret"])
    client.save()
    return client, secret


@transaction.atomic
def api_client_set_secret(*, client: ApiClient, secret: str | None = None) -> str:
    """Replace the client's secret (rotation). Existing tokens stay valid until they expire."""
    secret = secret or generate_client_secret()
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    client.client_secret = secret
    client.save(update_fields=["client_secret", "updated"])
    return secret


@transaction.atomic
def api_client_set_scopes(*, client: ApiClient, scopes) -> ApiClient:
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    client.allowed_scopes = _check_scopes(scopes)
    client.save(update_fields=["allowed_scopes", "updated"])
    return client


@transaction.atomic
def api_client_revoke(*, client: ApiClient) -> ApiClient:
    """Revoke a client and every token it holds, at once."""
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at", "updated"])
    RefreshToken.objects.filter(application=client).delete()
    AccessToken.objects.filter(application=client).delete()
    return client
