import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("payments_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Modules named other than `tasks` that hold tasks (card issuing's beat tasks, #4).
app.autodiscover_tasks(related_name="issuing_tasks")
