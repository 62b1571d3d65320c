from .. import services

VISA_OK = "4242424242424242"
MASTERCARD_OK = "5555555555554444"
AMEX_OK = "378282246310005"
DISCOVER_OK = "6011111111111117"


def make_card(merchant, *, number=VISA_OK, exp_month=12, exp_year=2034, cvc="123", livemode=False, name=""):
    return services.card_tokenize(merchant_id=merchant.pk, livemode=livemode, number=number, exp_month=exp_month,
                                  exp_year=exp_year, cvc=cvc, name=name)
