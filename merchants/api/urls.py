from django.urls import path

from . import views

urlpatterns = [
    path("merchant", views.MerchantView.as_view(), name="merchant"),
]
