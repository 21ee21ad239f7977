"""Logging: the level and format settings, the request id, and the access log.

``configure_logging`` applies ``log_level`` and ``log_format`` (``text`` lines, or one
JSON object per line). :class:`AccessLog` (ASGI middleware) gives every HTTP request an id
(a caller's ``X-Request-Id`` when it is short and plain, else a new one), carries it into
every log record written while the request is handled (``request_id``), and writes one
line per request to the ``duanxin.access`` logger: method, path (never the query string,
which may carry a password), status, duration and the account the request named once it
was authenticated. Secrets are never part of a record.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duanxin.config import Settings

__all__ = [
    "ACCESS_LOGGER",
    "AccessLog",
    "JsonFormatter",
    "RequestContext",
    "configure_logging",
    "current_request",
    "note_account",
]

ACCESS_LOGGER = "duanxin.access"
REQUEST_ID_HEADER = b"x-request-id"
_PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


@dataclass(slots=True)
class RequestContext:
    """The request being handled: its id, and the account once it is known."""

    request_id: str
    account: str = ""


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "duanxin_request", default=None
)


def current_request() -> RequestContext | None:
    return _current.get()


def note_account(account: str) -> None:
    """Record the authenticated account of the request being handled (for its log line)."""
    context = _current.get()
    if context is not None:
        context.account = account


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        record.request_id = context.request_id if context else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Send records at ``settings.log_level`` or above to stderr (or ``stream``)."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(_RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_duanxin", False):
            root.removeHandler(old)
    handler._duanxin = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    logging.getLogger(ACCESS_LOGGER).disabled = not settings.access_log
    return handler


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if _PLAIN_ID.fullmatch(text):
                return str(text)
    return os.urandom(8).hex()  # as random as uuid4, without building a UUID per request


class AccessLog:
    """ASGI middleware: the request id, and one access log line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(_request_id(scope))
        token = _current.set(context)
        started = time.perf_counter()
        status = 0

        async def send_noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            self.log.info(
                "%s %s %s %.1fms %s",
                scope.get("method", ""),
                scope.get("path", ""),
                status or "-",
                duration_ms,
                context.account or "-",
                extra={
                    "method": scope.get("method", ""),
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": duration_ms,
                    "account": context.account or None,
                },
            )
            _current.reset(token)
