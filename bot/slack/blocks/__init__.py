"""Block Kit and message text builders, by surface. Pure: data in, Slack JSON out.

All user text passes through `escape` / `escape_keeping_mentions` here, so a title or a note
can never ping a channel or forge a link. Callers use `from bot.slack import blocks` and
`blocks.summary_blocks(...)`; the modules are kit (the pieces), incident, lists, modals,
alerts and checklist.
"""

from bot.slack.blocks.actions import run_step_modal
from bot.slack.blocks.alerts import alerts_blocks, alerts_cleared_blocks, alerts_text, triage_blocks
from bot.slack.blocks.catchup import catchup_blocks, catchup_text
from bot.slack.blocks.changes import cause_line, change_line, changes_blocks, changes_listing, changes_text
from bot.slack.blocks.checklist import (
    EXPANDED_STEPS,
    checklist_blocks,
    checklist_text,
    command_blocks,
    confirm_step_modal,
    runbook_choices_text,
    skip_step_modal,
)
from bot.slack.blocks.followups import digest_blocks, followup_line, followup_modal, followups_blocks
from bot.slack.blocks.incident import (
    announcement_blocks,
    echo_text,
    heading,
    summary_blocks,
    summary_text,
    topic,
)
from bot.slack.blocks.kit import (
    EVENT_EMOJI,
    STATUS_EMOJI,
    TEXT_MAX,
    Block,
    button,
    context,
    fit,
    input_block,
    listing,
    mrkdwn,
    options,
    who,
)
from bot.slack.blocks.lists import (
    followups_text,
    help_text,
    home_view,
    incident_line,
    list_text,
    report_summary_text,
    timeline_text,
)
from bot.slack.blocks.modals import declare_modal, message_modal, resolve_modal, status_modal
from bot.slack.blocks.updates import stakeholder_blocks, stakeholder_text, update_modal

__all__ = [
    "EVENT_EMOJI",
    "EXPANDED_STEPS",
    "STATUS_EMOJI",
    "TEXT_MAX",
    "Block",
    "alerts_blocks",
    "alerts_cleared_blocks",
    "alerts_text",
    "announcement_blocks",
    "button",
    "catchup_blocks",
    "catchup_text",
    "cause_line",
    "change_line",
    "changes_blocks",
    "changes_listing",
    "changes_text",
    "checklist_blocks",
    "checklist_text",
    "command_blocks",
    "confirm_step_modal",
    "context",
    "declare_modal",
    "digest_blocks",
    "echo_text",
    "fit",
    "followup_line",
    "followup_modal",
    "followups_blocks",
    "followups_text",
    "heading",
    "help_text",
    "home_view",
    "incident_line",
    "input_block",
    "list_text",
    "listing",
    "message_modal",
    "mrkdwn",
    "options",
    "report_summary_text",
    "resolve_modal",
    "run_step_modal",
    "runbook_choices_text",
    "skip_step_modal",
    "stakeholder_blocks",
    "stakeholder_text",
    "status_modal",
    "summary_blocks",
    "summary_text",
    "timeline_text",
    "topic",
    "triage_blocks",
    "update_modal",
    "who",
]
