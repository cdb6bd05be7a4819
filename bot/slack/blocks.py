"""Block Kit and message text builders. Pure: data in, Slack JSON out.

All user text passes through `escape` / `escape_keeping_mentions` here, so a title or a note
can never ping a channel or forge a link.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.config import WarroomConfig
from bot.documents import reports as report_docs
from bot.domain.alerts import AlertStatus
from bot.domain.incident import Status, allowed_next
from bot.domain.metrics import TREND_METRIC, MttrReport
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
from bot.slack.ids import PRIVATE_CHOICE, Action, BlockId, Field, Form, step_actions_block, step_block
from bot.slack.text import escape, escape_keeping_mentions, slack_time, url_value
from bot.slack.text import link as slack_link
from bot.store.tables import AlertRecord, FollowUp, Incident, TimelineEvent

Block = dict[str, Any]

STATUS_EMOJI: dict[str, str] = {
    Status.INVESTIGATING: ":mag:",
    Status.IDENTIFIED: ":bulb:",
    Status.MONITORING: ":eyes:",
    Status.RESOLVED: ":white_check_mark:",
    Status.CLOSED: ":lock:",
}
EVENT_EMOJI = {
    "status": ":arrows_counterclockwise:",
    "severity": ":rotating_light:",
    "role": ":bust_in_silhouette:",
    "note": ":memo:",
    "pinned": ":pushpin:",
    "declared": ":fire:",
    "runbook": ":clipboard:",
    "reminder": ":alarm_clock:",
}
TEXT_MAX = 3000  # characters in one text object
EXPANDED_STEPS = 5  # pending steps shown in full on a checklist; the rest are listed


def mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def heading(incident: Incident) -> str:
    drill = "[DRILL] " if incident.drill else ""
    return f"{drill}#{incident.number} {incident.title}"


def who(user: str | None) -> str:
    """A Slack user as a mention; warroom itself or an integration as plain text."""
    if not user:
        return "_unassigned_"
    return f"<@{user}>" if re.fullmatch(r"[UW][A-Z0-9]+", user) else escape(user)


def summary_blocks(incident: Incident, roles: dict[str, str], config: WarroomConfig) -> list[Block]:
    """The pinned summary in the incident channel, kept current with chat.update."""
    status = incident.status
    fields = [
        f"*Severity*\n{incident.severity}",
        f"*Status*\n{STATUS_EMOJI.get(status, '')} {status}",
    ]
    fields += [f"*{role.name.title()}*\n{who(roles.get(role.name))}" for role in config.roles]
    fields.append(f"*Declared*\n{slack_time(incident.declared_at)}")
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": heading(incident)[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields[:10]]},
    ]
    if incident.description:
        blocks.append(mrkdwn(escape(incident.description)))
    if incident.resolve_summary:
        blocks.append(mrkdwn(f"*Resolution*\n{escape(incident.resolve_summary)}"))
    if incident.postmortem_version:
        draft = f"draft v{incident.postmortem_version}"
        where = (
            slack_link(incident.postmortem_url, draft)
            if incident.postmortem_url
            else f"{draft}, uploaded in this channel"
        )
        blocks.append(mrkdwn(f"*Post-mortem*: {where}"))
    if status != Status.CLOSED:
        value = str(incident.number)
        actions = [
            button("Take commander", Action.TAKE_COMMANDER, value),
            button("Update status", Action.OPEN_STATUS, value),
        ]
        if status != Status.RESOLVED:
            actions.append(button("Resolve", Action.OPEN_RESOLVE, value, style="primary"))
        blocks.append({"type": "actions", "block_id": BlockId.SUMMARY_ACTIONS, "elements": actions})
    blocks.append(
        context(
            f"`{config.slash_command} help` lists the commands. Updated {slack_time(incident.updated_at)}"
        )
    )
    return blocks


def summary_text(incident: Incident) -> str:
    """Notification fallback text; Slack shows it where blocks cannot be shown."""
    return escape(f"{incident.severity} {heading(incident)} ({incident.status})")


def announcement_blocks(incident: Incident, roles: dict[str, str]) -> list[Block]:
    where = f"<#{incident.channel_id}>" if incident.channel_id else "(channel being created)"
    return [
        mrkdwn(
            f":rotating_light: *{incident.severity}* incident *{escape(heading(incident))}*\n"
            f"Status: {STATUS_EMOJI.get(incident.status, '')} {incident.status} · "
            f"Commander: {who(roles.get('commander'))} · Join {where}"
        )
    ]


def topic(incident: Incident, roles: dict[str, str]) -> str:
    text = f"{incident.severity} | {incident.status} | IC: {who(roles.get('commander'))} | {incident.title}"
    return text[:250]


def echo_text(event: TimelineEvent) -> str:
    """The short line posted in the channel when something changes."""
    emoji = EVENT_EMOJI.get(event.kind, ":information_source:")
    body = escape_keeping_mentions(event.text)
    if event.kind == "note":
        return f"{emoji} Note from {who(event.actor)}: {body}"
    return f"{emoji} {body} (by {who(event.actor)})" if event.actor else f"{emoji} {body}"


def incident_line(incident: Incident, roles: dict[str, str]) -> str:
    where = f"<#{incident.channel_id}>" if incident.channel_id else "_channel pending_"
    drill = ":performing_arts: DRILL · " if incident.drill else ""
    return (
        f"{drill}*#{incident.number}* {incident.severity} · {incident.status} · {escape(incident.title)} · "
        f"IC {who(roles.get('commander'))} · {where}"
    )


def list_text(incidents: list[Incident], roles: dict[int, dict[str, str]]) -> str:
    if not incidents:
        return ":sunny: No open incidents."
    lines = [incident_line(i, roles.get(i.number or 0, {})) for i in incidents[:30]]
    more = f"\n…and {len(incidents) - 30} more" if len(incidents) > 30 else ""
    return "*Open incidents*\n" + "\n".join(lines) + more


def timeline_text(incident: Incident, events: list[TimelineEvent], limit: int = 40) -> str:
    shown = events[-limit:]
    lines = [
        f"`{e.at:%Y-%m-%d %H:%M:%S}` {EVENT_EMOJI.get(e.kind, '•')} {escape_keeping_mentions(e.text)[:300]}"
        + (f" ({who(e.actor)})" if e.actor else "")
        for e in shown
    ]
    head = f"*Timeline of #{incident.number}* (UTC)"
    if len(events) > limit:
        head += f", last {limit} of {len(events)} entries"
    text = head + "\n" + "\n".join(lines)
    return text[:3900]


def home_view(incidents: list[Incident], roles: dict[int, dict[str, str]], command: str) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Open incidents"}}]
    if not incidents:
        blocks.append(mrkdwn(":sunny: No open incidents right now."))
    for incident in incidents[:40]:
        blocks.append(mrkdwn(incident_line(incident, roles.get(incident.number or 0, {}))))
    if len(incidents) > 40:
        blocks.append(context(f"…and {len(incidents) - 40} more: `{command} list`"))
    blocks.append({"type": "divider"})
    blocks.append(context(f"Declare one with `{command} declare [sevN] TITLE`, or `{command}` for the form."))
    return {"type": "home", "blocks": blocks}


def _input(
    block_id: str, label: str, element: Block, *, optional: bool = False, hint: str | None = None
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def _options(values: list[tuple[str, str]]) -> list[Block]:
    return [{"text": {"type": "plain_text", "text": label[:75]}, "value": value} for value, label in values]


def declare_modal(config: WarroomConfig, channel_id: str | None = None) -> dict[str, Any]:
    severities = [(s.name, f"{s.name}: {s.description}") for s in config.severities]
    default = next(o for o in _options(severities) if o["value"] == config.default_severity)
    return {
        "type": "modal",
        "callback_id": Form.DECLARE,
        "private_metadata": channel_id or "",
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input(
                Field.TITLE,
                "What is broken?",
                {"type": "plain_text_input", "action_id": "value", "max_length": 150},
                hint="Short and specific: 'Checkout fails for card payments'",
            ),
            _input(
                Field.SEVERITY,
                "Severity",
                {
                    "type": "static_select",
                    "action_id": "value",
                    "options": _options(severities),
                    "initial_option": default,
                },
            ),
            _input(
                Field.COMMANDER,
                "Commander",
                {"type": "users_select", "action_id": "value"},
                optional=True,
                hint="You, if left empty",
            ),
            _input(
                Field.DESCRIPTION,
                "What do we know?",
                {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
                optional=True,
            ),
            _input(
                Field.PRIVATE,
                "Visibility",
                {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [
                        {
                            "text": {
                                "type": "plain_text",
                                "text": "Private: a private channel, seen only by its members",
                            },
                            "value": PRIVATE_CHOICE,
                        }
                    ],
                },
                optional=True,
            ),
        ],
    }


def status_modal(incident: Incident) -> dict[str, Any]:
    choices = [
        (s.value, f"{STATUS_EMOJI[s.value]} {s.value}")
        for s in allowed_next(Status(incident.status))
        if s != Status.CLOSED
    ]
    blocks: list[Block] = [mrkdwn(f"*{escape(heading(incident))}* is *{incident.status}*.")]
    if choices:
        blocks.append(
            _input(
                Field.STATUS,
                "New status",
                {"type": "static_select", "action_id": "value", "options": _options(choices)},
            )
        )
    blocks.append(
        _input(
            Field.MESSAGE,
            "What changed?",
            {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
            optional=True,
        )
    )
    return {
        "type": "modal",
        "callback_id": Form.STATUS,
        "private_metadata": str(incident.number),
        "title": {"type": "plain_text", "text": "Update status"},
        "submit": {"type": "plain_text", "text": "Update"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def resolve_modal(incident: Incident) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": Form.RESOLVE,
        "private_metadata": str(incident.number),
        "title": {"type": "plain_text", "text": f"Resolve #{incident.number}"[:24]},
        "submit": {"type": "plain_text", "text": "Resolve"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            mrkdwn(f"Resolving *{escape(heading(incident))}*."),
            _input(
                Field.SUMMARY,
                "Resolution summary",
                {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
                hint="What fixed it? This opens the post-mortem.",
            ),
        ],
    }


def help_text(command: str, config: WarroomConfig) -> str:
    severities = ", ".join(s.name for s in config.severities)
    roles = "|".join(config.role_names)
    return "\n".join(
        [
            "*warroom* runs incidents in Slack.",
            "*Anywhere*",
            f"• `{command}`: open the declare form",
            f"• `{command} declare [private] [sevN] TITLE`: declare an incident ({severities}); private: a private channel, shown only to its members",
            f"• `{command} list`: open incidents",
            f"• `{command} drill RUNBOOK`: rehearse a runbook in an exercise incident (pages nobody)",
            f"• `{command} report [30d]`: response times of recent incidents, with a chart, posted here",
            f"• `{command} help`: this help",
            "*Inside an incident channel*",
            f"• `{command} status investigating|identified|monitoring|resolved`",
            f"• `{command} sev N`: change severity",
            f"• `{command} role {roles} @user`: hand out a role",
            f"• `{command} note TEXT`: add a note to the timeline",
            f"• `{command} timeline`: show the timeline",
            f"• `{command} resolve [SUMMARY]`: resolve (the form opens without a summary)",
            f"• `{command} close`: close a resolved incident",
            f"• `{command} page SERVICE` or `{command} page @user`: page through PagerDuty, or pull a person in",
            f"• `{command} runbook`: runbooks that match; `{command} runbook NAME` starts one",
            f"• `{command} followup TEXT [@owner]`: record an action item; `{command} followups` lists them",
            f"• `{command} postmortem`: write the post-mortem draft now (it is written on close too)",
            "React with :pushpin: to put a message on the timeline.",
        ]
    )


def alerts_blocks(firing: int, resolved: int, newest: list[AlertRecord]) -> list[Block]:
    """The one alerts message of an incident, updated in place."""
    state = ":red_circle:" if firing else ":large_green_circle:"
    lines = []
    for alert in newest:
        mark = ":red_circle:" if alert.status == AlertStatus.FIRING else ":white_check_mark:"
        url = next((u for u in alert.links if u.startswith(("https://", "http://"))), None)
        title = alert.title[:200]
        lines.append(f"{mark} {slack_link(url, title) if url else escape(title)} ({escape(alert.source)})")
    blocks: list[Block] = [mrkdwn(f"{state} *Alerts*: {firing} firing, {resolved} resolved")]
    if lines:
        blocks.append(mrkdwn("\n".join(lines)))
        if firing + resolved > len(newest):
            blocks.append(
                context(f"Newest {len(newest)} of {firing + resolved}; every alert is on the timeline.")
            )
    return blocks


def alerts_text(firing: int, resolved: int) -> str:
    return f"Alerts: {firing} firing, {resolved} resolved"


def alerts_cleared_blocks(incident: Incident, commander: str | None, total: int) -> list[Block]:
    ask = (
        f"{who(commander)}, is it over?" if commander else "Nobody is commander yet; whoever is: is it over?"
    )
    return [
        mrkdwn(f":white_check_mark: All {total} alerts of this incident have resolved. {ask}"),
        {
            "type": "actions",
            "block_id": BlockId.ALERTS_CLEARED,
            "elements": [button("Resolve", Action.OPEN_RESOLVE, str(incident.number), style="primary")],
        },
    ]


def triage_blocks(alert: AlertRecord, value: str) -> list[Block]:
    url = next((u for u in alert.links if u.startswith(("https://", "http://"))), None)
    details = [f"*{escape(alert.title[:200])}*", f"Source: {escape(alert.source)}"]
    if alert.service:
        details.append(f"Service: {escape(alert.service)}")
    if alert.severity:
        details.append(f"Severity: {escape(alert.severity)}")
    if url:
        details.append(slack_link(url, f"Open in {alert.source}"))
    return [
        mrkdwn(":mag: An alert needs a look:\n" + "\n".join(details)),
        {
            "type": "actions",
            "block_id": BlockId.TRIAGE,
            "elements": [button("Declare incident", Action.DECLARE_FROM_ALERT, value, style="danger")],
        },
    ]


# ---------------------------------------------------------------- runbook checklists


def _fit(text: str, limit: int = TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listing(lines: list[str], what: str, limit: int = TEXT_MAX) -> str:
    """As many lines as fit in one text object, then how many were left out."""
    shown: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        more = f"…and {len(lines) - i} more {what}"
        if used + len(line) + 1 + len(more) > limit:
            return "\n".join([*shown, more])
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


def _owner(step: Step, roles: dict[str, str]) -> str:
    if step.owner is None:
        return ""
    holder = roles.get(step.owner)
    return f"Owner: {step.owner} {who(holder)}" if holder else f"Owner: {step.owner} (nobody holds the role)"


def _finished_line(position: int, step: Step, record: StepRecord) -> str:
    if record.state is StepState.DONE:
        return f":white_check_mark: {position}. {step.title} ({who(record.finished_by)})"
    reason = escape(record.skip_reason or "")[:200]
    return f":fast_forward: {position}. ~{step.title}~ skipped by {who(record.finished_by)}: {reason}"


def command_blocks(template: str, variables: dict[str, Any]) -> list[Block]:
    """A step's command in a code block, each inserted value one shell word, and where the
    values came from when the alert supplied them."""
    command = escape(render_command(template, variables))
    blocks = [mrkdwn("```" + _fit(command, TEXT_MAX - 6) + "```")]
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
) -> list[Block]:
    """A running runbook as one message, updated in place: finished steps collapsed, the
    next few pending steps in full with their buttons, the rest listed by title. However
    long the runbook, it stays within Block Kit's limits (50 blocks, 3,000 characters)."""

    def text(template: str) -> str:
        return render(template, variables, escape)

    counts = f"{progress.done}/{progress.total} done" + (
        f", {progress.skipped} skipped" if progress.skipped else ""
    )
    blocks: list[Block] = [
        mrkdwn(_fit(f":clipboard: *Runbook: {runbook.name}* · {counts}")),
        context(_fit(f"{runbook.description} · version `{runbook.version}`")),
    ]
    if progress.finished:
        lines = [_finished_line(p, s, r) for p, s, r in progress.finished]
        blocks.append(context(_listing(lines, "finished steps")))
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
        blocks.append({**mrkdwn(_fit(body)), "block_id": step_block(step.id)})
        if step.command:
            blocks.extend(command_blocks(step.command, variables))
        if not closed:
            value = StepRef(run_id, step.id, runbook.version).encode()
            blocks.append(
                {
                    "type": "actions",
                    "block_id": step_actions_block(step.id),
                    "elements": [
                        button("Done", Action.STEP_DONE.of_step(step.id), value, style="primary"),
                        button("Skip", Action.STEP_SKIP.of_step(step.id), value),
                        button("I'll take it", Action.STEP_TAKE.of_step(step.id), value),
                    ],
                }
            )
    later = progress.pending[EXPANDED_STEPS:]
    if later:
        lines = [f"{p}. {s.title}" + (f" ({who(r.taken_by)})" if r.taken_by else "") for p, s, r in later]
        blocks.append(context(_listing(["*Later*", *lines], "steps")))
    if progress.not_applicable:
        names = ", ".join(f"{p}. {s.title} ({s.when.describe()})" for p, s in progress.not_applicable)
        blocks.append(context(_fit(f"Not for this incident now: {names}")))
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
    blocks: list[Block] = [mrkdwn(_fit(f":warning: *{step.title}* ({runbook.name}) is marked as dangerous."))]
    if step.command:
        blocks.extend(command_blocks(step.command, variables))
    blocks.append(mrkdwn("Confirm that it is done: it goes on the timeline with your name."))
    return {
        "type": "modal",
        "callback_id": Form.STEP_CONFIRM,
        "private_metadata": value,
        "title": {"type": "plain_text", "text": "Confirm step"},
        "submit": {"type": "plain_text", "text": "It is done"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def skip_step_modal(value: str, step: Step) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": Form.STEP_SKIP,
        "private_metadata": value,
        "title": {"type": "plain_text", "text": "Skip step"},
        "submit": {"type": "plain_text", "text": "Skip"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            mrkdwn(_fit(f"Skipping *{step.title}*.")),
            _input(
                Field.REASON,
                "Why skip it?",
                {"type": "plain_text_input", "action_id": "value", "max_length": 500},
                hint="The post-mortem lists skipped steps with their reasons.",
            ),
        ],
    }


def message_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (a form whose action could not be done)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [mrkdwn(_fit(text))],
    }


def followups_text(incident: Incident, items: list[FollowUp], command: str) -> str:
    if not items:
        return f"No follow-ups for #{incident.number} yet: `{command} followup TEXT [@owner]` records one."
    lines = [
        f"• {escape(item.text)}" + (f" (owner {who(item.owner)})" if item.owner else "")
        for item in items[:50]
    ]
    more = f"\n…and {len(items) - 50} more" if len(items) > 50 else ""
    return _fit(f"*Follow-ups of #{incident.number}*\n" + "\n".join(lines) + more, 3900)


def report_summary_text(report: MttrReport, since: timedelta | None) -> str:
    """The MTTR report in a few lines of mrkdwn: time to resolve per group, then the counts."""
    lines = [f"*MTTR report*, {report_docs.period(report, since)}", report_docs.heading(report)]
    for name, group in report.report.groups.items():
        s = group.metrics[TREND_METRIC]
        cell = report_docs.cell_duration
        lines.append(
            f"• *{escape(name)}*: {group.incidents} incidents, time to resolve "
            f"mean {cell(s.mean)}, p50 {cell(s.p50)}, p90 {cell(s.p90)}"
            + (f" ({group.open} still open)" if group.open else "")
        )
    if not report.report.groups:
        lines.append("No incidents in this period.")
    return "\n".join(lines)
