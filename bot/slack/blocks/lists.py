"""Lists and answers: incidents, timelines, App Home, help, follow-ups, the MTTR summary."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.config import WarroomConfig
from bot.documents import reports as report_docs
from bot.domain.metrics import TREND_METRIC, MttrReport
from bot.slack.blocks.followups import followup_line
from bot.slack.blocks.kit import EVENT_EMOJI, Block, context, fit, mrkdwn, who
from bot.slack.text import escape, escape_keeping_mentions
from bot.store.tables import FollowUp, Incident, TimelineEvent, utcnow


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


def home_view(
    incidents: list[Incident],
    roles: dict[int, dict[str, str]],
    command: str,
    owned: list[Incident] | None = None,
    followups: list[FollowUp] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open incidents; the post-mortems the viewer owns that are not published yet; the
    viewer's open follow-ups, overdue first."""
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Open incidents"}}]
    if not incidents:
        blocks.append(mrkdwn(":sunny: No open incidents right now."))
    for incident in incidents[:40]:
        blocks.append(mrkdwn(incident_line(incident, roles.get(incident.number or 0, {}))))
    if len(incidents) > 40:
        blocks.append(context(f"…and {len(incidents) - 40} more: `{command} list`"))
    if owned:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": "Your post-mortems"}})
        for incident in owned[:20]:
            due = (
                f"due {incident.postmortem_due_at:%Y-%m-%d}" if incident.postmortem_due_at else "no due date"
            )
            state = (incident.postmortem_state or "draft").replace("_", " ")
            line = f"*#{incident.number}* {escape(incident.title)} · {state} · {due}"
            blocks.append(mrkdwn(line + (f" · <#{incident.channel_id}>" if incident.channel_id else "")))
    if followups:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": "Your follow-ups"}})
        for item in followups[:20]:
            blocks.append(mrkdwn(f"#{item.incident_number} " + followup_line(item, now or utcnow())))
    blocks.append({"type": "divider"})
    blocks.append(context(f"Declare one with `{command} declare [sevN] TITLE`, or `{command}` for the form."))
    return {"type": "home", "blocks": blocks}


def help_text(command: str, config: WarroomConfig) -> str:
    severities = ", ".join(s.name for s in config.severities)
    roles = "|".join(config.role_names)
    return "\n".join(
        [
            "*warroom* runs incidents in Slack.",
            "*Anywhere*",
            f"• `{command}`: open the declare form",
            f"• `{command} declare [private] [sevN] [service:NAME] TITLE`: declare an incident ({severities}); private: a private channel, shown only to its members; service: what changed to it is listed",
            f"• `{command} list`: open incidents",
            f"• `{command} drill RUNBOOK`: rehearse a runbook in an exercise incident (pages nobody)",
            f"• `{command} report [30d]`: response times of recent incidents, with a chart, posted here",
            f"• `{command} help`: this help",
            "*Inside an incident channel*",
            f"• `{command} status investigating|identified|monitoring|resolved`",
            f"• `{command} sev N`: change severity",
            f"• `{command} role {roles} @user`: hand out a role",
            f"• `{command} note TEXT`: add a note to the timeline",
            f"• `{command} update [public] [TEXT]`: tell the stakeholder channels (public: and the status page); no text: the form with component states",
            f"• `{command} timeline`: show the timeline",
            f"• `{command} catchup`: the incident in one message (for whoever arrives late)",
            f"• `{command} resolve [SUMMARY]`: resolve (the form opens without a summary)",
            f"• `{command} close`: close a resolved incident",
            f"• `{command} page SERVICE` or `{command} page @user`: page through PagerDuty, or pull a person in",
            f"• `{command} runbook`: runbooks that match; `{command} runbook NAME` starts one",
            f"• `{command} followup [TITLE @owner p1 due:14d]`: record an action item (no text: the form); `{command} followups` lists them with Done buttons",
            f"• `{command} postmortem`: write the post-mortem draft now (it is written on close too)",
            f"• `{command} postmortem review|publish|owner @user`: put it in review, publish it, change its owner",
            f"• `{command} changes`: what changed to the service before and during it; `{command} cause CHANGE_ID` links the cause",
            "React with :pushpin: to put a message on the timeline.",
        ]
    )


def followups_text(incident: Incident, items: list[FollowUp], command: str) -> str:
    if not items:
        return f"No follow-ups for #{incident.number} yet: `{command} followup TEXT [@owner]` records one."
    lines = [
        f"• {escape(item.text)}" + (f" (owner {who(item.owner)})" if item.owner else "")
        for item in items[:50]
    ]
    more = f"\n…and {len(items) - 50} more" if len(items) > 50 else ""
    return fit(f"*Follow-ups of #{incident.number}*\n" + "\n".join(lines) + more, 3900)


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
