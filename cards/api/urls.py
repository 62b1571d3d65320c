from django.urls import path

from . import views

urlpatterns = [
    path("cards", views.CardListCreateView.as_view(), name="cards"),
    path("cards/<str:card_id>", views.CardDetailView.as_view(), name="card-detail"),
]
