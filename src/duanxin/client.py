"""Python SDK for duanxin's HTTP API (the published SMS API, SPEC 2).

Usage::

    from duanxin.client import Client

    with Client("http://127.0.0.1:8080", secret_id, secret_key, account, password) as sms:
        result = sms.send(["13800138000", "13900139000"], "【duanxin】验证码 1234")
        if result.ok:
            for item in result.items:
                print(item.mid, item.mobile, item.result)
        for report in sms.reports():
            print(report.mid, report.stat)

:class:`AsyncClient` has the same methods as coroutines. Every request is a form-encoded
``POST`` signed with the gateway signature (SPEC 2.1). A request the platform refuses
(non-zero ``status``) comes back as a result with that status and its ``msg``; exceptions
are kept for the cases where there is no answer to return:

DuanxinError                 base class of everything this module raises
├── TransportError           the server could not be reached or did not answer in time
│                            (wraps the httpx exception as ``__cause__``)
├── AuthenticationError      HTTP 401: the gateway signature was refused (``message``
│                            holds the server's reason: unknown SecretId, bad signature,
│                            request date outside the window, ...)
├── ResponseError            the server answered something that is not the API's JSON
│                            (``status_code`` holds the HTTP status)
└── WebhookVerificationError a pushed request (:func:`verify_webhook`) is not signed
                             with the secret, or its timestamp is out of tolerance
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

import httpx

from duanxin.api.signature import sign_headers

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "Balance",
    "Callbacks",
    "Client",
    "DuanxinError",
    "PullResult",
    "Reply",
    "Report",
    "ResponseError",
    "SendItem",
    "SendResult",
    "TransportError",
    "WebhookVerificationError",
    "verify_webhook",
]

T = TypeVar("T")


class DuanxinError(Exception):
    """Base class of the SDK's exceptions."""


class TransportError(DuanxinError):
    """The request did not get an answer: connection refused, reset, or timed out."""


class AuthenticationError(DuanxinError):
    """The gateway refused the request's signature (HTTP 401); ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WebhookVerificationError(DuanxinError):
    """A pushed request's signature, id or timestamp did not check out."""


WEBHOOK_TOLERANCE_SECONDS = 300


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    now: float | None = None,
    tolerance: float = WEBHOOK_TOLERANCE_SECONDS,
) -> list[dict[str, Any]]:
    """Check a callback request from the platform (Standard Webhooks 1.0) and return its
    items (the pull endpoints' item format). ``headers`` as received (any case), ``body``
    the raw bytes, ``secret`` the ``whsec_...`` signing secret. Raises
    :class:`WebhookVerificationError` when a header is missing, the timestamp is further
    than ``tolerance`` seconds from ``now`` (replays), or no signature matches."""
    lowered = {k.lower(): v for k, v in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (webhook_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or signature")
    if not stamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not a number")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old or too new")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise WebhookVerificationError("the secret is not a whsec_ secret") from None
    signed = f"{webhook_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            items = json.loads(body)
            if not isinstance(items, list):
                raise WebhookVerificationError("the body is not a JSON array")
            return items
    raise WebhookVerificationError("no signature matches")


@dataclass(frozen=True, slots=True)
class Callbacks:
    """The account's callbacks after a change; ``secret`` only when it was just made."""

    status: int
    msg: str
    reports_url: str = ""
    replies_url: str = ""
    secret: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 0


def _callbacks(data: Mapping[str, Any]) -> Callbacks:
    secret = data.get("secret")
    return Callbacks(
        _int(data, "status"),
        str(data.get("msg", "")),
        str(data.get("reports_url", "")),
        str(data.get("replies_url", "")),
        secret if isinstance(secret, str) else None,
    )


class ResponseError(DuanxinError):
    """The answer was not the API's JSON; ``status_code`` is the HTTP status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class SendItem:
    """One number of a send: its message id, the number, and its result (0 = accepted;
    1 invalid number, 5 blacklisted/opted out/limited, 100 no channel)."""

    mid: str
    mobile: str
    result: int


@dataclass(frozen=True, slots=True)
class SendResult:
    """The answer to :meth:`Client.send`: request status (0 when at least one number was
    accepted), balance after the charge, one item per distinct number, and ``msg``."""

    status: int
    balance: int
    items: tuple[SendItem, ...]
    msg: str

    @property
    def ok(self) -> bool:
        """True when the request status is 0."""
        return self.status == 0


@dataclass(frozen=True, slots=True)
class Balance:
    """The answer to :meth:`Client.balance`: ``charge_type`` is ``PRECHARGE`` or
    ``POSTCHARGE``; ``segments`` is what one number would cost for the content asked
    about, when a content was given."""

    status: int
    balance: int
    charge_type: str
    msg: str
    segments: int | None = None

    @property
    def ok(self) -> bool:
        """True when the request status is 0."""
        return self.status == 0


@dataclass(frozen=True, slots=True)
class Report:
    """A delivery report (``flag`` 1): ``stat`` is the carrier's status text
    (``DELIVRD``, ``UNDELIV``, ...) or the platform's own ``DX:nnnn``; ``time`` is
    ``YYYY-MM-DD HH:MM:SS`` in the platform's local time."""

    flag: int
    mid: str
    spid: str
    access_code: str
    mobile: str
    stat: str
    time: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply from a phone (MO, ``flag`` 0): ``access_code`` is the number it was sent
    to (access code + extno)."""

    flag: int
    mid: str
    spid: str
    access_code: str
    mobile: str
    content: str
    time: str


@dataclass(frozen=True, slots=True)
class PullResult(Sequence[T], Generic[T]):
    """The answer to a pull (:meth:`Client.reports`, :meth:`Client.replies`).

    A sequence of its ``items`` (iterate, index, ``len``), with the request's ``status``,
    ``balance`` and ``msg`` alongside. Each report or reply is handed out once.
    """

    status: int
    balance: int
    items: tuple[T, ...]
    msg: str

    @property
    def ok(self) -> bool:
        """True when the request status is 0."""
        return self.status == 0

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)


# -- decoding answers --------------------------------------------------------------------


def _int(data: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or value is None:
        raise ResponseError(f"field {key!r} missing or not a number", 200)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ResponseError(f"field {key!r} is not a number: {value!r}", 200) from None


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    return "" if value is None else str(value)


def _entries(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = data.get("list")
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ResponseError("field 'list' is not a list of objects", 200)
    return items


def _send_result(data: Mapping[str, Any]) -> SendResult:
    items = tuple(
        SendItem(mid=_str(e, "mid"), mobile=_str(e, "mobile"), result=_int(e, "result"))
        for e in _entries(data)
    )
    return SendResult(_int(data, "status"), _int(data, "balance", 0), items, _str(data, "msg"))


def _balance(data: Mapping[str, Any]) -> Balance:
    segments = _int(data, "segments") if data.get("segments") is not None else None
    return Balance(
        status=_int(data, "status"),
        balance=_int(data, "balance", 0),
        charge_type=_str(data, "chargeType"),
        msg=_str(data, "msg"),
        segments=segments,
    )


def _report(e: Mapping[str, Any]) -> Report:
    return Report(
        flag=_int(e, "flag", 1),
        mid=_str(e, "mid"),
        spid=_str(e, "spid"),
        access_code=_str(e, "accessCode"),
        mobile=_str(e, "mobile"),
        stat=_str(e, "stat"),
        time=_str(e, "time"),
    )


def _reply(e: Mapping[str, Any]) -> Reply:
    return Reply(
        flag=_int(e, "flag", 0),
        mid=_str(e, "mid"),
        spid=_str(e, "spid"),
        access_code=_str(e, "accessCode"),
        mobile=_str(e, "mobile"),
        content=_str(e, "content"),
        time=_str(e, "time"),
    )


def _pull(data: Mapping[str, Any], item: Callable[[Mapping[str, Any]], T]) -> PullResult[T]:
    items = tuple(item(e) for e in _entries(data))
    return PullResult(_int(data, "status"), _int(data, "balance", 0), items, _str(data, "msg"))


def _answer(response: httpx.Response) -> Mapping[str, Any]:
    """The JSON object of an answer; raises for 401 and for anything that is not JSON."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code == 401:
        message = data.get("message") if isinstance(data, dict) else None
        raise AuthenticationError(str(message or response.text[:200] or "unauthorised"))
    if isinstance(data, dict) and "status" in data:
        return data
    raise ResponseError(
        f"unexpected answer (HTTP {response.status_code}): {response.text[:200]!r}",
        response.status_code,
    )


# -- building requests -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call:
    path: str
    data: dict[str, str]
    headers: dict[str, str]


class _Base:
    def __init__(
        self,
        base_url: str,
        secret_id: str,
        secret_key: str,
        account: str,
        password: str,
        *,
        source: str = "market",
        algorithm: str = "hmac-sha1",
        signed_headers: Sequence[str] = ("x-date", "x-source"),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._secret_id = secret_id
        self._secret_key = secret_key
        self._account = account
        self._password = password
        self._source = source
        self._algorithm = algorithm
        self._signed_headers = tuple(signed_headers)
        self._clock = clock or (lambda: datetime.now(UTC))
        # Fail fast on a bad algorithm or header list rather than at the first request.
        self._sign()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._base_url} account={self._account!r}>"

    def _sign(self) -> dict[str, str]:
        return sign_headers(
            self._secret_id,
            self._secret_key,
            now=self._clock(),
            source=self._source,
            algorithm=self._algorithm,
            headers=self._signed_headers,
        )

    def _call(self, path: str, params: Mapping[str, str], extra: Mapping[str, str]) -> _Call:
        data = {"account": self._account, "password": self._password, **params, "rt": "json"}
        return _Call(path, data, {**self._sign(), **extra})

    def _send_call(
        self,
        mobiles: str | Sequence[str],
        content: str,
        extno: str | None,
        sendtime: datetime | str | None,
        idempotency_key: str | None,
    ) -> _Call:
        numbers = mobiles if isinstance(mobiles, str) else ",".join(mobiles)
        params = {"mobile": numbers, "content": content}
        if extno:
            params["extno"] = extno
        if isinstance(sendtime, datetime):
            params["sendtime"] = sendtime.strftime("%Y-%m-%d %H:%M:%S")
        elif sendtime:
            params["sendtime"] = sendtime
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._call("/smssend", params, extra)

    def _balance_call(self, content: str | None) -> _Call:
        params = {"action": "balance"}
        if content is not None:
            params["content"] = content
        return self._call("/smsoverage", params, {})

    def _callbacks_call(
        self, reports_url: str | None, replies_url: str | None, rotate: bool
    ) -> _Call:
        params = {}
        if reports_url is not None:
            params["reports_url"] = reports_url
        if replies_url is not None:
            params["replies_url"] = replies_url
        if rotate:
            params["rotate"] = "1"
        return self._call("/customer/callbacks", params, {})

    def _reports_call(self, size: int) -> _Call:
        return self._call("/smsreport", {"size": str(size)}, {})

    def _replies_call(self, size: int) -> _Call:
        # "szie" is the published page's spelling; sending both suits every server.
        return self._call("/smsmo", {"action": "mo", "size": str(size), "szie": str(size)}, {})


class Client(_Base):
    """A synchronous client of the SMS API.

    ``base_url`` is the server root (``http://host:port``, or ``.../release``);
    ``secret_id``/``secret_key`` sign each request (``algorithm`` ``hmac-sha1`` or
    ``hmac-sha256``, ``source`` sent as ``X-Source``); ``account``/``password`` go in each
    request's form. ``timeout`` is in seconds. ``transport`` (an httpx transport) and
    ``clock`` are for tests. Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        secret_id: str,
        secret_key: str,
        account: str,
        password: str,
        *,
        source: str = "market",
        algorithm: str = "hmac-sha1",
        timeout: float = 10,
        signed_headers: Sequence[str] = ("x-date", "x-source"),
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            base_url, secret_id, secret_key, account, password,
            source=source, algorithm=algorithm, signed_headers=signed_headers, clock=clock,
        )  # fmt: skip
        self._http = httpx.Client(
            base_url=self._base_url, timeout=httpx.Timeout(timeout), transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connections."""
        self._http.close()

    def _post(self, call: _Call) -> Mapping[str, Any]:
        try:
            response = self._http.post(call.path, data=call.data, headers=call.headers)
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return _answer(response)

    def send(
        self,
        mobiles: str | Sequence[str],
        content: str,
        *,
        extno: str | None = None,
        sendtime: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> SendResult:
        """Send ``content`` to one or more numbers (a comma-separated string or a sequence,
        at most 500). ``extno`` is appended to the access code; ``sendtime`` schedules the
        send (local time of the platform, at most 7 days ahead); ``idempotency_key`` makes
        a retry return the first answer instead of sending again."""
        call = self._send_call(mobiles, content, extno, sendtime, idempotency_key)
        return _send_result(self._post(call))

    def balance(self, content: str | None = None) -> Balance:
        """Query the account balance; with ``content``, also how many units one number
        would cost for it (``segments``)."""
        return _balance(self._post(self._balance_call(content)))

    def reports(self, size: int = 1000) -> PullResult[Report]:
        """Pull up to ``size`` (10..10000) delivery reports not pulled before, oldest
        first."""
        return _pull(self._post(self._reports_call(size)), _report)

    def replies(self, size: int = 1000) -> PullResult[Reply]:
        """Pull up to ``size`` (10..1000) replies (MO) not pulled before, oldest first."""
        return _pull(self._post(self._replies_call(size)), _reply)

    def set_callbacks(
        self,
        *,
        reports_url: str | None = None,
        replies_url: str | None = None,
        rotate: bool = False,
    ) -> Callbacks:
        """Set where reports and replies are pushed ("" removes one, None leaves it);
        ``rotate`` makes a new signing secret (the old one signs too for 24 hours). The
        result's ``secret`` is shown only when it was just made: keep it."""
        return _callbacks(self._post(self._callbacks_call(reports_url, replies_url, rotate)))


class AsyncClient(_Base):
    """An asyncio client of the SMS API; the same arguments and methods as
    :class:`Client`, as coroutines. ``transport`` takes an httpx async transport (for
    example ``httpx.ASGITransport(app)`` in tests). Use ``async with`` or
    :meth:`aclose`."""

    def __init__(
        self,
        base_url: str,
        secret_id: str,
        secret_key: str,
        account: str,
        password: str,
        *,
        source: str = "market",
        algorithm: str = "hmac-sha1",
        timeout: float = 10,
        signed_headers: Sequence[str] = ("x-date", "x-source"),
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            base_url, secret_id, secret_key, account, password,
            source=source, algorithm=algorithm, signed_headers=signed_headers, clock=clock,
        )  # fmt: skip
        self._http = httpx.AsyncClient(
            base_url=self._base_url, timeout=httpx.Timeout(timeout), transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connections."""
        await self._http.aclose()

    async def _post(self, call: _Call) -> Mapping[str, Any]:
        try:
            response = await self._http.post(call.path, data=call.data, headers=call.headers)
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return _answer(response)

    async def send(
        self,
        mobiles: str | Sequence[str],
        content: str,
        *,
        extno: str | None = None,
        sendtime: datetime | str | None = None,
        idempotency_key: str | None = None,
    ) -> SendResult:
        """Send ``content`` to one or more numbers; see :meth:`Client.send`."""
        call = self._send_call(mobiles, content, extno, sendtime, idempotency_key)
        return _send_result(await self._post(call))

    async def balance(self, content: str | None = None) -> Balance:
        """Query the account balance; see :meth:`Client.balance`."""
        return _balance(await self._post(self._balance_call(content)))

    async def reports(self, size: int = 1000) -> PullResult[Report]:
        """Pull delivery reports; see :meth:`Client.reports`."""
        return _pull(await self._post(self._reports_call(size)), _report)

    async def replies(self, size: int = 1000) -> PullResult[Reply]:
        """Pull replies (MO); see :meth:`Client.replies`."""
        return _pull(await self._post(self._replies_call(size)), _reply)

    async def set_callbacks(
        self,
        *,
        reports_url: str | None = None,
        replies_url: str | None = None,
        rotate: bool = False,
    ) -> Callbacks:
        """Set the callback URLs; see :meth:`Client.set_callbacks`."""
        call = self._callbacks_call(reports_url, replies_url, rotate)
        return _callbacks(await self._post(call))
