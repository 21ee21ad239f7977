"""The simulated SMG's own SGIP links to an SP: LoginType 2, opened on demand, closed when idle.

SGIP sends Deliver (MO) and Report over connections the gateway opens to a listener the SP
runs. :class:`ReverseLink` keeps at most one such connection, binds it the first time it is
needed, sends Unbind after ``idle_timeout`` seconds without traffic (the session core's
idle timer), and binds again on the next request.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from duanxin.protocols.core.aio import SessionProtocol, connect
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.sgip.dialect import SgipDialect
from duanxin.protocols.sgip.pdu import Bind, BindResp, LoginType, Pdu, Result, SubmitResp

__all__ = ["ReverseLink", "refuse"]


def refuse(session: SessionProtocol[Pdu], pdu: Pdu) -> Pdu | None:
    """Answer a command this side does not serve (SGIP links carry commands one way)."""
    return SubmitResp(sequence=pdu.sequence, result=Result.FUNCTION_NOT_PROVIDED)


class ReverseLink:
    """One on-demand LoginType 2 connection from the simulated SMG to an SP's listener."""

    def __init__(
        self,
        new_dialect: Callable[[], SgipDialect],
        credentials: Callable[[], tuple[str, str]],
        config: SessionConfig,
        *,
        idle_timeout: float | None = 30.0,
        bind_timeout: float = 10.0,
    ) -> None:
        self._new_dialect = new_dialect
        self._credentials = credentials
        self._config = dataclasses.replace(config, idle_timeout=idle_timeout)
        self.idle_timeout = idle_timeout
        self._bind_timeout = bind_timeout
        self._session: SessionProtocol[Pdu] | None = None
        self._address: tuple[str, int] | None = None
        self._lock = asyncio.Lock()
        self.binds = 0
        self.unbinds = 0

    @property
    def is_bound(self) -> bool:
        return self._session is not None and self._session.is_bound

    async def request(self, address: tuple[str, int], pdu: Pdu) -> Pdu:
        """Send ``pdu`` to the SP at ``address`` (binding first if needed); return the answer.

        Raises ``OSError`` when the SP cannot be reached and ``PermissionError`` when it
        refuses the Bind.
        """
        session = await self._bound_session(address)
        return await session.request(pdu)

    def send_if_bound(self, address: tuple[str, int], pdu: Pdu) -> asyncio.Future[Pdu] | None:
        """Send ``pdu`` at once on the connection to ``address`` if it is bound; else None.

        No task is needed for this: the future gets the answer, as :meth:`request` would.
        """
        session = self._session
        if (
            session is None
            or not session.is_bound
            or self._address != address
            or self._lock.locked()
        ):
            return None
        return session.send_request(pdu)

    async def bind(self, address: tuple[str, int]) -> None:
        """Make sure a bound connection to ``address`` is up (raises as :meth:`request`)."""
        await self._bound_session(address)

    def abort(self) -> None:
        """Cut the connection at once (no Unbind), with whatever is in flight."""
        session, self._session = self._session, None
        if session is not None:
            session.abort("dropped by the simulator")

    async def close(self) -> None:
        """Unbind (if bound) and forget the connection."""
        session, self._session = self._session, None
        if session is not None:
            await session.unbind(timeout=1.0)

    async def _bound_session(self, address: tuple[str, int]) -> SessionProtocol[Pdu]:
        async with self._lock:
            session = self._session
            if session is not None and session.is_bound and self._address == address:
                return session
            if session is not None:
                session.abort("reconnecting")
            self._session = None
            session = await connect(
                address[0], address[1], self._new_dialect(), refuse, self._config
            )
            account, password = self._credentials()
            bind = Bind(login_type=LoginType.SMG_TO_SP, login_name=account, login_password=password)
            try:
                response = await asyncio.wait_for(session.request(bind), self._bind_timeout)
            except BaseException:
                session.abort("bind failed")
                raise
            if not isinstance(response, BindResp) or response.result != Result.OK:
                session.abort("bind refused")
                status = getattr(response, "result", None)
                raise PermissionError(f"SP refused the LoginType 2 bind (result {status})")
            self.binds += 1
            self._session, self._address = session, address
            session.closed.add_done_callback(lambda _: self._closed(session))
            return session

    def _closed(self, session: SessionProtocol[Pdu]) -> None:
        if session.core.idle_closed:
            self.unbinds += 1
        if self._session is session:
            self._session = None
