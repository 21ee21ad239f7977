"""What the customer CMPP and SMPP servers share: settings, the per-connection lifecycle
(login, deliveries, long messages, close) and the submission of a message.

A protocol server (``access/cmpp.py``, ``access/smpp.py``) parses its PDUs, calls the
pieces here and renders the answers; every decision is the service's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from duanxin.access.assembly import LongMessages, Part
from duanxin.access.coalesce import Coalescer, Submitted
from duanxin.config import Settings
from duanxin.domain.accounts import Interface
from duanxin.domain.msgid import format_mid
from duanxin.domain.segments import ConcatInfo
from duanxin.domain.status import Status
from duanxin.protocols.core.aio import SessionProtocol, serve
from duanxin.protocols.core.session import SessionConfig
from duanxin.service.access import (
    Connection,
    Connections,
    DeliverySink,
    DeliveryTimes,
    run_deliveries,
)
from duanxin.service.accounts import Caller
from duanxin.service.platform import Platform
from duanxin.service.send import OneNumber, SendRequest, send, send_each

__all__ = ["AccessConfig", "AccessLink", "AccessServer", "Submitted", "all_answered"]

P = TypeVar("P")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AccessConfig:
    """How the customer servers run (from the ``access_*`` settings)."""

    host: str = "127.0.0.1"
    window: int = 16
    response_timeout: float = 30.0  # for a DELIVER; then it goes out again, maybe elsewhere
    heartbeat_interval: float | None = 60.0  # idle time before an ACTIVE_TEST/enquire_link
    heartbeat_attempts: int = 2  # unanswered ones before the connection is closed
    login_timeout: float = 10.0
    long_message_timeout: float = 60.0  # an incomplete set of segments is then refused
    max_per_address: int = 64
    reuse_port: bool = False  # serve --workers N: the processes share each port
    deliveries: DeliveryTimes = field(default_factory=DeliveryTimes)

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessConfig:
        heartbeat = settings.access_heartbeat_seconds
        return cls(
            host=settings.access_host or settings.host,
            window=settings.access_window,
            response_timeout=settings.access_response_timeout_seconds,
            heartbeat_interval=heartbeat if heartbeat > 0 else None,
            login_timeout=settings.access_login_timeout_seconds,
            long_message_timeout=settings.access_long_message_seconds,
            max_per_address=settings.access_max_per_address,
            reuse_port=settings.reuse_port,
        )

    def session_config(self) -> SessionConfig:
        return SessionConfig(
            window=self.window,
            response_timeout=self.response_timeout,
            max_attempts=1,  # an unanswered DELIVER is released and sent again, not resent
            heartbeat_interval=self.heartbeat_interval,
            heartbeat_attempts=self.heartbeat_attempts,
            login_timeout=self.login_timeout,
        )


def all_answered(
    requests: Sequence[asyncio.Future[P]], ok: Callable[[P], bool]
) -> asyncio.Future[bool]:
    """Once every request is answered (or failed): whether each answer passed ``ok``.

    A future fed by callbacks, not a task: a delivery is a DELIVER or two, and a
    connection has hundreds under way.
    """
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    left = len(requests)
    good = True

    def answered(request: asyncio.Future[P]) -> None:
        nonlocal left, good
        left -= 1
        if request.cancelled() or request.exception() is not None or not ok(request.result()):
            good = False
        if not left and not done.done():
            done.set_result(good)

    if not requests:
        done.set_result(True)
    for request in requests:
        request.add_done_callback(answered)
    return done


class AccessLink(Generic[P]):
    """One customer connection: the parts every protocol shares."""

    def __init__(self, server: AccessServer[P], session: SessionProtocol[P]) -> None:
        self.server = server
        self.session = session
        self.connection: Connection | None = None
        self.long: LongMessages[P] = LongMessages(server.config.long_message_timeout)
        self._timer: asyncio.TimerHandle | None = None
        self._delivering: asyncio.Task[None] | None = None
        self._refuse_with: Callable[[P], P] | None = None
        self._loop = asyncio.get_running_loop()
        self._together: Coalescer[P] = Coalescer(self._submit_together)

    @property
    def is_open(self) -> bool:
        return self.session.is_open

    @property
    def peer_ip(self) -> str | None:
        return self.session.peer[0] if self.session.peer else None

    @property
    def peer_text(self) -> str:
        peer = self.session.peer
        return f"{peer[0]}:{peer[1]}" if peer else "?"

    def caller(self) -> Caller:
        return Caller(self.server.interface, self.peer_ip)

    def logged_in(self, connection: Connection, sink: DeliverySink) -> None:
        """The login was answered OK: deliveries start if the connection may receive."""
        self.connection = connection
        if not self.session.is_open:  # closed while the login was being checked
            self.server.forget(self)
            return
        if connection.receives:
            self._delivering = self._loop.create_task(
                run_deliveries(
                    self.server.platform, connection, sink, self.server.config.deliveries
                )
            )

    def closed(self) -> None:
        """The connection is gone: its deliveries go back to the inbox, long sets dropped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.long.drop()
        self._together.drop()
        if self._delivering is not None:
            self._delivering.cancel()
        self.server.forget(self)

    async def wound_down(self) -> None:
        """Once its deliveries have stopped and its sends under way are done."""
        delivering = self._delivering
        if delivering is not None:
            with contextlib.suppress(BaseException):
                await delivering
        await self._together.finished()

    # --------------------------------------------------------- long messages

    def hold_segment(
        self, key: Hashable, info: ConcatInfo, text: str, token: P, refuse: Callable[[P], P]
    ) -> list[Part[P]] | None:
        """Add a segment; the whole set once complete. ``refuse`` answers an expired one."""
        parts = self.long.add(key, info, text, token, self._loop.time())
        self._refuse_with = refuse
        self._arm()
        return parts

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        expiry = self.long.next_expiry()
        if expiry is not None:
            self._timer = self._loop.call_at(expiry, self._expire)

    def _expire(self) -> None:
        self._timer = None
        for tokens in self.long.expire(self._loop.time()):
            log.info("%s: long message incomplete after %.0f s: refused",
                     self.peer_text, self.long.timeout)  # fmt: skip
            refuse = self._refuse_with
            if refuse is None:
                continue
            for token in tokens:
                self.session.send_response(refuse(token))
        self._arm()

    # ------------------------------------------------------------ submitting

    def submit_one(
        self, mobile: str, text: str, render: Callable[[Submitted], P]
    ) -> asyncio.Future[P]:
        """Send a one-number message of one segment; the future gets ``render`` of its
        outcome. Those of this loop turn go together (:mod:`duanxin.access.coalesce`),
        each with its own TPS count, id and answer."""
        return self._together.add(mobile, text, render)

    async def _submit_together(self, messages: list[tuple[str, str]]) -> list[Submitted]:
        connection = self.connection
        assert connection is not None  # the session table lets submits in only once bound
        account = connection.account
        outcomes = await send_each(
            self.server.platform,
            account.account,
            account.password,
            [OneNumber(mobile, text) for mobile, text in messages],
            self.caller(),
        )
        return [
            Submitted(Status.OK, (o.entries[0].mid,))
            if o.status is Status.OK and o.entries
            else Submitted(o.status, ())
            for o in outcomes
        ]

    async def submit(self, mobiles: tuple[str, ...], text: str, segments: int) -> Submitted:
        """Send one message (``segments`` as the customer cut it) the way /smssend does."""
        connection = self.connection
        assert connection is not None  # the session table lets submits in only once bound
        platform = self.server.platform
        extra = segments - 1
        segment_ids = tuple(
            format_mid(i) for i in platform.ids.next_ids(platform.clock(), extra)
        ) if extra > 0 else ()  # fmt: skip
        account = connection.account
        request = SendRequest(
            account=account.account,
            password=account.password,
            mobiles=mobiles,
            content=text,
            segment_ids=segment_ids,
            shared_id=len(mobiles) > 1,
        )
        outcome = await send(platform, request, self.caller())
        if outcome.status is not Status.OK or not outcome.entries:
            return Submitted(outcome.status, ())
        return Submitted(Status.OK, (outcome.entries[0].mid, *segment_ids))


class AccessServer(ABC, Generic[P]):
    """A customer-facing server of one protocol."""

    interface: Interface

    def __init__(self, platform: Platform, connections: Connections, config: AccessConfig):
        self.platform = platform
        self.connections = connections
        self.config = config
        self._server: asyncio.Server | None = None
        self._links: set[AccessLink[P]] = set()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def links(self) -> list[AccessLink[P]]:
        return list(self._links)

    async def start(self, port: int) -> None:
        """Listen on ``port`` (-1: any free one; :attr:`port` then tells which)."""
        self._server = await serve(
            self.config.host,
            max(port, 0),
            self._new_session,
            max_per_address=self.config.max_per_address,
            reuse_port=self.config.reuse_port,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.session.abort("server stopping")
        await asyncio.sleep(0)  # the sessions' closed callbacks start the closing tasks
        while self._closing:  # each gives its connection's deliveries back
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @abstractmethod
    def _new_session(self) -> SessionProtocol[P]:
        """The session of one new customer connection (the protocol's server role)."""

    def track(self, link: AccessLink[P]) -> None:
        self._links.add(link)
        link.session.closed.add_done_callback(lambda _: link.closed())

    def forget(self, link: AccessLink[P]) -> None:
        self._links.discard(link)
        connection = link.connection
        if connection is None:
            return
        task = asyncio.get_running_loop().create_task(self._close(link, connection))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, link: AccessLink[P], connection: Connection) -> None:
        await link.wound_down()
        try:
            await self.connections.close(connection)
        except Exception:
            log.exception("could not record the end of %s", connection.consumer)
