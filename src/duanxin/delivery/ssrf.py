"""No server-side request forgery: callbacks connect only to addresses that are allowed.

The check is made on the address actually connected to: the transport resolves the host
itself, checks each address, and connects to the one it checked (a DNS answer that changes
between registration and delivery, or between check and connect, cannot slip through).
Refused by default: loopback, private, link-local (cloud metadata included), shared,
multicast, reserved and unspecified addresses, i.e. everything not globally routable; an
operator allow-list of networks (settings ``push_allowed_networks``) lets some through,
as the demo does for loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence

import httpcore
import httpx

__all__ = [
    "AddressPolicy",
    "AddressRefused",
    "guarded_client",
    "resolve_allowed",
]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Cloud metadata services some providers put outside the link-local block.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "169.254.169.254")
)


class AddressRefused(httpcore.ConnectError):
    """Every address the host resolved to is one callbacks may not connect to."""


class AddressPolicy:
    """Which addresses a callback may connect to; ``allowed`` is read at every check, so
    an operator's change of the allow-list applies to the next connection."""

    def __init__(self, allowed: Callable[[], Sequence[str]]) -> None:
        self._allowed = allowed
        self._parsed: tuple[tuple[str, ...], tuple[IpNetwork, ...]] = ((), ())

    def _networks(self) -> tuple[IpNetwork, ...]:
        text = tuple(self._allowed())
        if text != self._parsed[0]:
            self._parsed = (text, tuple(ipaddress.ip_network(n, strict=False) for n in text))
        return self._parsed[1]

    def allows(self, address: IpAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self._networks()):
            return True
        special = (
            address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            or address.is_loopback
            or address.is_link_local
            or address.is_private
        )
        return address.is_global and not special and address not in METADATA


async def resolve_allowed(policy: AddressPolicy, host: str, port: int) -> list[str]:
    """The addresses of ``host`` that ``policy`` allows, in resolver order; raise
    :class:`AddressRefused` if there is none, ``OSError`` if the name does not resolve."""
    try:
        literal: IpAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [literal]
    else:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        candidates = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    allowed = [str(a) for a in dict.fromkeys(candidates) if policy.allows(a)]
    if not allowed:
        shown = ", ".join(str(a) for a in candidates) or "nothing"
        raise AddressRefused(f"{host} resolves to {shown}: not an address callbacks may use")
    return allowed


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address (TLS still names the host)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve_allowed(self._policy, host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("callbacks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: AddressPolicy, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=_GuardedBackend(policy),
        )


def guarded_client(
    policy: AddressPolicy, *, max_connections: int, timeout: float
) -> httpx.AsyncClient:
    """One client for every push: connections reused (HTTP/1.1 keep-alive), redirects not
    followed, no proxy from the environment, every connection checked by ``policy``."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    return httpx.AsyncClient(
        transport=_GuardedTransport(policy, limits),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )
