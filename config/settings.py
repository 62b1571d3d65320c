"""Settings for the payment platform.

One module, read from the environment with django-environ. Without any environment the
platform runs on embedded defaults (SQLite file, filesystem Celery broker, development keys).
With DJANGO_ENV=production every secret must come from the environment or start-up fails.
"""

import base64
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from core.scopes import SCOPES

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
TESTING = env.bool("TESTING", default=False)

# Development-only fallbacks. Production refuses to start with any of them.
_DEV_SECRET_KEY = "dev-insecure-secret-key-never-use-in-production"
_DEV_CARD_DATA_KEY = base64.b64encode(b"dev-card-data-key-32-bytes-long!").decode()
_DEV_FINGERPRINT_KEY = base64.b64encode(b"dev-card-fingerprint-key-32bytes").decode()

SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
BASE_URL = env.str("BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "core",
    "merchants",
    "ledger",
    "risk",
    "cards",
    "payments",
    "portal",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.request_log.ApiRequestLogMiddleware",  # /v1/ calls, for the portal's request log
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.middleware.SecondFactorRequiredMiddleware",  # a session with 2FA on must have entered its code
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out log-in into the lockout page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/admin/"

# --- Log-in: e-mail or username, lockout, two-factor (portal accounts, issue #7) --------------------
AUTHENTICATION_BACKENDS = [
    "portal.backends.LockoutBackend",  # first: django-axes refuses a locked-out log-in before the password check
    "portal.backends.EmailOrUsernameBackend",  # ModelBackend that also takes the e-mail address
]
# django-axes: every log-in through django.contrib.auth.authenticate (portal, /accounts/login/ of the OAuth
# consent, /admin/) counts. After AXES_FAILURE_LIMIT failures of one account from one IP address, that
# pair is locked for AXES_COOLOFF_MINUTES (each further try restarts the wait). Stored in the database.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "portal.backends.axes_username"  # an e-mail and its username count as one account
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
AXES_VERBOSE = False
# django-otp (TOTP): the issuer shown in authenticator apps; after a wrong code every code is refused
# for 1, 2, 4, ... seconds times this factor.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Bank Payments")
OTP_TOTP_THROTTLE_FACTOR = env.int("OTP_TOTP_THROTTLE_FACTOR", default=1)
# Portal links sent by e-mail.
PORTAL_EMAIL_VERIFY_DAYS = env.int("PORTAL_EMAIL_VERIFY_DAYS", default=3)
PORTAL_INVITATION_DAYS = env.int("PORTAL_INVITATION_DAYS", default=7)
# Anti-abuse limits of the portal's anonymous e-mails and sign-ups (portal/ratelimit.py): attempts allowed
# per window of PORTAL_EMAIL_LIMIT_WINDOW_SECONDS, per client IP (as django-axes sees it) and per target
# e-mail address; 0 turns a limit off. Counted in the default cache (Redis when REDIS_URL is set).
PORTAL_EMAIL_LIMIT_WINDOW_SECONDS = env.int("PORTAL_EMAIL_LIMIT_WINDOW_SECONDS", default=3600)
PORTAL_SIGNUP_PER_IP = env.int("PORTAL_SIGNUP_PER_IP", default=5)
PORTAL_PASSWORD_RESET_PER_IP = env.int("PORTAL_PASSWORD_RESET_PER_IP", default=5)
PORTAL_PASSWORD_RESET_PER_EMAIL = env.int("PORTAL_PASSWORD_RESET_PER_EMAIL", default=3)
PORTAL_VERIFY_RESEND_PER_EMAIL = env.int("PORTAL_VERIFY_RESEND_PER_EMAIL", default=3)
for _name in ("PORTAL_SIGNUP_PER_IP", "PORTAL_PASSWORD_RESET_PER_IP", "PORTAL_PASSWORD_RESET_PER_EMAIL",
              "PORTAL_VERIFY_RESEND_PER_EMAIL"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 (no limit) or more")
if PORTAL_EMAIL_LIMIT_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured("PORTAL_EMAIL_LIMIT_WINDOW_SECONDS must be 1 or more")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)  # seconds a reset link works
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)  # a portal session ends after 12 hours

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Card data (PCI DSS) -------------------------------------------------------------------
# CARD_DATA_KEYS: "version:base64key,version:base64key" - 32-byte AES-256-GCM data keys.
# CARD_DATA_KEY_VERSION: the version that encrypts new cards. Older versions only decrypt.
# CARD_DATA_KEYS_RETIRED: versions that decrypt nothing any more (rotation done, see README).
# CARD_FINGERPRINT_KEY: base64 key of the HMAC-SHA256 used for card fingerprints.


def _parse_card_keys(raw: str) -> dict[int, bytes]:
    keys = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        version, _, b64 = part.partition(":")
        try:
            key = base64.b64decode(b64, validate=True)
            int(version)
        except ValueError as exc:  # binascii.Error is a ValueError
            raise ImproperlyConfigured(f"CARD_DATA_KEYS: {part.split(':')[0]!r} is not 'version:base64key'") from exc
        if len(key) != 32:
            raise ImproperlyConfigured(f"CARD_DATA_KEYS version {version}: key must be 32 bytes")
        keys[int(version)] = key
    return keys


CARD_DATA_KEYS = _parse_card_keys(env.str("CARD_DATA_KEYS", default=f"1:{_DEV_CARD_DATA_KEY}"))
CARD_DATA_KEY_VERSION = env.int("CARD_DATA_KEY_VERSION", default=max(CARD_DATA_KEYS, default=0))
CARD_FINGERPRINT_KEY = base64.b64decode(env.str("CARD_FINGERPRINT_KEY", default=_DEV_FINGERPRINT_KEY))
if CARD_DATA_KEY_VERSION not in CARD_DATA_KEYS:
    raise ImproperlyConfigured("CARD_DATA_KEY_VERSION names a key that CARD_DATA_KEYS does not hold")
try:
    CARD_DATA_KEYS_RETIRED = sorted({int(v) for v in env.list("CARD_DATA_KEYS_RETIRED", default=[])})
except ValueError:
    raise ImproperlyConfigured("CARD_DATA_KEYS_RETIRED must be a comma-separated list of key versions") from None
if CARD_DATA_KEY_VERSION in CARD_DATA_KEYS_RETIRED:
    raise ImproperlyConfigured("CARD_DATA_KEY_VERSION is listed in CARD_DATA_KEYS_RETIRED: the current version "
                               "cannot be retired")
# The rotation job (cards.rotate_card_keys): records re-encrypted per transaction, batches per task message.
CARD_KEY_ROTATION_BATCH_SIZE = env.int("CARD_KEY_ROTATION_BATCH_SIZE", default=500)
CARD_KEY_ROTATION_BATCHES_PER_TASK = env.int("CARD_KEY_ROTATION_BATCHES_PER_TASK", default=20)

# --- Card issuing (#4) ---------------------------------------------------------------------
# ISSUING_CVC_KEY: base64 key (32+ bytes) of the keyed HMAC that derives each issued card's CVC from its
# number and expiry. The CVC is computed when shown or checked, never stored; changing this key changes
# the CVC of every card already issued (like a card verification key at a real issuer).
_DEV_ISSUING_CVC_KEY = base64.b64encode(b"dev-issuing-cvc-key-32-bytes-ok!").decode()
ISSUING_CVC_KEY = base64.b64decode(env.str("ISSUING_CVC_KEY", default=_DEV_ISSUING_CVC_KEY))
ISSUING_HOLD_DAYS = env.int("ISSUING_HOLD_DAYS", default=7)  # an uncaptured authorization's hold is released after
ISSUING_CARD_VALIDITY_YEARS = env.int("ISSUING_CARD_VALIDITY_YEARS", default=3)
ISSUING_EXPIRE_HOLDS_MINUTES = env.int("ISSUING_EXPIRE_HOLDS_MINUTES", default=15)
# Guessing guard: after this many wrong CVCs or expiry dates on one issued card within the window, the card
# declines every payment (`card_data_attempts_exceeded`) until the oldest failure leaves the window.
ISSUING_CARD_DATA_FAILURE_LIMIT = env.int("ISSUING_CARD_DATA_FAILURE_LIMIT", default=5)
ISSUING_CARD_DATA_FAILURE_HOURS = env.int("ISSUING_CARD_DATA_FAILURE_HOURS", default=24)

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["merchants.oauth.MerchantOAuth2Authentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.HasRequiredScopes"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["core.permissions.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": env.str("API_RATE_LIMIT", default="6000/min")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Bank Payments API",
    "DESCRIPTION": (
        "Open payments API of the bank: take card payments, capture, cancel and refund them, "
        "and tokenize cards. Authenticate with OAuth2 (client credentials for your servers, "
        "authorization code with PKCE for apps acting for a merchant). Amounts are integers in "
        "the currency's minor unit. Every POST accepts an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "WebhookEndpointStatusEnum": "merchants.constants.WebhookEndpointStatus",
        "IssuedCardTypeEnum": "cards.constants.CardType",
        "IssuedCardStatusEnum": "cards.constants.CardStatus",
        "CardAccountTypeEnum": "cards.constants.ProgramType",
        "IssuingAuthorizationStatusEnum": "cards.constants.AuthorizationStatus",
    },
    "SERVERS": [{"url": BASE_URL}],
    "OAUTH2_FLOWS": ["clientCredentials", "authorizationCode"],
    "OAUTH2_AUTHORIZATION_URL": "/oauth/authorize/",
    "OAUTH2_TOKEN_URL": "/oauth/token/",
    "OAUTH2_REFRESH_URL": "/oauth/token/",
    "OAUTH2_SCOPES": SCOPES,
}

# --- OAuth2 (django-oauth-toolkit) ---------------------------------------------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "merchants.ApiClient"
OAUTH2_PROVIDER = {
    "SCOPES": SCOPES,
    "DEFAULT_SCOPES": [],
    "SCOPES_BACKEND_CLASS": "merchants.oauth.ClientScopes",
    "OAUTH2_VALIDATOR_CLASS": "merchants.oauth.PlatformOAuth2Validator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("ACCESS_TOKEN_EXPIRE_SECONDS", default=3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": 60 * 60 * 24 * 30,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if PRODUCTION else ["https", "http"],
    # RFC 9700 gates: every one on, so `check --deploy` is clean and the insecure paths are closed.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,  # never ?access_token= in the URL
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,  # RFC 9207 `iss` in the authorization response
    "OIDC_ISS_ENDPOINT": BASE_URL,  # the issuer identifier, not derived from the Host header
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "REQUEST_APPROVAL_PROMPT": "force",
    "ERROR_RESPONSE_WITH_SCOPES": True,
    # DOT registers the application model (merchants.ApiClient) in the admin with this class: ours,
    # so there is exactly one registration and it never shows the client secret.
    "APPLICATION_ADMIN_CLASS": "merchants.admin.ApiClientAdmin",
}

# --- Idempotency ---------------------------------------------------------------------------
IDEMPOTENCY_KEY_TTL = timedelta(hours=env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24))
# A request still "in flight" after this long is treated as crashed and its key released.
IDEMPOTENCY_LOCK_TIMEOUT = timedelta(seconds=env.int("IDEMPOTENCY_LOCK_TIMEOUT_SECONDS", default=60))

# --- API request log (the merchant portal shows it) ----------------------------------------
API_REQUEST_LOG_ENABLED = env.bool("API_REQUEST_LOG_ENABLED", default=True)
API_REQUEST_LOG_RETENTION_DAYS = env.int("API_REQUEST_LOG_RETENTION_DAYS", default=30)

# --- Payments ------------------------------------------------------------------------------
# A payment still `processing` (or a refund still `pending`) this long after its last change was
# left by a request that died mid-way: the beat task asks the processor again and records the answer.
PAYMENTS_RESUME_AFTER_SECONDS = env.int("PAYMENTS_RESUME_AFTER_SECONDS", default=120)

# --- Risk engine (issue #5) ----------------------------------------------------------------
# Velocity counters (per-minute buckets): "redis" (the default when REDIS_URL is set) or "database".
RISK_VELOCITY_BACKEND = env.str("RISK_VELOCITY_BACKEND", default="redis" if REDIS_URL else "database")
RISK_REVIEW_SCORE = env.int("RISK_REVIEW_SCORE", default=65)  # score at or above: review
RISK_BLOCK_SCORE = env.int("RISK_BLOCK_SCORE", default=90)  # score at or above: block
RISK_SMALL_AMOUNT = env.int("RISK_SMALL_AMOUNT", default=300)  # minor units: a "small" attempt (card testing)
RISK_AMOUNT_MIN_HISTORY = env.int("RISK_AMOUNT_MIN_HISTORY", default=30)  # payments before "unusual amount" counts
RISK_CONFIG_CACHE_SECONDS = env.int("RISK_CONFIG_CACHE_SECONDS", default=5)  # lists/rules/limits cache backstop
# How long a process reuses a merchant's amount statistics (mean, deviation) before reading them again.
RISK_AMOUNT_STATS_CACHE_SECONDS = env.float("RISK_AMOUNT_STATS_CACHE_SECONDS", default=2.0)
RISK_BACKTEST_PYTHON_LIMIT = env.int("RISK_BACKTEST_PYTHON_LIMIT", default=100_000)
# A payment left in requires_review this long is canceled by the beat task.
RISK_REVIEW_TIMEOUT_SECONDS = env.int("RISK_REVIEW_TIMEOUT_SECONDS", default=72 * 3600)

# --- Ledger, fees, settlement and payouts (issue #3) ---------------------------------------
# Default fee when a merchant has no fee plan for the currency: basis points + fixed minor units.
FEE_DEFAULT_BPS = env.int("FEE_DEFAULT_BPS", default=140)
FEE_DEFAULT_FIXED = env.int("FEE_DEFAULT_FIXED", default=25)
# Daily settlement: items captured (refunds succeeded) before this UTC time of the settlement day.
SETTLEMENT_CUTOFF_TIME = env.str("SETTLEMENT_CUTOFF_TIME", default="00:00")
SETTLEMENT_CUTOFF_HOUR, SETTLEMENT_CUTOFF_MINUTE = (int(x) for x in SETTLEMENT_CUTOFF_TIME.split(":"))
LEDGER_VERIFY_MINUTES = env.int("LEDGER_VERIFY_MINUTES", default=60)
PAYOUTS_SEND_MINUTES = env.int("PAYOUTS_SEND_MINUTES", default=10)

# --- Webhooks (merchants: events and their delivery) ---------------------------------------
# WEBHOOK_ENCRYPTION_KEYS: "version:base64key,..." - 32-byte AES-256-GCM keys that encrypt endpoint
# signing secrets at rest; WEBHOOK_ENCRYPTION_KEY_VERSION encrypts new ones (highest by default).
_DEV_WEBHOOK_ENCRYPTION_KEY = base64.b64encode(b"dev-webhook-secret-key-32-bytes!").decode()
WEBHOOK_ENCRYPTION_KEYS = _parse_card_keys(
    env.str("WEBHOOK_ENCRYPTION_KEYS", default=f"1:{_DEV_WEBHOOK_ENCRYPTION_KEY}"))
WEBHOOK_ENCRYPTION_KEY_VERSION = env.int("WEBHOOK_ENCRYPTION_KEY_VERSION",
                                         default=max(WEBHOOK_ENCRYPTION_KEYS, default=0))
if WEBHOOK_ENCRYPTION_KEY_VERSION not in WEBHOOK_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("WEBHOOK_ENCRYPTION_KEY_VERSION names a key that WEBHOOK_ENCRYPTION_KEYS does not hold")
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# A worker that claimed a delivery holds it this long; if it dies, the sweep retries after that.
WEBHOOK_DELIVERY_LEASE_SECONDS = env.int("WEBHOOK_DELIVERY_LEASE_SECONDS", default=60)
WEBHOOK_SWEEP_SECONDS = env.int("WEBHOOK_SWEEP_SECONDS", default=15)
# Events (and their delivery logs) are kept this many days, then purged by beat (0: kept forever).
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=90)
if 0 < EVENT_RETENTION_DAYS < 30:
    raise ImproperlyConfigured("EVENT_RETENTION_DAYS must be 0 (keep forever) or at least 30: the API promises "
                               "30 days of events")
# Test-mode endpoints may use http://127.0.0.1 / localhost (local development, the test suite).
# Never in live mode, whatever this says.
WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE = env.bool("WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE", default=not PRODUCTION)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="payments@bank.example")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
                        if not PRODUCTION else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# With EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend each message is a file here.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))

# --- Celery --------------------------------------------------------------------------------
CELERY_DATA_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    for sub in ("out", "processed", "control"):
        (CELERY_DATA_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "out"),
        "data_folder_out": str(CELERY_DATA_DIR / "out"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "purge-expired-idempotency-keys": {
        "task": "core.purge_expired_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
    "purge-api-request-log": {
        "task": "core.purge_api_request_log",
        "schedule": timedelta(hours=1),
    },
    "resume-stuck-payments-and-refunds": {
        "task": "payments.resume_stuck_operations",
        "schedule": timedelta(minutes=1),
    },
    "clear-expired-oauth-tokens": {
        "task": "merchants.clear_expired_tokens",
        "schedule": timedelta(hours=6),
    },
    "cancel-unreviewed-payments": {
        "task": "payments.cancel_unreviewed_payments",
        "schedule": timedelta(minutes=5),
    },
    "purge-risk-velocity-events": {
        "task": "risk.purge_velocity_events",
        "schedule": timedelta(minutes=15),
    },
    "sweep-webhook-deliveries": {
        "task": "merchants.sweep_webhook_deliveries",
        "schedule": timedelta(seconds=WEBHOOK_SWEEP_SECONDS),
    },
    "purge-old-events": {
        "task": "merchants.purge_events",
        "schedule": timedelta(hours=1),
    },
}
# Settlement runs daily just after the cutoff; payouts go out and the ledger is verified periodically.
CELERY_BEAT_SCHEDULE.update({
    "settle-daily": {
        "task": "payments.settle",
        "schedule": __import__("celery.schedules").schedules.crontab(
            hour=SETTLEMENT_CUTOFF_HOUR, minute=SETTLEMENT_CUTOFF_MINUTE),
    },
    "send-payouts": {"task": "payments.payouts_send", "schedule": timedelta(minutes=PAYOUTS_SEND_MINUTES)},
    "verify-ledger": {"task": "payments.ledger_verify", "schedule": timedelta(minutes=LEDGER_VERIFY_MINUTES)},
})
# Card issuing (#4): release expired authorization holds; mark cards past their expiry date expired.
CELERY_BEAT_SCHEDULE.update({
    "issuing-expire-holds": {"task": "cards.issuing_expire_holds",
                             "schedule": timedelta(minutes=ISSUING_EXPIRE_HOLDS_MINUTES)},
    "issuing-expire-cards": {"task": "cards.issuing_expire_cards", "schedule": timedelta(hours=6)},
})

# --- Logging -------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.middleware.RequestIdLogFilter"},
        # PCI DSS second line of defence: card numbers redacted from every record (message, arguments,
        # exception text). Every handler lists it, last; cards/log_redaction.py.
        "redact_pans": {"()": "cards.log_redaction.PanRedactingFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id", "redact_pans"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}

# --- Security ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

if PRODUCTION:
    missing = [
        name
        for name, value, dev in (
            ("SECRET_KEY", SECRET_KEY, _DEV_SECRET_KEY),
            ("CARD_DATA_KEYS", env.str("CARD_DATA_KEYS", default=""), ""),
            ("CARD_FINGERPRINT_KEY", env.str("CARD_FINGERPRINT_KEY", default=""), ""),
            ("WEBHOOK_ENCRYPTION_KEYS", env.str("WEBHOOK_ENCRYPTION_KEYS", default=""), ""),
            ("ISSUING_CVC_KEY", env.str("ISSUING_CVC_KEY", default=""), ""),
        )
        if not value or value == dev
    ]
    if missing:
        raise ImproperlyConfigured(f"DJANGO_ENV=production needs these set: {', '.join(missing)}")
    if (
        base64.b64decode(_DEV_CARD_DATA_KEY) in CARD_DATA_KEYS.values()
        or base64.b64decode(_DEV_FINGERPRINT_KEY) == CARD_FINGERPRINT_KEY
    ):
        raise ImproperlyConfigured("CARD_DATA_KEYS / CARD_FINGERPRINT_KEY hold a development key, not a real one")
    if base64.b64decode(_DEV_WEBHOOK_ENCRYPTION_KEY) in WEBHOOK_ENCRYPTION_KEYS.values():
        raise ImproperlyConfigured("WEBHOOK_ENCRYPTION_KEYS holds a development key, not a real one")
    if base64.b64decode(_DEV_ISSUING_CVC_KEY) == ISSUING_CVC_KEY or len(ISSUING_CVC_KEY) < 32:
        raise ImproperlyConfigured("ISSUING_CVC_KEY must be a real key of at least 32 bytes in production")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters in production")
    if len(CARD_FINGERPRINT_KEY) < 32:
        raise ImproperlyConfigured("CARD_FINGERPRINT_KEY must be at least 32 bytes in production")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host- cookies: HTTPS only, this host only (no Domain), path /; a sibling subdomain cannot set them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    # The interactive API docs have an in-page client; they stay available but the schema
    # itself is public information.
