
from cards.tests.factories import VISA_OK

from .. import services


def card_data(number=VISA_OK, exp_month=12, exp_year=2034, cvc="123", **extra):
    return {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc, **extra}


def make_payment(merchant, *, amount=1000, currency="EUR", capture=True, number=VISA_OK, livemode=False, **kwargs):
    """A payment created through the service, as the API would."""
    return services.payment_create(merchant_id=merchant.pk, livemode=livemode, amount=amount, currency=currency,
                                   card=card_data(number), capture=capture, **kwargs)


