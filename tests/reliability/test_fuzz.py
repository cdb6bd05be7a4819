"""A schema-driven fuzzer (schemathesis) against `warroom serve`: every operation in the
OpenAPI document (webhooks and API), with valid and invalid inputs, authenticated and not.
No input may produce a 500."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from bot.sim.server import SlackSimulator
from bot.store.db import Database
from tests.conftest import ALERT_TOKEN
from tests.e2e.helpers import environment
from tests.reliability.conftest import serving


async def test_no_input_makes_a_500(db: Database, sim: SlackSimulator, tmp_path: Path) -> None:
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert schemathesis, "schemathesis is a dev dependency"
    async with serving(environment(db, sim), sim) as server:
        url = f"{server.http.base_url}/openapi.json"
        fuzzer = await asyncio.create_subprocess_exec(
            schemathesis,
            "run",
            url,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "40",
            "--generation-deterministic",
            "--header",
            f"Authorization: Bearer {ALERT_TOKEN}",
            "--report-dir",
            str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,  # its caches stay out of the checkout
        )
        out, _ = await asyncio.wait_for(fuzzer.communicate(), timeout=300)
    report = out.decode()
    assert fuzzer.returncode == 0, report[-3000:]
