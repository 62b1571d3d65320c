"""The platform's URLs plus the benchmark's reference endpoint (bench/settings.py only)."""

from django.urls import include, path

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as platform_urlpatterns

from .views import ReferenceView

urlpatterns = [
    path("bench/reference", ReferenceView.as_view(), name="bench-reference"),
    path("", include(platform_urlpatterns)),
]
