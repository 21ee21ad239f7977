"""Layer 1 of SPEC 2.1: who is calling (API key signature) and from where (client IP)."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request

from duanxin.api.signature import (
    SignatureError,
    check_signature,
    parse_authorization,
    refuse_unknown_id,
)
from duanxin.domain.accounts import Interface, ip_in_networks
from duanxin.domain.wire import json_bytes
from duanxin.service.accounts import Caller, api_key_secret
from duanxin.service.platform import Platform

__all__ = ["GatewayRefusal", "caller_for", "client_ip"]


class GatewayRefusal(Exception):
    """Answered with HTTP 401 and ``{"message": reason}``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.body = json_bytes({"message": reason})


def client_ip(request: Request, trusted_proxies: list[str]) -> str | None:
    """The caller's address, taking X-Forwarded-For from trusted proxies only."""
    peer = request.client.host if request.client else None
    if peer is None or not trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    address = peer
    while hops and ip_in_networks(address, trusted_proxies):
        address = hops.pop()
    return address


async def caller_for(request: Request, platform: Platform, now: datetime) -> Caller:
    """Check the gateway signature (unless turned off) and say who is calling."""
    ip = client_ip(request, platform.settings.trusted_proxies)
    if not platform.settings.gateway_auth:
        return Caller(Interface.HTTP, ip, None)
    try:
        parsed = parse_authorization(request.headers.get("authorization"))
        found = await api_key_secret(platform, parsed.secret_id)
        window = timedelta(seconds=platform.settings.signature_window_seconds)
        if found is None:
            refuse_unknown_id(parsed, request.headers, now, window)
        secret_key, customer_id = found
        check_signature(parsed, request.headers, secret_key, now, window)
    except SignatureError as error:
        raise GatewayRefusal(error.reason) from None
    return Caller(Interface.HTTP, ip, customer_id, parsed.secret_id)
