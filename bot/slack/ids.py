"""The names warroom gives things in Slack, in one place: the action ids of its buttons, the
callback ids of its forms, the block ids of their inputs and of the blocks it looks up, and
the event types of the metadata on the messages it posts (how a retry finds a message an
earlier attempt posted). Blocks, listeners and the demo all use these names."""

from __future__ import annotations

import re
from enum import StrEnum


class Action(StrEnum):
    """Buttons. The checklist's carry their step after a colon (`runbook_done:rollback`)."""

    TAKE_COMMANDER = "take_commander"
    OPEN_STATUS = "open_status_modal"
    OPEN_RESOLVE = "open_resolve_modal"
    DECLARE_FROM_ALERT = "declare_from_alert"
    STEP_DONE = "runbook_done"
    STEP_SKIP = "runbook_skip"
    STEP_TAKE = "runbook_take"
    STEP_RUN = "runbook_run"  # Run, or Retry after a failed run
    FOLLOWUP_DONE = "followup_done"  # the value is the follow-up's id
    FOLLOWUP_WONT_DO = "followup_wont_do"
    FOLLOWUP_REOPEN = "followup_reopen"
    SUSPECT_CHANGE = "change_suspect"  # the value is the change's id

    def of_step(self, step_id: str) -> str:
        return f"{self.value}:{step_id}"

    def for_any_step(self) -> re.Pattern[str]:
        return re.compile(rf"^{re.escape(self.value)}:")


class Form(StrEnum):
    """Modals' callback ids."""

    DECLARE = "declare"
    STATUS = "status_update"
    RESOLVE = "resolve"
    STEP_CONFIRM = "runbook_confirm"
    STEP_SKIP = "runbook_skip"
    STEP_RUN = "runbook_run_confirm"
    FOLLOWUP = "followup"
    UPDATE = "stakeholder_update"


class Field(StrEnum):
    """Modals' input blocks (what a submission's state is keyed by)."""

    TITLE = "title"
    SEVERITY = "severity"
    COMMANDER = "commander"
    DESCRIPTION = "description"
    PRIVATE = "private"
    STATUS = "status"
    MESSAGE = "message"
    SUMMARY = "summary"
    REASON = "reason"
    OWNER = "owner"
    PRIORITY = "priority"
    DUE = "due"
    AUDIENCE = "audience"
    PUBLIC_TITLE = "public_title"
    FINAL_UPDATE = "final_update"


class BlockId(StrEnum):
    SUMMARY_ACTIONS = "summary_actions"
    ALERTS_CLEARED = "alerts_cleared"
    TRIAGE = "triage"
    CHANGES = "changes"


def step_block(step_id: str) -> str:
    return f"step:{step_id}"


def component_block(name: str) -> str:
    """The update form's input for one status page component."""
    return f"component:{name}"


def step_actions_block(step_id: str) -> str:
    return f"actions:{step_id}"


class Marker(StrEnum):
    """The event type of the metadata on each kind of message warroom posts."""

    SUMMARY = "warroom_summary"
    ANNOUNCEMENT = "warroom_announcement"
    ECHO = "warroom_echo"
    ALERTS = "warroom_alerts"
    ALERTS_CLEARED = "warroom_alerts_cleared"
    CHECKLIST = "warroom_checklist"
    TRIAGE = "warroom_triage"
    FOLLOWUP_DIGEST = "warroom_followup_digest"
    CHANGES = "warroom_changes"
    UPDATE = "warroom_update"


PRIVATE_CHOICE = "private"  # the value of the declare form's Private checkbox
