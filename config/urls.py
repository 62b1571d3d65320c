from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import views as core_views
from merchants import oauth as oauth_views
from portal.views import accounts as portal_accounts

handler400 = "core.errors.handler400"
handler403 = "core.errors.handler403"
handler404 = "core.errors.handler404"
handler500 = "core.errors.handler500"

oauth_patterns = [
    path("authorize/", oauth_views.ConsentView.as_view(), name="authorize"),
    path("token/", oauth_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth_views.IntrospectView.as_view(), name="introspect"),
]

v1_patterns = [
    path("", include("merchants.api.urls")),
    path("", include("cards.api.urls")),
    path("", include("cards.api.issuing_urls")),
    path("", include("payments.api.urls")),
    path("", include("risk.api.urls")),
    path("", include("payments.api.settlement_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("oauth/", include((oauth_patterns, "oauth2_provider"), namespace="oauth2_provider")),
    path("v1/", include(v1_patterns)),
    # The OAuth consent flow's log-in (LOGIN_URL): e-mail or username, then the second factor if it is on.
    path("accounts/login/", portal_accounts.ConsentLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("portal/", include("portal.urls")),
]
