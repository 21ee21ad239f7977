"""Reading a request body under a byte cap, enforced on the stream.

The declared ``Content-Length`` is checked before anything is read, and the bytes actually
received are counted chunk by chunk, so a body over the cap is refused after at most one
chunk beyond it, never after it has been read whole. A client that goes away mid-body
raises Starlette's ``ClientDisconnect``; :class:`duanxin.api.http_guard.RequestGuard`
turns it into one log line.
"""

from __future__ import annotations

from starlette.requests import Request

from duanxin.api.params import ParamError

__all__ = ["BodyTooLarge", "declared_length", "read_body"]


class BodyTooLarge(ParamError):
    """A request body over its endpoint's cap (a :class:`ParamError`: status 1 and a
    ``msg`` on the seed and customer endpoints; 413 on the operator REST)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body too large, at most {limit} bytes")
        self.limit = limit


def declared_length(value: str | None) -> int | None:
    """The ``Content-Length`` as a number, or ``None`` when absent or not a number."""
    if value is None:
        return None
    text = value.strip()
    return int(text) if text.isdigit() else None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body of ``request``; :class:`BodyTooLarge` as soon as it exceeds ``limit``."""
    declared = declared_length(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise BodyTooLarge(limit)
    return bytes(chunks)
