"""Field helpers shared by the codecs: fixed-length octet strings and C-octet strings."""

from __future__ import annotations

from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["decode_c_string", "decode_fixed", "encode_c_string", "encode_fixed"]


def encode_fixed(value: str | bytes, size: int, *, name: str = "field") -> bytes:
    """Left-align ``value`` in ``size`` bytes, padding with NULs; refuse over-long values."""
    try:
        raw = value.encode("ascii") if isinstance(value, str) else value
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{name} must be ASCII") from None
    if len(raw) > size:
        raise LocalProtocolError(f"{name} is {len(raw)} bytes, at most {size} allowed")
    return raw.ljust(size, b"\x00")


def decode_fixed(raw: bytes | memoryview) -> str:
    """Read a fixed text field: cut at the first NUL, strip trailing spaces."""
    data = bytes(raw)
    cut = data.find(b"\x00")
    if cut >= 0:
        data = data[:cut]
    return data.decode("latin-1").rstrip(" ")


def encode_c_string(value: str, max_size: int, *, name: str = "field") -> bytes:
    """Encode a NUL-terminated string whose ``max_size`` includes the NUL."""
    raw = value.encode("latin-1")
    if len(raw) + 1 > max_size:
        raise LocalProtocolError(f"{name} is {len(raw)} bytes, at most {max_size - 1} allowed")
    return raw + b"\x00"


def decode_c_string(data: bytes | memoryview, offset: int, max_size: int) -> tuple[str, int]:
    """Read a C-octet string at ``offset``; return it and the offset after its NUL."""
    view = bytes(data[offset : offset + max_size])
    end = view.find(b"\x00")
    if end < 0:
        raise RemoteProtocolError(f"C string at offset {offset} has no NUL within {max_size}")
    return view[:end].decode("latin-1"), offset + end + 1
