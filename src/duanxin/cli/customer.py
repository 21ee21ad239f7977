"""The customer's side of the HTTP API from the command line: ``send``, ``balance``,
``reports``, ``replies``.

Each command signs its request as the published samples do and prints the server's JSON
answer as it came (the wire form). Credentials come from the options, else from the
``DUANXIN_SECRET_ID``/``_SECRET_KEY``/``_ACCOUNT``/``_PASSWORD``/``_API_URL`` environment,
else from the ``[client]`` table of the settings file (the demo writes one).
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import httpx
import typer

from duanxin.api.signature import sign_headers
from duanxin.cli.common import Failure
from duanxin.config import config_path

__all__ = ["balance", "replies", "reports", "send"]

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_SECONDS = 10.0

UrlOption = Annotated[
    str | None, typer.Option("--url", envvar="DUANXIN_API_URL", help=f"Default {DEFAULT_URL}.")
]
SecretIdOption = Annotated[str | None, typer.Option(envvar="DUANXIN_SECRET_ID")]
SecretKeyOption = Annotated[str | None, typer.Option(envvar="DUANXIN_SECRET_KEY")]
AccountOption = Annotated[str | None, typer.Option(envvar="DUANXIN_ACCOUNT")]
PasswordOption = Annotated[str | None, typer.Option(envvar="DUANXIN_PASSWORD")]


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    secret_id: str
    secret_key: str
    account: str
    password: str


def _from_file() -> dict[str, str]:
    path = config_path()
    if path is None:
        return {}
    try:
        table = tomllib.loads(path.read_text("utf-8")).get("client", {})
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise Failure(f"settings file {path}: {error}") from None
    return {k: str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def _credentials(
    url: str | None,
    secret_id: str | None,
    secret_key: str | None,
    account: str | None,
    password: str | None,
) -> Credentials:
    stored = _from_file()
    given = {
        "url": url or stored.get("url") or DEFAULT_URL,
        "secret_id": secret_id or stored.get("secret_id", ""),
        "secret_key": secret_key or stored.get("secret_key", ""),
        "account": account or stored.get("account", ""),
        "password": password or stored.get("password", ""),
    }
    missing = [f"--{k.replace('_', '-')}" for k, v in given.items() if not v]
    if missing:
        raise Failure(
            f"{', '.join(missing)} required: give them as options, as DUANXIN_SECRET_ID ... "
            "variables, or in the settings file's [client] table"
        )
    return Credentials(**given)


def _call(who: Credentials, path: str, params: dict[str, str], headers: dict[str, str]) -> None:
    """POST the signed request, print the answer; exit 1 unless its status is 0."""
    data = {"account": who.account, "password": who.password, **params, "rt": "json"}
    signed = sign_headers(who.secret_id, who.secret_key, datetime.now(UTC))
    url = who.url.rstrip("/") + path
    try:
        response = httpx.post(
            url, data=data, headers={**signed, **headers}, timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as error:
        raise Failure(
            f"cannot reach {who.url} ({type(error).__name__}: {error}): is `duanxin serve` "
            "running there? (--url / DUANXIN_API_URL)"
        ) from None
    sys.stdout.write(response.text.rstrip("\n") + "\n")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code == 401:
        message = answer.get("message") if isinstance(answer, dict) else response.text[:200]
        raise Failure(f"signature refused: {message}; check --secret-id and --secret-key")
    if not isinstance(answer, dict) or str(answer.get("status")) != "0":  # "0" or 0
        raise typer.Exit(code=1)


def send(
    mobiles: Annotated[str, typer.Argument(help="Comma-separated numbers.")],
    content: Annotated[str, typer.Argument(help="Text to send.")],
    url: UrlOption = None,
    secret_id: SecretIdOption = None,
    secret_key: SecretKeyOption = None,
    account: AccountOption = None,
    password: PasswordOption = None,
    extno: Annotated[str | None, typer.Option(help="Extension number.")] = None,
    sendtime: Annotated[
        str | None, typer.Option(help="Send later: 'YYYY-MM-DD HH:MM:SS', platform time.")
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="A retry with the same key gets the first answer.")
    ] = None,
) -> None:
    """Send an SMS through the HTTP API (signed); print the JSON answer."""
    who = _credentials(url, secret_id, secret_key, account, password)
    params = {"mobile": mobiles, "content": content}
    if extno:
        params["extno"] = extno
    if sendtime:
        params["sendtime"] = sendtime
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    _call(who, "/smssend", params, headers)


def balance(
    content: Annotated[
        str | None, typer.Option(help="Also how many units this text costs per number.")
    ] = None,
    url: UrlOption = None,
    secret_id: SecretIdOption = None,
    secret_key: SecretKeyOption = None,
    account: AccountOption = None,
    password: PasswordOption = None,
) -> None:
    """Query the account's balance through the HTTP API; print the JSON answer."""
    who = _credentials(url, secret_id, secret_key, account, password)
    params = {"action": "balance"}
    if content is not None:
        params["content"] = content
    _call(who, "/smsoverage", params, {})


def reports(
    size: Annotated[int, typer.Option(help="At most this many (10 to 10000).")] = 1000,
    url: UrlOption = None,
    secret_id: SecretIdOption = None,
    secret_key: SecretKeyOption = None,
    account: AccountOption = None,
    password: PasswordOption = None,
) -> None:
    """Pull delivery reports not pulled before; print the JSON answer."""
    who = _credentials(url, secret_id, secret_key, account, password)
    _call(who, "/smsreport", {"size": str(size)}, {})


def replies(
    size: Annotated[int, typer.Option(help="At most this many (10 to 1000).")] = 1000,
    url: UrlOption = None,
    secret_id: SecretIdOption = None,
    secret_key: SecretKeyOption = None,
    account: AccountOption = None,
    password: PasswordOption = None,
) -> None:
    """Pull replies (MO) not pulled before; print the JSON answer."""
    who = _credentials(url, secret_id, secret_key, account, password)
    # "szie" is the published page's spelling; sending both suits every server.
    _call(who, "/smsmo", {"action": "mo", "size": str(size), "szie": str(size)}, {})
