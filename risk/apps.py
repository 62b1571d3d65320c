from django.apps import AppConfig


class RiskConfig(AppConfig):
    """Risk engine. Not built yet: see the risk issue (#5)."""

    name = "risk"
