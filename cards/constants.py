"""Card issuing (#4): program types, card and authorization statuses with their transition tables,
and the decline codes of on-us authorization."""

from django.db import models


class ProgramType(models.TextChoices):
    DEBIT = "debit", "Debit (spends the account's deposited money)"
    CREDIT = "credit", "Credit (spends a credit line)"
    PREPAID = "prepaid", "Prepaid (spends money loaded in advance)"


class CardType(models.TextChoices):
    VIRTUAL = "virtual", "Virtual"
    PHYSICAL = "physical", "Physical"


class CardStatus(models.TextChoices):
    INACTIVE = "inactive", "Inactive (not yet activated)"
    ACTIVE = "active", "Active"
    FROZEN = "frozen", "Frozen (temporarily; unfreeze to use again)"
    BLOCKED = "blocked", "Blocked (lost, stolen or replaced; final)"
    EXPIRED = "expired", "Expired"
    CLOSED = "closed", "Closed"


# A card is issued `inactive` (a virtual card asked for `active` is activated at once, which is an
# event like any other). Only cards/issuing.py `_card_transition` changes a card's status.
CARD_TRANSITIONS: dict[str, set[str]] = {
    CardStatus.INACTIVE: {CardStatus.ACTIVE, CardStatus.EXPIRED, CardStatus.CLOSED},
    CardStatus.ACTIVE: {CardStatus.FROZEN, CardStatus.BLOCKED, CardStatus.EXPIRED, CardStatus.CLOSED},
    CardStatus.FROZEN: {CardStatus.ACTIVE, CardStatus.BLOCKED, CardStatus.EXPIRED, CardStatus.CLOSED},
    CardStatus.BLOCKED: set(),  # lost or stolen: final; a reissued card replaces it
    CardStatus.EXPIRED: {CardStatus.CLOSED},
    CardStatus.CLOSED: set(),
}

# Statuses a card can be reissued from (the old card is blocked, a new one issued on the same account).
REISSUABLE = {CardStatus.ACTIVE, CardStatus.FROZEN}


class BlockReason(models.TextChoices):
    LOST = "lost", "Lost"
    STOLEN = "stolen", "Stolen"
    DAMAGED = "damaged", "Damaged (replaced)"


class CardEventType(models.TextChoices):
    ISSUED = "card.issued"
    ACTIVATED = "card.activated"
    FROZEN = "card.frozen"
    UNFROZEN = "card.unfrozen"
    BLOCKED = "card.blocked"
    EXPIRED = "card.expired"
    CLOSED = "card.closed"
    REISSUED = "card.reissued"  # on the old card: which card replaces it
    SPENDING_CONTROLS_UPDATED = "card.spending_controls_updated"
    DETAILS_READ = "card.details_read"  # the full number and CVC were read (also in the audit log)


# The event a move into a status records.
CARD_EVENT_FOR: dict[tuple[str, str], str] = {
    (CardStatus.FROZEN, CardStatus.ACTIVE): CardEventType.UNFROZEN,
}
CARD_EVENT_INTO: dict[str, str] = {
    CardStatus.ACTIVE: CardEventType.ACTIVATED,
    CardStatus.FROZEN: CardEventType.FROZEN,
    CardStatus.BLOCKED: CardEventType.BLOCKED,
    CardStatus.EXPIRED: CardEventType.EXPIRED,
    CardStatus.CLOSED: CardEventType.CLOSED,
}


class AuthorizationStatus(models.TextChoices):
    PENDING = "pending", "Pending (funds held)"
    CLOSED = "closed", "Closed (captured; any rest released)"
    REVERSED = "reversed", "Reversed (canceled by the merchant; funds released)"
    EXPIRED = "expired", "Expired (not captured in time; funds released)"
    DECLINED = "declined", "Declined"


# An authorization is created `pending` (a hold), `closed` (authorized and captured at once) or
# `declined`. Only cards/authorization.py `_authorization_transition` changes its status.
AUTHORIZATION_TRANSITIONS: dict[str, set[str]] = {
    AuthorizationStatus.PENDING: {AuthorizationStatus.CLOSED, AuthorizationStatus.REVERSED,
                                  AuthorizationStatus.EXPIRED},
    AuthorizationStatus.CLOSED: set(),
    AuthorizationStatus.REVERSED: set(),
    AuthorizationStatus.EXPIRED: set(),
    AuthorizationStatus.DECLINED: set(),
}


class AuthorizationEventType(models.TextChoices):
    CREATED = "authorization.created"  # approved (hold, or captured at once) or declined
    CAPTURED = "authorization.captured"
    REVERSED = "authorization.reversed"
    EXPIRED = "authorization.expired"
    REFUNDED = "authorization.refunded"


class Decline:
    """Decline codes of on-us authorization. The first five are the test simulator's codes too."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    LOST_CARD = "lost_card"
    STOLEN_CARD = "stolen_card"
    CARD_DECLINED = "card_declined"
    CARD_FROZEN = "card_frozen"
    CARD_INACTIVE = "card_inactive"
    SPENDING_LIMIT_EXCEEDED = "spending_limit_exceeded"
    CURRENCY_NOT_ALLOWED = "currency_not_allowed"
    COUNTRY_NOT_ALLOWED = "country_not_allowed"
    INVALID_EXPIRY = "invalid_expiry_year"
    CARD_NOT_SUPPORTED = "card_not_supported"  # not a card of this bank: no card network is connected
    # guessing guard: too many wrong CVCs or expiry dates on the card recently (ISSUING_CARD_DATA_FAILURE_*)
    CARD_DATA_ATTEMPTS_EXCEEDED = "card_data_attempts_exceeded"


# decline code -> (API error code, message the payer may see). payments.constants.DECLINES includes these.
ISSUING_DECLINES: dict[str, tuple[str, str]] = {
    Decline.CARD_FROZEN: ("card_declined", "The card is frozen by its holder."),
    Decline.CARD_INACTIVE: ("card_declined", "The card has not been activated."),
    Decline.SPENDING_LIMIT_EXCEEDED: ("card_declined", "The payment exceeds a spending limit of the card."),
    Decline.CURRENCY_NOT_ALLOWED: ("card_declined", "The card cannot pay in this currency."),
    Decline.COUNTRY_NOT_ALLOWED: ("card_declined", "The card cannot pay merchants in this country."),
    Decline.INVALID_EXPIRY: ("invalid_expiry_year", "The card's expiry date is incorrect."),
    Decline.CARD_DATA_ATTEMPTS_EXCEEDED: (
        "card_declined",
        "Too many recent payments with a wrong CVC or expiry date: the card declines for a while.",
    ),
    Decline.CARD_NOT_SUPPORTED: (
        "card_declined",
        "Live mode accepts only cards issued by this bank: no card network is connected for other issuers.",
    ),
}
