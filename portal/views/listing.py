"""What the merchant's data pages share: keyset pages, 404 pages, CSV cells."""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render
from django.utils.http import urlencode

from core.api import paginate
from core.errors import ValidationError

PAGE_SIZE = 25


@dataclass
class Page:
    rows: list
    newer_url: str | None
    older_url: str | None


def _url(request, **cursor) -> str:
    params = {k: v for k, v in request.GET.items() if k not in ("starting_after", "ending_before") and v != ""}
    params.update(cursor)
    return f"{request.path}?{urlencode(sorted(params.items()))}"


def keyset_page(request, queryset, *, prefix: str, key: str = "pk", limit: int | None = None) -> Page:
    """One page, newest first, with links to the newer and older pages: core.api.paginate, the API's own
    keyset pagination, so a deep page costs what the first does. A malformed cursor shows the first page."""
    limit = limit or PAGE_SIZE
    after = (request.GET.get("starting_after") or "")[:64]
    before = "" if after else (request.GET.get("ending_before") or "")[:64]
    params = {"limit": limit, **({"starting_after": after} if after else {}),
              **({"ending_before": before} if before else {})}
    try:
        rows, has_more = paginate(queryset, params, prefix=prefix, key=key)
    except ValidationError:
        after = before = ""
        rows, has_more = paginate(queryset, {"limit": limit}, prefix=prefix, key=key)
    if before:
        has_newer, has_older = has_more, True
    else:
        has_newer, has_older = bool(after), has_more
    attr = "pk" if key == "pk" else key
    newer = _url(request, ending_before=getattr(rows[0], attr)) if rows and has_newer else None
    older = _url(request, starting_after=getattr(rows[-1], attr)) if rows and has_older else None
    if not rows and (after or before):  # walked off the end: offer the way back to the start
        newer = _url(request)
    return Page(rows=rows, newer_url=newer, older_url=older)


def not_found(request, message: str):
    return render(request, "portal/not_found.html", {"message": message}, status=404)


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection): text starting with = + - @ is quoted."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
