"""A launch or update preview as HTML: the same panel for the requester and the approver.

It shows what ``web.api.preview`` worked out (messages per channel and language, reach and
fallbacks, SMS segments and cost) and the send-time line for the server's providers, so the
second person decides on exactly what the first one saw.
"""

from __future__ import annotations

from html import escape

from crisiscast.config import Settings
from crisiscast.incidents.broadcast.reach_report import ReachRow, send_time_lines
from crisiscast.web.api.models import PreviewOut


def reached_in_all(preview: PreviewOut) -> int:
    """People reached summed over channels and languages (one person on two channels
    counts twice: it is the number of messages per broadcast, not of people)."""
    return sum(r.reached for r in preview.reach)


def send_time(preview: PreviewOut, settings: Settings) -> list[str]:
    """How long the send takes at this server's providers' rates; the outbox otherwise."""
    rows = [ReachRow(r.channel, r.language, reached=r.reached) for r in preview.reach]
    segments = {
        "sms": max((m.segments or 1 for m in preview.messages if m.channel == "sms"), default=1)
    }
    lines = send_time_lines(rows, settings, segments)
    live = set(settings.live_channels())
    for channel in sorted({r.channel for r in preview.reach} - live):
        lines.append(f"{channel}: no provider configured, so it is written to the outbox")
    return lines


def preview_html(preview: PreviewOut, settings: Settings) -> str:
    """The preview's section: reach table, send time, SMS cost, then every message."""
    reach = (
        _reach_table(preview)
        if preview.reach
        else "<p>No SMS or email in this broadcast: it reaches the public page, "
        "banner, social and chat channels only.</p>"
    )
    times = "".join(f"<li>{escape(line)}</li>" for line in send_time(preview, settings))
    facts = (
        '<dl class="facts">'
        f"<dt>Target</dt><dd>{escape(preview.target or 'the launch target')}</dd>"
        f'<dt>Messages to send</dt><dd id="preview-total">{reached_in_all(preview):,}</dd>'
        f"<dt>SMS segments</dt><dd>{preview.sms_segments:,}</dd>"
        f"<dt>SMS cost</dt><dd>{preview.sms_cost:,.2f} at {preview.sms_price:g} a segment</dd>"
        "</dl>"
    )
    messages = "".join(
        _message(m.channel, m.language, m.subject, m.text, m.segments, m.encoding)
        for m in preview.messages
    )
    return (
        '<section aria-labelledby="preview-title" id="preview">'
        '<h2 id="preview-title" tabindex="-1">Preview</h2>'
        f"{facts}{reach}"
        f'<h3>Send time</h3><ul class="send-time">{times}</ul>'
        f"<h3>Messages</h3>{messages or '<p>No message.</p>'}</section>"
    )


def _message(
    channel: str,
    language: str,
    subject: str | None,
    text: str,
    segments: int | None,
    encoding: str | None,
) -> str:
    sms = f", {segments} segment{'s' if segments != 1 else ''} ({encoding})" if segments else ""
    title = f"<p><strong>{escape(channel)}</strong> in {escape(language)}{escape(sms)}</p>"
    about = f"<p>Subject: {escape(subject)}</p>" if subject else ""
    return (
        f'<div class="message">{title}{about}<blockquote lang="{escape(language)}">'
        f"{escape(text)}</blockquote></div>"
    )


REACH_HEADERS = ("Channel", "Language", "Reached", "Opted out", "No address", "Fallback language")


def _reach_table(preview: PreviewOut) -> str:
    """The reach table; each cell carries its header (``data-label``) so that on a phone
    the rows stack as cards that still say what each number is."""
    head = "".join(f'<th scope="col">{h}</th>' for h in REACH_HEADERS)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td data-label="{label}">{value}</td>'
            for label, value in zip(
                REACH_HEADERS,
                (
                    escape(r.channel),
                    escape(r.language),
                    f"{r.reached:,}",
                    f"{r.opted_out:,}",
                    f"{r.no_address:,}",
                    f"{r.fallback:,}",
                ),
                strict=True,
            )
        )
        + "</tr>"
        for r in preview.reach
    )
    return (
        '<table class="reach"><caption>Reach per channel and language</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )
