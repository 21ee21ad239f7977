"""Numbers the operator routes as another carrier than their segment says (portability)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store import prepared
from duanxin.store.tables import number_overrides

__all__ = ["any_overrides", "carrier_overrides", "set_override"]


async def any_overrides(conn: AsyncConnection) -> bool:
    """Whether the table holds any number at all (while empty, sends skip it)."""
    return (await conn.execute(select(number_overrides.c.mobile).limit(1))).first() is not None


_OVERRIDES = prepared.Sql("SELECT mobile, carrier FROM number_overrides WHERE mobile = ANY($1)")


async def carrier_overrides(
    conn: AsyncConnection | prepared.KeptReader, mobiles: Sequence[str]
) -> dict[str, str]:
    """The carrier each of ``mobiles`` that has an override is routed as (through the
    driver: every send runs it once the table has rows)."""
    found: dict[str, str] = {}
    values = list(mobiles)
    for start in range(0, len(values), prepared.MAX_LIST):
        rows = await prepared.fetch(conn, _OVERRIDES, values[start : start + prepared.MAX_LIST])
        found.update((str(mobile), str(carrier)) for mobile, carrier in rows)
    return found


async def set_override(conn: AsyncConnection, mobile: str, carrier: str | None) -> None:
    """Route ``mobile`` as ``carrier``; None: as its segment says again."""
    await conn.execute(delete(number_overrides).where(number_overrides.c.mobile == mobile))
    if carrier is not None:
        await conn.execute(number_overrides.insert().values(mobile=mobile, carrier=carrier))
