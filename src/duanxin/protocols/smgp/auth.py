"""SMGP login digests (§6 of the notes), for both ends of the link (the digest rule itself
is :mod:`duanxin.protocols.core.login`)."""

from __future__ import annotations

import hmac
import struct
from datetime import datetime

from duanxin.protocols.core.clock import CHINA_STANDARD_TIME as CHINA_STANDARD_TIME
from duanxin.protocols.core.clock import mmddhhmmss as login_timestamp
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.login import answer_digest, login_digest, sign
from duanxin.protocols.core.query import AUTHENTICATOR_SIZE
from duanxin.protocols.smgp.pdu import (
    SMGP_VERSION,
    LoginMode,
    SmgpLogin,
    SmgpLoginResp,
    SmgpStatus,
)

__all__ = [
    "CHINA_STANDARD_TIME",
    "build_login",
    "client_authenticator",
    "login_response",
    "login_timestamp",
    "server_authenticator",
    "verify_login",
]

_PADDING = 7  # NULs after ClientID (CMPP pads with 9)
_STATUS = struct.Struct(">I")


def client_authenticator(client_id: str, secret: str, timestamp: int) -> bytes:
    """MD5(ClientID + 7 x 0x00 + secret + MMDDHHMMSS); ClientID is hashed unpadded."""
    return login_digest(_raw(client_id, "client_id"), _PADDING, _raw(secret, "secret"), timestamp)


def server_authenticator(status: int, authenticator_client: bytes, secret: str) -> bytes:
    """MD5(Status as 4 bytes + AuthenticatorClient + secret)."""
    return answer_digest(_STATUS.pack(status), authenticator_client, _raw(secret, "secret"))


def _raw(text: str, name: str) -> bytes:
    # latin-1 maps a decoded field back to exactly the bytes received.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as error:
        raise LocalProtocolError(f"{name} must be single-byte text") from error


def build_login(
    client_id: str,
    secret: str,
    when: datetime,
    *,
    login_mode: int = LoginMode.TRANSMIT,
    client_version: int = SMGP_VERSION,
) -> SmgpLogin:
    """A Login for ``client_id`` signed with ``secret`` at time ``when``."""
    timestamp, digest = sign(_raw(client_id, "client_id"), _PADDING, _raw(secret, "secret"), when)
    return SmgpLogin(
        client_id=client_id,
        authenticator_client=digest,
        login_mode=login_mode,
        timestamp=timestamp,
        client_version=client_version,
    )


def verify_login(login: SmgpLogin, secret: str) -> SmgpStatus:
    """The server's verdict on ``login`` for an account whose shared secret is ``secret``.

    Checks the version, the login mode and the digest; the account name itself is the
    caller's business (look up ``secret`` by ``login.client_id``).
    """
    if login.client_version > SMGP_VERSION:
        return SmgpStatus.VERSION_TOO_HIGH
    if login.login_mode not in tuple(LoginMode):
        return SmgpStatus.BAD_STRUCTURE
    expected = client_authenticator(login.client_id, secret, login.timestamp)
    if not hmac.compare_digest(expected, login.authenticator_client):
        return SmgpStatus.AUTHENTICATION_ERROR
    return SmgpStatus.OK


def login_response(login: SmgpLogin, secret: str, status: int) -> SmgpLoginResp:
    """The Login_Resp for ``login``: signed when accepted, an empty digest when refused."""
    digest = (
        server_authenticator(status, login.authenticator_client, secret)
        if status == SmgpStatus.OK
        else bytes(AUTHENTICATOR_SIZE)
    )
    return SmgpLoginResp(
        sequence_id=login.sequence_id,
        status=status,
        authenticator_server=digest,
        server_version=SMGP_VERSION,
    )
