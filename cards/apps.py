from django.apps import AppConfig


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = "Card vault"

    def ready(self):
        from . import checks  # noqa: F401  (registers the key-version system checks)
