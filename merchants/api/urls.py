from django.urls import path

from . import views

urlpatterns = [
    path("merchant", views.MerchantView.as_view(), name="merchant"),
    path("events", views.EventListView.as_view(), name="events"),
    path("events/<str:event_id>", views.EventDetailView.as_view(), name="event-detail"),
    path("events/<str:event_id>/redeliver", views.EventRedeliverView.as_view(), name="event-redeliver"),
    path("webhook_endpoints", views.WebhookEndpointListCreateView.as_view(), name="webhook-endpoints"),
    path("webhook_endpoints/<str:endpoint_id>", views.WebhookEndpointDetailView.as_view(),
         name="webhook-endpoint-detail"),
    path("webhook_endpoints/<str:endpoint_id>/rotate_secret", views.WebhookEndpointRotateSecretView.as_view(),
         name="webhook-endpoint-rotate-secret"),
    path("webhook_endpoints/<str:endpoint_id>/test", views.WebhookEndpointTestView.as_view(),
         name="webhook-endpoint-test"),
    path("webhook_endpoints/<str:endpoint_id>/replay", views.WebhookEndpointReplayView.as_view(),
         name="webhook-endpoint-replay"),
]
