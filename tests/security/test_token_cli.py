"""`warroom token create|list|revoke` as a real process: the token is printed once, only its
hash is stored, `list` never shows it, a revoked token stops working."""

from __future__ import annotations

import httpx
import pytest

from bot.app import Warroom
from bot.services.tokens import digest
from bot.sim.server import SlackSimulator
from bot.store.tables import ApiToken
from tests.e2e.helpers import environment, rows, run_warroom


@pytest.mark.processes
async def test_tokens_from_the_command_line(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    env = environment(warroom.db, sim)
    code, out, err = await run_warroom(
        env, "token", "create", "grafana", "--scope", "admin", "--expires", "90d"
    )
    assert code == 0, err
    token = out.strip()
    assert token.startswith("wr_") and len(token) == 46
    (row,) = await rows(warroom, ApiToken)
    assert (row.name, row.scope, row.token_hash) == ("grafana", "admin", digest(token))
    assert row.expires_at is not None

    code, listed, _ = await run_warroom(env, "token", "list")
    assert code == 0 and "grafana" in listed and "admin" in listed and token not in listed
    assert token[:8] in listed and "expires" in listed

    assert (await http.get("/api/incidents", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert (await run_warroom(env, "token", "revoke", "grafana"))[0] == 0
    warroom.tokens._cache.clear()  # this process's 10-second memory; a new process has none
    assert (await http.get("/api/incidents", headers={"Authorization": f"Bearer {token}"})).status_code == 401

    code, _, err = await run_warroom(env, "token", "create", "Bad Name!")
    assert code == 1 and "is not a token name" in err
    code, _, err = await run_warroom(env, "token", "create", "x", "--scope", "root")
    assert code == 1 and "scope must be one of read, write, admin" in err
    code, _, err = await run_warroom(env, "token", "revoke", "nobody")
    assert code == 1 and "there is no token named 'nobody'" in err
