"""Standard Webhooks 1.0, the signing side: secrets, message ids, signatures, back-off.

A signature is ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")) where the key
is the base64 part of the ``whsec_...`` secret, decoded. Several signatures (a rotated
secret's old and new keys) go space-separated in one ``webhook-signature`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Iterable

__all__ = [
    "SECRET_PREFIX",
    "WebhookHeaders",
    "backoff_seconds",
    "new_message_id",
    "new_secret",
    "secret_key",
    "sign",
    "signature_header",
    "webhook_headers",
]

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64 bytes of key
MESSAGE_ID_PREFIX = "msg_"
SIGNATURE_VERSION = "v1"
FIRST_RETRY_SECONDS = 5.0
LONGEST_RETRY_SECONDS = 3600.0  # the back-off stops growing at an hour
JITTER = 0.2  # each wait is drawn within +-20 % of its nominal value

WebhookHeaders = dict[str, str]


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret; ``ValueError`` if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a signing secret starts with whsec_")
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def new_message_id() -> str:
    """A webhook-id: unique per batch, the same on every retry of it."""
    return MESSAGE_ID_PREFIX + secrets.token_hex(16)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` sent as ``message_id`` at ``timestamp``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(s, message_id, timestamp, body) for s in secrets_)


def webhook_headers(
    secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> WebhookHeaders:
    """The three headers of a signed delivery (plus the JSON content type)."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, message_id, timestamp, body),
    }


def backoff_seconds(
    attempt: int, rng: random.Random | None = None, first: float = FIRST_RETRY_SECONDS
) -> float:
    """How long to wait after the ``attempt``-th failed delivery (1, 2, ...): ``first``
    (5 s) doubling up to an hour, with jitter so that failed batches do not retry in step."""
    nominal = min(LONGEST_RETRY_SECONDS, first * 2 ** max(0, attempt - 1))
    draw: float = (rng or random.Random()).uniform(1 - JITTER, 1 + JITTER)
    return float(nominal * draw)
