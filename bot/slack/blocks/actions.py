"""A runbook step's action on the checklist (what Run does, and how its last run went), and the
form that confirms a run: exactly what will be sent, secrets masked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.domain.actions import BuiltinAction, HttpAction, RunState, builtin_line, runner
from bot.domain.runbooks import Step, render
from bot.services.actions import Planned
from bot.slack.blocks.kit import TEXT_MAX, Block, button, context, fit, modal, mrkdwn
from bot.slack.ids import Action, Form
from bot.slack.text import escape, slack_time
from bot.store.tables import ActionRun


def _what(step: Step, variables: Mapping[str, Any]) -> str:
    action = step.action
    if isinstance(action, HttpAction):
        return f"{action.method} {urlsplit(action.url).hostname or 'its target'}"
    assert isinstance(action, BuiltinAction)
    return builtin_line(action, render(action.text, variables, lambda value: value))


def action_note(
    step: Step, latest: ActionRun | None, variables: Mapping[str, Any], *, dry_run: bool
) -> Block:
    """One context line under a pending step that has an action."""
    if latest is not None and latest.state == RunState.RUNNING:
        text = f":hourglass_flowing_sand: Running since {slack_time(latest.requested_at)}, started by {runner(latest.requested_by)}"
        if latest.summary:
            text += f" · {escape(latest.summary)}"
    elif latest is not None and latest.state == RunState.FAILED:
        text = f":x: The run by {runner(latest.requested_by)} failed: {escape(latest.summary or 'no answer')}"
        if latest.answer:
            text += f" · answer: `{fit(escape(latest.answer).replace('`', chr(39)), 200)}`"
        text += " · *Retry* runs it again"
    else:
        text = f":zap: *Run* will {escape(_what(step, variables))}"
        if step.runs_by_itself:
            text += " (runs by itself when it is the next step)"
        if dry_run:
            text += " · _drill: a dry run, nothing is sent_"
    return context(fit(text))


def run_button(step: Step, value: str, latest: ActionRun | None, *, dry_run: bool) -> Block | None:
    """Run (or Retry after a failure); none while a run is under way."""
    if latest is not None and latest.state == RunState.RUNNING:
        return None
    label = "Retry" if latest is not None and latest.state == RunState.FAILED else "Run"
    return button(
        label + (" (dry run)" if dry_run else ""), Action.STEP_RUN.of_step(step.id), value, style="primary"
    )


def ran_suffix(latest: ActionRun | None) -> str:
    """After a finished step's line: what its action did."""
    if latest is None or latest.state != RunState.SUCCEEDED:
        return ""
    return f" · ran `{fit(escape(latest.line), 120)}`: {escape(latest.summary or 'done')}"


def run_step_modal(value: str, planned: Planned) -> dict[str, Any]:
    """Everything Run will send, before anything is: secrets masked, the key explained."""
    step = planned.step
    shown = escape(planned.shown).replace("```", "'''")
    blocks: list[Block] = [
        mrkdwn(fit(f":warning: *{step.title}* ({planned.runbook.name}) asks for confirmation.")),
        mrkdwn("```" + fit(shown, TEXT_MAX - 6) + "```"),
    ]
    if planned.dry_run:
        blocks.append(context("This incident is a drill: it is a dry run, and nothing is sent."))
    elif isinstance(step.action, HttpAction):
        blocks.append(
            context(
                "Secrets show as [secret NAME]; warroom fills them in as it sends. Each run has its "
                "own Idempotency-Key, the same on every retry of the run."
            )
        )
    blocks.append(mrkdwn("It goes on the timeline with your name and what came back."))
    return modal(
        "Run step",
        blocks,
        callback_id=Form.STEP_RUN,
        metadata=value,
        submit="Run it" if not planned.dry_run else "Dry run",
    )
