"""The merchant portal, mounted at /portal/ (namespace `portal`).

Account pages (sign-up, log-in, two-factor, team, credentials, connected apps, docs) live in
account_urls; the merchant's data (dashboard, payments, money, webhooks, request log) in
merchant_urls.
"""
from . import account_urls, merchant_urls

app_name = "portal"

urlpatterns = [*account_urls.urlpatterns, *merchant_urls.urlpatterns]
