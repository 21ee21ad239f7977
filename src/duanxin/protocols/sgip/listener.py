"""The SP's SGIP server: the SMG connects here (LoginType 2) to push Deliver and Report.

Each accepted connection runs the shared session engine in the server role. A Bind is
checked against the listen credentials; every other command is answered through the
adapter's :meth:`inbound` once the platform's handler has taken what it carried (an
unanswered command is sent again by the SMG, a lost one never is).

The SMG resends a command whose response was late. A command whose sequence triple was
already handled is answered again without being handed on a second time; one that reuses
a triple with different content is answered with Result 9 (illegal sequence number).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Hashable

from duanxin.protocols.carrier import CarrierAdapter, ChannelSettings, Inbound, InboundHandler
from duanxin.protocols.core.aio import SessionProtocol, serve
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Role
from duanxin.protocols.sgip.pdu import (
    Bind,
    BindResp,
    DeliverResp,
    LoginType,
    Pdu,
    ReportResp,
    Result,
    SubmitResp,
    UserRptResp,
)

log = logging.getLogger(__name__)

DEFAULT_LISTEN_HOST = "127.0.0.1"
SEEN_LIMIT = 4096
#: The answers that can say "illegal sequence number" to a triple reused with new content.
_RESULT_RESPONSES = (DeliverResp, ReportResp, UserRptResp, SubmitResp)


class SgipListener:
    """Accepts the SMG's LoginType 2 links and hands their MO and reports on."""

    def __init__(
        self,
        adapter: CarrierAdapter[Pdu],
        settings: ChannelSettings,
        on_inbound: InboundHandler,
    ) -> None:
        self.adapter = adapter
        self.host = settings.str_knob("listen_host", DEFAULT_LISTEN_HOST)
        self._wanted_port = settings.int_knob("listen_port", 0)
        self.account = settings.str_knob("listen_account", settings.account)
        self.password = settings.str_knob("listen_password", settings.password)
        self._on_inbound = on_inbound
        self._config = SessionConfig(
            window=settings.window,
            response_timeout=settings.response_timeout,
            heartbeat_interval=None,
        )
        self._server: asyncio.Server | None = None
        self.links: set[SessionProtocol[Pdu]] = set()
        self.binds = 0
        self.refused_binds = 0
        self._seen: OrderedDict[Hashable, Pdu] = OrderedDict()

    @property
    def port(self) -> int:
        """The port actually listened on; RuntimeError before :meth:`start`."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("listener not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind the listening socket."""
        if self._server is None:
            self._server = await serve(self.host, self._wanted_port, self._new_link)

    async def close(self) -> None:
        """Stop listening and drop every link the SMG opened."""
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            link.abort("listener closed")
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _new_link(self) -> SessionProtocol[Pdu]:
        link: SessionProtocol[Pdu] = SessionProtocol(
            self.adapter.new_dialect(), Role.SERVER, self._handle, self._config
        )
        self.links.add(link)
        link.closed.add_done_callback(lambda _: self.links.discard(link))
        return link

    def _handle(
        self, session: SessionProtocol[Pdu], pdu: Pdu
    ) -> Awaitable[Pdu | None] | Pdu | None:
        if isinstance(pdu, Bind):
            return self._answer_bind(session, pdu)
        response, inbound = self.adapter.inbound(pdu)
        key = pdu.sequence
        earlier = self._seen.get(key)
        if earlier is not None:
            if earlier == pdu:
                return response  # a resend: answer again, hand on once
            if isinstance(response, _RESULT_RESPONSES):
                return dataclasses.replace(response, result=Result.ILLEGAL_SEQUENCE)
            return response
        if inbound is None:
            self._remember(pdu)
            return response
        return self._hand_on(pdu, inbound, response)

    def _answer_bind(self, session: SessionProtocol[Pdu], bind: Bind) -> Pdu:
        if bind.login_type != LoginType.SMG_TO_SP:
            result = Result.BAD_LOGIN_TYPE
        elif hmac.compare_digest(bind.login_name.encode(), self.account.encode()) and (
            hmac.compare_digest(bind.login_password.encode(), self.password.encode())
        ):
            result = Result.OK
        else:
            result = Result.ILLEGAL_LOGIN
        if result == Result.OK:
            self.binds += 1
        else:
            self.refused_binds += 1
            log.warning("refused SGIP bind from %s: result %d", session.peer, result)
        return BindResp(sequence=bind.sequence, result=result)

    def _hand_on(
        self, pdu: Pdu, inbound: Inbound, response: Pdu | None
    ) -> Awaitable[Pdu | None] | Pdu | None:
        handled = self._on_inbound(inbound)
        if isinstance(handled, Awaitable):
            return self._after(handled, pdu, response)
        self._remember(pdu)
        return response

    async def _after(self, handled: Awaitable[None], pdu: Pdu, response: Pdu | None) -> Pdu | None:
        await handled
        self._remember(pdu)
        return response

    def _remember(self, pdu: Pdu) -> None:
        self._seen[pdu.sequence] = pdu
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
