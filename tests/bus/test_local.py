"""The embedded mode's local hand-off (bus/local.py) over a real Unix socket."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from duanxin.bus import BusError, MemoryBus
from duanxin.bus.local import (
    MAX_SOCKET_PATH,
    DeliveryLock,
    DeliveryLockHeld,
    LocalBus,
    LocalListener,
    local_paths,
)
from tests.conftest import wait_until


@pytest.fixture
def socket_path() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="dx-") as tmp:  # short: a socket path's limit
        yield os.path.join(tmp, "d.sock")


async def _consume(bus: MemoryBus, block: float = 5.0) -> list[dict[str, object]]:
    deliveries = await bus.consume("submit", "delivery", "w", count=10, block=block)
    return [d.payload for d in deliveries]


async def test_a_publish_reaches_the_delivery_side_bus_in_order(socket_path: str) -> None:
    inner = MemoryBus()
    listener = LocalListener(inner, socket_path, lambda: {"cmpp-1": {"up": True}})
    await listener.start()
    seen: list[dict[str, object]] = []
    bus = LocalBus(socket_path, on_channels=seen.append)
    try:
        await bus.ping()
        await bus.publish("submit", [{"mids": ["A1", "A2"]}, {"mids": ["B1"]}])
        assert await _consume(inner) == [{"mids": ["A1", "A2"]}, {"mids": ["B1"]}]
        await wait_until(lambda: _true(seen), 5)
        assert seen[0] == {"cmpp-1": {"up": True}}  # the channels, as the delivery side sees
        assert os.stat(socket_path).st_mode & 0o777 == 0o600
        # Nothing is consumed on the API side.
        assert await bus.consume("submit", "delivery", "w", count=1, block=0) == []
    finally:
        await bus.close()
        await listener.stop()
    assert not os.path.exists(socket_path)


async def _true(items: list[dict[str, object]]) -> bool:
    return bool(items)


async def test_without_a_listener_a_publish_is_dropped_quietly_and_ping_fails(
    socket_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    channels: list[dict[str, object]] = []
    bus = LocalBus(socket_path, on_channels=channels.append)
    caplog.set_level(logging.WARNING, "duanxin.bus.local")
    try:
        await bus.publish("submit", [{"mids": ["A1"]}])  # the row in the store is the record
        await bus.publish("submit", [{"mids": ["A2"]}])
        with pytest.raises(BusError, match="no delivery process answers"):
            await bus.ping()
        assert len([r for r in caplog.records if "no delivery process" in r.message]) == 1
        # A delivery process that starts later is found by the next publish.
        inner = MemoryBus()
        listener = LocalListener(inner, socket_path)
        await listener.start()
        try:
            await bus.publish("submit", [{"mids": ["A3"]}])
            assert await _consume(inner) == [{"mids": ["A3"]}]
            assert any("answers on" in r.message and "again" in r.message for r in caplog.records)
            await listener.stop()  # it goes away again: its channels are forgotten

            async def forgotten() -> bool:
                return bool(channels) and channels[-1] == {}

            await wait_until(forgotten, 5)
        finally:
            await listener.stop()
    finally:
        await bus.close()


async def test_a_line_that_is_not_a_publish_is_dropped_and_the_connection_kept(
    socket_path: str,
) -> None:
    inner = MemoryBus()
    listener = LocalListener(inner, socket_path)
    await listener.start()
    try:
        _reader, writer = await asyncio.open_unix_connection(socket_path)
        for line in (b"not json\n", b'{"stream": 1, "payloads": []}\n', b'{"v": 1}\n', b"[]\n"):
            writer.write(line)
        writer.write(b'{"stream": "submit", "payloads": [{"v": 9}]}\n')  # a reserved field
        writer.write(b'{"stream": "submit", "payloads": [{"mids": ["A1"]}]}\n')
        await writer.drain()
        assert await _consume(inner) == [{"mids": ["A1"]}]
        writer.close()
    finally:
        await listener.stop()


def test_one_delivery_process_per_database(tmp_path: Path) -> None:
    paths = local_paths(str(tmp_path / "duanxin.db"))
    assert paths.lock == str(tmp_path / "duanxin.db.delivery.lock")
    first, second = DeliveryLock(paths.lock), DeliveryLock(paths.lock)
    first.take()
    with pytest.raises(DeliveryLockHeld, match="another process runs delivery"):
        second.take()
    first.release()
    second.take()  # free again once the holder lets go (or dies)
    second.release()


def test_a_socket_path_too_long_for_a_unix_socket_moves_to_the_temporary_directory() -> None:
    deep = "/" + "/".join(["d" * 30] * 4) + "/duanxin.db"
    paths = local_paths(deep)
    assert len(paths.socket.encode()) <= MAX_SOCKET_PATH
    assert paths.socket.startswith(tempfile.gettempdir())
    assert paths.socket == local_paths(deep).socket  # the same database, the same socket
    assert paths.lock == deep + ".delivery.lock"  # the lock stays next to the database
    assert local_paths(deep, "/run/dx.sock").socket == "/run/dx.sock"


async def test_a_delivery_process_that_does_not_read_never_holds_a_send_up(
    socket_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    stalled = asyncio.Event()

    async def never_reads(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stalled.wait()  # a delivery process stopped (SIGSTOP), or stuck
        writer.close()

    server = await asyncio.start_unix_server(never_reads, socket_path)
    bus = LocalBus(socket_path)
    caplog.set_level(logging.WARNING, "duanxin.bus.local")
    try:
        mids = [f"{i:016X}" for i in range(50)]
        for _ in range(16_000):  # about 16 MB of nudges: more than is ever buffered
            await asyncio.wait_for(bus.publish("submit", [{"mids": mids}]), 1)
        assert len([r for r in caplog.records if "not reading" in r.message]) == 1
    finally:
        stalled.set()
        await bus.close()
        server.close()
        await server.wait_closed()
