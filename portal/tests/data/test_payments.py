"""Payments pages: filters, keyset pages, detail, refunds (confirmed, once, by role), CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditLogEntry
from payments import services
from payments.models import Payment, Refund
from payments.tests.factories import make_payment

from .conftest import page

pytestmark = pytest.mark.django_db

LIST = reverse("portal:payments")
EXPORT = reverse("portal:payments_export")
MASTERCARD = "5555555555554444"


def detail(p):
    return reverse("portal:payment_detail", args=[p.pk])


def refund_url(p):
    return reverse("portal:payment_refund", args=[p.pk])


# --- List and filters -----------------------------------------------------------------------------


def test_empty_list(viewer):
    assert "No payments yet." in page(viewer.get(LIST))


def test_list_shows_this_merchants_payments_only(viewer, merchant, other_merchant):
    mine = make_payment(merchant, amount=1_234)
    theirs = make_payment(other_merchant, amount=4_321)
    html = page(viewer.get(LIST))
    assert mine.pk in html and theirs.pk not in html


@pytest.fixture
def assorted(merchant):
    p = {
        "small": make_payment(merchant, amount=500),
        "mid": make_payment(merchant, amount=2_550, number=MASTERCARD),
        "big": make_payment(merchant, amount=10_000),
        "authorized": make_payment(merchant, amount=3_000, capture=False),
        "declined": make_payment(merchant, amount=2_000, number="4000000000000002"),
        "usd": make_payment(merchant, amount=2_550, currency="USD"),
    }
    Payment.objects.filter(pk=p["small"].pk).update(created=timezone.now() - timedelta(days=10))
    return p


def _shown(client, **params) -> set[str]:
    html = page(client.get(LIST, params))
    return {k for k in ("small", "mid", "big", "authorized", "declined", "usd") if _listed(_ids[k], html)}


def _listed(payment_id, html) -> bool:
    return f'href="/portal/payments/{payment_id}/"' in html


_ids = {}


@pytest.fixture
def shown(viewer, assorted):
    _ids.clear()
    _ids.update({k: v.pk for k, v in assorted.items()})
    return lambda **params: _shown(viewer, **params)


def test_filters(shown, assorted):
    everything = {"small", "mid", "big", "authorized", "declined", "usd"}
    assert shown() == everything
    assert shown(status="requires_capture") == {"authorized"}
    assert shown(status="failed") == {"declined"}
    assert shown(amount_min="25.50", amount_max="30") == {"mid", "authorized"}  # read as EUR
    assert shown(currency="usd") == {"usd"}
    assert shown(currency="USD", amount_min="25.50", amount_max="25.50") == {"usd"}
    assert shown(last4="4444") == {"mid"}
    assert shown(q=assorted["big"].pk) == {"big"}
    today = timezone.now().date()
    assert shown(date_to=(today - timedelta(days=5)).isoformat()) == {"small"}
    assert shown(date_from=today.isoformat(), date_to=today.isoformat()) == everything - {"small"}


def test_filter_by_refund_id(shown, assorted, merchant):
    refund = services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=assorted["big"].pk,
                                    amount=100)
    assert shown(q=refund.pk) == {"big"}


@pytest.mark.parametrize("params, message", [
    ({"amount_min": "abc"}, "Enter an amount such as 12.50."),
    ({"amount_min": "1.234"}, "EUR amounts have at most 2 decimals."),
    ({"currency": "JPY", "amount_min": "1.5"}, "JPY amounts have no decimals."),
    ({"amount_min": "30", "amount_max": "10"}, "The upper bound is below the lower one."),
    ({"currency": "XYZ"}, "Unknown currency"),
    ({"last4": "42"}, "Enter the card&#x27;s last 4 digits."),
    ({"q": "card"}, "Enter a payment id"),
    ({"date_from": "2026-02-10", "date_to": "2026-02-01"}, "The end date is before the start date."),
    ({"date_from": "not-a-date"}, "Enter a valid date."),
])
def test_invalid_filters_say_why_and_show_nothing(viewer, assorted, params, message):
    html = page(viewer.get(LIST, params))
    assert message in html
    assert "Some filters are not valid" in html
    assert not _listed(assorted["big"].pk, html)


@pytest.mark.parametrize("url", [LIST, EXPORT])
def test_a_card_number_typed_in_the_filters_is_never_shown(viewer, assorted, url):
    r = viewer.get(url, {"q": "4242 4242 4242 4242", "last4": "4242424242424242", "status": "succeeded"})
    assert r.status_code == 302
    assert r["Location"] == f"{LIST}?status=succeeded"
    html = page(viewer.get(r["Location"]))
    assert "That looks like a card number" in html
    assert _listed(assorted["big"].pk, html)


def test_keyset_pages(viewer, merchant):
    ids = [make_payment(merchant, amount=100 + i).pk for i in range(30)]  # oldest first
    first = page(viewer.get(LIST))
    assert _listed(ids[-1], first) and _listed(ids[5], first) and not _listed(ids[4], first)  # 25 newest
    assert "Newer" not in first and "starting_after=" + ids[5] in first
    second = page(viewer.get(LIST, {"starting_after": ids[5]}))
    assert all(_listed(i, second) for i in ids[:5]) and not _listed(ids[5], second)
    assert "ending_before=" + ids[4] in second and "Older" not in second
    back = page(viewer.get(LIST, {"ending_before": ids[4]}))
    assert _listed(ids[5], back) and _listed(ids[-1], back) and not _listed(ids[4], back)
    # Filters survive paging; a foreign cursor shows the first page.
    filtered = page(viewer.get(LIST, {"status": "succeeded"}))
    assert "status=succeeded&amp;starting_after=" in filtered or "starting_after=" in filtered
    assert _listed(ids[-1], page(viewer.get(LIST, {"starting_after": "txn_bogus"})))


def test_a_deep_page_costs_what_the_first_does(viewer, merchant):
    ids = [make_payment(merchant, amount=100 + i).pk for i in range(30)]
    with CaptureQueriesContext(connection) as first:
        viewer.get(LIST)
    with CaptureQueriesContext(connection) as deep:
        viewer.get(LIST, {"starting_after": ids[3]})
    assert len(first.captured_queries) == len(deep.captured_queries)


# --- Detail --------------------------------------------------------------------------------------


def test_detail_shows_card_risk_refunds_and_timeline(viewer, merchant):
    p = make_payment(merchant, amount=5_000, description="Order 9", metadata={"order": "9"})
    services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=p.pk, amount=1_500,
                           reason="requested_by_customer")
    html = page(viewer.get(detail(p)))
    assert "Visa ···· 4242" in html and "Order 9" in html
    assert "€50.00" in html and "€15.00" in html and "€35.00 can still be refunded" in html
    assert "Score</dt><dd>" in html and " / 100" in html and "Reasons</dt>" in html
    for event in ("payment.created", "payment.succeeded", "refund.created", "refund.succeeded"):
        assert event in html
    assert "Requested by customer" in html


def test_detail_of_a_blocked_payment_shows_the_risk_reasons(viewer, merchant):
    blocked = make_payment(merchant, number="4100000000000019")
    html = page(viewer.get(detail(blocked)))
    assert "Block" in html and "fraudulent" in html
    for reason in blocked.risk_assessment.reasons:
        assert reason["rule"] in html


def test_other_merchants_and_other_modes_payments_are_not_found(viewer, other_merchant):
    theirs = make_payment(other_merchant)
    assert "No such payment" in page(viewer.get(detail(theirs)), status=404)
    assert "No such payment" in page(viewer.get(reverse("portal:payment_detail", args=["pay_nope"])), status=404)


# --- Refunds -------------------------------------------------------------------------------------


def test_viewer_sees_no_refund_button_and_is_refused(viewer, merchant):
    p = make_payment(merchant, amount=2_000)
    html = page(viewer.get(detail(p)))
    assert refund_url(p) not in html
    assert "does not allow this" in page(viewer.get(refund_url(p)), status=403)
    r = viewer.post(refund_url(p), {"amount": "20.00", "confirm": "yes", "token": "x"})
    assert r.status_code == 403
    assert not Refund.objects.exists()


def _confirm_page(client, p, **data):
    html = page(client.post(refund_url(p), data))
    token = html.split('name="token" value="')[1].split('"')[0]
    return html, token


def test_refund_in_two_steps_and_only_once(owner, merchant):
    p = make_payment(merchant, amount=2_000)
    assert refund_url(p) in page(owner.get(detail(p)))
    form = page(owner.get(refund_url(p)))
    assert 'value="20.00"' in form  # everything still refundable
    html, token = _confirm_page(owner, p, amount="7.50", reason="duplicate")
    assert "Confirm the refund" in html and "Refund €7.50" in html and "Duplicate" in html
    assert not Refund.objects.exists()  # nothing happens before the confirmation
    r = owner.post(refund_url(p), {"amount": "7.50", "reason": "duplicate", "confirm": "yes", "token": token})
    assert r.status_code == 302 and r["Location"] == detail(p)
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.status, refund.payment_id) == (750, "duplicate", "succeeded", p.pk)
    assert refund.events.get(type="refund.created").actor.startswith("portal:")
    assert AuditLogEntry.objects.get(action="refund.create").object_id == refund.pk
    assert f"Refunded €7.50 to the card. Refund {refund.pk}." in page(owner.get(detail(p)))
    # The same confirmation again (a double click, a reload): refused, nothing more refunded.
    r = owner.post(refund_url(p), {"amount": "7.50", "reason": "duplicate", "confirm": "yes", "token": token})
    assert r.status_code == 302
    assert Refund.objects.count() == 1
    assert "no longer valid" in page(owner.get(detail(p)))


def test_a_changed_amount_needs_a_new_confirmation(owner, merchant):
    p = make_payment(merchant, amount=2_000)
    _, token = _confirm_page(owner, p, amount="5.00")
    owner.post(refund_url(p), {"amount": "15.00", "confirm": "yes", "token": token})
    assert not Refund.objects.exists()


def test_back_returns_to_the_form_with_the_values(owner, merchant):
    p = make_payment(merchant, amount=2_000)
    _confirm_page(owner, p, amount="5.00")
    html = page(owner.post(refund_url(p), {"amount": "5.00", "back": "1"}))
    assert 'value="5.00"' in html and "Review the refund" in html
    assert not Refund.objects.exists()


def test_developer_refunds_in_full(developer, merchant):
    p = make_payment(merchant, amount=2_000)
    services.refund_create(merchant_id=merchant.pk, livemode=False, payment_id=p.pk, amount=500)
    _, token = _confirm_page(developer, p, amount="15.00")
    developer.post(refund_url(p), {"amount": "15.00", "confirm": "yes", "token": token})
    p.refresh_from_db()
    assert p.amount_refunded == 2_000
    # Nothing left: no button, and the form sends you back.
    html = page(developer.get(detail(p)))
    assert refund_url(p) not in html
    r = developer.get(refund_url(p))
    assert r.status_code == 302
    assert "refunded in full" in page(developer.get(detail(p)))


@pytest.mark.parametrize("amount, message", [
    ("25.00", "At most 20.00 EUR can still be refunded."),
    ("0", "greater than zero"),
    ("1.001", "at most 2 decimals"),
    ("", "This field is required."),
])
def test_refund_form_errors(owner, merchant, amount, message):
    p = make_payment(merchant, amount=2_000)
    html = page(owner.post(refund_url(p), {"amount": amount}))
    assert message in html and "Confirm the refund" not in html


def test_refund_refused_by_the_service_is_reported(owner, merchant, monkeypatch):
    from core.errors import StateError

    p = make_payment(merchant, amount=2_000)
    _, token = _confirm_page(owner, p, amount="5.00")

    def refuse(**kwargs):
        raise StateError("The merchant balance cannot cover this refund.", code="insufficient_balance")

    monkeypatch.setattr(services, "refund_create", refuse)
    owner.post(refund_url(p), {"amount": "5.00", "confirm": "yes", "token": token})
    assert "The refund was refused: The merchant balance cannot cover this refund." in page(owner.get(detail(p)))


def test_authorized_payment_cannot_be_refunded(owner, merchant):
    p = make_payment(merchant, amount=2_000, capture=False)
    assert refund_url(p) not in page(owner.get(detail(p)))
    owner.get(refund_url(p))
    assert "not succeeded" in page(owner.get(detail(p)))


def test_refund_uses_the_api_service(owner, merchant, monkeypatch):
    calls = []
    original = services.refund_create

    def spy(**kwargs):
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(services, "refund_create", spy)
    p = make_payment(merchant, amount=2_000)
    _, token = _confirm_page(owner, p, amount="2.00")
    owner.post(refund_url(p), {"amount": "2.00", "confirm": "yes", "token": token})
    assert calls and calls[0]["payment_id"] == p.pk and calls[0]["amount"] == 200 and calls[0]["livemode"] is False


# --- CSV export ----------------------------------------------------------------------------------


def _csv(response) -> list[dict]:
    text = page(response)
    return list(csv.DictReader(io.StringIO(text)))


def test_export_is_the_filtered_list(viewer, assorted):
    r = viewer.get(EXPORT, {"status": "succeeded", "currency": "EUR"})
    assert r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    assert r.streaming
    rows = _csv(r)
    assert {row["id"] for row in rows} == {assorted[k].pk for k in ("small", "mid", "big")}
    mid = next(row for row in rows if row["id"] == assorted["mid"].pk)
    assert (mid["amount"], mid["currency"], mid["card_brand"], mid["card_last4"]) == ("2550", "EUR", "mastercard",
                                                                                     "4444")
    assert mid["risk_decision"] == "allow"


def test_export_streams_in_batches_and_keeps_order(viewer, merchant, monkeypatch):
    monkeypatch.setattr("portal.views.payments.EXPORT_BATCH", 4)
    ids = [make_payment(merchant, amount=100 + i).pk for i in range(10)]
    rows = _csv(viewer.get(EXPORT))
    assert [row["id"] for row in rows] == list(reversed(ids))


def test_export_neutralises_formulas(viewer, merchant):
    make_payment(merchant, description="=HYPERLINK(\"http://evil\")")
    [row] = _csv(viewer.get(EXPORT))
    assert row["description"].startswith("'=")


def test_export_with_invalid_filters_goes_back(viewer):
    r = viewer.get(EXPORT, {"amount_min": "x"})
    assert r.status_code == 302 and r["Location"].startswith(LIST)


def test_export_of_nothing_is_a_header(viewer):
    assert _csv(viewer.get(EXPORT)) == []


def test_a_refund_the_processor_refuses_is_reported_as_failed(owner, merchant, monkeypatch):
    from payments.tests.money_helpers import failing_refunds

    p = make_payment(merchant, amount=2_000)
    failing_refunds(monkeypatch)
    _, token = _confirm_page(owner, p, amount="5.00")
    owner.post(refund_url(p), {"amount": "5.00", "confirm": "yes", "token": token})
    assert Refund.objects.get().status == "failed"
    html = page(owner.get(detail(p)))
    assert "The refund of €5.00 failed (refund_failed): nothing was taken from your balance." in html
