"""Balance, balance transactions, settlements (with their CSV report) and payouts: read-only."""

import csv
import io

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.response import Response

from core.api import (
    PAGINATION_PARAMETERS,
    BaseEndpoint,
    endpoint_schema,
    list_response,
    paginate,
    parse_query,
)
from core.errors import NotFound

from .. import settlement_selectors as selectors
from .settlement_serializers import (
    BalanceSerializer,
    BalanceTransactionListParamsSerializer,
    BalanceTransactionListSerializer,
    BalanceTransactionSerializer,
    PayoutListParamsSerializer,
    PayoutListSerializer,
    PayoutSerializer,
    SettlementListSerializer,
    SettlementSerializer,
)

BALANCE_TAGS = ["Balance"]
SETTLEMENT_TAGS = ["Settlements and payouts"]

REPORT_COLUMNS = ["type", "id", "payment", "occurred_at", "currency", "gross", "fee", "net"]


class BalanceView(BaseEndpoint):
    required_scopes = {"GET": ["balance:read"]}

    @endpoint_schema(operation_id="balance_retrieve", summary="Retrieve your balance",
                     description="`available` (settled, paid out with the next payout) and `pending` (captured, "
                                 "not yet settled) per currency, in minor units.",
                     responses={200: OpenApiResponse(BalanceSerializer)}, tags=BALANCE_TAGS)
    def get(self, request):
        balances = selectors.balance_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode)
        body = {"object": "balance", "livemode": self.ctx.livemode,
                "available": [{"amount": b["available"], "currency": c} for c, b in sorted(balances.items())],
                "pending": [{"amount": b["pending"], "currency": c} for c, b in sorted(balances.items())]}
        return Response(body)


def _render_transactions(entries):
    available_on = selectors.available_on_for(entries)
    return BalanceTransactionSerializer(entries, many=True, context={"available_on": available_on}).data


class BalanceTransactionListView(BaseEndpoint):
    required_scopes = {"GET": ["balance:read"]}

    @endpoint_schema(operation_id="balance_transactions_list", summary="List balance transactions",
                     description="Every movement of your balance, newest first: payments (amount, fee, net), "
                                 "refunds, settlements, payouts and their reversals.",
                     responses={200: OpenApiResponse(BalanceTransactionListSerializer)},
                     parameters=[*PAGINATION_PARAMETERS,
                                 OpenApiParameter("type", str, description="Only this type"),
                                 OpenApiParameter("source", str, description="Only this pay_/re_/stl_/po_ id's")],
                     tags=BALANCE_TAGS)
    def get(self, request):
        params = parse_query(BalanceTransactionListParamsSerializer, request)
        qs = selectors.balance_transactions_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                                         type=params.get("type"), source=params.get("source"))
        entries, has_more = paginate(qs, params, prefix="txn")
        return list_response(_render_transactions(entries), has_more, request.path)


class BalanceTransactionDetailView(BaseEndpoint):
    required_scopes = {"GET": ["balance:read"]}

    @endpoint_schema(operation_id="balance_transactions_retrieve", summary="Retrieve a balance transaction",
                     responses={200: OpenApiResponse(BalanceTransactionSerializer)}, errors=(404,), tags=BALANCE_TAGS)
    def get(self, request, transaction_id: str):
        entry = selectors.balance_transactions_for_merchant(
            merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode).filter(pk=transaction_id).first()
        if entry is None:
            raise NotFound("No such balance transaction.", param="id")
        return Response(_render_transactions([entry])[0])


class SettlementListView(BaseEndpoint):
    required_scopes = {"GET": ["settlements:read"]}

    @endpoint_schema(operation_id="settlements_list", summary="List settlements",
                     responses={200: OpenApiResponse(SettlementListSerializer)}, parameters=PAGINATION_PARAMETERS,
                     tags=SETTLEMENT_TAGS)
    def get(self, request):
        qs = selectors.settlements_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode)
        return self.list_page(qs, SettlementSerializer, prefix="stl")


def _settlement_or_404(view, settlement_id):
    stl = selectors.settlement_get(merchant_id=view.ctx.merchant_id, livemode=view.ctx.livemode,
                                   settlement_id=settlement_id)
    if stl is None:
        raise NotFound("No such settlement.", param="id")
    return stl


class SettlementDetailView(BaseEndpoint):
    required_scopes = {"GET": ["settlements:read"]}

    @endpoint_schema(operation_id="settlements_retrieve", summary="Retrieve a settlement",
                     responses={200: OpenApiResponse(SettlementSerializer)}, errors=(404,), tags=SETTLEMENT_TAGS)
    def get(self, request, settlement_id: str):
        return Response(SettlementSerializer(_settlement_or_404(self, settlement_id)).data)


class SettlementReportView(BaseEndpoint):
    required_scopes = {"GET": ["settlements:read"]}

    @endpoint_schema(
        operation_id="settlements_report", summary="Download a settlement's reconciliation report (CSV)",
        description="One line per captured payment and per refund: `" + ",".join(REPORT_COLUMNS) + "` (amounts in "
                    "minor units; refunds have a negative gross and net), then a `total` line, a `carried_in` line "
                    "and a `payout_total` line. The total line ties to the settlement's gross - refunds, fees, net.",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV report")},
        errors=(404,), tags=SETTLEMENT_TAGS)
    def get(self, request, settlement_id: str):
        stl = _settlement_or_404(self, settlement_id)
        lines = selectors.settlement_lines(settlement_id=stl.pk)

        def rows():
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")

            def flush():
                value = buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                return value

            writer.writerow(REPORT_COLUMNS)
            gross = fee = net = 0
            for line in lines.iterator(chunk_size=2000):
                gross, fee, net = gross + line.gross, fee + line.fee, net + line.net
                writer.writerow([line.type, line.id, line.payment_id, line.occurred_at.isoformat(), stl.currency,
                                 line.gross, line.fee, line.net])
                if buffer.tell() > 64_000:
                    yield flush()
            writer.writerow(["total", stl.pk, "", "", stl.currency, gross, fee, net])
            writer.writerow(["carried_in", stl.carried_from_id or "", "", "", stl.currency, "", "", stl.carried_in])
            writer.writerow(["payout_total", stl.pk, "", "", stl.currency, "", "", max(stl.total, 0)])
            yield flush()

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stl.pk}.csv"'
        return response


class PayoutListView(BaseEndpoint):
    required_scopes = {"GET": ["settlements:read"]}

    @endpoint_schema(operation_id="payouts_list", summary="List payouts",
                     responses={200: OpenApiResponse(PayoutListSerializer)},
                     parameters=[*PAGINATION_PARAMETERS,
                                 OpenApiParameter("status", str, description="Only this status")],
                     tags=SETTLEMENT_TAGS)
    def get(self, request):
        params = parse_query(PayoutListParamsSerializer, request)
        qs = selectors.payouts_for_merchant(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                            status=params.get("status"))
        rows, has_more = paginate(qs, params, prefix="po")
        return list_response(PayoutSerializer(rows, many=True).data, has_more, request.path)


class PayoutDetailView(BaseEndpoint):
    required_scopes = {"GET": ["settlements:read"]}

    @endpoint_schema(operation_id="payouts_retrieve", summary="Retrieve a payout",
                     responses={200: OpenApiResponse(PayoutSerializer)}, errors=(404,), tags=SETTLEMENT_TAGS)
    def get(self, request, payout_id: str):
        payout = selectors.payout_get(merchant_id=self.ctx.merchant_id, livemode=self.ctx.livemode,
                                      payout_id=payout_id)
        if payout is None:
            raise NotFound("No such payout.", param="id")
        return Response(PayoutSerializer(payout).data)
