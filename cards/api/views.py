from drf_spectacular.utils import OpenApiResponse
from rest_framework.response import Response

from core.api import (
    IDEMPOTENCY_HEADER,
    PAGINATION_PARAMETERS,
    BaseEndpoint,
    endpoint_schema,
)
from core.errors import NotFound

from .. import selectors, services
from .serializers import CardDeletedSerializer, CardInputSerializer, CardListSerializer, CardOutputSerializer

TAGS = ["Cards"]


class CardListCreateView(BaseEndpoint):
    required_scopes = {"GET": ["cards:read"], "POST": ["cards:write"]}

    @endpoint_schema(
        operation_id="cards_create",
        summary="Tokenize a card",
        description=(
            "Checks the card (Luhn, length, brand, expiry, CVC shape) and stores it in the vault. "
            "Returns a `card_...` token usable as `card_token` in payments. The CVC is checked, never stored."
        ),
        request=CardInputSerializer,
        responses={201: OpenApiResponse(CardOutputSerializer)},
        errors=(400, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=TAGS,
    )
    def post(self, request):
        data = CardInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = services.card_tokenize(
            merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, **data.validated_data
        )
        return Response(CardOutputSerializer(card).data, status=201)

    @endpoint_schema(
        operation_id="cards_list",
        summary="List tokenized cards",
        responses={200: OpenApiResponse(CardListSerializer)},
        parameters=PAGINATION_PARAMETERS,
        tags=TAGS,
    )
    def get(self, request):
        qs = selectors.cards_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode)
        return self.list_page(qs, CardOutputSerializer, prefix="card")


class CardDetailView(BaseEndpoint):
    required_scopes = {"GET": ["cards:read"], "DELETE": ["cards:write"]}

    @endpoint_schema(
        operation_id="cards_retrieve",
        summary="Retrieve a card",
        responses={200: OpenApiResponse(CardOutputSerializer)},
        errors=(404,),
        tags=TAGS,
    )
    def get(self, request, card_id: str):
        card = selectors.card_get_usable(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, card_id=card_id)
        if card is None:
            raise NotFound("No such card.", param="id")
        return Response(CardOutputSerializer(card).data)

    @endpoint_schema(
        operation_id="cards_delete",
        summary="Delete a card",
        description="Destroys the stored card number. Past payments keep brand, BIN and last 4.",
        responses={200: OpenApiResponse(CardDeletedSerializer)},
        errors=(404,),
        tags=TAGS,
    )
    def delete(self, request, card_id: str):
        card = services.card_delete(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode, card_id=card_id)
        return Response({"id": card.id, "object": "card", "deleted": True})
