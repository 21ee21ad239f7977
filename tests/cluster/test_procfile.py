"""The Procfile starts a working local cluster under honcho: 2 API processes, 2 workers and
the simulators (in their own process); a send through it is delivered and reported."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.demo import CarrierEndpoint, demo_credentials, provision
from duanxin.service.platform import Platform
from duanxin.store.engine import migrate
from tests.cluster.cluster import HOST, SRC, drop_keys, listen_port
from tests.conftest import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]
PROCFILE = SRC.parent / "Procfile"
BIN = Path(sys.executable).parent


async def test_the_procfile_runs_a_cluster(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    honcho = shutil.which("honcho", path=str(BIN)) or shutil.which("honcho")
    if honcho is None:
        pytest.skip("honcho is not installed (pip install honcho)")
    sim_port, sp_port, api_port = listen_port(4), listen_port(), listen_port()
    await asyncio.to_thread(migrate, postgres_url)
    endpoints = {
        protocol: CarrierEndpoint(
            HOST, sim_port + index, *demo_credentials(protocol), sp_port if index == 1 else None
        )
        for index, protocol in enumerate(("cmpp", "sgip", "smgp"))
    }
    setup = Platform.open(Settings(database_url=postgres_url))
    try:
        key, account, password = await provision(setup, endpoints)
    finally:
        await setup.close()
    prefix = f"duanxin-test:{uuid.uuid4().hex[:12]}:{tmp_path.name}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUANXIN_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(SRC),
        DUANXIN_DATABASE_URL=postgres_url,
        DUANXIN_BUS_URL=redis_url,
        DUANXIN_REDIS_PREFIX=prefix,
        DUANXIN_HOST=HOST,
        DUANXIN_PORT=str(api_port),
        SIM_PORT=str(sim_port),
        SGIP_SP_PORT=str(sp_port),
        DUANXIN_ENCRYPTION_KEY=os.environ["DUANXIN_ENCRYPTION_KEY"],
        DUANXIN_ACCESS_CMPP_PORT="0",  # no customer access servers (fixed ports)
        DUANXIN_ACCESS_SMPP_PORT="0",
    )
    log = tmp_path / "honcho.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            honcho, "-f", str(PROCFILE), "start", env=env, stdout=output, stderr=output,
            cwd=str(tmp_path),
        )  # fmt: skip
    base = f"http://{HOST}:{api_port}"
    try:

        async def ready() -> bool:
            assert process.returncode is None, log.read_text()
            try:
                async with httpx.AsyncClient() as http:
                    answer = await http.get(f"{base}/readyz")
            except httpx.TransportError:
                return False
            return answer.status_code == 200

        await wait_until(ready, 60)
        async with AsyncClient(base, key.secret_id, key.secret_key, account, password) as client:
            sent = await client.send(["13800138000", "18600000000", "18900000000"], "验证码 8848")
            assert sent.ok, sent
            mids = {item.mid for item in sent.items}
            seen: set[str] = set()

            async def reported() -> bool:
                seen.update(r.mid for r in await client.reports())
                return seen >= mids

            await wait_until(reported, 60)

        async def all_serving() -> bool:  # 2 API processes + 2 workers
            return log.read_text().count("duanxin serving on") == 4

        await wait_until(all_serving, 30)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)  # honcho stops every process
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
        await drop_keys(redis_url, prefix)
