from django.apps import AppConfig


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = "Card vault"

    def ready(self):
        from . import checks  # noqa: F401  (registers the key-version system checks)
        from .log_redaction import install_pan_redaction

        # Handlers that settings.LOGGING did not create (Django's defaults, gunicorn's) redact card numbers too.
        install_pan_redaction()
