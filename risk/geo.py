"""A small, documented country table for BINs and IP addresses, for tests and development.

Production would plug a licensed BIN table and an IP geolocation database in here; the engine only
calls `bin_country` and `ip_country`, and treats "" as unknown (the signal is then skipped).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

# BIN prefix -> ISO 3166-1 alpha-2 country of the issuer. Longest prefix wins.
BIN_COUNTRIES: dict[str, str] = {
    "424242": "US",  # 4242424242424242
    "400000": "US",  # the 4000 0000 0000 xxxx decline and risk test cards
    "410000": "US",
    "555555": "US",  # 5555555555554444
    "378282": "US",  # 378282246310005
    "601111": "US",  # 6011111111111117
    "400005": "DE",
    "401288": "GB",
    "403000": "FR",
    "520082": "DE",
    "535310": "NL",
}

# IP network -> country. The RFC 5737 documentation ranges stand for countries in tests and demos.
IP_COUNTRIES: dict[str, str] = {
    "192.0.2.0/24": "US",  # TEST-NET-1
    "198.51.100.0/24": "DE",  # TEST-NET-2
    "203.0.113.0/24": "NG",  # TEST-NET-3
    "2001:db8::/48": "FR",
}
_IP_NETWORKS = [(ipaddress.ip_network(net), country) for net, country in IP_COUNTRIES.items()]


def bin_country(bin_: str) -> str:
    for length in range(len(bin_), 3, -1):
        country = BIN_COUNTRIES.get(bin_[:length])
        if country:
            return country
    return ""


@lru_cache(maxsize=4096)
def ip_country(ip: str) -> str:
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    for network, country in _IP_NETWORKS:
        if address.version == network.version and address in network:
            return country
    return ""
