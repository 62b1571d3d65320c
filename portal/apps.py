from django.apps import AppConfig


class PortalConfig(AppConfig):
    """Merchant developer portal. Not built yet: see the portal issue (#7)."""

    name = "portal"
