from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """Double-entry ledger. Not built yet: see the ledger issue (#3)."""

    name = "ledger"
