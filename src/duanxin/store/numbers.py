"""Numbers the operator routes as another carrier than their segment says (portability)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import number_overrides

__all__ = ["any_overrides", "carrier_overrides", "set_override"]


async def any_overrides(conn: AsyncConnection) -> bool:
    """Whether the table holds any number at all (while empty, sends skip it)."""
    return (await conn.execute(select(number_overrides.c.mobile).limit(1))).first() is not None


async def carrier_overrides(conn: AsyncConnection, mobiles: Sequence[str]) -> dict[str, str]:
    """The carrier each of ``mobiles`` that has an override is routed as."""
    rows = await conn.execute(
        select(number_overrides.c.mobile, number_overrides.c.carrier).where(
            number_overrides.c.mobile.in_(list(mobiles))
        )
    )
    return {str(mobile): str(carrier) for mobile, carrier in rows}


async def set_override(conn: AsyncConnection, mobile: str, carrier: str | None) -> None:
    """Route ``mobile`` as ``carrier``; None: as its segment says again."""
    await conn.execute(delete(number_overrides).where(number_overrides.c.mobile == mobile))
    if carrier is not None:
        await conn.execute(number_overrides.insert().values(mobile=mobile, carrier=carrier))
