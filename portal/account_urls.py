from django.urls import path

from .views import accounts

urlpatterns = [
    path("login/", accounts.PortalLoginView.as_view(), name="login"),
    path("logout/", accounts.PortalLogoutView.as_view(), name="logout"),
    path("mode/", accounts.mode_switch, name="mode_switch"),
]
