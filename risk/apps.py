from django.apps import AppConfig


class RiskConfig(AppConfig):
    """Risk engine: assessments, lists, velocity counters, staff rules (CEL), backtests."""

    name = "risk"
