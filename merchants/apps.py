from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "Merchants and API clients"

    def ready(self):
        from . import schema  # noqa: F401  (registers the OpenAPI extension of the OAuth2 authentication)
