"""The runbook checklist: Done, Skip and "I'll take it" buttons, and their modals.

Done on a dangerous step (`confirm: true`) and Skip (a reason is required) open a modal
first; the submission makes the change.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.incident import DomainError
from bot.domain.runbooks import StepRef, StepState
from bot.services.bundle import Services
from bot.slack import blocks
from bot.slack.ids import Action, Field, Form
from bot.slack.listeners import click_channel, failure_text
from bot.slack.listeners.views import field


def register(app: AsyncApp, services: Services) -> None:
    runbooks, queries = services.runbooks, services.queries

    async def clicked(body: dict[str, Any], value: object) -> StepRef:
        """The step a checklist button names, if the clicker may act on it from here."""
        ref = StepRef.decode(str(value))
        await queries.acted_on(await runbooks.incident_of(ref), body["user"]["id"], click_channel(body))
        return ref

    async def submitted(body: dict[str, Any], view: dict[str, Any]) -> StepRef:
        ref = StepRef.decode(str(view.get("private_metadata")))
        await queries.acted_on(await runbooks.incident_of(ref), body["user"]["id"], None)
        return ref

    async def answer(respond: Any, text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)

    async def guarded(respond: Any, work: Any) -> None:
        """Run a click's work; a refusal or failure goes back to the clicker only."""
        try:
            await work()
        except DomainError as exc:
            await answer(respond, f":warning: {exc}")
        except SlackApiError as exc:
            await answer(
                respond, f":warning: Slack did not open the form ({exc.response.get('error')}); try again."
            )
        except Exception as exc:
            await answer(respond, failure_text(exc))

    @app.action(Action.STEP_TAKE.for_any_step())
    async def take(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()

        async def work() -> None:
            await runbooks.take(await clicked(body, action.get("value")), body["user"]["id"])

        await guarded(respond, work)

    @app.action(Action.STEP_DONE.for_any_step())
    async def done(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        await ack()

        async def work() -> None:
            ref = await clicked(body, action.get("value"))
            runbook, step, _ = await runbooks.step(ref)
            if not step.confirm:
                await runbooks.finish(ref, body["user"]["id"], StepState.DONE)
                return
            checklist = await runbooks.checklist(ref.run)
            view = blocks.confirm_step_modal(ref.encode(), runbook, step, checklist.variables)
            await client.views_open(trigger_id=body["trigger_id"], view=view)

        await guarded(respond, work)

    @app.action(Action.STEP_SKIP.for_any_step())
    async def skip(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        await ack()

        async def work() -> None:
            ref = await clicked(body, action.get("value"))
            _, step, _ = await runbooks.step(ref)
            await client.views_open(
                trigger_id=body["trigger_id"], view=blocks.skip_step_modal(ref.encode(), step)
            )

        await guarded(respond, work)

    @app.view(Form.STEP_CONFIRM)
    async def confirmed(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            await runbooks.finish(await submitted(body, view), body["user"]["id"], StepState.DONE)
        except DomainError as exc:
            await ack(response_action="update", view=blocks.message_modal("Not done", f":warning: {exc}"))
            return
        except Exception as exc:
            await ack(response_action="update", view=blocks.message_modal("Not done", failure_text(exc)))
            return
        await ack()

    @app.view(Form.STEP_SKIP)
    async def skipped(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            await runbooks.finish(
                await submitted(body, view),
                body["user"]["id"],
                StepState.SKIPPED,
                field(view, Field.REASON),
            )
        except DomainError as exc:
            await ack(response_action="errors", errors={Field.REASON: str(exc)[:150]})
            return
        except Exception as exc:
            await ack(response_action="errors", errors={Field.REASON: failure_text(exc)[:150]})
            return
        await ack()
