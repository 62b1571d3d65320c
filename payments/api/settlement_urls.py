from django.urls import path

from . import settlement_views as views

urlpatterns = [
    path("balance", views.BalanceView.as_view(), name="balance"),
    path("balance_transactions", views.BalanceTransactionListView.as_view(), name="balance-transactions"),
    path("balance_transactions/<str:transaction_id>", views.BalanceTransactionDetailView.as_view(),
         name="balance-transaction-detail"),
    path("settlements", views.SettlementListView.as_view(), name="settlements"),
    path("settlements/<str:settlement_id>", views.SettlementDetailView.as_view(), name="settlement-detail"),
    path("settlements/<str:settlement_id>/report", views.SettlementReportView.as_view(), name="settlement-report"),
    path("payouts", views.PayoutListView.as_view(), name="payouts"),
    path("payouts/<str:payout_id>", views.PayoutDetailView.as_view(), name="payout-detail"),
]
