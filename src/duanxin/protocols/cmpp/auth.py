"""CMPP login: timestamps, the two MD5 authenticators, and the server-side check.

A server that keeps one secret per SP_Id (the simulator, the platform's own CMPP access
server) looks it up by ``connect.source_addr``, then calls :func:`verify_connect` and
:func:`connect_response`.
"""

from __future__ import annotations

import hmac
import struct
from datetime import datetime

from duanxin.protocols.cmpp.pdu import (
    SOURCE_ADDR_SIZE,
    CmppConnect,
    CmppConnectResp,
    CmppConnectStatus,
    CmppVersion,
    layout_of,
)
from duanxin.protocols.core.clock import CHINA_STANDARD_TIME as CHINA_STANDARD_TIME
from duanxin.protocols.core.clock import mmddhhmmss as timestamp_of
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.login import answer_digest, login_digest, sign
from duanxin.protocols.core.login import timestamp_text as timestamp_text
from duanxin.protocols.core.query import AUTHENTICATOR_SIZE

__all__ = [
    "authenticator_ismg",
    "authenticator_source",
    "connect_request",
    "connect_response",
    "timestamp_of",
    "verify_connect",
]

#: The highest version this implementation speaks.
HIGHEST_VERSION = CmppVersion.V30
_SOURCE_PADDING = 9  # NULs after Source_Addr
#: The version a session runs at when the client asks for one.
negotiated_version = layout_of
_STATUS_FORMAT = {CmppVersion.V20: struct.Struct(">B"), CmppVersion.V30: struct.Struct(">I")}


def authenticator_source(source_addr: str, secret: str, timestamp: int) -> bytes:
    """MD5(Source_Addr + 9 NULs + secret + MMDDHHMMSS) as 16 raw bytes."""
    return login_digest(_ascii(source_addr), _SOURCE_PADDING, secret.encode(), timestamp)


def _ascii(source_addr: str) -> bytes:
    try:
        return source_addr.encode("ascii")
    except UnicodeEncodeError as error:
        raise LocalProtocolError(f"Source_Addr must be ASCII: {source_addr!r}") from error


def authenticator_ismg(status: int, source: bytes, secret: str, version: int) -> bytes:
    """MD5(Status as on the wire + AuthenticatorSource + secret).

    Status is one byte in the 2.0 layout and four in 3.0, as CONNECT_RESP encodes it.
    """
    return answer_digest(_STATUS_FORMAT[layout_of(version)].pack(status), source, secret.encode())


def connect_request(
    source_addr: str, secret: str, when: datetime, version: int = HIGHEST_VERSION
) -> CmppConnect:
    """A CONNECT for SP ``source_addr`` at time ``when``."""
    timestamp, digest = sign(_ascii(source_addr), _SOURCE_PADDING, secret.encode(), when)
    return CmppConnect(
        source_addr=source_addr, authenticator_source=digest, version=version, timestamp=timestamp
    )


def _source_candidates(source_addr: str) -> list[bytes]:
    # Short SP_Ids are hashed unpadded by some clients and padded to six by others.
    raw = source_addr.encode("latin-1")
    candidates = [raw]
    if len(raw) < SOURCE_ADDR_SIZE:
        candidates.append(raw.ljust(SOURCE_ADDR_SIZE, b"\x00"))
        candidates.append(raw.rjust(SOURCE_ADDR_SIZE, b"0"))
    return candidates


def verify_connect(connect: CmppConnect, secret: str) -> CmppConnectStatus:
    """Check a CONNECT against the SP's shared secret.

    Returns OK, VERSION_TOO_HIGH (a major version above ours) or AUTHENTICATION_FAILED.
    Timestamp freshness is the caller's policy, not checked here.
    """
    if connect.version >> 4 > HIGHEST_VERSION >> 4:
        return CmppConnectStatus.VERSION_TOO_HIGH
    for source in _source_candidates(connect.source_addr):
        expected = login_digest(source, _SOURCE_PADDING, secret.encode(), connect.timestamp)
        if hmac.compare_digest(expected, connect.authenticator_source):
            return CmppConnectStatus.OK
    return CmppConnectStatus.AUTHENTICATION_FAILED


def connect_response(connect: CmppConnect, status: int, secret: str) -> CmppConnectResp:
    """The CONNECT_RESP for ``connect``, in the layout of the version it asked for.

    AuthenticatorISMG is computed only on success; a refusal carries zeros.
    """
    version = negotiated_version(connect.version)
    if status == CmppConnectStatus.OK:
        digest = authenticator_ismg(status, connect.authenticator_source, secret, version)
    else:
        digest = bytes(AUTHENTICATOR_SIZE)
    return CmppConnectResp(
        sequence_id=connect.sequence_id,
        status=status,
        authenticator_ismg=digest,
        version=version,
    )
