"""Card issuing API (#4), for partner merchants that issue cards through the bank.

A card program (BIN, brand, currency, type) is set up by the bank's staff for one partner merchant in
one mode; that merchant's API clients of the same mode create cardholders and issue cards under it,
and see only their own (anything else answers 404). Scopes: `issuing:read`, `issuing:write`, and
`issuing:card_details` for the full number and CVC of a virtual card (every read audited).
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.response import Response

from core.api import (
    IDEMPOTENCY_HEADER,
    PAGINATION_PARAMETERS,
    BaseEndpoint,
    endpoint_schema,
    parse_query,
)
from core.errors import NotFound

from .. import issuing, issuing_selectors
from ..constants import BlockReason, CardStatus
from .issuing_serializers import (
    AuthorizationListSerializer,
    AuthorizationOutputSerializer,
    CardholderCreateInputSerializer,
    CardholderListSerializer,
    CardholderOutputSerializer,
    IssuedCardBlockInputSerializer,
    IssuedCardCreateInputSerializer,
    IssuedCardDetailsSerializer,
    IssuedCardListParamsSerializer,
    IssuedCardListSerializer,
    IssuedCardOutputSerializer,
    IssuedCardUpdateInputSerializer,
    card_representation,
    cardholder_representation,
)

TAGS = ["Issuing"]


class IssuingEndpoint(BaseEndpoint):
    @property
    def actor(self) -> str:
        return f"api:{self.ctx.client_id}"

    def scope(self) -> dict:
        return {"merchant_id": self.ctx.merchant_id, "livemode": self.ctx.livemode}

    def card_response(self, card_id: str, status: int = 200) -> Response:
        """The card as GET shows it (with its account's balances), after a change."""
        card = issuing_selectors.issued_card_get(card_id=card_id, **self.scope())
        if card is None:
            raise NotFound("No such card.", param="id")
        return Response(card_representation(card), status=status)


# --- Cardholders --------------------------------------------------------------------------------------------


class CardholderListCreateView(IssuingEndpoint):
    required_scopes = {"GET": ["issuing:read"], "POST": ["issuing:write"]}

    @endpoint_schema(
        operation_id="issuing_cardholders_create",
        summary="Create a cardholder",
        description="A person you issue cards to: name, email, phone (E.164) and billing address.",
        request=CardholderCreateInputSerializer,
        responses={201: OpenApiResponse(CardholderOutputSerializer)},
        errors=(400, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=TAGS,
    )
    def post(self, request):
        data = CardholderCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        holder = issuing.cardholder_create(**self.scope(), **data.validated_data)
        return Response(cardholder_representation(holder), status=201)

    @endpoint_schema(
        operation_id="issuing_cardholders_list",
        summary="List cardholders",
        responses={200: OpenApiResponse(CardholderListSerializer)},
        parameters=PAGINATION_PARAMETERS,
        tags=TAGS,
    )
    def get(self, request):
        qs = issuing_selectors.cardholders_for_merchant(**self.scope())
        return self.list_page(qs, CardholderOutputSerializer, prefix="ich")


class CardholderDetailView(IssuingEndpoint):
    required_scopes = {"GET": ["issuing:read"]}

    @endpoint_schema(
        operation_id="issuing_cardholders_retrieve",
        summary="Retrieve a cardholder",
        responses={200: OpenApiResponse(CardholderOutputSerializer)},
        errors=(404,),
        tags=TAGS,
    )
    def get(self, request, cardholder_id: str):
        holder = issuing_selectors.cardholder_get(cardholder_id=cardholder_id, **self.scope())
        if holder is None:
            raise NotFound("No such cardholder.", param="id")
        return Response(cardholder_representation(holder))


# --- Cards ---------------------------------------------------------------------------------------------------


class IssuedCardListCreateView(IssuingEndpoint):
    required_scopes = {"GET": ["issuing:read"], "POST": ["issuing:write"]}

    @endpoint_schema(
        operation_id="issuing_cards_create",
        summary="Issue a card",
        description=(
            "Issues a card to a cardholder: a new number under your program's BIN, an expiry "
            "(ISSUING_CARD_VALIDITY_YEARS ahead) and a CVC that is never stored. Give `program` for a new card "
            "account (default: your only program in this mode) or `account` for one more card on an existing one. "
            "The number and CVC are never in this response: read a virtual card's with "
            "`GET /v1/issuing/cards/{id}/details` (scope `issuing:card_details`)."
        ),
        request=IssuedCardCreateInputSerializer,
        responses={201: OpenApiResponse(IssuedCardOutputSerializer)},
        errors=(400, 404, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=TAGS,
    )
    def post(self, request):
        data = IssuedCardCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        card = issuing.card_issue(
            **self.scope(), cardholder_id=body["cardholder"], type=body["type"], program_id=body.get("program"),
            account_id=body.get("account"), status=body.get("status"), credit_limit=body.get("credit_limit"),
            spending_controls=body.get("spending_controls"), actor=self.actor)
        return self.card_response(card.id, status=201)

    @endpoint_schema(
        operation_id="issuing_cards_list",
        summary="List issued cards",
        responses={200: OpenApiResponse(IssuedCardListSerializer)},
        parameters=[*PAGINATION_PARAMETERS,
                    OpenApiParameter("cardholder", str, description="Only this cardholder's cards"),
                    OpenApiParameter("status", str, enum=CardStatus.values)],
        tags=TAGS,
    )
    def get(self, request):
        filters = parse_query(IssuedCardListParamsSerializer, request)
        qs = issuing_selectors.issued_cards(**self.scope(), cardholder_id=filters.get("cardholder"),
                                            status=filters.get("status"))
        return self.list_page(qs, IssuedCardOutputSerializer, prefix="ic")


class IssuedCardDetailView(IssuingEndpoint):
    required_scopes = {"GET": ["issuing:read"], "PATCH": ["issuing:write"]}

    @endpoint_schema(
        operation_id="issuing_cards_retrieve",
        summary="Retrieve an issued card",
        description="Brand, last 4, expiry, status, spending controls and the account's balances; never the number.",
        responses={200: OpenApiResponse(IssuedCardOutputSerializer)},
        errors=(404,),
        tags=TAGS,
    )
    def get(self, request, card_id: str):
        return self.card_response(card_id)

    @endpoint_schema(
        operation_id="issuing_cards_update",
        summary="Change a card's spending controls",
        description="Only the controls given change; `null` clears a limit, an empty list allows any. Limits are "
                    "in the minor unit of the account's currency; daily and monthly windows are UTC.",
        request=IssuedCardUpdateInputSerializer,
        responses={200: OpenApiResponse(IssuedCardOutputSerializer)},
        errors=(400, 404),
        tags=TAGS,
    )
    def patch(self, request, card_id: str):
        data = IssuedCardUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issuing.card_set_spending_controls(card_id=card_id, spending_controls=data.validated_data["spending_controls"],
                                           actor=self.actor, **self.scope())
        return self.card_response(card_id)


def _action_view(name: str, *, summary: str, description: str, call, request_serializer=None):
    """One APIView per lifecycle operation: POST /v1/issuing/cards/{id}/<name>."""

    class View(IssuingEndpoint):
        required_scopes = {"POST": ["issuing:write"]}

        @endpoint_schema(operation_id=f"issuing_cards_{name}", summary=summary, description=description,
                         request=request_serializer, responses={200: OpenApiResponse(IssuedCardOutputSerializer)},
                         errors=(400, 404, 409, 422), parameters=[IDEMPOTENCY_HEADER], tags=TAGS)
        def post(self, request, card_id: str):
            extra = {}
            if request_serializer is not None:
                data = request_serializer(data=request.data)
                data.is_valid(raise_exception=True)
                extra = dict(data.validated_data)
            card = call(card_id=card_id, actor=self.actor, **self.scope(), **extra)
            return self.card_response(card.id)

    View.__name__ = View.__qualname__ = f"IssuedCard{name.title()}View"
    return View


IssuedCardActivateView = _action_view(
    "activate", summary="Activate a card", call=issuing.card_activate,
    description="inactive -> active (a physical card that reached its holder).")
IssuedCardFreezeView = _action_view(
    "freeze", summary="Freeze a card", call=issuing.card_freeze,
    description="active -> frozen: authorizations are declined `card_frozen` until it is unfrozen.")
IssuedCardUnfreezeView = _action_view(
    "unfreeze", summary="Unfreeze a card", call=issuing.card_unfreeze, description="frozen -> active.")
IssuedCardBlockView = _action_view(
    "block", summary="Block a card", call=issuing.card_block, request_serializer=IssuedCardBlockInputSerializer,
    description=f"active or frozen -> blocked, for good (reason: {', '.join(BlockReason.values)}). Authorizations "
                "are declined `lost_card` / `stolen_card`. Reissue to give the holder a new card.")
IssuedCardReissueView = _action_view(
    "reissue", summary="Reissue a card", call=issuing.card_reissue, request_serializer=IssuedCardBlockInputSerializer,
    description="Issues a new card (new number, expiry and CVC) on the same account with the same spending "
                "controls and blocks this one with the reason. Answers the NEW card (its `replacement_for` names "
                "this one); a virtual card is active at once, a physical one waits for activation.")


class IssuedCardAuthorizationListView(IssuingEndpoint):
    required_scopes = {"GET": ["issuing:read"]}

    @endpoint_schema(
        operation_id="issuing_card_authorizations_list",
        summary="List a card's authorizations",
        description="Every authorization request made with the card (approved or declined, with the reason), "
                    "newest first.",
        responses={200: OpenApiResponse(AuthorizationListSerializer)},
        parameters=PAGINATION_PARAMETERS,
        errors=(404,),
        tags=TAGS,
    )
    def get(self, request, card_id: str):
        if issuing_selectors.issued_card_get(card_id=card_id, **self.scope()) is None:
            raise NotFound("No such card.", param="id")
        qs = issuing_selectors.authorizations_for_card(card_id=card_id)
        return self.list_page(qs, AuthorizationOutputSerializer, prefix="iauth")


class IssuedCardDetailsView(IssuingEndpoint):
    required_scopes = {"GET": ["issuing:card_details"]}

    @endpoint_schema(
        operation_id="issuing_cards_details",
        summary="Read a virtual card's number and CVC",
        description="The full card number, CVC and expiry of a virtual card, to show to its holder. Every read is "
                    "recorded in the audit log. Never store or log the answer; it is sent with "
                    "`Cache-Control: no-store`. Physical, blocked and closed cards answer 400 "
                    "`card_details_unavailable`.",
        responses={200: OpenApiResponse(IssuedCardDetailsSerializer)},
        errors=(400, 404),
        tags=TAGS,
    )
    def get(self, request, card_id: str):
        details = issuing.card_details_reveal(card_id=card_id, actor=self.actor, **self.scope())
        response = Response(IssuedCardDetailsSerializer({
            "id": details["card"].id, "number": details["number"].reveal(), "cvc": details["cvc"],
            "exp_month": details["exp_month"], "exp_year": details["exp_year"]}).data)
        response["Cache-Control"] = "no-store"
        return response
