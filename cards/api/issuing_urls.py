from django.urls import path

from . import issuing_views as views

urlpatterns = [
    path("issuing/cardholders", views.CardholderListCreateView.as_view(), name="issuing-cardholders"),
    path("issuing/cardholders/<str:cardholder_id>", views.CardholderDetailView.as_view(),
         name="issuing-cardholder-detail"),
    path("issuing/cards", views.IssuedCardListCreateView.as_view(), name="issuing-cards"),
    path("issuing/cards/<str:card_id>", views.IssuedCardDetailView.as_view(), name="issuing-card-detail"),
    path("issuing/cards/<str:card_id>/activate", views.IssuedCardActivateView.as_view(),
         name="issuing-card-activate"),
    path("issuing/cards/<str:card_id>/freeze", views.IssuedCardFreezeView.as_view(), name="issuing-card-freeze"),
    path("issuing/cards/<str:card_id>/unfreeze", views.IssuedCardUnfreezeView.as_view(),
         name="issuing-card-unfreeze"),
    path("issuing/cards/<str:card_id>/block", views.IssuedCardBlockView.as_view(), name="issuing-card-block"),
    path("issuing/cards/<str:card_id>/reissue", views.IssuedCardReissueView.as_view(), name="issuing-card-reissue"),
    path("issuing/cards/<str:card_id>/authorizations", views.IssuedCardAuthorizationListView.as_view(),
         name="issuing-card-authorizations"),
    path("issuing/cards/<str:card_id>/details", views.IssuedCardDetailsView.as_view(), name="issuing-card-details"),
]
