"""The alert path's SQL, built once: Core statements run with parameter dicts (no ORM unit of
work on the hot path), and the row shapes they return."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.domain.alerts import (
    AlertStatus,
)
from bot.domain.incident import ACTIVE
from bot.store.tables import AlertRecord, Incident, IncidentGroup, UTCDateTime

FIRING = AlertStatus.FIRING.value  # as the alert table stores it

ALERT = AlertRecord.__table__  # type: ignore[attr-defined]

INSERT_ALERT = sa.insert(ALERT)

UPDATE_ALERT = (
    sa.update(ALERT)
    .where(ALERT.c.id == sa.bindparam("alert_id"))
    .values(
        status=sa.bindparam("new_status"),
        ends_at=sa.bindparam("new_ends_at"),
        last_seen_at=sa.bindparam("seen"),
        incident_number=sa.bindparam("incident"),
    )
)

INCIDENT = Incident.__table__  # type: ignore[attr-defined]

TOUCH_INCIDENT = (
    sa.update(INCIDENT)
    .where(INCIDENT.c.number == sa.bindparam("n"))
    .values(
        started_at=sa.case(
            (
                INCIDENT.c.started_at > sa.bindparam("earliest", type_=UTCDateTime()),
                sa.bindparam("earliest", type_=UTCDateTime()),
            ),
            else_=INCIDENT.c.started_at,
        ),
        detected_at=sa.case(
            (
                INCIDENT.c.detected_at > sa.bindparam("earliest", type_=UTCDateTime()),
                sa.bindparam("earliest", type_=UTCDateTime()),
            ),
            else_=INCIDENT.c.detected_at,
        ),
        last_alert_at=sa.bindparam("now", type_=UTCDateTime()),
    )
    .returning(INCIDENT.c.status, INCIDENT.c.alerts_cleared_at, INCIDENT.c.alerts_message_due_at)
)

SET_ALERTS_MESSAGE_DUE = (
    sa.update(INCIDENT)
    .where(INCIDENT.c.number == sa.bindparam("n"))
    .values(alerts_message_due_at=sa.bindparam("due", type_=UTCDateTime()))
)

SET_CLEARED = (
    sa.update(INCIDENT)
    .where(INCIDENT.c.number == sa.bindparam("n"))
    .values(alerts_cleared_at=sa.bindparam("cleared", type_=UTCDateTime()))
)

# Whether, not how many: one index probe however many alerts the incident has.
ANY_FIRING = sa.select(
    sa.exists().where(ALERT.c.incident_number == sa.bindparam("n"), ALERT.c.status == FIRING)
)

LOCK_KEYS = sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k").bindparams(
    sa.bindparam("keys", type_=postgresql.ARRAY(sa.BigInteger()))
)

GROUP = IncidentGroup.__table__  # type: ignore[attr-defined]

OPEN_CANDIDATES = (
    sa.select(
        INCIDENT.c.number,
        INCIDENT.c.service,
        INCIDENT.c.last_alert_at,
        INCIDENT.c.declared_at,
        GROUP.c.group_key,
    )
    .select_from(INCIDENT.outerjoin(GROUP, GROUP.c.incident_number == INCIDENT.c.number))
    .where(
        INCIDENT.c.status.in_(sorted(ACTIVE)),
        sa.or_(
            INCIDENT.c.service.in_(sa.bindparam("services", expanding=True)),
            INCIDENT.c.number.in_(
                sa.select(GROUP.c.incident_number).where(
                    GROUP.c.group_key.in_(sa.bindparam("keys", expanding=True))
                )
            ),
        ),
    )
)

INSERT_GROUP = sa.insert(GROUP)

KNOWN_ALERTS = (
    sa.select(ALERT.c.id, ALERT.c.fingerprint, ALERT.c.status, ALERT.c.incident_number, INCIDENT.c.status)
    .select_from(ALERT.outerjoin(INCIDENT, INCIDENT.c.number == ALERT.c.incident_number))
    .where(
        ALERT.c.source == sa.bindparam("source"),
        ALERT.c.fingerprint.in_(sa.bindparam("fingerprints", expanding=True)),
    )
)


class Known(NamedTuple):
    id: int
    status: str
    incident_number: int | None
    incident_closed: bool
