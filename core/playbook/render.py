"""Render announcements per channel and language with sandboxed Jinja and strict undefined names.

Rendering is done once per template x language (never per recipient): a playbook is written by a
comms team, not by an attacker, but the sandbox keeps a template from reaching Python internals
and StrictUndefined turns a typo into an error instead of a blank in a message to thousands.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from types import TracebackType
from typing import Any, TypeVar

import jinja2

from crisiscast.errors import PlaybookError
from crisiscast.playbook.locate import Finding, Path
from crisiscast.playbook.sandbox import LimitedSandbox, render_limited
from crisiscast.playbook.schema import Announcement, ChannelKind, Playbook

_T = TypeVar("_T")
_TEMPLATE_NAME = "<template>"
# Limited: a template renders within a time, output and loop budget (see playbook.sandbox).
_TEXT_ENV = LimitedSandbox(undefined=jinja2.StrictUndefined, autoescape=False)
_HTML_ENV = LimitedSandbox(undefined=jinja2.StrictUndefined, autoescape=True)

# (field in the playbook, field of RenderedMessage) for each channel kind.
_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "sms": (("text", "text"),),
    "email": (("subject", "subject"), ("text", "text"), ("html", "html")),
    "social": (("text", "text"),),
    "banner": (("headline", "subject"), ("body", "text")),
    "chat": (("text", "text"),),
}


@dataclass(frozen=True)
class RenderedMessage:
    """One message ready for a channel, in one language.

    For a banner, ``subject`` holds the headline, ``text`` the body and ``level`` the banner
    level (info, warning, critical); ``level`` is None for other channels.
    """

    announcement_id: str
    when: str
    channel: ChannelKind
    language: str
    text: str
    subject: str | None = None
    html: str | None = None
    level: str | None = None


class TemplateFailure(Exception):
    """Internal: one template failed; carries the finding that locates it."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


@lru_cache(maxsize=4096)
def _compile(source: str, html: bool) -> jinja2.Template:
    env = _HTML_ENV if html else _TEXT_ENV
    return env.limited_string(source)


def render_text(source: str, context: Mapping[str, Any], path: Path, html: bool = False) -> str:
    """Render one template; raise TemplateFailure naming the problem and, if known, its line."""
    try:
        return render_limited(_compile(source, html), dict(context)).strip()
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateFailure(
            Finding(path, f"template syntax error: {exc.message}", exc.lineno)
        ) from None
    except jinja2.UndefinedError as exc:
        raise TemplateFailure(
            Finding(path, _undefined_message(str(exc), context), _template_line(exc.__traceback__))
        ) from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateFailure(
            Finding(path, f"template failed: {exc}", _template_line(exc.__traceback__))
        ) from None
    except (MemoryError, RecursionError) as exc:
        what = "too much memory" if isinstance(exc, MemoryError) else "too deep a recursion"
        raise TemplateFailure(
            Finding(
                path,
                f"template failed: it needs {what}; simplify it",
                _template_line(exc.__traceback__),
            )
        ) from None


def _undefined_message(text: str, context: Mapping[str, Any]) -> str:
    match = re.search(r"'([^']+)' is undefined", text)
    names = sorted(context)
    if match is None:
        return f"template uses something undefined: {text}; available: {', '.join(names)}"
    close = difflib.get_close_matches(match.group(1), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"template uses undefined variable {match.group(1)!r}: {hint}"
        f"available are {', '.join(names)} (parameters are declared under `parameters`)"
    )


def _template_line(trace: TracebackType | None) -> int | None:
    """Jinja rewrites tracebacks so template frames carry template line numbers."""
    line = None
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == _TEMPLATE_NAME:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def template_context(
    playbook: Playbook, params: Mapping[str, Any], incident: Mapping[str, Any], language: str
) -> dict[str, Any]:
    """Everything a template may use: parameters by name plus incident, routes, resources, ..."""
    default = playbook.default_language

    def pick(text: Mapping[str, str]) -> str:
        return text.get(language) or text.get(default) or next(iter(text.values()))

    routes = [
        {
            "need": r.need,
            "label": pick(r.label),
            "channel": r.channel,
            "target": r.target,
            "hours": r.hours,
        }
        for r in playbook.routes
    ]
    resources = [{"kind": r.kind, "title": pick(r.title), "url": r.url} for r in playbook.resources]
    return {
        **params,
        "incident": dict(incident),
        "language": language,
        "routes": routes,
        "resources": resources,
        "reassurance": pick(playbook.reassurance) if playbook.reassurance else "",
        "two_options": [pick(option) for option in playbook.two_options],
    }


def render_title(playbook: Playbook, params: Mapping[str, Any]) -> str:
    """The incident title with parameters filled in (the title may be a template)."""
    context = template_context(playbook, params, {}, playbook.default_language)
    return _or_raise(playbook, lambda: render_text(playbook.title, context, ("title",)))


def _messages(
    playbook: Playbook,
    position: int,
    announcement: Announcement,
    params: Mapping[str, Any],
    incident: Mapping[str, Any],
) -> Iterator[RenderedMessage]:
    """Render every channel x language of one announcement, raising on the first failure."""
    for language in playbook.languages:
        context = template_context(playbook, params, incident, language)
        for kind in announcement.channels.kinds():
            message = getattr(announcement.channels, kind)
            values: dict[str, Any] = {}
            for source_field, target in _FIELDS[kind]:
                text = getattr(message, source_field)
                if text is None:
                    continue
                path = ("announcements", position, "channels", kind, source_field, language)
                values[target] = render_text(text[language], context, path, html=target == "html")
            yield RenderedMessage(
                announcement_id=announcement.id,
                when=announcement.when,
                channel=kind,
                language=language,
                level=getattr(message, "level", None),
                **values,
            )


def render_announcement(
    playbook: Playbook,
    announcement_id: str,
    params: Mapping[str, Any],
    incident: Mapping[str, Any],
) -> list[RenderedMessage]:
    """Every message of one announcement, per channel and language, in a stable order."""
    for position, announcement in enumerate(playbook.announcements):
        if announcement.id == announcement_id:
            found = _messages(playbook, position, announcement, params, incident)
            return _or_raise(playbook, partial(list, found))
    known = ", ".join(a.id for a in playbook.announcements)
    missing = Finding(
        ("announcements",), f"no announcement {announcement_id!r}: use one of {known}"
    )
    raise PlaybookError([playbook.problem(missing)])


def render_all(
    playbook: Playbook,
    params: Mapping[str, Any],
    incident: Mapping[str, Any],
    when: str | None = None,
) -> list[RenderedMessage]:
    """Every message of every announcement (or only those sent at ``when``), for preview."""
    messages: list[RenderedMessage] = []
    for announcement in playbook.announcements:
        if when is None or announcement.when == when:
            messages.extend(render_announcement(playbook, announcement.id, params, incident))
    return messages


def _or_raise(playbook: Playbook, produce: Callable[[], _T]) -> _T:
    """Run a render, turning a template failure into a PlaybookError located in the source."""
    try:
        return produce()
    except TemplateFailure as failure:
        raise PlaybookError([playbook.problem(failure.finding)]) from None


def template_findings(playbook: Playbook, params: Mapping[str, Any]) -> list[Finding]:
    """Render every template (title, each announcement x channel x language); collect failures."""
    findings: list[Finding] = []
    title = playbook.title
    try:
        context = template_context(playbook, params, {}, playbook.default_language)
        title = render_text(playbook.title, context, ("title",))
    except TemplateFailure as failure:
        findings.append(failure.finding)
    incident = {"ref": "INC-1", "title": title, "exercise": False}
    for language in playbook.languages:
        context = template_context(playbook, params, incident, language)
        for position, announcement in enumerate(playbook.announcements):
            for kind in announcement.channels.kinds():
                message = getattr(announcement.channels, kind)
                for source_field, target in _FIELDS[kind]:
                    text = getattr(message, source_field)
                    if text is None:
                        continue
                    path = ("announcements", position, "channels", kind, source_field, language)
                    try:
                        render_text(text[language], context, path, html=target == "html")
                    except TemplateFailure as failure:
                        findings.append(failure.finding)
    return findings
