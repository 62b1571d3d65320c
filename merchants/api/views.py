from drf_spectacular.utils import OpenApiResponse
from rest_framework.response import Response

from core.api import BaseEndpoint, endpoint_schema

from .serializers import MerchantOutputSerializer


class MerchantView(BaseEndpoint):
    # Any valid token may read which merchant it acts for.
    required_scopes = {"GET": []}

    @endpoint_schema(
        operation_id="merchant_retrieve",
        summary="The merchant this token acts for",
        description="Returns the caller's merchant, the token's mode (`livemode`) and its granted scopes.",
        responses={200: OpenApiResponse(MerchantOutputSerializer)},
        errors=(),
        tags=["Merchant"],
    )
    def get(self, request):
        return Response(MerchantOutputSerializer(self.ctx.merchant, context={"ctx": self.ctx}).data)
