"""Slack text: command parsing, mrkdwn escaping, channel names. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from urllib.parse import quote

from bot.domain.incident import DomainError
from bot.domain.people import MENTION

CHANNEL_NAME_MAX = 80


def escape(text: str) -> str:
    """Escape user text for mrkdwn so it cannot ping (<!channel>) or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack's own markup that is safe to keep in echoed user text: people, channels and plain
# links. Broadcasts (<!channel>, <!here>) and labelled links (<url|label>, a phishing tool)
# are not in the list, so they get escaped.
# A link's address may hold neither `<` (a broadcast nested inside it, `<https://a/<!here>`,
# would survive) nor `|` (the start of a label).
_SAFE_MARKUP = re.compile(r"<(@[UW][A-Z0-9]+|#C[A-Z0-9]+|https?://[^\s|<>]+)(?:\|[^<>]*)?>")


def escape_keeping_mentions(text: str) -> str:
    """Escape user text but keep mentions of people and channels and bare links."""
    out, last = [], 0
    for match in _SAFE_MARKUP.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(f"<{match.group(1)}>")
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def link(url: str, label: str) -> str:
    """A Slack link whose address and label are exactly what they say: the address cannot
    end early or carry a label of its own (`|`), the label cannot ping or nest a link. An
    address that is not http(s) is not linked at all."""
    if not re.match(r"(?i)https?://", url):
        return escape(label)
    address = escape(re.sub(r"[\s|<>]", lambda m: quote(m.group()), url))
    return f"<{address}|{escape(label).replace('|', '¦')}>"


def url_value(value: str) -> str:
    """A value inserted into a URL template: one percent-encoded piece, so it cannot change
    where the link goes beyond its own place."""
    return quote(value, safe="")


def split_command(text: str) -> tuple[str, str]:
    """`sev 2` -> ("sev", "2"); the sub-command is lower-cased, the rest kept as typed."""
    text = text.strip()
    if not text:
        return "", ""
    head, _, rest = text.partition(" ")
    return head.lower(), rest.strip()


def parse_user(token: str) -> str:
    """A user as Slack escapes it in a slash command (<@U123|name>) -> U123."""
    match = MENTION.fullmatch(token.strip())
    if not match:
        raise DomainError(
            f"`{escape(token.strip()[:40]) or '(nobody)'}` is not a Slack user: mention them with @ so Slack links the name."
        )
    return match.group(1)


def parse_declare(text: str, severities: list[str]) -> tuple[str | None, str]:
    """`sev2 Checkout down` -> ("SEV2", "Checkout down"); no severity -> (None, text)."""
    first, _, rest = text.strip().partition(" ")
    if re.fullmatch(r"(?i)sev\d", first):
        severity = first.upper()
        if severity not in severities:
            raise DomainError(f"Unknown severity `{escape(first)}`. Severities: {', '.join(severities)}.")
        return severity, rest.strip()
    return None, text.strip()


SERVICE_WORD = re.compile(r"(?i)service:(\S*)")


def take_service(text: str) -> tuple[str | None, str]:
    """`service:checkout Checkout is down` -> ("checkout", "Checkout is down"); the word may
    come anywhere; none -> (None, text)."""
    found = SERVICE_WORD.search(text)
    if found is None:
        return None, text.strip()
    name = found.group(1)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise DomainError(
            f"`service:{escape(name[:40])}`: a service is 1-100 of A-Z, a-z, 0-9, `.`, `_` and `-`."
        )
    rest = (text[: found.start()] + text[found.end() :]).split()
    return name, " ".join(rest)


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-_")


def channel_name(prefix: str, number: int, title: str, *, drill: bool = False, attempt: int = 0) -> str:
    """inc-{number}-{slug}: Slack's rules (lowercase a-z 0-9 - _, at most 80 characters).

    `attempt` > 0 adds a suffix after name_taken, so the name is still unique.
    """
    head = f"{prefix}-{number}" + ("-drill" if drill else "")
    suffix = f"-{attempt + 1}" if attempt else ""
    room = CHANNEL_NAME_MAX - len(head) - len(suffix) - 1
    tail = slug(title)[:room].rstrip("-_")
    return f"{head}-{tail}{suffix}" if tail else f"{head}{suffix}"


def slack_time(at: datetime) -> str:
    """A timestamp Slack shows in each reader's own time zone, with a UTC fallback."""
    epoch = int(at.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M UTC}>"
