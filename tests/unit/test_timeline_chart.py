"""The post-mortem's timeline picture: what it shows (pure), and that it draws for any
incident, however short, open or odd."""

from __future__ import annotations

import struct
import warnings
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.documents.postmortem import Entry
from bot.documents.timeline_chart import chart_data, timeline_png
from tests.unit.test_postmortem import IncidentRow, at, realistic


def size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_the_picture_shows_phases_milestones_alerts_and_notes() -> None:
    data = realistic()
    picture = chart_data(data.incident, data.incident.title, data.alerts, data.timeline, data.generated_at)
    assert [(p.label, p.start, p.end) for p in picture.phases] == [
        ("before declare", at(0), at(6)),
        ("identified", at(6), at(41)),  # the change at 41 min said it was "identified" until then
        ("monitoring", at(41), at(95)),
        ("resolved", at(95), picture.end),
    ]
    assert [label for label, _ in picture.milestones] == [
        "detected",
        "declared",
        "acknowledged",
        "mitigated",
        "resolved",
    ]
    assert [a.label for a in picture.alerts] == [a.title for a in data.alerts]
    assert [p.kind for p in picture.points] == ["pinned", "note"]
    assert picture.end == at(95) + (at(95) - at(0)) / 4  # a long wait for closing is cut short
    width, height = size(timeline_png(picture, ZoneInfo("Europe/Berlin")))
    assert width == 1100 and 300 < height < 600


def test_it_draws_for_an_open_incident_of_one_second_without_alerts() -> None:
    incident = IncidentRow(
        started_at=at(0),
        detected_at=at(0),
        declared_at=at(0),
        acknowledged_at=None,
        mitigated_at=None,
        resolved_at=None,
        closed_at=None,
        status="investigating",
    )
    data = replace(realistic(incident), alerts=[], timeline=[Entry(at(0), "U0ALICE", "note", "x")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no layout warnings either
        picture = chart_data(incident, "t", [], data.timeline, at(0) + timedelta(seconds=1))
        assert size(timeline_png(picture, ZoneInfo("UTC")))[0] == 1100
