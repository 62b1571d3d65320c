from django.urls import path

from .views import dashboard, money, payments, requests, webhooks

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    # Payments
    path("payments/", payments.payment_list, name="payments"),
    path("payments/export.csv", payments.payment_export, name="payments_export"),
    path("payments/<str:payment_id>/", payments.payment_detail, name="payment_detail"),
    path("payments/<str:payment_id>/refund/", payments.payment_refund, name="payment_refund"),
    # Money
    path("money/", money.balance, name="money"),
    path("money/settlements/", money.settlement_list, name="settlements"),
    path("money/settlements/<str:settlement_id>/", money.settlement_detail, name="settlement_detail"),
    path("money/settlements/<str:settlement_id>/report.csv", money.settlement_report, name="settlement_report"),
    path("money/payouts/", money.payout_list, name="payouts"),
    # Webhooks
    path("webhooks/", webhooks.endpoint_list, name="webhooks"),
    path("webhooks/new/", webhooks.endpoint_create, name="webhook_create"),
    path("webhooks/<str:endpoint_id>/", webhooks.endpoint_detail, name="webhook_detail"),
    path("webhooks/<str:endpoint_id>/edit/", webhooks.endpoint_edit, name="webhook_edit"),
    path("webhooks/<str:endpoint_id>/status/", webhooks.endpoint_set_status, name="webhook_status"),
    path("webhooks/<str:endpoint_id>/delete/", webhooks.endpoint_delete, name="webhook_delete"),
    path("webhooks/<str:endpoint_id>/rotate/", webhooks.endpoint_rotate_secret, name="webhook_rotate"),
    path("webhooks/<str:endpoint_id>/test/", webhooks.endpoint_send_test, name="webhook_test"),
    path("webhooks/<str:endpoint_id>/redeliver/", webhooks.delivery_redeliver, name="webhook_redeliver"),
    # API request log
    path("requests/", requests.request_log, name="request_log"),
]
