from django.apps import AppConfig


class PortalConfig(AppConfig):
    """Merchant developer portal (issue #7): accounts, team, credentials, the merchant's data."""

    name = "portal"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .middleware import remember_second_factor

        user_logged_in.connect(remember_second_factor, dispatch_uid="portal.remember_second_factor")
