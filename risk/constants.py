"""Decisions, list kinds, velocity windows and the built-in signals' points."""

from django.db import models


class Decision(models.TextChoices):
    ALLOW = "allow", "Allow"
    REVIEW = "review", "Review"
    BLOCK = "block", "Block"


# Strength of a decision: a stronger one wins when several apply.
DECISION_RANK = {Decision.ALLOW: 0, Decision.REVIEW: 1, Decision.BLOCK: 2}


class ListKind(models.TextChoices):
    FINGERPRINT = "fingerprint", "Card fingerprint"
    BIN = "bin", "BIN (6 or 8 digits)"
    IP_RANGE = "ip_range", "IP range (CIDR)"
    EMAIL_DOMAIN = "email_domain", "Email domain"
    COUNTRY = "country", "Country (card or IP)"


class ListAction(models.TextChoices):
    BLOCK = "block", "Block"
    ALLOW = "allow", "Allow"


class RuleAction(models.TextChoices):
    BLOCK = "block", "Block"
    REVIEW = "review", "Review"
    ALLOW = "allow", "Allow"


class ReviewOutcome(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired (not reviewed in time)"


HOUR = 3600
DAY = 24 * HOUR

# Velocity counters: (dimension, window in seconds, suffix). Each gives `<dim>_count_<suffix>` and
# `<dim>_sum_<suffix>` (the number and the amount of earlier attempts in the sliding window).
VELOCITY_WINDOWS: tuple[tuple[str, int, str], ...] = (
    ("card", HOUR, "1h"),
    ("card", DAY, "24h"),
    ("ip", HOUR, "1h"),
    ("email", DAY, "24h"),
    ("merchant", HOUR, "1h"),
    ("ip_small", HOUR, "1h"),
    ("merchant_small", HOUR, "1h"),
    ("ip_declined", HOUR, "1h"),
    ("merchant_declined", HOUR, "1h"),
    ("card_declined", DAY, "24h"),
)
MAX_WINDOW = max(w for _, w, _ in VELOCITY_WINDOWS)
VELOCITY_FIELDS: tuple[str, ...] = tuple(
    f"{dim}_{what}_{suffix}" for dim, _, suffix in VELOCITY_WINDOWS for what in ("count", "sum")
)

# Test-mode cards, recognized by BIN + last 4 (the risk engine never sees a full number).
TEST_CARD_ALWAYS_BLOCKED = ("410000", "0019")  # 4100000000000019
TEST_CARD_HIGHEST_RISK = ("400000", "4954")  # 4000000000004954
TEST_CARD_ELEVATED_RISK = ("400000", "9235")  # 4000000000009235
