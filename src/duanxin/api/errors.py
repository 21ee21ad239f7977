"""The one error shape of the REST endpoints (``/admin`` and ``/customer``), and how
refusals of the service layer and of request validation map onto it.

Every refusal is a JSON object ``{"status": N, "msg": "...", "field": "..."}``
(``field`` only when one field is at fault). On ``/admin`` ``N`` is the HTTP status code
of the answer (400 body not JSON, 401 no token, 404 unknown name or action, 409 name
taken or state conflicting, 413 body too large, 422 a field refused); on ``/customer``
the answer is HTTP 200 and ``N`` is the platform's status code, as on the four published
endpoints (:class:`duanxin.domain.status.Status`).
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from duanxin.api.responses import json_response
from duanxin.service.errors import Conflict, Invalid, NotFound

__all__ = ["ErrorBody", "RestError", "error_response", "rest_error"]


class ErrorBody(BaseModel):
    """A refusal: ``status`` (HTTP status on /admin, platform status on /customer),
    ``msg`` in words, ``field`` at fault when there is one."""

    status: int
    msg: str
    field: str | None = None


class RestError(Exception):
    """A refusal to answer with :func:`error_response`."""

    def __init__(self, status: int, msg: str, field: str | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.field = field

    def response(self, http_status: int | None = None) -> Response:
        return error_response(self.status, self.msg, self.field, http_status)


def error_response(
    status: int, msg: str, field: str | None = None, http_status: int | None = None
) -> Response:
    """The error shape, answered with ``http_status`` (default: ``status`` itself)."""
    body: dict[str, object] = {"status": status, "msg": msg}
    if field:
        body["field"] = field
    return json_response(body, status if http_status is None else http_status)


def _validation(error: ValidationError) -> RestError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    message = first["msg"].removeprefix("Value error, ")
    return RestError(422, f"{field}: {message}" if field else message, field)


def rest_error(error: Exception) -> RestError | None:
    """The REST refusal for an exception the service layer or validation raised, or None
    for an unexpected one (a bug: logged and answered 500 by the caller)."""
    if isinstance(error, RestError):
        return error
    if isinstance(error, ValidationError):
        return _validation(error)
    if isinstance(error, NotFound):
        return RestError(404, error.message)
    if isinstance(error, Conflict):
        return RestError(409, error.message)
    if isinstance(error, Invalid):
        return RestError(422, error.message, error.field)
    if isinstance(error, LookupError):
        return RestError(404, str(error).strip("'\""))
    if isinstance(error, ValueError | TypeError):
        return RestError(422, str(error))
    return None
