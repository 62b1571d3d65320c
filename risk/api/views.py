from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.response import Response

from core.api import (
    IDEMPOTENCY_HEADER,
    PAGINATION_PARAMETERS,
    BaseEndpoint,
    endpoint_schema,
)
from core.errors import NotFound

from .. import selectors, services
from ..constants import ListAction
from .serializers import (
    AssessmentListSerializer,
    AssessmentOutputSerializer,
    BlockListEntryDeletedSerializer,
    BlockListEntryInputSerializer,
    BlockListEntryOutputSerializer,
    BlockListSerializer,
)

TAGS = ["Risk"]


class AssessmentListView(BaseEndpoint):
    required_scopes = {"GET": ["risk:read"]}

    @endpoint_schema(
        operation_id="risk_assessments_list",
        summary="List risk assessments",
        description="Newest first: the risk engine's score (0-100), decision (`allow`, `review`, `block`) and "
                    "reasons for each payment attempt. Filter by `payment`.",
        responses={200: OpenApiResponse(AssessmentListSerializer)},
        parameters=[*PAGINATION_PARAMETERS, OpenApiParameter("payment", str, description="Only this payment's")],
        tags=TAGS,
    )
    def get(self, request):
        qs = selectors.assessments_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                                payment_id=request.query_params.get("payment"))
        return self.list_page(qs, AssessmentOutputSerializer, prefix="ra")


class AssessmentDetailView(BaseEndpoint):
    required_scopes = {"GET": ["risk:read"]}

    @endpoint_schema(
        operation_id="risk_assessments_retrieve",
        summary="Retrieve a risk assessment",
        responses={200: OpenApiResponse(AssessmentOutputSerializer)},
        errors=(404,),
        tags=TAGS,
    )
    def get(self, request, assessment_id: str):
        assessment = selectors.assessment_get(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                              assessment_id=assessment_id)
        if assessment is None:
            raise NotFound("No such risk assessment.", param="id")
        return Response(AssessmentOutputSerializer(assessment).data)


class BlockListView(BaseEndpoint):
    required_scopes = {"GET": ["risk:write"], "POST": ["risk:write"]}

    @endpoint_schema(
        operation_id="risk_block_list_create",
        summary="Add to your block list",
        description="Payments to you that match an entry (this card, BIN, IP range, email domain or country) "
                    "are blocked by the risk engine and answer 402 `card_error` with decline code `fraudulent`. "
                    "Adding an entry that exists returns it.",
        request=BlockListEntryInputSerializer,
        responses={201: OpenApiResponse(BlockListEntryOutputSerializer)},
        errors=(400, 409, 422),
        parameters=[IDEMPOTENCY_HEADER],
        tags=TAGS,
    )
    def post(self, request):
        data = BlockListEntryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.list_entry_create(kind=data.validated_data["type"], value=data.validated_data["value"],
                                           action=ListAction.BLOCK, merchant_id=self.ctx.merchant_id,
                                           livemode=self.ctx.livemode, note=data.validated_data["note"],
                                           actor=f"api:{self.ctx.client_id}")
        return Response(BlockListEntryOutputSerializer(entry).data, status=201)

    @endpoint_schema(
        operation_id="risk_block_list_list",
        summary="List your block list",
        description="Newest first. Only your own entries (the bank's lists are not shown).",
        responses={200: OpenApiResponse(BlockListSerializer)},
        parameters=PAGINATION_PARAMETERS,
        tags=TAGS,
    )
    def get(self, request):
        qs = selectors.block_list_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode)
        return self.list_page(qs, BlockListEntryOutputSerializer, prefix="rle")


class BlockListEntryView(BaseEndpoint):
    required_scopes = {"DELETE": ["risk:write"]}

    @endpoint_schema(
        operation_id="risk_block_list_delete",
        summary="Remove from your block list",
        responses={200: OpenApiResponse(BlockListEntryDeletedSerializer)},
        errors=(404,),
        tags=TAGS,
    )
    def delete(self, request, entry_id: str):
        services.list_entry_delete(entry_id=entry_id, merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode)
        return Response({"id": entry_id, "object": "risk.block_list_entry", "deleted": True})
