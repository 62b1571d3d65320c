import secrets
from datetime import timedelta

import factory
from django.utils import timezone
from oauth2_provider.models import AccessToken

from core.scopes import MERCHANT_SCOPES
from merchants import services
from merchants.constants import MerchantStatus
from merchants.models import Merchant


def _letters(n: int) -> str:
    """n written with the letters A-Z ("A", "B", ..., "BA", ...)."""
    text = ""
    while True:
        n, digit = divmod(n, 26)
        text = chr(ord("A") + digit) + text
        if not n:
            return text


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    # No digits in the name: the card tests look for a CVC (three digits) in every stored value and
    # payload, and "Merchant 523" would be a false alarm whenever a card's CVC is 523.
    name = factory.Sequence(lambda n: f"Merchant {_letters(n)}")
    country = "DE"
    default_currency = "EUR"
    status = MerchantStatus.ACTIVE


def make_client(merchant, *, scopes=MERCHANT_SCOPES, livemode=False, name="Test client", **kwargs):
    """(ApiClient, secret in clear)."""
    return services.api_client_create(merchant=merchant, name=name, livemode=livemode, scopes=scopes, **kwargs)


def issue_token(merchant, *, scopes=MERCHANT_SCOPES, livemode=False, client=None, expires_in=3600, user=None):
    """An access token issued directly in the database (the OAuth flows are tested separately)."""
    if client is None:
        client, _ = make_client(merchant, scopes=MERCHANT_SCOPES, livemode=livemode)
    token = secrets.token_urlsafe(30)
    AccessToken.objects.create(
        application=client,
        token=token,
        scope=" ".join(scopes),
        expires=timezone.now() + timedelta(seconds=expires_in),
        user=user,
    )
    return client, token
