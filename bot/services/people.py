"""Who is who: Slack users' names, cached in the database for the documents.

A person is *seen* when the timeline first records them (as the actor, or mentioned: declare,
role, note, pin, click); the first sighting stores an empty row and enqueues a users.info
lookup in the same transaction, so the ack path never waits for Slack and a lookup is made
once per person, not once per event. `user_change` events keep the names fresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.people import Names, Person, is_user_id, mentioned, person_from_slack
from bot.jobs import JobKind, people_queue
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import PersonRecord, utcnow

PERSON = PersonRecord.__table__  # type: ignore[attr-defined]


class People:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock
        insert = sqlite.insert if db.is_sqlite else postgresql.insert
        self._insert_new = insert(PERSON).on_conflict_do_nothing(index_elements=["user_id"])
        # Ids whose row was already committed when we looked: nothing more to do for them.
        self._known: set[str] = set()

    async def seen(self, session: AsyncSession, actor: str | None, text: str = "") -> None:
        """Note the people an event names, in the caller's transaction; a new one gets a
        lookup job. Two statements per person per process, then nothing."""
        ids = mentioned(text)
        if is_user_id(actor):
            ids.add(str(actor))
        if not ids:
            return
        for user in sorted(ids - self._known):
            result = await session.execute(self._insert_new, {"user_id": user})
            if result.rowcount:  # type: ignore[attr-defined]
                await jobs.enqueue(
                    session, JobKind.SLACK_LOOKUP_USER, {"user": user}, queue=people_queue(user)
                )
            else:
                self._known.add(user)  # someone else's committed row

    async def record(self, user: Mapping[str, object]) -> Person:
        """Store what Slack says about a user (users.info, or a user_change event)."""
        person = person_from_slack(user)
        values = {
            "handle": (person.handle or "")[:120] or None,
            "real_name": (person.real_name or "")[:200] or None,
            "deleted": person.deleted,
            "refreshed_at": self.clock(),
        }
        async with self.db.transaction() as session:  # only people warroom has seen are kept
            await session.execute(
                sa.update(PERSON).where(PERSON.c.user_id == person.user_id).values(**values)
            )
        return person

    async def unknown(self, user: str) -> None:
        """users.info says there is no such user: stop asking; the id stays its own name."""
        async with self.db.transaction() as session:
            await session.execute(
                sa.update(PERSON).where(PERSON.c.user_id == user).values(refreshed_at=self.clock())
            )

    async def names(self, users: Iterable[str | None], session: AsyncSession | None = None) -> Names:
        """How documents name these users (the id where no name is known)."""
        wanted = sorted({u for u in users if u and is_user_id(u)})
        if not wanted:
            return Names()
        if session is None:
            async with self.db.sessions() as own:
                return await self.names(wanted, own)
        rows = await session.scalars(sa.select(PersonRecord).where(col(PersonRecord.user_id).in_(wanted)))
        return Names(Person(r.user_id, r.handle, r.real_name, r.deleted) for r in rows if r.refreshed_at)
