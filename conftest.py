"""Shared pytest fixtures: merchants, API clients, OAuth tokens and an authenticated API client."""

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from core.scopes import MERCHANT_SCOPES

# Property tests are judged on what they find, never on how long an example takes: a loaded CI
# machine must not fail one with DeadlineExceeded. print_blob lets a failure found in CI be replayed.
hypothesis_settings.register_profile("payments", deadline=None, print_blob=True)
hypothesis_settings.load_profile("payments")


@pytest.fixture(autouse=True)
def _fast_secret_hashing(settings):
    """Client secrets and passwords are hashed with the first PASSWORD_HASHERS entry; PBKDF2 costs
    ~0.25 s a hash. The stored format and the check are the same with a fast hasher, so the tests
    keep proving that secrets are stored hashed while staying quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _risk_isolation(request, settings, monkeypatch, worker_id):
    """The risk engine (issue #5) starts every test with empty velocity counters and a fresh
    configuration cache. Outside tests marked `risk_scoring`, its score thresholds are out of reach,
    so suites that make many payments with one test card are not sent to review by velocity; lists,
    rules, merchant limits and the risk test cards still decide everywhere. Parallel test workers
    (pytest-xdist) share one Redis database, so each keeps its velocity keys under its own prefix
    and flushes only those."""
    from risk import services as risk_services
    from risk import velocity

    if worker_id != "master":
        monkeypatch.setattr(velocity.RedisVelocity, "prefix", f"{velocity.RedisVelocity.prefix}{worker_id}:")
    if "risk_scoring" not in request.keywords:
        settings.RISK_REVIEW_SCORE = settings.RISK_BLOCK_SCORE = 1000
    if settings.RISK_VELOCITY_BACKEND == "redis":
        velocity.redis_flush()
    risk_services.config_changed()
    risk_services._stats_cache.clear()
    yield


@pytest.fixture(autouse=True)
def _portal_rate_limit_isolation(monkeypatch):
    """The portal's anti-abuse counters (sign-ups, reset and confirmation e-mails) live in the cache,
    which outlives a test (Redis is shared by the parallel workers): each test counts under its own keys."""
    import uuid

    from portal import ratelimit

    monkeypatch.setattr(ratelimit, "KEY_PREFIX", f"{ratelimit.KEY_PREFIX}{uuid.uuid4().hex}:")


@pytest.fixture
def merchant(db):
    from merchants.tests.factories import MerchantFactory

    return MerchantFactory()


@pytest.fixture
def other_merchant(db):
    from merchants.tests.factories import MerchantFactory

    return MerchantFactory(name="Other Merchant")


@pytest.fixture
def make_token(db):
    """make_token(merchant, scopes=..., livemode=False) -> (ApiClient, access token string)."""
    from merchants.tests.factories import issue_token

    return issue_token


@pytest.fixture
def api(db, merchant, make_token):
    """An APIClient authenticated as `merchant`'s test-mode client holding every merchant scope."""
    client, token = make_token(merchant, scopes=MERCHANT_SCOPES)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    api.api_client = client
    api.merchant = merchant
    return api


@pytest.fixture
def other_api(db, other_merchant, make_token):
    client, token = make_token(other_merchant, scopes=MERCHANT_SCOPES)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    api.api_client = client
    api.merchant = other_merchant
    return api


@pytest.fixture
def anon_api():
    return APIClient()


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need real concurrency: skipped, with the reason, on SQLite."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL for real concurrency (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
