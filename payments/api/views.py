from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.response import Response

from core.api import (
    IDEMPOTENCY_HEADER,
    PAGINATION_PARAMETERS,
    BaseEndpoint,
    endpoint_schema,
    parse_query,
    parse_timestamp,
)
from core.errors import CardError, NotFound

from .. import selectors, services
from ..constants import DECLINES, PaymentStatus
from .serializers import (
    CardErrorSerializer,
    PaymentCaptureInputSerializer,
    PaymentCreateInputSerializer,
    PaymentListParamsSerializer,
    PaymentListSerializer,
    PaymentOutputSerializer,
    RefundCreateInputSerializer,
    RefundListSerializer,
    RefundOutputSerializer,
)

PAYMENT_TAGS = ["Payments"]
REFUND_TAGS = ["Refunds"]


def _decline(payment) -> CardError:
    code, message = DECLINES.get(payment.failure_code, DECLINES["card_declined"])
    return CardError(
        message,
        code=code,
        extra={"decline_code": payment.failure_code, "payment": PaymentOutputSerializer(payment).data},
    )


class PaymentListCreateView(BaseEndpoint):
    required_scopes = {"GET": ["payments:read"], "POST": ["payments:write"]}

    @endpoint_schema(
        operation_id="payments_create",
        summary="Create a payment",
        description=(
            "Authorizes a card payment and, unless `capture` is false, captures it at once. Give either raw "
            "`card` data or a `card_token`. A declined card answers 402 `card_error` with `decline_code` and "
            "the failed payment inside the error.\n\nTest cards: 4242424242424242, 5555555555554444, "
            "378282246310005 and 6011111111111117 succeed; 4000000000000002 `card_declined`, 4000000000009995 "
            "`insufficient_funds`, 4000000000009987 `lost_card`, 4000000000009979 `stolen_card`, "
            "4000000000000069 `expired_card`, 4000000000000127 `incorrect_cvc`, 4000000000000119 "
            "`processing_error`. Risk engine: 4100000000000019 and 4000000000004954 are blocked (402, decline code "
            "`fraudulent`); 4000000000009235 is held in `requires_review` (201). Every payment shows its `risk`."
            "\n\nLive mode: cards issued by this bank authorize against the cardholder's account (on-us): a hold, "
            "captured or released with the payment. A card typed in needs its `cvc`. Other issuers' cards are "
            "declined `card_not_supported` (no card network is connected); the issuer's own declines include "
            "`card_frozen`, `card_inactive`, `spending_limit_exceeded`, `currency_not_allowed`, "
            "`country_not_allowed`, `invalid_expiry_year` and `card_data_attempts_exceeded` (too many wrong CVCs or "
            "expiry dates on the card within a day)."
        ),
        request=PaymentCreateInputSerializer,
        responses={
            201: OpenApiResponse(PaymentOutputSerializer),
            402: OpenApiResponse(CardErrorSerializer, description="The card was declined (`card_error`)."),
        },
        errors=(400, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=PAYMENT_TAGS,
    )
    def post(self, request):
        data = PaymentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.payment_create(
            merchant_id=self.ctx.merchant_id,
            livemode=self.ctx.livemode,
            api_client_id=self.ctx.client_id,
            idempotency_key=self.idempotency_key,
            **data.validated_data,
        )
        if payment.status == PaymentStatus.FAILED:
            raise _decline(payment)
        return Response(PaymentOutputSerializer(payment).data, status=201)

    @endpoint_schema(
        operation_id="payments_list",
        summary="List payments",
        description="Newest first. Filter by `status` and by creation time (unix timestamp or ISO 8601).",
        responses={200: OpenApiResponse(PaymentListSerializer)},
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("status", str, enum=PaymentStatus.values),
            OpenApiParameter("created[gte]", str, description="Created at or after (unix or ISO 8601)"),
            OpenApiParameter("created[lte]", str, description="Created at or before (unix or ISO 8601)"),
        ],
        tags=PAYMENT_TAGS,
    )
    def get(self, request):
        filters = parse_query(PaymentListParamsSerializer, request)
        gte, lte = request.query_params.get("created[gte]"), request.query_params.get("created[lte]")
        qs = selectors.payments_for_merchant(
            merchant_id=self.ctx.merchant_id,
            livemode=self.ctx.livemode,
            status=filters.get("status"),
            created_gte=parse_timestamp(gte, "created[gte]") if gte else None,
            created_lte=parse_timestamp(lte, "created[lte]") if lte else None,
        )
        return self.list_page(qs, PaymentOutputSerializer, prefix="pay")


class PaymentDetailView(BaseEndpoint):
    required_scopes = {"GET": ["payments:read"]}

    @endpoint_schema(
        operation_id="payments_retrieve",
        summary="Retrieve a payment",
        responses={200: OpenApiResponse(PaymentOutputSerializer)},
        errors=(404,),
        tags=PAYMENT_TAGS,
    )
    def get(self, request, payment_id: str):
        payment = selectors.payment_get(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                        payment_id=payment_id)
        if payment is None:
            raise NotFound("No such payment.", param="id")
        return Response(PaymentOutputSerializer(payment).data)


class PaymentCaptureView(BaseEndpoint):
    required_scopes = {"POST": ["payments:write"]}

    @endpoint_schema(
        operation_id="payments_capture",
        summary="Capture a payment",
        description="Captures an authorized payment (`requires_capture`). A partial `amount` releases the rest.",
        request=PaymentCaptureInputSerializer,
        responses={200: OpenApiResponse(PaymentOutputSerializer)},
        errors=(400, 404, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=PAYMENT_TAGS,
    )
    def post(self, request, payment_id: str):
        data = PaymentCaptureInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.payment_capture(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                           payment_id=payment_id, amount=data.validated_data.get("amount"))
        return Response(PaymentOutputSerializer(payment).data)


class PaymentCancelView(BaseEndpoint):
    required_scopes = {"POST": ["payments:write"]}

    @endpoint_schema(
        operation_id="payments_cancel",
        summary="Cancel a payment",
        description="Cancels an authorized, uncaptured payment and releases the funds.",
        request=None,
        responses={200: OpenApiResponse(PaymentOutputSerializer)},
        errors=(400, 404, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=PAYMENT_TAGS,
    )
    def post(self, request, payment_id: str):
        payment = services.payment_cancel(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                          payment_id=payment_id)
        return Response(PaymentOutputSerializer(payment).data)


class RefundListCreateView(BaseEndpoint):
    required_scopes = {"GET": ["payments:read"], "POST": ["refunds:write"]}

    @endpoint_schema(
        operation_id="refunds_create",
        summary="Refund a payment",
        description="Refunds a succeeded payment, fully (default) or partly. The total refunded never exceeds "
                    "the captured amount.",
        request=RefundCreateInputSerializer,
        responses={201: OpenApiResponse(RefundOutputSerializer)},
        errors=(400, 404, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=REFUND_TAGS,
    )
    def post(self, request):
        data = RefundCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = services.refund_create(
            merchant_id=self.ctx.merchant_id,
            livemode=self.ctx.livemode,
            payment_id=data.validated_data["payment"],
            amount=data.validated_data.get("amount"),
            reason=data.validated_data.get("reason", ""),
            api_client_id=self.ctx.client_id,
            idempotency_key=self.idempotency_key,
        )
        return Response(RefundOutputSerializer(refund).data, status=201)

    @endpoint_schema(
        operation_id="refunds_list",
        summary="List refunds",
        responses={200: OpenApiResponse(RefundListSerializer)},
        parameters=[*PAGINATION_PARAMETERS, OpenApiParameter("payment", str, description="Only this payment's")],
        tags=REFUND_TAGS,
    )
    def get(self, request):
        qs = selectors.refunds_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                            payment_id=request.query_params.get("payment"))
        return self.list_page(qs, RefundOutputSerializer, prefix="re")


class RefundDetailView(BaseEndpoint):
    required_scopes = {"GET": ["payments:read"]}

    @endpoint_schema(
        operation_id="refunds_retrieve",
        summary="Retrieve a refund",
        responses={200: OpenApiResponse(RefundOutputSerializer)},
        errors=(404,),
        tags=REFUND_TAGS,
    )
    def get(self, request, refund_id: str):
        refund = selectors.refund_get(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                      refund_id=refund_id)
        if refund is None:
            raise NotFound("No such refund.", param="id")
        return Response(RefundOutputSerializer(refund).data)
