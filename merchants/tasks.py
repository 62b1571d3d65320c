from celery import shared_task
from django.core.management import call_command


@shared_task(name="merchants.clear_expired_tokens", acks_late=True)
def clear_expired_tokens() -> None:
    """Delete expired OAuth2 tokens and grants (django-oauth-toolkit's cleartokens)."""
    call_command("cleartokens")
