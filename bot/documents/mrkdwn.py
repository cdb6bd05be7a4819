"""Slack mrkdwn, converted (not escaped) for a reader outside Slack: Markdown or HTML.

`*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ```blocks``` ````, links `<url|label>`,
mentions `<@U123>` (to names), `<#C123|name>`, `<!here>` and emoji shortcodes (common ones as
the emoji itself, others left as `:name:`). Anything else is text, escaped for the output:
what a person typed can neither inject HTML nor break the document. Only http(s) and mailto
links become links. Pure, and quick on text with no markup (most of a long timeline).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from markupsafe import Markup

from bot.domain.people import MENTION

EMOJI = {
    "fire": "🔥",
    "rotating_light": "🚨",
    "warning": "⚠️",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "x": "❌",
    "memo": "📝",
    "pushpin": "📌",
    "rocket": "🚀",
    "eyes": "👀",
    "tada": "🎉",
    "bug": "🐛",
    "arrows_counterclockwise": "🔄",
    "rewind": "⏪",
    "bell": "🔔",
    "no_bell": "🔕",
    "mag": "🔍",
    "hourglass": "⌛",
    "chart_with_upwards_trend": "📈",
    "thumbsup": "👍",
    "+1": "👍",
    "ok": "🆗",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
}

_TOKENS = re.compile(
    r"(?=[`<*_~:])"  # fails fast where no piece can start (most positions)
    r"(?:(?P<pre>```(?P<pre_body>.+?)```)"
    r"|(?P<code>`(?P<code_body>[^`\n]+)`)"
    r"|<(?P<angle>[^<>\n]+)>"
    r"|(?<![\w*])\*(?P<bold>[^*\s](?:[^*\n]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\s](?:[^_\n]*[^_\s])?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\s](?:[^~\n]*[^~\s])?)~(?![\w~])"
    r"|:(?P<emoji>[a-z0-9_+\-]+):)",
    re.DOTALL,
)
_MARKUP_HINT = re.compile(r"[*_~`<:&]")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_SAFE_URL = re.compile(r"(?:https?://|mailto:)[^\s\"'<>]+", re.IGNORECASE)
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}
# One pass over plain text: a backslash before what Markdown reads as markup (`<` included:
# no raw HTML, no autolink), readable in the raw file too; `&` only where it starts an entity.
_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*_[]{}|!#~<"})
_ENTITY_LIKE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_WHITESPACE = re.compile(r"\s+")


def unescape(text: str) -> str:
    """Slack sends &, < and > in text as entities."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group()], text) if "&" in text else text


def one_line(text: str) -> str:
    if "  " in text or not text.isprintable():
        return _WHITESPACE.sub(" ", text).strip()
    return text


def markdown_escape(text: str) -> str:
    """Plain text safe anywhere in a Markdown line: no markup, no raw HTML."""
    text = text.translate(_MARKDOWN_ESCAPES)
    return _ENTITY_LIKE.sub(r"\\&", text) if "&" in text else text


@dataclass(frozen=True)
class Format:
    """How one output writes each piece of mrkdwn."""

    text: Callable[[str], str]
    bold: Callable[[str], str]
    italic: Callable[[str], str]
    strike: Callable[[str], str]
    code: Callable[[str], str]
    pre: Callable[[str], str]
    link: Callable[[str, str], str]  # url, label (already written)


def _md_code(body: str) -> str:
    body = one_line(body)
    fence = "``" if "`" in body else "`"
    return f"{fence} {body} {fence}" if fence == "``" or body.startswith(" ") else f"`{body}`"


def _md_url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


MARKDOWN = Format(
    text=lambda t: markdown_escape(one_line(t)),
    bold=lambda inner: f"**{inner}**",
    italic=lambda inner: f"_{inner}_",
    strike=lambda inner: f"~~{inner}~~",
    code=_md_code,
    pre=_md_code,
    link=lambda url, label: f"[{label}](<{_md_url(url)}>)" if label else f"<{_md_url(url)}>",
)

HTML = Format(
    text=lambda t: html.escape(t, quote=False),
    bold=lambda inner: f"<strong>{inner}</strong>",
    italic=lambda inner: f"<em>{inner}</em>",
    strike=lambda inner: f"<del>{inner}</del>",
    code=lambda body: f"<code>{html.escape(body)}</code>",
    pre=lambda body: f"<pre>{html.escape(body.strip(chr(10)))}</pre>",
    link=lambda url, label: f'<a href="{html.escape(url)}">{label or html.escape(url)}</a>',
)


PLAIN = Format(
    text=lambda t: t,
    bold=lambda inner: inner,
    italic=lambda inner: inner,
    strike=lambda inner: inner,
    code=lambda body: body,
    pre=lambda body: body,
    link=lambda url, label: f"{label} ({url})" if label else url,
)


def plain(text: str | None, names: Mapping[str, str]) -> str:
    """mrkdwn -> the words alone (a page title, a chart label): names, no markup, unescaped."""
    return _convert(text, PLAIN, names) if text else ""


def convert(text: str | None, out: Format, names: Mapping[str, str]) -> Markup:
    """mrkdwn -> the output's markup (marked safe: every piece of it was escaped)."""
    if not text:
        return Markup("")
    if not _MARKUP_HINT.search(text):
        return Markup(out.text(text))
    return Markup(_convert(text, out, names))


def _convert(text: str, out: Format, names: Mapping[str, str]) -> str:
    parts: list[str] = []
    position = 0
    for match in _TOKENS.finditer(text):
        if match.start() > position:
            parts.append(out.text(unescape(text[position : match.start()])))
        parts.append(_piece(match, out, names))
        position = match.end()
    if position < len(text):
        parts.append(out.text(unescape(text[position:])))
    return "".join(parts)


def _piece(match: re.Match[str], out: Format, names: Mapping[str, str]) -> str:
    kind = match.lastgroup  # the outermost group that matched: pre, code, angle, bold, ...
    if kind == "pre":
        return out.pre(unescape(match.group("pre_body")))
    if kind == "code":
        return out.code(unescape(match.group("code_body")))
    if kind == "angle":
        return _angle(match.group(), match.group("angle"), out, names)
    if kind == "emoji":
        name = match.group("emoji")
        return out.text(EMOJI.get(name, f":{name}:"))
    style: Callable[[str], str] = getattr(out, str(kind))  # bold, italic, strike
    return style(_convert(match.group(kind or 0), out, names))


def _angle(whole: str, inside: str, out: Format, names: Mapping[str, str]) -> str:
    """<@U123>, <#C123|name>, <!here>, <!subteam^S1|@oncall>, <https://x|label>."""
    target, _, label = inside.partition("|")
    label = unescape(label)
    mention = MENTION.fullmatch(whole)
    if mention:
        return out.text(names.get(mention.group(1), mention.group(1)))
    if target.startswith("#"):
        return out.text(f"#{label or target[1:]}")
    if target.startswith("!"):
        special = target[1:].partition("^")[0]
        return out.text(label or _SPECIAL.get(special, f"@{special}"))
    url = unescape(target)
    if _SAFE_URL.fullmatch(url):
        return out.link(url, out.text(label) if label else "")
    return out.text(unescape(whole))
