"""The caller of an API request, as authentication resolved it (no DRF view imports here:
authentication classes load before DRF's views)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ApiContext:
    """Who is calling: the merchant acted for, the API client, the mode and granted scopes."""

    merchant: object
    client: object
    livemode: bool
    scopes: frozenset[str]
    token: object = field(repr=False, default=None)
    user: object = None

    @property
    def merchant_id(self) -> str:
        return self.merchant.pk

    @property
    def client_id(self) -> int:
        return self.client.pk
