"""Cutting a TCP byte stream into whole length-prefixed frames.

All four protocols start each PDU with a 4-byte big-endian length that counts the whole
PDU, header included. The framer checks that length against the protocol's header size and
a size cap *before* buffering the body, so a hostile length cannot make us buffer gigabytes.
"""

from __future__ import annotations

import struct
from collections.abc import Generator

from duanxin.protocols.core.table import FrameError

__all__ = ["LengthPrefixedFramer"]

_LENGTH = struct.Struct(">I")


class LengthPrefixedFramer:
    """Accumulates bytes and hands out complete frames (length prefix included); a length
    out of bounds is a :class:`FrameError` with ``status``."""

    __slots__ = ("_buffer", "_max_length", "_min_length", "_status")

    def __init__(self, *, min_length: int, max_length: int, status: int | None = None) -> None:
        self._min_length = min_length
        self._max_length = max_length
        self._status = status
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    def frames(self) -> Generator[bytes, None, None]:
        """Yield every complete frame buffered so far; keep the rest for later."""
        buffer = self._buffer
        offset = 0
        try:
            while len(buffer) - offset >= _LENGTH.size:
                (length,) = _LENGTH.unpack_from(buffer, offset)
                if length < self._min_length or length > self._max_length:
                    raise FrameError(
                        f"frame length {length} outside {self._min_length}..{self._max_length}",
                        status=self._status,
                    )
                if len(buffer) - offset < length:
                    break
                frame = bytes(buffer[offset : offset + length])
                offset += length  # counted before the yield: a caller may stop iterating
                yield frame
        finally:
            del buffer[:offset]
