"""Run the platform in its own process, for the durability tests (SIGTERM, SIGKILL).

    python tests/e2e/platform_process.py --db PATH --port N [--role all|api|worker]
        [--grace SECONDS]

The database must already hold the accounts and channels (the test provisions it). Prints
``ready`` on stdout once the HTTP API answers, then runs until SIGTERM or SIGINT (drained,
exit status 0) or until killed.
"""

from __future__ import annotations

import argparse
import asyncio

from duanxin.config import Settings
from duanxin.runtime import running_platform, stop_signals


async def main(database: str, port: int, role: str, grace: float) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        host="127.0.0.1",
        port=port,
        role=role,  # type: ignore[arg-type]
        sweep_interval_seconds=0.2,
        shutdown_grace_seconds=grace,
    )
    with stop_signals() as stop:
        async with running_platform(settings):
            print("ready", flush=True)
            await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--role", default="all", choices=["all", "api", "worker"])
    parser.add_argument("--grace", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.port, args.role, args.grace))
