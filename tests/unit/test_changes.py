"""The change rules (bot/domain/changes.py) and the change parsers (bot/ingest/changes.py):
pure, no fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import WarroomConfig
from bot.domain.changes import (
    Change,
    FreezeWindow,
    OpenIncident,
    before,
    during,
    fold,
    freeze,
    frozen_by,
    lead,
    lead_words,
    previous_version,
    since_last,
    template_values,
)
from bot.ingest import PayloadError
from bot.ingest.changes import from_github, parse

START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def change(id: str, minutes_before: float, status: str = "succeeded", **fields: object) -> Change:
    at = START - timedelta(minutes=minutes_before)
    values: dict[str, object] = {
        "service": "checkout",
        "environment": "production",
        "kind": "deploy",
        "summary": f"checkout {id}",
        "started_at": at - timedelta(minutes=5),
        "finished_at": at if status != "started" else None,
    }
    values.update(fields)
    return Change(id=id, status=status, **values)  # type: ignore[arg-type]


def test_a_later_status_updates_a_change_and_keeps_what_the_earlier_one_said() -> None:
    started = change("d1", 10, "started", version="v2.14.0", author="alice")
    finished = change("d1", 10, "succeeded", version=None)
    [folded] = fold([finished, started])  # the order they arrive in does not matter
    assert folded.status == "succeeded"
    assert folded.version == "v2.14.0" and folded.author == "alice"
    assert folded.finished_at == START - timedelta(minutes=10)
    rolled = fold([started, finished, change("d1", 10, "rolled_back")])
    assert [c.status for c in rolled] == ["rolled_back"]


def test_suspects_are_the_changes_of_the_lookback_newest_first() -> None:
    changes = fold([change("old", 180), change("a", 90), change("b", 5), change("after", -10)])
    assert [c.id for c in before(changes, START, timedelta(hours=2))] == ["b", "a"]
    in_flight = change("in-flight", -5, started_at=START - timedelta(minutes=10))  # finished after the start
    assert [c.id for c in before([in_flight], START, timedelta(minutes=2))] == ["in-flight"]
    assert [c.id for c in during(changes, START, None)] == ["after"]
    assert during(changes, START, START + timedelta(minutes=4)) == []  # it started after the end


def test_the_lead_is_the_newest_finished_change_and_is_worded_in_minutes() -> None:
    changes = [change("a", 40), change("b", 12), change("c", 3, "started")]
    found = lead(changes, START, timedelta(hours=2))
    assert found is not None and found[0].id == "b" and found[1] == timedelta(minutes=12)
    assert lead_words(found) == "12 minutes after deploy checkout b"
    assert lead_words((changes[0], timedelta(seconds=30))) == "less than a minute after deploy checkout a"
    assert lead(changes, START, timedelta(minutes=5)) is None
    assert since_last(changes, START) == timedelta(minutes=8)  # c, running since 8 minutes before


def test_the_label_names_the_version_once() -> None:
    assert change("x", 1, version="v2.14.0", summary="checkout v2.14.0").label() == "deploy checkout v2.14.0"
    assert change("x", 1, version="v3", summary="Big release").label() == "deploy checkout v3"
    assert change("x", 1, kind="flag", summary="new-cart on").label() == "flag new-cart on"


def test_the_previous_version_is_the_last_one_that_went_out_before() -> None:
    history = [
        change("a", 300, version="v1"),
        change("b", 200, version="v2"),
        change("bad", 150, "failed", version="v2.1"),
        change("staging", 120, version="v9", environment="staging"),
    ]
    new = change("c", 5, version="v3")
    assert previous_version(new, history) == "v2"
    assert previous_version(change("first", 5, version="v1"), []) is None


def test_the_gate_holds_for_a_freezing_incident_on_the_service_or_an_active_window() -> None:
    zone = ZoneInfo("Europe/Berlin")
    sev1 = OpenIncident(7, "SEV1", "checkout", "Checkout down")
    sev3 = OpenIncident(8, "SEV3", "search", "Slow search")
    secret = OpenIncident(9, "SEV2", "payments", "Card leak", private=True)
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday, 13:00 in Berlin
    gate = freeze("checkout", [sev1, sev3], ["SEV1", "SEV2"], [], now, zone)
    assert gate.frozen and gate.incidents == (sev1,)
    assert gate.reason == "SEV1 incident #7 is open on checkout: Checkout down"
    assert not freeze("search", [sev1, sev3], ["SEV1", "SEV2"], [], now, zone).frozen  # SEV3 does not freeze
    assert freeze("*", [sev1, sev3], ["SEV1"], [], now, zone).incidents == (sev1,)
    assert (
        freeze("payments", [secret], ["SEV2"], [], now, zone).reason == "SEV2 incident #9 is open on payments"
    )
    friday = FreezeWindow(
        "friday", frozenset({"checkout"}), days=frozenset({4}), opens=time(12), closes=time(18)
    )
    assert freeze("checkout", [], ["SEV1"], [friday], now, zone).windows == ("friday",)
    assert not freeze("search", [], ["SEV1"], [friday], now, zone).frozen  # another service
    assert not freeze("checkout", [], ["SEV1"], [friday], now + timedelta(hours=6), zone).frozen
    night = FreezeWindow("night", days=frozenset({4}), opens=time(22), closes=time(6))
    saturday_early = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 04:00 Saturday in Berlin
    assert night.active(saturday_early, zone) and not night.active(now, zone)
    once = FreezeWindow("black-friday", start=now - timedelta(hours=1), end=now + timedelta(hours=1))
    assert once.active(now, zone) and not once.active(now + timedelta(hours=1), zone)


def test_the_summary_says_deploys_are_frozen_while_a_freezing_incident_is_open() -> None:
    assert (
        frozen_by("SEV1", "checkout", True, ["SEV1"])
        == "deploys to checkout are frozen while this incident is open"
    )
    assert frozen_by("SEV3", "checkout", True, ["SEV1"]) is None
    assert frozen_by("SEV1", "checkout", False, ["SEV1"]) is None
    assert frozen_by("SEV1", None, True, ["SEV1"]) is None


def test_runbook_templates_see_the_changes_and_the_last_one() -> None:
    values = template_values([change("b", 5, version="v2", previous_version="v1"), change("a", 50)])
    assert values["last_change"]["version"] == "v2"  # type: ignore[index]
    assert values["last_change"]["previous_version"] == "v1"  # type: ignore[index]
    assert str(values["changes"]) == "deploy checkout v2, deploy checkout a"
    assert template_values([]) == {"changes": [], "last_change": {}}


def test_freeze_windows_in_warroom_yaml_are_checked() -> None:
    config = WarroomConfig.model_validate(
        {"changes": {"freeze_windows": [{"name": "peak", "days": ["Fri"], "from": 960, "to": "23:59"}]}}
    )
    [window] = config.changes.windows()
    assert window.days == frozenset({4}) and window.opens == time(16)  # YAML reads 16:00 as 960
    for bad, message in [
        ({"name": "x"}, "either start and end, or days, from and to"),
        ({"name": "x", "days": ["fri"]}, "needs days, from and to"),
        ({"name": "x", "days": ["funday"], "from": "1:00", "to": "2:00"}, "'fun' is not a day"),
        ({"name": "x", "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "a later end"),
    ]:
        with pytest.raises(ValueError, match=message):
            WarroomConfig.model_validate({"changes": {"freeze_windows": [bad]}})
    with pytest.raises(ValueError, match="'SEV9' is not one of"):
        WarroomConfig.model_validate({"changes": {"freeze_on": ["SEV9"]}})


def test_the_change_json_is_checked_field_by_field() -> None:
    now = START
    body = {"id": "deploy-8812", "service": "checkout", "summary": "checkout v2.14.0", "version": "v2.14.0"}
    parsed = parse(json.dumps(body).encode(), now=now)
    assert parsed.status == "succeeded" and parsed.kind == "deploy" and parsed.environment == "production"
    assert parsed.finished_at == now and parsed.started_at == now
    for bad, field in [
        ({**body, "id": ""}, "id"),
        ({k: v for k, v in body.items() if k != "service"}, "service"),
        ({**body, "kind": "yolo"}, "kind"),
        ({**body, "status": "done"}, "status"),
        ({**body, "url": "javascript:alert(1)"}, "url"),
        ({**body, "started_at": "yesterday"}, "started_at"),
        (
            {**body, "started_at": "2026-11-21T10:00:00Z", "finished_at": "2026-11-21T09:00:00Z"},
            "finished_at",
        ),
        ({**body, "summary": "x" * 301}, "summary"),
    ]:
        with pytest.raises(PayloadError) as caught:
            parse(json.dumps(bad).encode(), now=now)
        assert caught.value.field == field, bad
    with pytest.raises(PayloadError):
        parse(b"[1, 2]", now=now)


def test_a_github_deployment_status_is_a_deploy_of_the_repository() -> None:
    event = {
        "action": "created",
        "deployment_status": {
            "state": "success",
            "environment": "production",
            "log_url": "https://github.com/acme/checkout/actions/runs/1",
            "created_at": "2026-11-21T09:55:00Z",
        },
        "deployment": {
            "id": 42,
            "sha": "a1b2c3d4e5f6",
            "ref": "v2.14.0",
            "environment": "production",
            "creator": {"login": "alice"},
            "created_at": "2026-11-21T09:50:00Z",
        },
        "repository": {"full_name": "acme/checkout", "name": "checkout"},
    }
    found = from_github(event, now=START)
    assert found is not None
    assert (found.id, found.service, found.status, found.version) == (
        "github-deployment-42",
        "checkout",
        "succeeded",
        "v2.14.0",
    )
    assert found.author == "alice" and found.url == "https://github.com/acme/checkout/actions/runs/1"
    assert found.finished_at == datetime(2026, 11, 21, 9, 55, tzinfo=UTC)
    assert from_github({**event, "deployment_status": {"state": "inactive"}}, now=START) is None
    pending = from_github({**event, "deployment_status": {"state": "in_progress"}}, now=START)
    assert pending is not None and pending.status == "started" and pending.finished_at is None
    with pytest.raises(PayloadError):
        from_github({"deployment_status": {"state": "success"}}, now=START)


def test_runbook_conditions_and_templates_know_about_changes() -> None:
    from bot.domain.runbooks import Condition, Facts, template_problems
    from bot.runbook_files import ConditionSpec

    within = ConditionSpec.model_validate({"changed_within": "2h"}).compile()
    assert within == Condition(changed_within=timedelta(hours=2)) and not within.empty
    assert within.holds(Facts("SEV2", "checkout", since_change=timedelta(minutes=30)))
    assert not within.holds(Facts("SEV2", "checkout", since_change=timedelta(hours=3)))
    assert not within.holds(Facts("SEV2", "checkout"))  # it never changed
    assert within.describe() == "changed within 2 h 00 min"
    with pytest.raises(ValueError, match="not a duration"):
        ConditionSpec.model_validate({"changed_within": "soon"})
    assert template_problems("{{ last_change.previous_version }} {{ changes }}") == []
    [problem] = template_problems("{{ last_change.sha }}")
    assert problem.startswith(
        "unknown template variable `last_change.sha` (last_change has author, environment"
    )
