from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """Double-entry ledger: accounts, journal entries, immutable postings, cached balances."""

    name = "ledger"
    verbose_name = "Ledger"
