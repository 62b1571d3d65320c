"""Hypothesis drives random authorizations, captures (full and partial), refunds (some failing),
settlements, payouts and payout failures; every invariant is checked after each step."""

from unittest import mock

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from core.errors import ApplicationError
from merchants.fees import fee_plan_set
from merchants.tests.factories import MerchantFactory

from .. import services, settlement
from ..constants import PaymentStatus, PayoutStatus
from ..models import Payment, Payout
from ..processors import OperationResult, TestSimulator
from ..verification import verify_all
from .factories import make_payment
from .money_helpers import VALID_IBAN, settle


class MoneyMachine(RuleBasedStateMachine):
    @initialize(bps=st.integers(0, 500), fixed=st.integers(0, 50), currency=st.sampled_from(["EUR", "JPY", "KWD"]))
    def setup(self, bps, fixed, currency):
        self.merchant = MerchantFactory(payout_iban=VALID_IBAN)
        self.currency = currency
        fee_plan_set(merchant_id=self.merchant.pk, currency=currency, percent_bps=bps, fixed_amount=fixed)

    def _payments(self, status):
        return list(Payment.objects.filter(merchant=self.merchant, status=status).order_by("pk"))

    @rule(amount=st.integers(1, 50_000), capture=st.booleans())
    def authorize(self, amount, capture):
        make_payment(self.merchant, amount=amount, currency=self.currency, capture=capture)

    @rule(pick=st.integers(0, 100), part=st.integers(1, 100))
    def capture(self, pick, part):
        payments = self._payments(PaymentStatus.REQUIRES_CAPTURE)
        if payments:
            p = payments[pick % len(payments)]
            amount = max(1, p.amount_capturable * part // 100)
            services.payment_capture(merchant_id=self.merchant.pk, livemode=False, payment_id=p.pk, amount=amount)

    @rule(pick=st.integers(0, 100), part=st.integers(1, 100), fail=st.booleans())
    def refund(self, pick, part, fail):
        payments = [p for p in self._payments(PaymentStatus.SUCCEEDED) if p.amount_refunded < p.amount_captured]
        if not payments:
            return
        p = payments[pick % len(payments)]
        amount = max(1, (p.amount_captured - p.amount_refunded) * part // 100)
        failing = OperationResult(ok=False, reference="", failure_code="refund_failed")
        with mock.patch.object(TestSimulator, "refund", lambda self, **kw: failing) if fail else mock.MagicMock():
            try:
                services.refund_create(merchant_id=self.merchant.pk, livemode=False, payment_id=p.pk, amount=amount)
            except ApplicationError as exc:  # a settled payment whose refund available cannot cover
                assert exc.code == "balance_insufficient", exc.code

    @rule()
    def settle(self):
        settle()

    @rule()
    def send_payouts(self):
        settlement.payouts_send()

    @rule(pick=st.integers(0, 100))
    def fail_payout(self, pick):
        payouts = list(Payout.objects.filter(merchant=self.merchant,
                                             status__in=[PayoutStatus.PENDING, PayoutStatus.IN_TRANSIT]).order_by("pk"))
        if payouts:
            settlement.payout_transition(payout_id=payouts[pick % len(payouts)].pk, to_status=PayoutStatus.FAILED,
                                         failure_code="account_closed")

    @invariant()
    def every_invariant_holds(self):
        if hasattr(self, "merchant"):
            assert verify_all(record=False) == []


@pytest.mark.django_db
def test_money_always_adds_up():
    run_state_machine_as_test(MoneyMachine, settings=settings(
        max_examples=12, stateful_step_count=20, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
