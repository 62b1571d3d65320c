"""Webhook plumbing with no database: secrets, Standard Webhooks signatures, SSRF checks, the HTTP call.

- Secrets are `whsec_` + base64 of 32 random bytes, stored encrypted with AES-256-GCM under
  WEBHOOK_ENCRYPTION_KEYS (the key version and the endpoint id bound into each ciphertext).
- Signatures follow https://www.standardwebhooks.com: `webhook-signature: v1,<base64 HMAC-SHA256 of
  "{webhook-id}.{webhook-timestamp}.{body}">`, keyed with the base64-decoded secret; several
  signatures (during a rotation) are separated by spaces.
- SSRF: a URL must resolve only to public addresses (no private, loopback, link-local, multicast,
  reserved, shared or metadata addresses). It is checked when saved, and again at each delivery,
  where the connection goes to the address just checked (pinned), with the original host name in
  the Host header and, for HTTPS, in SNI and certificate verification. A DNS answer that changes
  between the two checks (rebinding) is therefore checked and used as one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from requests.adapters import HTTPAdapter

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
RESPONSE_PREVIEW_BYTES = 1024
USER_AGENT = "BankPayments-Webhooks/1.0"


# --- Secrets ---------------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def encrypt_secret(secret: str, *, endpoint_id: str) -> str:
    version = settings.WEBHOOK_ENCRYPTION_KEY_VERSION
    nonce = os.urandom(12)
    aad = f"{endpoint_id}:{version}".encode()
    ciphertext = AESGCM(settings.WEBHOOK_ENCRYPTION_KEYS[version]).encrypt(nonce, secret.encode(), aad)
    return f"{version}:{base64.b64encode(nonce + ciphertext).decode()}"


def decrypt_secret(stored: str, *, endpoint_id: str) -> str:
    version_text, _, b64 = stored.partition(":")
    version = int(version_text)
    raw = base64.b64decode(b64)
    aad = f"{endpoint_id}:{version}".encode()
    return AESGCM(settings.WEBHOOK_ENCRYPTION_KEYS[version]).decrypt(raw[:12], raw[12:], aad).decode()


# --- Standard Webhooks signature ---------------------------------------------------------------------


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 signature>` of one secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(secrets_: list[str], *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


# --- SSRF ----------------------------------------------------------------------------------------------


class UnsafeURL(Exception):
    """The URL may not be called (scheme, host or the addresses it resolves to)."""


METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"}


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to. Tests replace this to simulate DNS answers."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _address_allowed(address: str, *, allow_loopback: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_loopback and ip.is_loopback:
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_private or ip.is_link_local
                                 or ip.is_loopback or ip.is_unspecified)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the host name as written (for Host, SNI and the certificate)
    port: int
    path: str  # path and query
    address: str  # the checked address the connection goes to


def _allow_loopback(livemode: bool) -> bool:
    return not livemode and settings.WEBHOOK_ALLOW_LOOPBACK_IN_TEST_MODE


def check_url(url: str, *, livemode: bool) -> Target:
    """Parse and check `url`, resolve it and pick the address to connect to. Raises UnsafeURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}.")
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeURL("The URL must start with https:// (or http:// in test mode).")
    if livemode and scheme != "https":
        raise UnsafeURL("Live-mode webhook URLs must use HTTPS.")
    if parts.username or parts.password:
        raise UnsafeURL("The URL must not hold credentials.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeURL("The URL has no host.")
    if host in METADATA_HOSTS:
        raise UnsafeURL("The URL names a cloud metadata service.")
    port = port or (443 if scheme == "https" else 80)
    allow_loopback = _allow_loopback(livemode)
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]  # an address literal is not looked up
    except ValueError:
        addresses = None
    try:
        addresses = addresses or resolve(host, port)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"The host {host} does not resolve.")
    if not addresses:
        raise UnsafeURL(f"The host {host} does not resolve.")
    refused = [a for a in addresses if not _address_allowed(a, allow_loopback=allow_loopback)]
    if refused:
        raise UnsafeURL(
            f"The host {host} resolves to an address that is not public ({refused[0]}); webhooks go to public "
            "addresses only."
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


# --- The HTTP call -------------------------------------------------------------------------------------


class _PinnedHostAdapter(HTTPAdapter):
    """Connects to the URL's IP address while TLS uses the real host name for SNI and verification."""

    def __init__(self, server_hostname: str, **kwargs):
        self._server_hostname = server_hostname
        super().__init__(max_retries=0, **kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self._server_hostname
            pool_kwargs["assert_hostname"] = self._server_hostname
        return host_params, pool_kwargs


@dataclass
class Outcome:
    status_code: int | None
    latency_ms: int
    body_preview: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """POST `body` to the pinned address. Never follows redirects; reads at most the first bytes."""
    address = f"[{target.address}]" if ":" in target.address else target.address
    url = f"{target.scheme}://{address}:{target.port}{target.path}"
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    started = time.monotonic()
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment: the pinned address is where we connect
    session.mount(f"{target.scheme}://", _PinnedHostAdapter(target.host))
    try:
        with session.post(url, data=body, headers={**headers, "Host": host_header}, timeout=timeout,
                          allow_redirects=False, stream=True) as response:
            preview = response.raw.read(RESPONSE_PREVIEW_BYTES, decode_content=True) or b""
            return Outcome(status_code=response.status_code, latency_ms=_ms_since(started),
                           body_preview=preview.decode("utf-8", errors="replace"))
    except requests.Timeout:
        return Outcome(status_code=None, latency_ms=_ms_since(started), error=f"timeout after {timeout:g} s")
    except requests.RequestException as exc:
        return Outcome(status_code=None, latency_ms=_ms_since(started),
                       error=f"connection error: {type(exc).__name__}")
    finally:
        session.close()


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
