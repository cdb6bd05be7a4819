"""API tokens (`warroom token create|list|revoke`): random, shown once, kept as SHA-256.

A token is `wr_` and 43 characters of randomness (256 bits), so a plain hash is enough: there
is nothing to guess that a slow hash would protect. Scopes: `read` sees public incidents,
`write` also declares, notes, changes status and resolves, `admin` sees private ones too.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.domain.incident import DomainError
from bot.store.db import Database
from bot.store.tables import ApiToken, utcnow

PREFIX = "wr_"
SCOPES = ("read", "write", "admin")
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,27}")
CACHE_SECONDS = 10.0  # a revoked token stops working within this long on every replica


@dataclass(frozen=True)
class Principal:
    """Who an API request is: a token's name and scope, or the public (api.public_read)."""

    name: str
    scope: str

    @property
    def actor(self) -> str:
        """How its changes are recorded on the timeline."""
        return f"api:{self.name}"

    @property
    def can_write(self) -> bool:
        return self.scope in ("write", "admin")

    @property
    def sees_private(self) -> bool:
        return self.scope == "admin"


PUBLIC = Principal("public", "read")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class TokenService:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock
        self._cache: dict[str, tuple[float, Principal | None, datetime | None]] = {}

    async def create(self, name: str, scope: str, expires_after: timedelta | None = None) -> str:
        """A new token, returned once: only its hash is stored."""
        if not NAME.fullmatch(name):
            raise DomainError(
                f"{name[:40]!r} is not a token name: 1 to 28 of a-z, 0-9, '.', '_' and '-', "
                "starting with a letter or digit"
            )
        if scope not in SCOPES:
            raise DomainError(f"scope must be one of {', '.join(SCOPES)}")
        token = PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        row = ApiToken(
            name=name,
            scope=scope,
            token_hash=digest(token),
            hint=token[:8],
            created_at=now,
            expires_at=now + expires_after if expires_after else None,
        )
        try:
            async with self.db.transaction() as session:
                session.add(row)
        except IntegrityError:
            raise DomainError(
                f"a token named {name!r} exists; revoke it first or pick another name"
            ) from None
        return token

    async def list(self) -> list[ApiToken]:
        async with self.db.sessions() as session:
            return list(await session.scalars(sa.select(ApiToken).order_by(col(ApiToken.name))))

    async def revoke(self, name: str) -> None:
        async with self.db.transaction() as session:
            row = (
                await session.execute(sa.select(ApiToken).where(col(ApiToken.name) == name))
            ).scalar_one_or_none()
            if row is None:
                raise DomainError(f"there is no token named {name!r}")
            if row.revoked_at is None:
                row.revoked_at = self.clock()
        self._cache.clear()

    async def authenticate(self, token: str) -> Principal | None:
        """The token's principal, or None: unknown, revoked or expired."""
        if not token.startswith(PREFIX) or len(token) > 100:
            return None
        key = digest(token)
        cached = self._cache.get(key)
        if cached is None or time.monotonic() - cached[0] > CACHE_SECONDS:
            cached = (time.monotonic(), *await self._look_up(key))
            if len(self._cache) > 10_000:  # only guesses fill it this far
                self._cache.clear()
            self._cache[key] = cached
        _, principal, expires_at = cached
        if principal is None or (expires_at is not None and expires_at <= self.clock()):
            return None
        return principal

    async def _look_up(self, key: str) -> tuple[Principal | None, datetime | None]:
        async with self.db.sessions() as session:
            row = (
                await session.execute(sa.select(ApiToken).where(col(ApiToken.token_hash) == key))
            ).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            return None, None
        return Principal(row.name, row.scope), row.expires_at
