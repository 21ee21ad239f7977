"""Run the platform in its own process, for the durability tests (killed with SIGKILL).

    python tests/e2e/platform_process.py --db PATH --port N [--role all|api|worker]

The database must already hold the accounts and channels (the test provisions it). Prints
``ready`` on stdout once the HTTP API answers, then runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from duanxin.config import Settings
from duanxin.runtime import running_platform


async def main(database: str, port: int, role: str) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        host="127.0.0.1",
        port=port,
        role=role,  # type: ignore[arg-type]
        sweep_interval_seconds=0.2,
    )
    async with running_platform(settings):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--role", default="all", choices=["all", "api", "worker"])
    args = parser.parse_args()
    try:
        asyncio.run(main(args.db, args.port, args.role))
    except KeyboardInterrupt:
        sys.exit(0)
