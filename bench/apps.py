from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmark-only app: installed by bench/settings.py, never by config/settings.py."""

    name = "bench"
    verbose_name = "Benchmark reference"
    default_auto_field = "django.db.models.BigAutoField"
