import pytest

from .receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE = True


@pytest.fixture(autouse=True)
def enqueued(monkeypatch):
    """Delivery ids sent to the broker (nothing is really sent)."""
    sent = []
    monkeypatch.setattr("merchants.services._enqueue_deliveries",
                        lambda ids, countdown=None: sent.extend((i, countdown) for i in ids))
    return sent
