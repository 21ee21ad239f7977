"""Customer-facing CMPP 2.0/3.0 and SMPP 3.4 servers (the platform's own front doors).

- :mod:`.cmpp` / :mod:`.smpp`: the protocol servers (parse PDUs, render answers)
- :mod:`.base`: what both share (connection lifecycle, long messages, submitting)
- :mod:`.assembly`: long messages held until their segments are all in
- :mod:`.tables`: platform status codes -> each protocol's codes

Logins, the connection registry and deliveries are the service's
(:mod:`duanxin.service.access`); sending is :func:`duanxin.service.send.send`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from duanxin.access.base import AccessConfig
from duanxin.access.cmpp import CmppAccessServer
from duanxin.access.smpp import SmppAccessServer
from duanxin.service.access import Connections
from duanxin.service.platform import Platform

__all__ = ["AccessConfig", "AccessServers", "CmppAccessServer", "SmppAccessServer"]


@dataclass
class AccessServers:
    """The customer servers the settings ask for (port 0: that one is off; -1: any free
    port)."""

    platform: Platform
    config: AccessConfig
    connections: Connections = field(init=False)
    cmpp: CmppAccessServer | None = None
    smpp: SmppAccessServer | None = None

    def __post_init__(self) -> None:
        self.connections = Connections(self.platform)

    async def start(self, cmpp_port: int, smpp_port: int) -> None:
        await self.connections.clear_stale()
        try:
            if cmpp_port:
                self.cmpp = CmppAccessServer(self.platform, self.connections, self.config)
                await self.cmpp.start(cmpp_port)
            if smpp_port:
                self.smpp = SmppAccessServer(self.platform, self.connections, self.config)
                await self.smpp.start(smpp_port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for server in (self.cmpp, self.smpp):
            if server is not None:
                await server.stop()

    def addresses(self) -> dict[str, dict[str, object]]:
        """``{"cmpp": {"host", "port"}, "smpp": {...}}`` of the servers running."""
        found: dict[str, dict[str, object]] = {}
        for name, server in (("cmpp", self.cmpp), ("smpp", self.smpp)):
            if server is not None:
                found[name] = {"host": self.config.host, "port": server.port}
        return found
