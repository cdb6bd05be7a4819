"""Runbooks without I/O: file validation, conditions, templates, the checklist layout."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import DEFAULT_ROLES, DEFAULT_SEVERITIES, load_config
from bot.domain.alerts import LabelMatch
from bot.domain.incident import DomainError
from bot.domain.runbooks import (
    Condition,
    Facts,
    StepRecord,
    StepRef,
    StepState,
    finish,
    matching,
    progress,
    render,
    template_problems,
)
from bot.runbook_files import from_definition, load_directory, parse_file
from bot.slack.blocks import TEXT_MAX, checklist_blocks
from bot.slack.text import escape

ROLES = [r.name for r in DEFAULT_ROLES]
SEVERITIES = [s.name for s in DEFAULT_SEVERITIES]
REPO_RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "warroom.example.yaml"

GOOD = """\
name: web-errors
description: Many 5xx answers.
match:
  severities: [SEV1, SEV2]
  labels:
    alertname: HighErrorRate
steps:
  - id: look
    title: Look at the dashboard
    details: "Errors of {{ incident.service }} on {{ labels.instance }}"
    owner: commander
    remind_after: 10m
  - id: rollback
    title: Roll back
    command: "kubectl rollout undo deployment/{{ incident.service }}"
    confirm: true
"""


def parse(text: str) -> tuple[object, list[str]]:
    parsed, problems = parse_file(
        "rb.yaml", textwrap.dedent(text).encode(), roles=ROLES, severities=SEVERITIES
    )
    return parsed, [str(p) for p in problems]


def test_the_shipped_runbooks_are_valid_and_at_least_five() -> None:
    policy = load_config(str(EXAMPLE_CONFIG)).actions.policy
    loaded = load_directory(REPO_RUNBOOKS, roles=ROLES, severities=SEVERITIES, policy=policy)
    assert [str(p) for p in loaded.problems] == []
    assert len(loaded.files) >= 5
    actions = [s.action for f in loaded.files for s in f.runbook.steps if s.action is not None]
    assert len(actions) >= 5  # rollback and scale-out webhooks, a flag, a status update, ...


def test_a_good_file_becomes_a_runbook_with_a_content_hash() -> None:
    parsed, problems = parse(GOOD)
    assert problems == [] and parsed is not None
    runbook = parsed.runbook  # type: ignore[attr-defined]
    assert runbook.name == "web-errors" and [s.id for s in runbook.steps] == ["look", "rollback"]
    assert runbook.steps[0].remind_after.total_seconds() == 600 and runbook.steps[1].confirm
    assert re.fullmatch(r"[0-9a-f]{12}", runbook.version)
    other, _ = parse(GOOD.replace("Roll back", "Roll it back"))
    assert other.runbook.version != runbook.version  # type: ignore[attr-defined]
    # What an incident stores rebuilds the same runbook.
    assert from_definition(parsed.spec.definition(), runbook.version) == runbook  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("    title: Roll back\n", ""), "rb.yaml:13: steps.1.title: Field required"),
        (("id: rollback", "id: look"), "rb.yaml:13: duplicate step id `look` (also step 1)"),
        (("owner: commander", "owner: janitor"), "rb.yaml:11: unknown role `janitor`"),
        (
            ("labels.instance", "lables.instance"),
            "rb.yaml:10: steps.0.details: unknown template variable `lables`",
        ),
        (
            ('incident.service }}"\n', 'incident.owner }}"\n'),
            "rb.yaml:15: steps.1.command: unknown template variable `incident.owner`",
        ),
        (
            ("remind_after: 10m", "remind_after: soon"),
            "rb.yaml:12: steps.0.remind_after: 'soon' is not a duration",
        ),
        (("[SEV1, SEV2]", "[SEV1, SEV9]"), "rb.yaml:4: unknown severity `SEV9`"),
        (
            ("    confirm: true\n", "    confirm: true\n    colour: red\n"),
            "rb.yaml:17: steps.1.colour: Extra inputs are not permitted",
        ),
        (("{{ labels.instance }}", "{{ labels.instance "), "rb.yaml:10: steps.0.details: template error"),
        (("description: Many 5xx answers.\n", "description: [unclosed\n"), "rb.yaml:3: not valid YAML"),
        (("  - id: rollback\n", "  - id: rollback\n    id: again\n"), "rb.yaml:14: key `id` appears twice"),
    ],
)
def test_broken_files_are_reported_with_file_and_line(change: tuple[str, str], expected: str) -> None:
    assert change[0] in GOOD
    parsed, problems = parse(GOOD.replace(*change))
    assert parsed is None
    assert any(p.startswith(expected) for p in problems), problems


def test_validate_command_exit_status(tmp_path: Path) -> None:
    runner = CliRunner(env={"WARROOM_CONFIG": str(EXAMPLE_CONFIG)})
    ok = runner.invoke(app, ["runbooks", "validate", str(REPO_RUNBOOKS)])
    assert ok.exit_code == 0 and "high-error-rate" in ok.output

    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("owner: commander", "owner: nobody"))
    (tmp_path / "c.yml").write_text(GOOD)  # the same name twice
    bad = runner.invoke(app, ["runbooks", "validate", str(tmp_path)])
    assert bad.exit_code == 1
    assert f"{tmp_path / 'b.yaml'}:11: unknown role `nobody`" in bad.output
    assert (
        f"{tmp_path / 'c.yml'}:1: name: `web-errors` is also the name of {tmp_path / 'a.yaml'}" in bad.output
    )

    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(app, ["runbooks", "validate", str(empty)]).exit_code == 1


def test_conditions() -> None:
    condition = Condition(
        severities=frozenset({"SEV1", "SEV2"}),
        services=frozenset({"api"}),
        labels=(("alertname", LabelMatch(regex=re.compile("High.*"))), ("team", LabelMatch(present=True))),
    )
    facts = Facts("SEV1", "api", {"alertname": "HighErrorRate", "team": "web"})
    assert condition.holds(facts)
    assert not condition.holds(Facts("SEV3", "api", facts.labels))
    assert not condition.holds(Facts("SEV1", "web", facts.labels))
    assert not condition.holds(Facts("SEV1", "api", {"alertname": "LowDisk", "team": "web"}))
    assert not condition.holds(Facts("SEV1", "api", {"alertname": "HighErrorRate"}))
    assert Condition().holds(Facts("SEV4"))  # no condition: always


def test_matching_skips_runbooks_without_match_rules() -> None:
    parsed, _ = parse(GOOD)
    manual, _ = parse("name: manual\ndescription: By name only.\nsteps:\n  - id: one\n    title: One\n")
    runbooks = [parsed.runbook, manual.runbook]  # type: ignore[attr-defined]
    assert manual.runbook.match.empty  # type: ignore[attr-defined]
    facts = Facts("SEV2", None, {"alertname": "HighErrorRate"})
    assert [r.name for r in matching(runbooks, facts)] == ["web-errors"]
    assert matching(runbooks, Facts("SEV3", None, {"alertname": "HighErrorRate"})) == []


def test_templates_escape_values_and_show_gaps() -> None:
    variables = {"incident": {"service": "api<!channel>"}, "labels": {"instance": "db-1 & co"}}
    text = "Check {{ incident.service }} on {{ labels.instance }} in {{ labels.region }}"
    assert render(text, variables, escape) == "Check api&lt;!channel&gt; on db-1 &amp; co in &lt;region&gt;"
    assert render("no variables", variables, escape) == "no variables"
    # The sandbox refuses to reach into Python internals.
    assert render("{{ labels.__class__ }}", variables, escape) == "&lt;__class__&gt;"
    assert render("{{ labels.__class__.__mro__ }}", variables, escape).endswith(
        "(template failed: SecurityError)"
    )
    assert template_problems("{{ incident.service }} {{ labels.anything }}") == []
    assert template_problems("{{ secrets }}") == [
        "unknown template variable `secrets` (use incident.*, labels.*, changes or last_change.*)"
    ]


def test_a_step_finishes_once() -> None:
    parsed, _ = parse(GOOD)
    step = parsed.runbook.steps[0]  # type: ignore[attr-defined]
    finish(StepRecord("look"), step, StepState.DONE)  # pending: allowed
    with pytest.raises(DomainError, match="already done by <@U1>"):
        finish(StepRecord("look", StepState.DONE, finished_by="U1"), step, StepState.SKIPPED)


def test_step_ref_round_trip_and_garbage() -> None:
    ref = StepRef(7, "look", "abcdef123456")
    assert StepRef.decode(ref.encode()) == ref
    with pytest.raises(DomainError):
        StepRef.decode("not json")


def sixty_step_runbook(details: str) -> str:
    steps = "".join(
        f"  - id: step-{i}\n    title: Step number {i} {'x' * 100}\n    details: {details!r}\n"
        f"    command: {('echo ' + 'y' * 900)!r}\n"
        + ("    when:\n      severities: [SEV1]\n" if i % 7 == 0 else "")
        for i in range(60)
    )
    return f"name: long\ndescription: Sixty steps.\nsteps:\n{steps}"


@pytest.mark.parametrize("finished", [0, 3, 30, 60])
def test_a_sixty_step_runbook_fits_block_kit_limits(finished: int) -> None:
    parsed, problems = parse(sixty_step_runbook("d" * 2400 + " {{ labels.instance }}"))
    assert problems == []
    runbook = parsed.runbook  # type: ignore[attr-defined]
    records = {
        s.id: StepRecord(
            s.id, StepState.SKIPPED if i % 2 else StepState.DONE, finished_by="U1", skip_reason="r" * 400
        )
        for i, s in enumerate(runbook.steps[:finished])
    }
    variables = {"incident": {"number": 1}, "labels": {"instance": "i" * 3000}}
    state = progress(runbook, records, Facts("SEV2"))
    blocks = checklist_blocks(1, runbook, state, {}, variables)
    assert len(blocks) <= 50
    texts = [b["text"]["text"] for b in blocks if "text" in b] + [
        e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]
    ]
    assert all(len(t) <= TEXT_MAX for t in texts)
    assert sum(1 for b in blocks if b["type"] == "actions") == min(5, len(state.pending))
    if state.pending:  # the next pending step is shown in full
        assert any(b.get("block_id") == f"step:{state.pending[0][1].id}" for b in blocks)
    else:
        assert "Every step is finished" in str(blocks)
