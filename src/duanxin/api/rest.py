"""Declared REST operations: one table drives both the routes and the OpenAPI document.

An :class:`Operation` names its method and path, its handler, the pydantic models of its
JSON body and query, and the type of its answer. :func:`routes` turns operations into
Starlette routes that authenticate, validate (422 naming the field, before any side
effect), call the handler and render the answer with the declared type;
:mod:`duanxin.api.openapi` documents the same operations.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from duanxin.api.bodies import BodyTooLarge, read_body
from duanxin.api.errors import RestError, error_response, rest_error
from duanxin.api.responses import JSON_TYPE
from duanxin.service.platform import Platform

__all__ = ["Call", "Operation", "routes"]

log = logging.getLogger(__name__)
MAX_JSON_BODY = 64 * 1024
MAX_UPLOAD_BODY = 16 * 1024 * 1024  # a blacklist or word file

B = TypeVar("B", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Call(Generic[B, Q]):
    """One validated request: who (``actor``), the path parameters, body and query."""

    request: Request
    platform: Platform
    actor: str
    path: dict[str, Any]
    body: B
    query: Q
    text: str = ""  # an uploaded file's text (operations with ``upload``)


class NoBody(BaseModel):
    model_config = {"extra": "forbid"}


class NoQuery(BaseModel):
    pass


Authenticator = Callable[[Request, Platform], Awaitable[str]]


@dataclass(frozen=True)
class Operation:
    """One REST operation (method and path), as routed and as documented."""

    method: str
    path: str
    handler: Callable[[Call[Any, Any]], Awaitable[Any]]
    summary: str
    tag: str
    body: type[BaseModel] = NoBody
    query: type[BaseModel] = NoQuery
    answer: Any = dict[str, Any]
    upload: bool = False  # the body is a UTF-8 text file, not JSON
    errors: tuple[int, ...] = ()  # besides 401 and 422, documented
    description: str = ""
    _adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_adapter", TypeAdapter(self.answer))

    @property
    def has_body(self) -> bool:
        return self.body is not NoBody

    def render(self, result: Any) -> bytes:
        """``result`` as its declared answer type (checked against it), in JSON."""
        return self._adapter.dump_json(self._adapter.validate_python(result))


async def _json_body(request: Request, model: type[BaseModel]) -> BaseModel:
    raw = await read_body(request, MAX_JSON_BODY)
    if model is NoBody and not raw.strip():
        return model()
    try:
        document = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RestError(400, "body must be a JSON object") from None
    if not isinstance(document, dict):
        raise RestError(400, "body must be a JSON object")
    return model.model_validate_json(raw or b"{}")


async def _text_body(request: Request) -> str:
    raw = await read_body(request, MAX_UPLOAD_BODY)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RestError(400, "file must be UTF-8 text") from None


def _query(request: Request, model: type[BaseModel]) -> BaseModel:
    return model.model_validate(dict(request.query_params))


def _endpoint(
    operation: Operation, authenticate: Authenticator
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        platform: Platform = request.app.state.platform
        try:
            actor = await authenticate(request, platform)
            query = _query(request, operation.query)
            text = await _text_body(request) if operation.upload else ""
            body = NoBody() if operation.upload else await _json_body(request, operation.body)
            call = Call(request, platform, actor, dict(request.path_params), body, query, text)
            result = await operation.handler(call)
            return Response(operation.render(result), media_type=JSON_TYPE)
        except BodyTooLarge as error:
            return error_response(413, error.msg)
        except ClientDisconnect:
            raise
        except Exception as error:
            refusal = rest_error(error)
            if refusal is None:
                log.exception("%s %s failed", request.method, request.url.path)
                return error_response(500, "internal error")
            return refusal.response()

    return endpoint


def routes(operations: Sequence[Operation], authenticate: Authenticator) -> list[Route]:
    """One route per operation (methods of the same path share none: each is its own)."""
    return [Route(op.path, _endpoint(op, authenticate), methods=[op.method]) for op in operations]
