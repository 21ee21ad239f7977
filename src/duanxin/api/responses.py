"""JSON responses of every endpoint."""

from __future__ import annotations

from starlette.responses import Response

from duanxin.domain.wire import json_bytes

__all__ = ["JSON_TYPE", "json_response"]

JSON_TYPE = "application/json; charset=utf-8"


def json_response(document: object, status_code: int = 200) -> Response:
    """``document`` (or bytes already encoded, such as a stored idempotent answer) as JSON."""
    body = document if isinstance(document, bytes) else json_bytes(document)
    return Response(body, status_code=status_code, media_type=JSON_TYPE)
