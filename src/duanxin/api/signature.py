"""The gateway signature of SPEC 2.1 (layer 1: who is calling), sans I/O.

A request is signed by its caller with a SecretId / SecretKey pair::

    X-Date: Mon, 19 Mar 2018 12:08:40 GMT
    X-Source: market
    Authorization: hmac id="<SecretId>", algorithm="hmac-sha1",
                   headers="x-date x-source", signature="<base64>"

The signed string is made of the headers named in ``headers=``, in that order, each as
``lowercase-name: value``, joined by ``\\n``; the signature is
``base64(HMAC(SecretKey, signed string))`` with SHA-1 or SHA-256.

Verification is split so that an application can look the secret up asynchronously::

    parsed = parse_authorization(headers.get("authorization"))   # SignatureError
    secret = await keys.secret_for(parsed.secret_id)              # the app's lookup
    check_signature(parsed, headers, secret, now=now, window=window)

:func:`verify_request` does the three steps with a synchronous lookup. Every refusal is a
:class:`SignatureError` whose message is the text of the 401 answer
``{"message": "<reason>"}``. Secrets never appear in a message.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from enum import StrEnum
from typing import NoReturn

__all__ = [
    "ALGORITHMS",
    "DEFAULT_WINDOW",
    "MISMATCH",
    "Authorization",
    "SignatureError",
    "SignatureFault",
    "check_signature",
    "format_http_date",
    "parse_authorization",
    "refuse_unknown_id",
    "sign_headers",
    "signing_string",
    "verify_request",
]

DEFAULT_WINDOW = timedelta(minutes=15)
"""How far the signed date may be from the server's clock, either way."""

ALGORITHMS: Mapping[str, Callable[[], hashlib._Hash]] = {
    "hmac-sha1": hashlib.sha1,
    "hmac-sha256": hashlib.sha256,
}
"""The algorithms a caller may name in ``algorithm=``, lower case."""

DATE_HEADERS = ("x-date", "date")
"""Headers that carry the signed request date, in order of preference."""

MAX_AUTHORIZATION = 4096
"""An Authorization value longer than this is refused before parsing."""

MISMATCH = "unknown SecretId or signature does not match"
"""The one answer for both: which SecretIds exist is not told to whoever guesses them."""

# What an unknown SecretId is checked against, so that it costs what a known one costs and
# fails at the same step; the result is refused whatever it is.
_DECOY_KEY = secrets.token_urlsafe(32)


class SignatureFault(StrEnum):
    """Why a request was refused, as a short machine-readable key (for metrics and logs)."""

    MISSING_HEADER = "missing_header"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNKNOWN_ID = "unknown_id"
    BAD_SIGNATURE = "bad_signature"
    BAD_DATE = "bad_date"
    EXPIRED = "expired"


class SignatureError(Exception):
    """The request's gateway signature is missing, malformed, wrong or stale.

    ``str(error)`` (also ``error.reason``) is the text to answer with HTTP 401 as
    ``{"message": reason}``; ``error.fault`` classifies it.
    """

    def __init__(self, reason: str, fault: SignatureFault) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fault = fault


@dataclass(frozen=True, slots=True, kw_only=True)
class Authorization:
    """A parsed ``Authorization: hmac ...`` value.

    ``algorithm`` is lower case and one of :data:`ALGORITHMS`; ``headers`` holds the signed
    header names, lower case, in signing order.
    """

    secret_id: str
    algorithm: str
    headers: tuple[str, ...]
    signature: str


# One ``name = value`` pair: the value quoted (double or single) or bare up to a comma.
_PARAM = re.compile(
    r"""\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"([^"]*)"\s*|'([^']*)'\s*|([^,]*))(?:,|$)""",
)
_SCHEME = re.compile(r"\s*hmac(?:\s+|$)", re.IGNORECASE)
_OTHER_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s+[A-Za-z]")
_REQUIRED = ("id", "algorithm", "headers", "signature")


def _malformed(detail: str) -> SignatureError:
    return SignatureError(f"invalid Authorization header: {detail}", SignatureFault.MALFORMED)


def _split_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _PARAM.match(text, pos)
        if match is None or match.end() == pos:
            raise _malformed("expected name=value pairs")
        name = match.group(1).lower()
        value = next(v for v in match.group(2, 3, 4) if v is not None).strip()
        if name in params:
            raise _malformed(f"duplicate {name}")
        params[name] = value
        pos = match.end()
    return params


def parse_authorization(value: str | None) -> Authorization:
    """Parse an ``Authorization`` header value leniently (results are cached: a client
    signs once per second, so the same value arrives many times)."""
    if value is None:
        return _parse_authorization(None)
    return _parse_cached(value)


@functools.lru_cache(maxsize=4096)
def _parse_cached(value: str) -> Authorization:
    return _parse_authorization(value)


def _parse_authorization(value: str | None) -> Authorization:
    """Parse an ``Authorization`` header value leniently.

    Accepts the published samples' shape and the curl sample's
    ``hmac id = "...", algorithm = "hmac-sha1", headers = "date source", signature = abc=``:
    the ``hmac`` scheme word (optional, any case), spaces around ``=`` and commas, values in
    double quotes, single quotes or bare. Parameter names are case-insensitive; unknown
    parameters are ignored. Raises :class:`SignatureError` when the header is absent,
    malformed, lacks ``id``/``algorithm``/``headers``/``signature``, or names an
    unsupported algorithm.
    """
    if value is None or not value.strip():
        raise SignatureError("missing Authorization header", SignatureFault.MISSING_HEADER)
    if len(value) > MAX_AUTHORIZATION:
        raise _malformed("too long")
    scheme = _SCHEME.match(value)
    if scheme is not None:
        rest = value[scheme.end() :]
    elif (other := _OTHER_SCHEME.match(value)) is not None:
        raise _malformed(f"unsupported scheme {other.group(1)!r}, expected hmac")
    else:
        rest = value
    params = _split_params(rest)
    for name in _REQUIRED:
        if not params.get(name, "").strip():
            raise _malformed(f"missing {name}")
    algorithm = params["algorithm"].strip().lower()
    if algorithm not in ALGORITHMS:
        raise SignatureError(
            f"unsupported algorithm {params['algorithm'].strip()!r}, "
            f"use one of {', '.join(ALGORITHMS)}",
            SignatureFault.UNSUPPORTED_ALGORITHM,
        )
    names = tuple(name.lower() for name in params["headers"].replace(",", " ").split())
    return Authorization(
        secret_id=params["id"].strip(),
        algorithm=algorithm,
        headers=names,
        signature="".join(params["signature"].split()),
    )


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): value for name, value in headers.items()}


def _header_bytes(value: str) -> bytes:
    # ASGI servers hand header values over decoded as latin-1; encoding back gives the
    # bytes the caller signed. A value holding wider characters was never on the wire.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def signing_string(names: Iterable[str], headers: Mapping[str, str]) -> bytes:
    """Build the signed string: ``lowercase-name: value`` per listed header, joined by LF.

    ``headers`` is looked up case-insensitively; values are stripped of surrounding
    whitespace, as HTTP servers do. Raises :class:`SignatureError` when a listed header is
    absent.
    """
    lowered = _lower_keys(headers)
    lines: list[bytes] = []
    for name in names:
        if name not in lowered:
            raise SignatureError(
                f"header {name} is listed in the signature but absent",
                SignatureFault.MISSING_HEADER,
            )
        value = _header_bytes(lowered[name].strip())
        lines.append(name.encode("latin-1", "replace") + b": " + value)
    return b"\n".join(lines)


def _digest(algorithm: str, secret_key: str, message: bytes) -> str:
    mac = hmac.new(secret_key.encode("utf-8"), message, ALGORITHMS[algorithm])
    return base64.b64encode(mac.digest()).decode("ascii")


@functools.lru_cache(maxsize=4096)
def _expected(algorithm: str, secret_key: str, message: bytes) -> bytes:
    """The signature of ``message``, cached: it signs only the date and source, so a
    client's every request within one second has the same one."""
    return _digest(algorithm, secret_key, message).encode("ascii")


@functools.lru_cache(maxsize=4096)
def _http_date(raw: str) -> datetime | None:
    """``raw`` as an aware time, None when it is no HTTP date (cached, as above)."""
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _signed_date(parsed: Authorization, lowered: Mapping[str, str]) -> datetime:
    name = next((n for n in DATE_HEADERS if n in parsed.headers), None)
    if name is None:
        raise SignatureError(
            "the signature must cover an x-date or date header", SignatureFault.BAD_DATE
        )
    when = _http_date(lowered[name].strip())
    if when is None:
        raise SignatureError(
            f"invalid {name} header, expected RFC 1123 GMT time", SignatureFault.BAD_DATE
        )
    return when


def check_signature(
    parsed: Authorization,
    headers: Mapping[str, str],
    secret_key: str,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> None:
    """Check a parsed Authorization against the request headers and the caller's secret.

    Verifies, in order: every listed header is present; an ``x-date`` or ``date`` header is
    signed and parses as an HTTP date; the signature matches (constant-time comparison);
    the date lies within ``window`` of ``now`` either way. ``now`` should be timezone-aware
    (naive means UTC). Raises :class:`SignatureError` on any failure.
    """
    lowered = _lower_keys(headers)
    message = signing_string(parsed.headers, lowered)
    when = _signed_date(parsed, lowered)
    expected = _expected(parsed.algorithm, secret_key, message)
    given = parsed.signature.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(expected, given):
        raise SignatureError(MISMATCH, SignatureFault.BAD_SIGNATURE)
    current = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    try:
        skew = abs(current - when)
    except OverflowError:
        skew = timedelta.max
    if skew > window:
        raise SignatureError(
            "request date is outside the allowed window, check the clock",
            SignatureFault.EXPIRED,
        )


def verify_request(
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> str:
    """Verify a request's gateway signature and return its SecretId.

    ``headers`` is looked up case-insensitively; ``lookup_secret`` maps a SecretId to its
    SecretKey, or ``None`` when unknown (refused as a wrong signature is). Raises
    :class:`SignatureError`; for an asynchronous lookup use :func:`parse_authorization`
    and :func:`check_signature` directly.
    """
    lowered = _lower_keys(headers)
    parsed = parse_authorization(lowered.get("authorization"))
    secret = lookup_secret(parsed.secret_id)
    if secret is None:
        refuse_unknown_id(parsed, lowered, now, window)
    check_signature(parsed, lowered, secret, now=now, window=window)
    return parsed.secret_id


def refuse_unknown_id(
    parsed: Authorization,
    headers: Mapping[str, str],
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> NoReturn:
    """Refuse a request whose SecretId is unknown exactly as a known one with a wrong
    signature is refused: the same checks, in the same order, at the same cost, and the
    same reason (:data:`MISMATCH`; ``fault`` is ``UNKNOWN_ID``, for logs and metrics)."""
    try:
        check_signature(parsed, headers, _DECOY_KEY, now=now, window=window)
    except SignatureError as error:
        if error.fault is not SignatureFault.BAD_SIGNATURE:
            raise
    raise SignatureError(MISMATCH, SignatureFault.UNKNOWN_ID)


def format_http_date(when: datetime) -> str:
    """Render ``when`` as an RFC 1123 GMT date (``Mon, 19 Mar 2018 12:08:40 GMT``)."""
    current = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return format_datetime(current.astimezone(UTC).replace(microsecond=0), usegmt=True)


def sign_headers(
    secret_id: str,
    secret_key: str,
    now: datetime,
    source: str = "market",
    algorithm: str = "hmac-sha1",
    headers: Iterable[str] = ("x-date", "x-source"),
) -> dict[str, str]:
    """Produce the headers that sign a request, as the published samples do.

    ``headers`` names what to sign: ``x-date``/``date`` get ``now`` as an RFC 1123 GMT
    date, ``x-source``/``source`` get ``source``. Returns those headers (``X-Date``,
    ``X-Source``, ...) plus ``Authorization``. Raises ``ValueError`` for an unsupported
    algorithm or a header name it cannot fill.
    """
    algo = algorithm.lower()
    if algo not in ALGORITHMS:
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    names = tuple(name.lower() for name in headers)
    date = format_http_date(now)
    out: dict[str, str] = {}
    for name in names:
        if name in DATE_HEADERS:
            value = date
        elif name in ("x-source", "source"):
            value = source
        else:
            raise ValueError(f"cannot sign header {name!r}: only dates and source are known")
        out["-".join(part.capitalize() for part in name.split("-"))] = value
    signature = _digest(algo, secret_key, signing_string(names, out))
    out["Authorization"] = (
        f'hmac id="{secret_id}", algorithm="{algo}", '
        f'headers="{" ".join(names)}", signature="{signature}"'
    )
    return out
