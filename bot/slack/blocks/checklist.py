"""The runbook checklist, its step commands, and its confirm and skip forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.runbooks import (
    Progress,
    Runbook,
    Step,
    StepRecord,
    StepRef,
    StepState,
    label_sources,
    render,
    render_command,
)
from bot.slack.blocks.actions import action_note, ran_suffix, run_button
from bot.slack.blocks.kit import (
    TEXT_MAX,
    Block,
    button,
    context,
    fit,
    input_block,
    listing,
    modal,
    mrkdwn,
    who,
)
from bot.slack.ids import Action, Field, Form, step_actions_block, step_block
from bot.slack.text import escape, url_value
from bot.slack.text import link as slack_link
from bot.store.tables import ActionRun

EXPANDED_STEPS = 5  # pending steps shown in full on a checklist; the rest are listed


def _owner(step: Step, roles: dict[str, str]) -> str:
    if step.owner is None:
        return ""
    holder = roles.get(step.owner)
    return f"Owner: {step.owner} {who(holder)}" if holder else f"Owner: {step.owner} (nobody holds the role)"


def _finished_line(position: int, step: Step, record: StepRecord, latest: ActionRun | None) -> str:
    if record.state is StepState.DONE:
        return f":white_check_mark: {position}. {step.title} ({who(record.finished_by)})" + ran_suffix(latest)
    reason = escape(record.skip_reason or "")[:200]
    return f":fast_forward: {position}. ~{step.title}~ skipped by {who(record.finished_by)}: {reason}"


def command_blocks(template: str, variables: dict[str, Any]) -> list[Block]:
    """A step's command in a code block, each inserted value one shell word, and where the
    values came from when the alert supplied them."""
    command = escape(render_command(template, variables))
    blocks = [mrkdwn("```" + fit(command, TEXT_MAX - 6) + "```")]
    if sources := label_sources(template):
        names = ", ".join(f"`{escape(name)}`" for name in sources)
        blocks.append(
            context(f":mag: Filled in from the alert's labels ({names}): check them before you run it.")
        )
    return blocks


def checklist_blocks(
    run_id: int,
    runbook: Runbook,
    progress: Progress,
    roles: dict[str, str],
    variables: dict[str, Any],
    *,
    closed: bool = False,
    actions: Mapping[str, ActionRun] | None = None,
    dry_run: bool = False,
) -> list[Block]:
    """A running runbook as one message, updated in place: finished steps collapsed, the
    next few pending steps in full with their buttons, the rest listed by title. However
    long the runbook, it stays within Block Kit's limits (50 blocks, 3,000 characters).
    `actions`: the last run of each step's action; `dry_run`: a drill's actions send nothing."""
    actions = actions or {}

    def text(template: str) -> str:
        return render(template, variables, escape)

    counts = f"{progress.done}/{progress.total} done" + (
        f", {progress.skipped} skipped" if progress.skipped else ""
    )
    blocks: list[Block] = [
        mrkdwn(fit(f":clipboard: *Runbook: {runbook.name}* · {counts}")),
        context(fit(f"{runbook.description} · version `{runbook.version}`")),
    ]
    if progress.finished:
        lines = [_finished_line(p, s, r, actions.get(s.id)) for p, s, r in progress.finished]
        blocks.append(context(listing(lines, "finished steps")))
    if not progress.pending:
        blocks.append(mrkdwn(":tada: Every step is finished."))
    for position, step, record in progress.pending[:EXPANDED_STEPS]:
        head = f"*{position}. {step.title}*" + (" :warning: _asks for confirmation_" if step.confirm else "")
        meta = " · ".join(
            part
            for part in (
                _owner(step, roles),
                f"Taken by {who(record.taken_by)}" if record.taken_by else "",
                slack_link(render(step.link, variables, url_value), "Open link") if step.link else "",
            )
            if part
        )
        body = "\n".join(part for part in (head, meta, text(step.details)) if part)
        blocks.append({**mrkdwn(fit(body)), "block_id": step_block(step.id)})
        if step.command:
            blocks.extend(command_blocks(step.command, variables))
        latest = actions.get(step.id)
        if step.action is not None:
            blocks.append(action_note(step, latest, variables, dry_run=dry_run))
        if not closed:
            value = StepRef(run_id, step.id, runbook.version).encode()
            run = run_button(step, value, latest, dry_run=dry_run) if step.action is not None else None
            blocks.append(
                {
                    "type": "actions",
                    "block_id": step_actions_block(step.id),
                    "elements": [
                        *([run] if run else []),
                        button(
                            "Done", Action.STEP_DONE.of_step(step.id), value, style=None if run else "primary"
                        ),
                        button("Skip", Action.STEP_SKIP.of_step(step.id), value),
                        button("I'll take it", Action.STEP_TAKE.of_step(step.id), value),
                    ],
                }
            )
    later = progress.pending[EXPANDED_STEPS:]
    if later:
        lines = [f"{p}. {s.title}" + (f" ({who(r.taken_by)})" if r.taken_by else "") for p, s, r in later]
        blocks.append(context(listing(["*Later*", *lines], "steps")))
    if progress.not_applicable:
        names = ", ".join(f"{p}. {s.title} ({s.when.describe()})" for p, s in progress.not_applicable)
        blocks.append(context(fit(f"Not for this incident now: {names}")))
    return blocks


def checklist_text(runbook: Runbook, progress: Progress) -> str:
    return f"Runbook {runbook.name}: {progress.done}/{progress.total} steps done"


def runbook_choices_text(command: str, choices: list[tuple[Runbook, str | None]]) -> str:
    if not choices:
        return f"No runbook matches this incident. `{command} runbook NAME` starts any runbook by name."
    lines = []
    for runbook, running in choices:
        if running == runbook.version:
            state = "running"
        elif running:
            state = (
                f"running version {running}; `{command} runbook {runbook.name}` moves to {runbook.version}"
            )
        else:
            state = f"`{command} runbook {runbook.name}` starts it"
        lines.append(f"• *{runbook.name}*: {escape(runbook.description)} ({state})")
    return "*Runbooks for this incident*\n" + "\n".join(lines)


def confirm_step_modal(value: str, runbook: Runbook, step: Step, variables: dict[str, Any]) -> dict[str, Any]:
    blocks: list[Block] = [mrkdwn(fit(f":warning: *{step.title}* ({runbook.name}) is marked as dangerous."))]
    if step.command:
        blocks.extend(command_blocks(step.command, variables))
    blocks.append(mrkdwn("Confirm that it is done: it goes on the timeline with your name."))
    return modal(
        "Confirm step",
        blocks,
        callback_id=Form.STEP_CONFIRM,
        metadata=value,
        submit="It is done",
    )


def skip_step_modal(value: str, step: Step) -> dict[str, Any]:
    return modal(
        "Skip step",
        [
            mrkdwn(fit(f"Skipping *{step.title}*.")),
            input_block(
                Field.REASON,
                "Why skip it?",
                {"type": "plain_text_input", "action_id": "value", "max_length": 500},
                hint="The post-mortem lists skipped steps with their reasons.",
            ),
        ],
        callback_id=Form.STEP_SKIP,
        metadata=value,
        submit="Skip",
    )
