"""The Python SDK against an in-test server that checks signatures with
``duanxin.api.signature`` and answers SPEC-shaped JSON (end-to-end tests against the real
server live with the app)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from duanxin.api.params import mo_size, parse_mobiles, parse_params, report_size
from duanxin.api.signature import DEFAULT_WINDOW, MISMATCH, SignatureError, verify_request
from duanxin.client import (
    AsyncClient,
    AuthenticationError,
    Balance,
    Client,
    Reply,
    Report,
    ResponseError,
    SendItem,
    TransportError,
)

SECRET_ID, SECRET_KEY = "AKIDtest", "key-for-tests"
ACCOUNT, PASSWORD = "acme", "pw"
NOW = datetime(2024, 5, 1, 4, 0, 0, tzinfo=UTC)

REPORT = {
    "flag": 1,
    "mid": "4C36654382720005",
    "spid": "922011",
    "accessCode": "106901234",
    "mobile": "18983437010",
    "stat": "DELIVRD",
    "time": "2017-04-12 01:38:21",
}
REPLY = {
    "flag": 0,
    "mid": "4C36654382720006",
    "spid": "922011",
    "accessCode": "10690",
    "mobile": "18983437011",
    "content": "上行内容1",
    "time": "2017-04-12 01:38:21",
}


@dataclass
class FakeServer:
    """Just enough of the API to exercise the SDK: signature, account, SPEC-shaped JSON."""

    now: datetime = NOW
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)

    def handle(
        self, path: str, headers: dict[str, str], body: bytes, query: str
    ) -> tuple[int, dict[str, Any]]:
        try:
            verify_request(headers, {SECRET_ID: SECRET_KEY}.get, self.now, DEFAULT_WINDOW)
        except SignatureError as error:
            return 401, {"message": str(error)}
        params = parse_params(body, headers.get("content-type"), query)
        self.seen.append((path.removeprefix("/release"), params, headers))
        endpoint = path.removeprefix("/release")
        if params.get("account") != ACCOUNT or params.get("password") != PASSWORD:
            if endpoint == "/smsoverage":
                return 200, {"status": 3, "balance": 0, "chargeType": "PRECHARGE", "msg": "bad"}
            return 200, {"status": "3", "balance": 0, "list": None, "msg": "wrong account"}
        if endpoint == "/smssend":
            entries = parse_mobiles(params["mobile"])
            listing = [
                {"mid": f"4C2CA8838272{i:04X}", "mobile": e.normalised or e.raw,
                 "result": 0 if e.normalised else 1}
                for i, e in enumerate(entries)
            ]  # fmt: skip
            return 200, {"status": "0", "balance": 1234, "list": listing, "msg": "ok"}
        if endpoint == "/smsoverage":
            answer: dict[str, Any] = {"status": 0, "balance": -153278040}
            answer |= {"chargeType": "POSTCHARGE", "msg": "ok"}
            if params.get("content"):
                answer["segments"] = 2
            return 200, answer
        if endpoint == "/smsreport":
            size = report_size(params)
            return 200, {"status": "0", "balance": 1234, "list": [REPORT] * min(size, 2)}
        if endpoint == "/smsmo":
            size = mo_size(params)
            return 200, {"status": "0", "balance": 1234, "list": [REPLY] * min(size, 1)}
        return 404, {"message": "no route"}

    def mock_transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers.raw}
            status, data = self.handle(
                request.url.path, headers, request.read(), request.url.query.decode()
            )
            return httpx.Response(status, json=data)

        return httpx.MockTransport(handler)

    def asgi_app(self) -> Starlette:
        async def endpoint(request: Request) -> JSONResponse:
            status, data = self.handle(
                request.url.path,
                dict(request.headers),
                await request.body(),
                request.url.query,
            )
            return JSONResponse(data, status_code=status)

        names = ("/smssend", "/smsoverage", "/smsreport", "/smsmo")
        routes = [Route(p + n, endpoint, methods=["POST"]) for n in names for p in ("", "/release")]
        return Starlette(routes=routes)


def make_client(
    transport: httpx.BaseTransport,
    *,
    key: str = SECRET_KEY,
    password: str = PASSWORD,
    **options: Any,
) -> Client:
    options.setdefault("clock", lambda: NOW)
    return Client(
        "http://sms.test", SECRET_ID, key, ACCOUNT, password, transport=transport, **options
    )


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(server: FakeServer) -> Iterator[Client]:
    with make_client(server.mock_transport()) as sms:
        yield sms


def test_send_many_numbers(client: Client, server: FakeServer) -> None:
    result = client.send(["13800138000", "+8613900139000", "bad"], "【duanxin】hi")
    assert result.ok
    assert (result.status, result.balance, result.msg) == (0, 1234, "ok")
    assert result.items == (
        SendItem("4C2CA88382720000", "13800138000", 0),
        SendItem("4C2CA88382720001", "13900139000", 0),
        SendItem("4C2CA88382720002", "bad", 1),
    )
    path, params, headers = server.seen[-1]
    assert path == "/smssend"
    assert params == {
        "account": ACCOUNT,
        "password": PASSWORD,
        "mobile": "13800138000,+8613900139000,bad",
        "content": "【duanxin】hi",
        "rt": "json",
    }
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["x-source"] == "market"
    assert "idempotency-key" not in headers


def test_send_options(client: Client, server: FakeServer) -> None:
    client.send(
        "13800138000",
        "hi",
        extno="42",
        sendtime=datetime(2024, 5, 2, 8, 30),
        idempotency_key="order-1",
    )
    _, params, headers = server.seen[-1]
    assert params["mobile"] == "13800138000"
    assert params["extno"] == "42"
    assert params["sendtime"] == "2024-05-02 08:30:00"
    assert headers["idempotency-key"] == "order-1"
    client.send("13800138000", "hi", sendtime="2024-05-02 09:00:00")
    assert server.seen[-1][1]["sendtime"] == "2024-05-02 09:00:00"


def test_refusal_is_returned_not_raised(server: FakeServer) -> None:
    with make_client(server.mock_transport(), password="wrong") as sms:
        result = sms.send("13800138000", "hi")
        assert (result.status, result.balance, result.items) == (3, 0, ())
        assert not result.ok and result.msg == "wrong account"
        balance = sms.balance()
        assert balance == Balance(3, 0, "PRECHARGE", "bad", None)
        assert sms.reports().status == 3
        assert list(sms.replies()) == []


def test_balance(client: Client, server: FakeServer) -> None:
    assert client.balance() == Balance(0, -153278040, "POSTCHARGE", "ok", None)
    assert server.seen[-1][1]["action"] == "balance"
    assert client.balance("【duanxin】" + "字" * 80).segments == 2


def test_reports(client: Client, server: FakeServer) -> None:
    reports = client.reports(size=50)
    assert reports.ok and reports.balance == 1234 and reports.msg == ""
    assert len(reports) == 2
    assert reports[0] == Report(
        flag=1,
        mid="4C36654382720005",
        spid="922011",
        access_code="106901234",
        mobile="18983437010",
        stat="DELIVRD",
        time="2017-04-12 01:38:21",
    )
    assert [r.stat for r in reports] == ["DELIVRD", "DELIVRD"]
    assert server.seen[-1][1]["size"] == "50"


def test_replies(client: Client, server: FakeServer) -> None:
    replies = client.replies(size=20)
    assert list(replies) == [
        Reply(
            0,
            "4C36654382720006",
            "922011",
            "10690",
            "18983437011",
            "上行内容1",
            "2017-04-12 01:38:21",
        )
    ]
    _, params, _ = server.seen[-1]
    assert (params["action"], params["size"], params["szie"]) == ("mo", "20", "20")


@pytest.mark.parametrize("algorithm", ["hmac-sha1", "hmac-sha256"])
@pytest.mark.parametrize("names", [("x-date", "x-source"), ("date", "source")])
def test_signing_choices(server: FakeServer, algorithm: str, names: tuple[str, ...]) -> None:
    transport = server.mock_transport()
    options: dict[str, Any] = {"algorithm": algorithm, "signed_headers": names, "source": "cli"}
    with make_client(transport, **options) as sms:
        assert sms.balance().ok
    assert algorithm in server.seen[-1][2]["authorization"]


def test_bad_algorithm_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        Client("http://sms.test", SECRET_ID, SECRET_KEY, ACCOUNT, PASSWORD, algorithm="md5")


def test_wrong_key_raises_authentication_error(server: FakeServer) -> None:
    with (
        make_client(server.mock_transport(), key="wrong") as sms,
        pytest.raises(AuthenticationError) as info,
    ):
        sms.balance()
    assert info.value.message == MISMATCH
    assert server.seen == []


def test_skewed_clock_raises_authentication_error(server: FakeServer) -> None:
    early = NOW - timedelta(hours=1)
    with (
        make_client(server.mock_transport(), clock=lambda: early) as sms,
        pytest.raises(AuthenticationError, match="window"),
    ):
        sms.send("13800138000", "hi")


def test_transport_error_is_wrapped() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        make_client(httpx.MockTransport(refuse)) as sms,
        pytest.raises(TransportError) as info,
    ):
        sms.balance()
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("status", "body"),
    [(502, b"<html>Bad Gateway</html>"), (200, b"not json"), (200, b"[1, 2]"), (404, b"{}")],
)
def test_unexpected_answer_raises_response_error(status: int, body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    with make_client(transport) as sms, pytest.raises(ResponseError) as info:
        sms.reports()
    assert info.value.status_code == status


def test_malformed_fields_raise_response_error() -> None:
    answer = {"status": "zero", "balance": 0, "list": []}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    with make_client(transport) as sms, pytest.raises(ResponseError):
        sms.reports()


def test_json_error_with_status_is_a_result() -> None:
    answer = {"status": "1", "balance": 0, "list": None, "msg": "request body too large"}
    transport = httpx.MockTransport(lambda request: httpx.Response(413, json=answer))
    with make_client(transport) as sms:
        result = sms.send("13800138000", "x")
    assert (result.status, result.msg) == (1, "request body too large")


def test_repr_hides_secrets(client: Client) -> None:
    assert SECRET_KEY not in repr(client) and PASSWORD not in repr(client)


# -- asyncio, through a real ASGI app ---------------------------------------------------


def async_client(server: FakeServer, base_url: str = "http://sms.test") -> AsyncClient:
    return AsyncClient(
        base_url,
        SECRET_ID,
        SECRET_KEY,
        ACCOUNT,
        PASSWORD,
        transport=httpx.ASGITransport(app=server.asgi_app()),
        clock=lambda: NOW,
    )


async def test_async_round_trip(server: FakeServer) -> None:
    async with async_client(server) as sms:
        sent = await sms.send(["13800138000", "13800138000"], "【duanxin】你好", extno="7")
        assert sent.ok and [i.mobile for i in sent.items] == ["13800138000"]
        assert (await sms.balance()).charge_type == "POSTCHARGE"
        assert len(await sms.reports()) == 2
        assert (await sms.replies())[0].content == "上行内容1"
    assert [path for path, _, _ in server.seen] == [
        "/smssend",
        "/smsoverage",
        "/smsreport",
        "/smsmo",
    ]
    assert server.seen[0][1]["content"] == "【duanxin】你好"


async def test_async_release_stage_path(server: FakeServer) -> None:
    async with async_client(server, "http://sms.test/release/") as sms:
        assert (await sms.balance()).ok


async def test_async_authentication_error(server: FakeServer) -> None:
    server.now = NOW + timedelta(minutes=20)
    async with async_client(server) as sms:
        with pytest.raises(AuthenticationError, match="window"):
            await sms.reports()


async def test_async_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with AsyncClient(
        "http://sms.test", SECRET_ID, SECRET_KEY, ACCOUNT, PASSWORD,
        transport=httpx.MockTransport(refuse),
    ) as sms:  # fmt: skip
        with pytest.raises(TransportError):
            await sms.send("13800138000", "hi")
