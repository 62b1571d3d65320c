import pytest
from django.conf import settings

from .. import velocity
from ..services import AssessmentInput, assessment_create


@pytest.fixture
def redis_velocity():
    """A Redis velocity backend: the real Redis when REDIS_URL is set (CI), else fakeredis."""
    if settings.REDIS_URL:
        velocity.redis_flush()
        yield velocity.RedisVelocity(velocity._redis())
        velocity.redis_flush()
    else:
        fakeredis = pytest.importorskip("fakeredis")
        yield velocity.RedisVelocity(fakeredis.FakeRedis())


@pytest.fixture
def db_velocity(db):
    return velocity.DatabaseVelocity()


@pytest.fixture
def assess(db, merchant):
    """assess(**fields) -> Assessment, with sensible defaults for a card payment to `merchant`."""

    def make(**kwargs):
        fields = {"merchant_id": merchant.pk, "livemode": False, "amount": 1000, "currency": "EUR",
                  "card_fingerprint": "fp1", "card_bin": "424242", "card_last4": "4242", "card_brand": "visa",
                  "merchant_country": "DE"}
        now = kwargs.pop("now", None)
        backend = kwargs.pop("backend", None)
        fields.update(kwargs)
        return assessment_create(data=AssessmentInput(**fields), now=now, backend=backend)

    return make


def rule_names(assessment) -> list[str]:
    return [r["rule"] for r in assessment.reasons]
