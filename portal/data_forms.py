"""Forms of the merchant's data pages: filters, the refund, webhook endpoints.

Amounts are typed in the currency's major unit ("12.50") and turned into integer minor units by
core.money.Money.from_decimal; anything finer than the minor unit is refused, never rounded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django import forms

from core.money import CurrencyError, Money, exponent, normalize_currency
from merchants.constants import EVENT_TYPES, WEBHOOK_TEST_EVENT
from payments.constants import PaymentStatus, RefundReason


def to_minor_units(text: str, currency: str) -> int:
    """`"12.50"`, EUR -> 1250. Raises forms.ValidationError for anything that is not such an amount."""
    places = exponent(currency)
    try:
        value = Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation:
        raise forms.ValidationError("Enter an amount such as 12.50.")
    if not value.is_finite() or value < 0:
        raise forms.ValidationError("Enter a positive amount.")
    if value >= 10**15:
        raise forms.ValidationError("That amount is too large.")
    try:
        return Money.from_decimal(value, currency).amount
    except ValueError:
        unit = "no decimals" if places == 0 else f"at most {places} decimals"
        raise forms.ValidationError(f"{currency} amounts have {unit}.")


def from_minor_units(amount: int, currency: str) -> str:
    """1250, EUR -> `"12.50"` (for a form's initial value)."""
    return f"{Money(amount, currency).to_decimal():f}"


def day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# 12 or more digits, maybe grouped by spaces or dashes: possibly a card number.
_LONG_DIGITS = re.compile(r"\d(?:[ -]?\d){11,}")
CARD_NUMBER_MESSAGE = "That looks like a card number: it is neither kept nor shown. Search by the card's last 4 digits."


class NoCardNumbersForm(forms.Form):
    """A form that never echoes a card number back: a typed value holding one is blanked before the form is
    bound (so the page cannot render it) and the field reports why."""

    def __init__(self, data=None, *args, **kwargs):
        self.card_number_fields = []
        if data is not None:
            data = data.copy()
            for name in list(data.keys()):
                if any(_LONG_DIGITS.search(value) for value in data.getlist(name)):
                    data.setlist(name, [""])
                    self.card_number_fields.append(name)
        super().__init__(data, *args, **kwargs)

    def clean(self):
        data = super().clean()
        for name in self.card_number_fields:
            if name in self.fields:
                self.add_error(name, CARD_NUMBER_MESSAGE)
        return data


class PaymentFilterForm(NoCardNumbersForm):
    q = forms.CharField(required=False, max_length=64, label="Payment or refund id")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *PaymentStatus.choices])
    currency = forms.CharField(required=False, max_length=3)
    amount_min = forms.CharField(required=False, max_length=20, label="Amount from")
    amount_max = forms.CharField(required=False, max_length=20, label="Amount to")
    date_from = forms.DateField(required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="Created to", widget=forms.DateInput(attrs={"type": "date"}))
    last4 = forms.RegexField(required=False, regex=r"^\d{4}$", label="Card last 4",
                             error_messages={"invalid": "Enter the card's last 4 digits."})

    def __init__(self, *args, default_currency: str = "EUR", **kwargs):
        super().__init__(*args, **kwargs)
        self.default_currency = default_currency

    def clean_q(self):
        value = self.cleaned_data["q"].strip()
        if value and not (value.startswith("pay_") or value.startswith("re_")):
            raise forms.ValidationError("Enter a payment id (pay_...) or a refund id (re_...).")
        return value

    def clean_currency(self):
        value = self.cleaned_data["currency"].strip()
        if not value:
            return ""
        try:
            return normalize_currency(value)
        except CurrencyError as exc:
            raise forms.ValidationError(str(exc))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        amounts = [data.get("amount_min"), data.get("amount_max")]
        if any(amounts) and not data.get("currency"):
            data["currency"] = self.default_currency  # an amount means something in one currency only
        for name in ("amount_min", "amount_max"):
            if data.get(name):
                try:
                    data[name] = to_minor_units(data[name], data["currency"])
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
            else:
                data[name] = None
        if data.get("amount_min") is not None and data.get("amount_max") is not None \
                and data["amount_min"] > data["amount_max"]:
            self.add_error("amount_max", "The upper bound is below the lower one.")
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def search_kwargs(self) -> dict:
        """Keyword arguments of payments.selectors.payments_search (call after is_valid())."""
        data = self.cleaned_data
        return {
            "status": data.get("status") or None,
            "currency": data.get("currency") or None,
            "amount_gte": data.get("amount_min"),
            "amount_lte": data.get("amount_max"),
            "created_gte": day_start(data["date_from"]) if data.get("date_from") else None,
            "created_lte": (day_start(data["date_to"] + timedelta(days=1)) - timedelta(microseconds=1)
                            if data.get("date_to") else None),
            "last4": data.get("last4") or None,
            "payment_id": data.get("q") or None,
        }


class RefundForm(NoCardNumbersForm):
    amount = forms.CharField(max_length=20, help_text="Up to what can still be refunded. Leave as is for all of it.")
    reason = forms.ChoiceField(required=False, choices=[("", "No reason given"), *RefundReason.choices])

    def __init__(self, *args, currency: str, refundable: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency, self.refundable = currency, refundable

    def clean_amount(self):
        amount = to_minor_units(self.cleaned_data["amount"], self.currency)
        if amount <= 0:
            raise forms.ValidationError("Enter an amount greater than zero.")
        if amount > self.refundable:
            raise forms.ValidationError(
                f"At most {from_minor_units(self.refundable, self.currency)} {self.currency} can still be refunded.")
        return amount


SUBSCRIBABLE_EVENTS = [t for t in EVENT_TYPES if t != WEBHOOK_TEST_EVENT]


class WebhookEndpointForm(NoCardNumbersForm):
    url = forms.CharField(max_length=2048, label="Endpoint URL",
                          widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks"}))
    description = forms.CharField(required=False, max_length=500)
    all_events = forms.BooleanField(required=False, label="Every event type (now and future)")
    events = forms.MultipleChoiceField(required=False, choices=[(t, t) for t in SUBSCRIBABLE_EVENTS],
                                       widget=forms.CheckboxSelectMultiple, label="Or only these")

    def clean(self):
        data = super().clean()
        if not data.get("all_events") and not data.get("events"):
            raise forms.ValidationError("Choose the events to send: every event type, or some of them.")
        data["enabled_events"] = ["*"] if data.get("all_events") else list(data["events"])
        return data

    @classmethod
    def initial_for(cls, endpoint) -> dict:
        every = "*" in endpoint.enabled_events
        return {"url": endpoint.url, "description": endpoint.description, "all_events": every,
                "events": [] if every else endpoint.enabled_events}
