"""Fixtures and helpers for the payments tests (the project-wide ones live in /conftest.py)."""

import pytest
from rest_framework.test import APIClient

from core.scopes import MERCHANT_SCOPES

from ..processors import TestSimulator
from .money_helpers import give_fee_plan


@pytest.fixture
def plan(merchant):
    """`merchant` with a payout IBAN and a EUR fee plan of 2.5% + 0.30 (the ledger and settlement tests)."""
    give_fee_plan(merchant)


@pytest.fixture
def live_api(db, merchant, make_token):
    """An APIClient authenticated as `merchant`'s live-mode client holding every merchant scope."""
    client, token = make_token(merchant, scopes=MERCHANT_SCOPES, livemode=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    api.api_client = client
    api.merchant = merchant
    return api


@pytest.fixture
def processor_calls(monkeypatch):
    """Records every call the test-mode simulator receives: {"authorize": [...], "capture": [...], ...}."""
    calls = {"authorize": [], "capture": [], "void": [], "refund": []}
    for name in calls:
        original = getattr(TestSimulator, name)

        def spy(self, *, _name=name, _original=original, **kwargs):
            calls[_name].append(kwargs)
            return _original(self, **kwargs)

        monkeypatch.setattr(TestSimulator, name, spy)
    return calls
