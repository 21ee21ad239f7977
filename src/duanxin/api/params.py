"""Request parameters of the seed endpoints (SPEC 2, 2.4-2.8), sans I/O.

:func:`parse_params` turns a request's body and query string into one flat
``dict[str, str]``: an ``application/x-www-form-urlencoded`` body (what every published
sample sends), a JSON object body, a ``multipart/form-data`` body (PHP's curl sends that
when handed an array) and query-string parameters, the body winning over the query. A body
whose first non-blank character is ``{`` is JSON whatever its Content-Type, and a trailing
comma before its closing brace is tolerated (the published curl sample sends
``{"a":"1","b":"2",}``). The validators below check single parameters.

Every refusal is a :class:`ParamError` carrying the status to answer with (1, or 102 for
:class:`TooManyNumbers`) and a one-sentence ``msg``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value
from urllib.parse import parse_qsl

from duanxin.domain.numbers import (
    COUNTRY_CODE,
    MAX_NUMBERS,
    MobileEntry,
    distinct_mobiles,
    valid_extno,
)
from duanxin.domain.numbers import EXTNO_MAX_DIGITS as MAX_EXTNO_DIGITS
from duanxin.domain.numbers import TooManyNumbers as TooManyDistinct
from duanxin.domain.policy.engine import MAX_CONTENT_CHARS
from duanxin.domain.wire import SEED_TIME_FORMAT

__all__ = [
    "MAX_BODY",
    "MAX_CONTENT_CHARS",
    "MAX_EXTNO_DIGITS",
    "MAX_IDEMPOTENCY_KEY",
    "MAX_NUMBERS",
    "MobileEntry",
    "ParamError",
    "TooManyNumbers",
    "UnsupportedVersion",
    "check_action",
    "check_content",
    "check_extno",
    "check_idempotency_key",
    "check_rt",
    "check_version",
    "clamp_size",
    "clean_mobile",
    "mo_size",
    "parse_mobiles",
    "parse_params",
    "parse_sendtime",
    "plausible_mobile",
    "report_size",
    "require",
]

MAX_BODY = 1 << 20
"""Largest body :func:`parse_params` reads (500 numbers and 1000 characters fit in ~20 KiB)."""
MAX_FIELDS = 1000
MAX_IDEMPOTENCY_KEY = 64
MULTILINE_FIELDS = frozenset({"content"})
"""Parameters that may hold CR, LF and TAB; every other control character is refused."""

_GB_CHARSETS = frozenset({"gbk", "gb2312", "gb18030", "x-gbk", "cp936"})
_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r\n"
_TRAILING_COMMA = re.compile(r",\s*\}\s*\Z")
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_MULTILINE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


class ParamError(Exception):
    """A request parameter is missing, malformed or out of range.

    ``msg`` is the one-sentence reason for the response; ``status`` the seed status code
    to answer with (1, "malformed request").
    """

    status: int = 1

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class UnsupportedVersion(ParamError):
    """A ``version`` parameter this API does not speak (status 4)."""

    status = 4


class TooManyNumbers(ParamError):
    """More than :data:`MAX_NUMBERS` distinct numbers in one request (status 102)."""

    status = 102


# -- the body and the query string -------------------------------------------------------


def _media_type(content_type: str | None) -> tuple[str, str]:
    """Return the lower-case media type and the Python codec its charset asks for."""
    if not content_type:
        return "", "utf-8"
    media, _, rest = content_type.partition(";")
    charset = "utf-8"
    for param in rest.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip(" \t\"'").lower() in _GB_CHARSETS:
            charset = "gb18030"
    return media.strip().lower(), charset


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        raise ParamError(f"request is not valid {charset.upper()} text") from None


def _unescape_utf8(run: re.Match[str]) -> str:
    return bytes.fromhex(run.group().replace("%", "")).decode("utf-8")


def _unquote_utf8(text: str) -> str:
    text = text.replace("+", " ")
    return _ESCAPES.sub(_unescape_utf8, text) if "%" in text else text


def _utf8_pairs(text: str) -> list[tuple[str, str]]:
    """``parse_qsl(text, keep_blank_values=True, errors="strict")`` for UTF-8, a run of
    escapes at a time instead of one escape at a time (a Chinese content is about a hundred
    escapes: 70 µs through ``parse_qsl``). The same for UTF-8 because a character's bytes
    are always one run of escapes; GB18030's may be split by a literal ASCII byte, so it
    keeps ``parse_qsl``."""
    if text.count("&") >= MAX_FIELDS:
        raise ValueError("Max number of fields exceeded")
    pairs = []
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((_unquote_utf8(name), _unquote_utf8(value)))
    return pairs


def _parse_urlencoded(text: str, charset: str) -> dict[str, str]:
    try:
        if charset == "utf-8":
            return {name: value for name, value in _utf8_pairs(text) if name}
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding=charset,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise ParamError(f"request is not valid {charset.upper()} text") from None
    except ValueError:
        raise ParamError(f"too many parameters, at most {MAX_FIELDS}") from None
    return {name: value for name, value in pairs if name}


def _reject_constant(name: str) -> object:
    raise ValueError(f"JSON constant {name} is not a number")


def _loads(text: str) -> object:
    return json.loads(
        text, parse_int=str, parse_float=str, parse_constant=_reject_constant, strict=False
    )


def _parse_json(text: str) -> dict[str, str]:
    try:
        try:
            data = _loads(text)
        except ValueError:
            fixed = _TRAILING_COMMA.sub("}", text)
            if fixed == text:
                raise
            data = _loads(fixed)
    except (ValueError, RecursionError):
        raise ParamError("malformed JSON body") from None
    if not isinstance(data, dict):
        raise ParamError("JSON body must be an object")
    params: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(value, str):  # numbers already arrive as their literal text
            raise ParamError(f"parameter {_safe_name(name)} must be a string or a number")
        params[name] = value
    return params


def _parse_multipart(body: bytes, content_type: str, charset: str) -> dict[str, str]:
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    params: dict[str, str] = {}
    # The stdlib parser is lenient but was not written for hostile input: whatever it
    # raises on a broken body is reported as a malformed body.
    try:
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        if not isinstance(message, EmailMessage) or not message.is_multipart():
            raise ParamError("malformed multipart body")
        for part in message.iter_parts():
            if not isinstance(part, EmailMessage) or part.get_filename():
                continue  # files are not parameters
            raw_name = part.get_param("name", header="content-disposition")
            if not raw_name or isinstance(raw_name, EmailMessage):
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                params[collapse_rfc2231_value(raw_name)] = _decode(payload, charset)
            if len(params) > MAX_FIELDS:
                raise ParamError(f"too many parameters, at most {MAX_FIELDS}")
    except ParamError:
        raise
    except Exception:
        raise ParamError("malformed multipart body") from None
    return params


def _parse_body(body: bytes, content_type: str | None) -> dict[str, str]:
    media, charset = _media_type(content_type)
    data = body.removeprefix(_BOM)
    stripped = data.lstrip(_BLANK)
    if not stripped:
        return {}
    if stripped.startswith(b"{") or media == "application/json" or media.endswith("+json"):
        return _parse_json(_decode(stripped, charset))
    if media == "multipart/form-data":
        return _parse_multipart(data, content_type or "", charset)
    return _parse_urlencoded(_decode(data, charset), charset)


def _safe_name(name: str) -> str:
    return name if _SAFE_NAME.fullmatch(name) else "(unnamed)"


def _check_chars(params: Mapping[str, str]) -> None:
    for name, value in params.items():
        if _BAD_CHARS.search(name):
            raise ParamError("a parameter name contains a control character")
        bad = _BAD_MULTILINE_CHARS if name in MULTILINE_FIELDS else _BAD_CHARS
        if bad.search(value):
            raise ParamError(f"parameter {_safe_name(name)} contains a control character")


def parse_params(
    body: bytes,
    content_type: str | None,
    query: str | bytes = "",
    *,
    max_body: int = MAX_BODY,
) -> dict[str, str]:
    """Extract the request parameters from the body and the query string.

    ``body`` is read as JSON when its first non-blank character is ``{`` or the
    Content-Type says JSON, as multipart when it says ``multipart/form-data``, and as
    form-urlencoded otherwise (missing or odd Content-Types included). Text is UTF-8,
    or GB18030 when the Content-Type declares a GB charset. Values are returned as
    strings (JSON numbers as their literal text); a parameter given in both body and
    query takes the body's value; names are kept as sent.

    Raises :class:`ParamError` for a body over ``max_body`` bytes, text that does not
    decode, malformed JSON or multipart, a JSON value that is an object, array, boolean
    or null, or a control character in any name or value (CR, LF and TAB are allowed in
    ``content``).
    """
    if len(body) > max_body:
        raise ParamError(f"request body too large, at most {max_body} bytes")
    if isinstance(query, bytes):
        query = _decode(query, "utf-8")
    params = _parse_urlencoded(query, "utf-8") if query else {}
    params.update(_parse_body(body, content_type))
    _check_chars(params)
    return params


# -- single parameters ------------------------------------------------------------------


def require(params: Mapping[str, str], name: str, *, max_len: int = 128) -> str:
    """Return ``params[name]``; raise :class:`ParamError` when absent, blank or too long."""
    value = params.get(name)
    if value is None or not value.strip():
        raise ParamError(f"missing parameter: {name}")
    if len(value) > max_len:
        raise ParamError(f"parameter {name} is too long, at most {max_len} characters")
    return value


_MOBILE = re.compile(rf"(?:\+{COUNTRY_CODE}|00{COUNTRY_CODE}|{COUNTRY_CODE})?(1[3-9][0-9]{{9}})")
_MOBILE_SEPARATORS = re.compile("[,\uff0c]")
_MOBILE_NOISE = str.maketrans("", "", " -()")
_MAX_MOBILE_TEXT = 40


def clean_mobile(raw: str) -> str:
    """Undo what people type around a number: full-width characters become ASCII
    (NFKC), and spaces, hyphens and parentheses go (``+86 138-0013-8000``)."""
    if raw.isascii() and raw.isdigit():  # nearly every number: nothing to undo
        return raw
    return unicodedata.normalize("NFKC", raw).translate(_MOBILE_NOISE)


def plausible_mobile(text: str) -> str | None:
    """The 11 digits of a mainland mobile number (``1[3-9]`` and 9 more digits, with an
    optional ``+86``/``86``/``0086`` prefix), or ``None``. Syntax only: the numbering
    plan check belongs to ``duanxin.domain.numbers.normalise_mobile``."""
    match = _MOBILE.fullmatch(text)
    return match.group(1) if match else None


def parse_mobiles(
    raw: str | None,
    *,
    limit: int = MAX_NUMBERS,
    normalise: Callable[[str], str | None] = plausible_mobile,
) -> list[MobileEntry]:
    """Split a comma-separated ``mobile`` parameter into entries, in request order.

    Half- and full-width commas separate entries; blank entries are skipped. Each entry
    is passed through :func:`clean_mobile`, then ``normalise`` (the platform passes
    ``duanxin.domain.numbers.normalise_mobile``; the default checks syntax only). An
    entry whose normalised number (or, when invalid, whose text) was already seen is
    dropped. Invalid entries are kept with ``normalised=None`` (per-number result 1).
    Raises :class:`ParamError` when no entry remains and :class:`TooManyNumbers` as soon
    as more than ``limit`` distinct entries are seen.
    """

    def normalise_typed(text: str) -> str | None:
        return normalise(clean_mobile(text)) if len(text) <= _MAX_MOBILE_TEXT else None

    try:
        entries = distinct_mobiles(
            _MOBILE_SEPARATORS.split(raw or ""), limit=limit, normalise=normalise_typed
        )
    except TooManyDistinct as error:
        raise TooManyNumbers(str(error)) from None
    if not entries:
        raise ParamError("missing parameter: mobile")
    return entries


def check_content(raw: str | None, *, max_chars: int = MAX_CONTENT_CHARS) -> str:
    """Return the content stripped of surrounding whitespace.

    Raises :class:`ParamError` when it is absent, blank, or longer than ``max_chars``
    characters (code points, after decoding).
    """
    text = (raw or "").strip()
    if not text:
        raise ParamError("missing parameter: content")
    if len(text) > max_chars:
        raise ParamError(f"content is too long, at most {max_chars} characters")
    return text


def check_extno(raw: str | None) -> str | None:
    """Return the extension number, ``None`` when absent or blank.

    Raises :class:`ParamError` unless it is 1 to 12 ASCII digits.
    """
    text = (raw or "").strip()
    if not text:
        return None
    if not valid_extno(text):
        raise ParamError(f"extno must be digits only, at most {MAX_EXTNO_DIGITS}")
    return text


def check_rt(raw: str | None) -> None:
    """Accept ``rt`` absent, blank or ``json`` (any case); raise :class:`ParamError` else."""
    if raw is not None and raw.strip() and raw.strip().lower() != "json":
        raise ParamError("rt must be json")


SUPPORTED_VERSIONS = frozenset({"1", "1.0", "v1"})


def check_version(raw: str | None) -> None:
    """Accept ``version`` absent, blank or one of :data:`SUPPORTED_VERSIONS`.

    Raises :class:`UnsupportedVersion` (status 4) otherwise.
    """
    if raw is not None and raw.strip() and raw.strip().lower() not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(f"unsupported version {raw.strip()[:16]!r}; this API speaks 1.0")


def check_action(raw: str | None, expected: str) -> None:
    """Accept ``action`` absent, blank or equal to ``expected`` (any case).

    Raises :class:`ParamError` otherwise.
    """
    if raw is not None and raw.strip() and raw.strip().lower() != expected:
        raise ParamError(f"action must be {expected} for this endpoint")


_INTEGER = re.compile(r"([+-]?)0*([0-9]+)(?:\.0*)?")


def clamp_size(raw: str | None, default: int, low: int, high: int) -> int:
    """Read a page size: ``default`` when absent or blank, else clamped to ``low..high``.

    Raises :class:`ParamError` when it is not an integer (``"100"``, ``" 100 "``,
    ``"100.0"`` and ``"-5"`` are integers; ``"ten"`` is not).
    """
    text = (raw or "").strip()
    if not text:
        return default
    match = _INTEGER.fullmatch(text)
    if match is None:
        raise ParamError("size must be an integer")
    sign, digits = match.groups()
    value = high + 1 if len(digits) > 18 else int(digits)
    if sign == "-":
        value = -value
    return max(low, min(high, value))


def report_size(params: Mapping[str, str]) -> int:
    """The ``size`` of a ``/smsreport`` pull: default 1000, clamped to 10..10000."""
    return clamp_size(params.get("size"), 1000, 10, 10000)


def mo_size(params: Mapping[str, str]) -> int:
    """The ``size`` (or the page's spelling ``szie``) of a ``/smsmo`` pull.

    Default 1000, clamped to 10..1000; ``size`` wins when both are given.
    """
    raw = params.get("size")
    if raw is None or not raw.strip():
        raw = params.get("szie")
    return clamp_size(raw, 1000, 10, 1000)


def parse_sendtime(
    raw: str | None,
    now: datetime,
    *,
    horizon: timedelta = timedelta(days=7),
    grace: timedelta = timedelta(minutes=1),
) -> datetime | None:
    """Read a scheduled send time ``YYYY-MM-DD HH:MM:SS``; ``None`` when absent or blank.

    The time is read in ``now``'s time zone (the platform's local time) and returned with
    ``now``'s ``tzinfo``. A time up to ``grace`` in the past is returned as is (the caller
    sends it now). Raises :class:`ParamError` when malformed, further in the past, or more
    than ``horizon`` ahead of ``now``.
    """
    text = (raw or "").strip()
    if not text:
        return None
    try:
        when = datetime.strptime(text, SEED_TIME_FORMAT).replace(tzinfo=now.tzinfo)
    except ValueError:
        raise ParamError("sendtime must be YYYY-MM-DD HH:MM:SS") from None
    if when < now - grace:
        raise ParamError("sendtime is in the past")
    if when > now + horizon:
        raise ParamError(f"sendtime is more than {horizon.days} days ahead")
    return when


_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")


def check_idempotency_key(raw: str | None) -> str | None:
    """Return the idempotency key (``Idempotency-Key`` header or ``reqid``), stripped.

    ``None`` when absent or blank; :class:`ParamError` unless it is at most 64 printable
    ASCII characters.
    """
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > MAX_IDEMPOTENCY_KEY or not _PRINTABLE_ASCII.fullmatch(text):
        raise ParamError(
            f"idempotency key must be at most {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )
    return text
