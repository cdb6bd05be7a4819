"""The runbook checklist: Run, Done, Skip and "I'll take it" buttons, and their modals.

Run and Done on a dangerous step (`confirm: true`) and Skip (a reason is required) open a
modal first; the submission makes the change. Run's modal shows what will be sent, and its
submission sends exactly that, or nothing if it changed meanwhile.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.runbooks import StepRef, StepState
from bot.slack import blocks
from bot.slack.ids import Action, Field, Form
from bot.slack.listeners.kit import click_channel, reply_to, services, tell
from bot.slack.listeners.views import field


async def clicked_step(context: dict[str, Any], body: dict[str, Any], action: dict[str, Any]) -> StepRef:
    """The step a checklist button names, if the clicker may act on it from here."""
    ref = StepRef.decode(str(action.get("value")))
    s = services(context)
    await s.queries.acted_on(await s.runbooks.incident_of(ref), body["user"]["id"], click_channel(body))
    return ref


async def submitted_step(context: dict[str, Any], body: dict[str, Any], encoded: str) -> StepRef:
    """The step a form was opened for (`encoded`: the StepRef it carries), if the submitter
    may act on it."""
    ref = StepRef.decode(encoded)
    s = services(context)
    await s.queries.acted_on(await s.runbooks.incident_of(ref), body["user"]["id"], None)
    return ref


async def take(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, context: dict[str, Any]
) -> None:
    await ack()
    try:
        ref = await clicked_step(context, body, action)
        await services(context).runbooks.take(ref, body["user"]["id"])
    except Exception as exc:
        await tell(respond, reply_to(exc))


async def done(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: Any,
    context: dict[str, Any],
) -> None:
    """Done at once, or the confirmation form of a dangerous step."""
    await ack()
    runbooks = services(context).runbooks
    try:
        ref = await clicked_step(context, body, action)
        runbook, step, _ = await runbooks.step(ref)
        if not step.confirm:
            await runbooks.finish(ref, body["user"]["id"], StepState.DONE)
            return
        checklist = await runbooks.checklist(ref.run)
        view = blocks.confirm_step_modal(ref.encode(), runbook, step, checklist.variables)
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    except Exception as exc:
        await tell(respond, reply_to(exc))


async def skip(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: Any,
    context: dict[str, Any],
) -> None:
    """The form that asks why the step is skipped."""
    await ack()
    try:
        ref = await clicked_step(context, body, action)
        _, step, _ = await services(context).runbooks.step(ref)
        await client.views_open(
            trigger_id=body["trigger_id"], view=blocks.skip_step_modal(ref.encode(), step)
        )
    except Exception as exc:
        await tell(respond, reply_to(exc))


async def confirmed(ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]) -> None:
    try:
        ref = await submitted_step(context, body, str(view.get("private_metadata")))
        await services(context).runbooks.finish(ref, body["user"]["id"], StepState.DONE)
    except Exception as exc:
        await ack(response_action="update", view=blocks.message_modal("Not done", reply_to(exc)))
        return
    await ack()


async def skipped(ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]) -> None:
    try:
        ref = await submitted_step(context, body, str(view.get("private_metadata")))
        reason = field(view, Field.REASON)
        await services(context).runbooks.finish(ref, body["user"]["id"], StepState.SKIPPED, reason)
    except Exception as exc:
        await ack(response_action="errors", errors={Field.REASON: reply_to(exc, on_form=True)})
        return
    await ack()


async def run(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: Any,
    context: dict[str, Any],
) -> None:
    """Run (or Retry) a step's action, or first the form that confirms it."""
    await ack()
    s = services(context)
    try:
        ref = await clicked_step(context, body, action)
        _, step, _ = await s.runbooks.step(ref)
        if not step.confirm:
            await s.actions.run(ref, body["user"]["id"])
            return
        planned = await s.actions.plan(ref, body["user"]["id"])
        view = blocks.run_step_modal(f"{planned.fingerprint}:{ref.encode()}", planned)
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    except Exception as exc:
        await tell(respond, reply_to(exc))


async def run_confirmed(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]
) -> None:
    try:
        fingerprint, _, encoded = str(view.get("private_metadata")).partition(":")
        ref = await submitted_step(context, body, encoded)
        await services(context).actions.run(ref, body["user"]["id"], fingerprint=fingerprint)
    except Exception as exc:
        await ack(response_action="update", view=blocks.message_modal("Not run", reply_to(exc)))
        return
    await ack()


def register(app: AsyncApp) -> None:
    app.action(Action.STEP_RUN.for_any_step())(run)
    app.view(Form.STEP_RUN)(run_confirmed)
    app.action(Action.STEP_TAKE.for_any_step())(take)
    app.action(Action.STEP_DONE.for_any_step())(done)
    app.action(Action.STEP_SKIP.for_any_step())(skip)
    app.view(Form.STEP_CONFIRM)(confirmed)
    app.view(Form.STEP_SKIP)(skipped)
