"""Slack mrkdwn converted for readers outside Slack, in Markdown and HTML alike."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from bot.documents.mrkdwn import HTML, MARKDOWN, convert, plain
from bot.domain.people import Names, Person

NAMES = Names([Person("U1ALICE", "alice", "Alice Smith")])


@pytest.mark.parametrize(
    ("text", "markdown", "html"),
    [
        ("*checkout-errors* firing", "**checkout-errors** firing", "<strong>checkout-errors</strong> firing"),
        ("_slowly_ and ~never~", "_slowly_ and ~~never~~", "<em>slowly</em> and <del>never</del>"),
        ("run `kubectl get pods`", "run `kubectl get pods`", "run <code>kubectl get pods</code>"),
        ("```a\nb```", "`a b`", "<pre>a\nb</pre>"),
        (
            "<@U1ALICE> and <@U9NOBODY|nobody>",
            "Alice Smith (@alice) and U9NOBODY",
            "Alice Smith (@alice) and U9NOBODY",
        ),
        ("in <#C123|ops> <!here>", "in \\#ops @here", "in #ops @here"),
        ("<!subteam^S1|@oncall> paged", "@oncall paged", "@oncall paged"),
        (
            "see <https://x.example/a_(b)|the *graph*>",
            "see [the \\*graph\\*](<https://x.example/a_%28b%29>)",
            'see <a href="https://x.example/a_(b)">the *graph*</a>',
        ),
        ("<https://x.example>", "<https://x.example>", '<a href="https://x.example">https://x.example</a>'),
        (":fire: :not_an_emoji:", "🔥 :not\\_an\\_emoji:", "🔥 :not_an_emoji:"),
        ("search_docs_index and 2*3*4", "search\\_docs\\_index and 2\\*3\\*4", "search_docs_index and 2*3*4"),
        ("a &amp; b &lt;tag&gt;", "a & b \\<tag>", "a &amp; b &lt;tag&gt;"),
    ],
)
def test_each_piece_of_mrkdwn_is_converted(text: str, markdown: str, html: str) -> None:
    assert convert(text, MARKDOWN, NAMES) == markdown
    assert convert(text, HTML, NAMES) == html


@pytest.mark.parametrize(
    "hostile",
    [
        "<javascript:alert(1)|click>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "*<script>x</script>*",
        '<https://x.example/"onmouseover="alert(1)|x>',
        "[a](javascript:alert(1)) <img src=x onerror=alert(1)>",
    ],
)
def test_what_a_person_typed_cannot_become_html(hostile: str) -> None:
    rendered = MarkdownIt("commonmark", {"html": True}).render(convert(hostile, MARKDOWN, NAMES))
    for out in (rendered, convert(hostile, HTML, NAMES)):
        for tag, attrs in tags(out):
            assert tag in {"p", "a", "strong"}, out
            assert all(name == "href" and value.startswith("https://") for name, value in attrs), out


def tags(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every element a browser would build from this HTML, with its attributes."""
    found: list[tuple[str, list[tuple[str, str]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, [(k, v or "") for k, v in attrs]))

    Collect().feed(html)
    return found


def test_plain_keeps_only_the_words() -> None:
    assert plain("*Checkout* down for <@U1ALICE>, see <https://x.example|graph>", NAMES) == (
        "Checkout down for Alice Smith (@alice), see graph (https://x.example)"
    )
