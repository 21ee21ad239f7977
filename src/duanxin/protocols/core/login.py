"""The login signature CMPP and SMGP share (SGIP and SMPP send the password itself).

The client sends MD5(account + N zero bytes + secret + the login time as ten digits
MMDDHHMMSS); the server answers MD5(status as on the wire + that digest + secret). Only the
padding and the width of the status differ. Nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from duanxin.protocols.core.clock import mmddhhmmss

__all__ = ["answer_digest", "login_digest", "sign", "timestamp_text"]

_TIMESTAMP_DIGITS = 10


def timestamp_text(timestamp: int) -> str:
    """The ten digits hashed into the login digest, zero-padded (January -> ``01...``)."""
    return f"{timestamp:0{_TIMESTAMP_DIGITS}d}"


def login_digest(account: bytes, padding: int, secret: bytes, timestamp: int) -> bytes:
    """MD5(account + ``padding`` NULs + secret + ``timestamp`` as ten digits)."""
    digits = timestamp_text(timestamp).encode("ascii")
    return hashlib.md5(account + bytes(padding) + secret + digits).digest()


def answer_digest(status: bytes, digest: bytes, secret: bytes) -> bytes:
    """The server's MD5(status as encoded + the client's digest + secret)."""
    return hashlib.md5(status + digest + secret).digest()


def sign(account: bytes, padding: int, secret: bytes, when: datetime) -> tuple[int, bytes]:
    """The timestamp of ``when`` (China Standard Time) and the login digest made with it."""
    timestamp = mmddhhmmss(when)
    return timestamp, login_digest(account, padding, secret, timestamp)
