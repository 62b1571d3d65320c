"""A settlement's reconciliation report (CSV), streamed: GET /v1/settlements/{id}/report and the portal's download.

One line per captured payment and per refund (`REPORT_COLUMNS`, amounts in minor units, refunds with a
negative gross and net), then a `total` line, a `carried_in` line and a `payout_total` line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.http import StreamingHttpResponse

from . import settlement_selectors as selectors

REPORT_COLUMNS = ["type", "id", "payment", "occurred_at", "currency", "gross", "fee", "net"]


def settlement_report_chunks(settlement) -> Iterator[str]:
    """The CSV text in chunks of about 64 kB; the lines are read 2,000 at a time, never all at once."""
    lines = selectors.settlement_lines(settlement_id=settlement.pk)
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
        writer.writerow([line.type, line.id, line.payment_id, line.occurred_at.isoformat(), settlement.currency,
                         line.gross, line.fee, line.net])
        if buffer.tell() > 64_000:
            yield flush()
    stl = settlement
    writer.writerow(["total", stl.pk, "", "", stl.currency, gross, fee, net])
    writer.writerow(["carried_in", stl.carried_from_id or "", "", "", stl.currency, "", "", stl.carried_in])
    writer.writerow(["payout_total", stl.pk, "", "", stl.currency, "", "", max(stl.total, 0)])
    yield flush()


def settlement_report_response(settlement) -> StreamingHttpResponse:
    response = StreamingHttpResponse(settlement_report_chunks(settlement), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{settlement.pk}.csv"'
    return response
