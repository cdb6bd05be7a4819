"""Alerts: the incident's alerts message, the all-clear, the triage post."""

from __future__ import annotations

from bot.domain.alerts import AlertStatus
from bot.slack.blocks.kit import Block, button, context, mrkdwn, who
from bot.slack.ids import Action, BlockId
from bot.slack.text import escape
from bot.slack.text import link as slack_link
from bot.store.tables import AlertRecord, Incident


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


def triage_blocks(alert: AlertRecord, value: str, after: str | None = None) -> list[Block]:
    """`after`: `12 minutes after deploy checkout v2.14.0` when a change shortly preceded it."""
    url = next((u for u in alert.links if u.startswith(("https://", "http://"))), None)
    details = [f"*{escape(alert.title[:200])}*", f"Source: {escape(alert.source)}"]
    if alert.service:
        details.append(f"Service: {escape(alert.service)}")
    if alert.severity:
        details.append(f"Severity: {escape(alert.severity)}")
    if after:
        details.append(f":package: Started {escape(after)}")
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
