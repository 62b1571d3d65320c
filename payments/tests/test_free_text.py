"""Card numbers belong in `card` only: free-text fields holding one are refused and nothing is stored."""

import pytest

from cards.tests.factories import VISA_OK

from ..models import Payment
from .factories import card_data

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"description": "card 4242 4242 4242 4242 please"}, "description"),
        ({"description": "5555-5555-5555-4444"}, "description"),
        ({"metadata": {"note": "pan 378282246310005"}}, "metadata[note]"),
        ({"metadata": {"4242424242424242": "x"}}, "metadata"),
    ],
)
def test_card_number_in_free_text_is_refused(api, extra, param):
    body = {"amount": 100, "currency": "EUR", "card": card_data(VISA_OK), **extra}
    r = api.post("/v1/payments", body, format="json")
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert (error["code"], error["param"]) == ("card_number_in_text", param)
    assert "4242424242424242" not in r.content.decode()
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    "text", ["Order 1234567890123", "invoice 2026-11-28", "tel +49 30 1234 5678", "4242424242424241"]
)
def test_ordinary_numbers_are_fine(api, text):
    body = {"amount": 100, "currency": "EUR", "card": card_data(VISA_OK), "description": text}
    assert api.post("/v1/payments", body, format="json").status_code == 201


@pytest.mark.parametrize("field", ["number", "cvc"])
def test_card_fields_must_be_strings(api, field):
    card = card_data(VISA_OK)
    card[field] = int(card[field])
    r = api.post("/v1/payments", {"amount": 100, "currency": "EUR", "card": card}, format="json")
    assert r.status_code == 400
    assert r.json()["error"]["param"] == f"card[{field}]"
    assert Payment.objects.count() == 0
