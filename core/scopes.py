"""Every OAuth2 scope of the platform, defined in this one place.

Plain data with no Django imports: settings, the OAuth2 server, the API permission check,
the OpenAPI schema and `seed_demo` all read it. A new capability adds its scopes here.
"""

SCOPES: dict[str, str] = {
    "payments:read": "Read your payments and refunds",
    "payments:write": "Create, capture and cancel payments",
    "refunds:write": "Refund payments",
    "cards:read": "Read tokenized cards (never the full card number)",
    "cards:write": "Tokenize and delete cards",
    "risk:read": "Read the risk assessments of your payments",
    "risk:write": "Manage your own risk block list",
    "balance:read": "Read your balance and balance transactions",
    "settlements:read": "Read your settlements, their reports, and payouts",
    "events:read": "Read the events of your account (payments, refunds, ...)",
    "webhooks:read": "Read your webhook endpoints",
    "webhooks:write": "Create, change, delete and test webhook endpoints; redeliver and replay events",
    "issuing:read": "Read your cardholders, issued cards (never the full number) and their authorizations",
    "issuing:write": "Create cardholders, issue cards, freeze, unfreeze, block and reissue them, change limits",
    "issuing:card_details": "Read the full number and CVC of your virtual cards (every read is audited)",
}

# Scopes a merchant's own client may hold. Every scope above is a merchant scope today.
MERCHANT_SCOPES: tuple[str, ...] = tuple(SCOPES)
