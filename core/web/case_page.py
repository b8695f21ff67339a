"""The phone link: ``/c/{case}.{agent}.{sig}`` opens one case for the agent it was paged to.

No password: the signed token (``incidents.agents.case_link``) is the credential, and it is
checked again on every request, reads and writes alike. It stops opening the case as soon as
``case_link.expired`` says so (the case closed, the agent is off the roster or their pass
ended, or they no longer hold the case): 410 for a link that has run its course, 403 for one
that is not (or no longer) this agent's, never a 5xx.

- The page is server-rendered HTML for a phone (readable at 360 px), WCAG 2.1 AA: labelled
  fields, the reading order is the focus order, contrast above 4.5:1, everything works with
  the keyboard, and problems and results are announced (``role="alert"`` / ``"status"``).
- The token is in the URL, so every answer says ``Referrer-Policy: no-referrer`` and
  ``Cache-Control: no-store``; the CSP allows only this app's own script and the page's one
  inline style (by hash), no framing.
- The buttons apply the same domain handlers as the agent's SMS commands (``desk.HANDLERS``,
  ``case_commands.set_status``, checked by ``commands.authorize``), audited as
  ``agent.<verb>`` from ``console``; a reply goes out on the case's channel like the API's
  (an exercise's to its outbox), as a ``reply`` line of the conversation and ``case.reply``
  in the audit log.
- Live updates: ``/c/_/case.js`` asks ``/c/{token}/since?after=N`` every 2 s and appends
  new lines to the conversation (an ``aria-live="polite"`` list). Without script, a reload
  shows everything.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from crisiscast.config import Settings
from crisiscast.errors import ConfigError, CrisiscastError
from crisiscast.incidents.agents import case_link
from crisiscast.incidents.agents.case_commands import Refused, audit_command, set_status
from crisiscast.incidents.agents.commands import Command, Rejection, Verb, authorize
from crisiscast.incidents.agents.desk import HANDLERS, customer_senders
from crisiscast.incidents.agents.paging import (
    case_contact,
    customer_words,
    location_text,
    message_customer,
    status_line,
    why_summary,
)
from crisiscast.incidents.agents.roster import holder_of
from crisiscast.incidents.cases.conversation import Line, add_entry, conversation
from crisiscast.incidents.cases.customer_wait import WAITING_STATUS
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.cases.status import case_statuses
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Agent, Assignment, Case, Contact, Incident
from crisiscast.playbook import load_playbook
from crisiscast.web.request_checks import BadRequest, read_clean_form

log = logging.getLogger(__name__)

FORM_LIMIT = 16 * 1024  # one reply or note of MAX_TEXT characters, %-encoded
MAX_TEXT = 1600  # characters of a reply or note: ten SMS segments
POLL_MS = 2000
SCRIPT_PATH = "/c/_/case.js"
VERBS: Mapping[str, Verb] = {"ack": Verb.ACK, "done": Verb.DONE, "esc": Verb.ESC,
                             "pass": Verb.PASS, "status": Verb.STATUS}  # fmt: skip
DONE_NOTES: Mapping[str, str] = {
    "reply": "Reply sent to the customer.",
    "ack": "Case acknowledged: it is yours.",
    "status": "Status changed.",
}

_STYLE = (
    "body{font:1.05rem/1.5 system-ui,sans-serif;color:#111;background:#fff;margin:0 auto;"
    "max-width:40rem;padding:0 .75rem 2rem}h1{font-size:1.4rem;margin:.75rem 0}"
    "h2{font-size:1.15rem;margin:1.25rem 0 .4rem;border-top:1px solid #767676;padding-top:.6rem}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .75rem;margin:0}"
    "dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}"
    "blockquote{margin:.3rem 0;padding:.4rem .7rem;border-left:4px solid #1a5fb4;"
    "background:#f1f4f9;white-space:pre-wrap;overflow-wrap:anywhere}"
    "ol{list-style:none;padding:0;margin:0}li{border-bottom:1px solid #ddd;padding:.4rem 0}"
    ".meta{color:#444;font-size:.9rem;margin:0}.body{margin:.1rem 0;white-space:pre-wrap;"
    "overflow-wrap:anywhere}li.incoming .body{font-weight:600}"
    "label{display:block;font-weight:600;margin:.5rem 0 .2rem}"
    "textarea,select{font:inherit;width:100%;box-sizing:border-box;padding:.4rem;"
    "border:1px solid #555}textarea{min-height:5rem}"
    "button{font:inherit;min-height:44px;padding:.4rem 1rem;margin:.4rem 0;color:#fff;"
    "background:#1a5fb4;border:0;border-radius:4px}button.done{background:#1b6b2f}"
    "button.esc{background:#a51d2d}"
    "[role=alert]{border:2px solid #b00020;padding:.3rem .8rem;color:#7a0016}"
    "[role=status]{margin:.4rem 0}.sev{text-transform:uppercase}"
    ":focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}"
    "a{color:#1a5fb4}"
)
_STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# Own script only (from this origin), one inline style by its hash, no framing, no plugins.
_CSP = (
    f"default-src 'none'; script-src 'self'; connect-src 'self'; style-src '{_STYLE_HASH}'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never hand it to another site
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

# The live updates: poll, append the new lines, stop (and say why) when the link expires.
SCRIPT = """"use strict";
(function () {
  var list = document.getElementById("conversation");
  var news = document.getElementById("live-status");
  if (!list || !list.dataset.since) { return; }
  var shown = parseInt(list.dataset.count, 10) || 0;
  function line(item) {
    var li = document.createElement("li");
    li.className = item.kind;
    var meta = document.createElement("p");
    meta.className = "meta";
    meta.textContent = item.meta;
    var body = document.createElement("p");
    body.className = "body";
    body.textContent = item.body;
    li.appendChild(meta);
    li.appendChild(body);
    return li;
  }
  function poll() {
    fetch(list.dataset.since + "?after=" + shown, {cache: "no-store", credentials: "omit"})
      .then(function (r) { return r.json().then(function (data) { return [r.status, data]; }); })
      .then(function (answer) {
        var data = answer[1];
        if (answer[0] !== 200) {
          news.textContent = data.why || "This link no longer opens the case.";
          return;
        }
        data.lines.forEach(function (item) { list.appendChild(line(item)); });
        shown = data.count;
        setTimeout(poll, POLL_MS);
      })
      .catch(function () { setTimeout(poll, POLL_MS * 2); });
  }
  setTimeout(poll, POLL_MS);
})();
""".replace("POLL_MS", str(POLL_MS))


@dataclass(frozen=True, slots=True)
class Opened:
    """A link that still opens its case: the case, its agent and their assignment."""

    case: Case
    agent: Agent
    held: Assignment
    incident: Incident | None


@dataclass(frozen=True, slots=True)
class Closed:
    """A link that does not open (any more): the status to answer and why, in words."""

    status: int
    title: str
    why: str


def case_page_router(settings: Settings, store: Store) -> APIRouter:
    """The phone link's routes on ``store``; links are verified with ``settings``' secret."""
    router = APIRouter(include_in_schema=False)

    def opening(session: Session, token: str, now: datetime) -> Opened | Closed:
        """``open_link`` under this server's key; a key that cannot be read is a 503."""
        try:
            key = case_link.link_secret(settings)
        except ConfigError as exc:
            log.error("case links cannot be checked: %s", exc)
            return Closed(503, "Links unavailable", "case links cannot be checked on this "
                          "server right now (its link key is unusable): use SMS commands, "
                          "and tell the incident commander")  # fmt: skip
        return open_link(session, key, token, now)

    @router.get(SCRIPT_PATH)
    def script() -> Response:
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return Response(SCRIPT, media_type="text/javascript; charset=utf-8", headers=headers)

    @router.get("/c/{token}")
    def show(token: str, request: Request) -> Response:
        """The case on a phone, or the page that says why the link no longer opens it."""
        now = datetime.now(UTC)
        with store.session() as session:
            opened = opening(session, token, now)
            if isinstance(opened, Closed):
                return _closed_page(opened)
            done = DONE_NOTES.get(request.query_params.get("done", ""))
            return _page(200, f"Case {opened.case.id}",
                         _case_html(session, token, opened, now, note=done))  # fmt: skip

    @router.get("/c/{token}/since")
    def since(token: str, after: int = 0) -> JSONResponse:
        """Conversation lines after the first ``after``, for the page's live updates."""
        now = datetime.now(UTC)
        with store.session() as session:
            opened = opening(session, token, now)
            if isinstance(opened, Closed):
                return JSONResponse({"why": _sentence(opened.why)}, status_code=opened.status,
                                    headers=_HEADERS)  # fmt: skip
            lines = shown_lines(session, opened.case.id)
            start = min(max(after, 0), len(lines))
            body = {"count": len(lines), "lines": [_line_json(x) for x in lines[start:]]}
            return JSONResponse(body, headers=_HEADERS)

    def forged(token: str) -> Response | None:
        """A link whose signature fails, answered before its form is read (authenticate
        before parsing); a key that cannot be read is left to ``opening`` (503, with why)."""
        try:
            key = case_link.link_secret(settings)
        except ConfigError:
            return None
        if case_link.verify(key, token) is not None:
            return None
        return _closed_page(Closed(403, "Link not valid", "this link is not valid: use the "
                                   "link from your latest page SMS, or send INFO with the "
                                   "case number"))  # fmt: skip

    async def signed_form(token: str, request: Request) -> dict[str, str] | Response:
        """The form of a request on a genuine link: a body declared too big is refused unread
        (413) first, then the signature is checked, then the form read within its limit."""
        declared = request.headers.get("content-length", "")
        if not (declared.isdigit() and int(declared) > FORM_LIMIT):
            refused = forged(token)
            if refused is not None:
                return refused
        return await _form(request)

    @router.post("/c/{token}/reply")
    async def reply(token: str, request: Request) -> Response:
        form = await signed_form(token, request)
        if isinstance(form, Response):
            return form
        text = form.get("text", "").strip()
        return await run_in_threadpool(_act, token, "reply", text)

    def action_route(action: str) -> Callable[[str, Request], Awaitable[Response]]:
        async def act(token: str, request: Request) -> Response:
            form = await signed_form(token, request)
            if isinstance(form, Response):
                return form
            note = form.get("status" if action == "status" else "note", "").strip()
            return await run_in_threadpool(_act, token, action, note)

        return act

    for action in VERBS:  # one path each: /c/{token}/ack, /done, /esc, /pass, /status
        router.add_api_route(f"/c/{{token}}/{action}", action_route(action), methods=["POST"])

    def _act(token: str, action: str, text: str) -> Response:
        """Re-check the link, apply the action in one transaction, then back to the case."""
        now = datetime.now(UTC)
        if len(text) > MAX_TEXT:
            return _message(413, "Too long", f"Keep it under {MAX_TEXT} characters "
                            f"(it has {len(text)}).", back=token)  # fmt: skip
        with store.session() as session:
            opened = opening(session, token, now)
            if isinstance(opened, Closed):
                return _closed_page(opened)
            if action == "reply":
                outcome = send_reply(session, settings, opened, text, now)
            else:
                outcome = apply_command(session, opened, VERBS[action], text, now)
            if outcome is not None:
                return _page(409, f"Case {opened.case.id}",
                             _case_html(session, token, opened, now, problem=outcome))  # fmt: skip
        where = f"/c/{token}" + (f"?done={action}" if action in DONE_NOTES else "")
        return RedirectResponse(where, status_code=303, headers=_HEADERS)

    return router


def open_link(session: Session, key: bytes, token: str, now: datetime) -> Opened | Closed:
    """What ``token`` opens right now: its case, or why not (``case_link.expired``)."""
    claim = case_link.verify(key, token)
    case = session.get(Case, claim.case_id) if claim else None
    agent = session.get(Agent, claim.agent_id) if claim else None
    if claim is None or case is None or agent is None:
        return Closed(403, "Link not valid", "this link is not valid: use the link from your "
                      "latest page SMS, or send INFO with the case number")  # fmt: skip
    held = holder_of(session, case.id)
    mine = held is not None and held.agent_id == agent.id
    ends = agent.pass_expires_at
    why = case_link.expired(
        case_open=case.resolved_at is None and case.status not in CLOSED_STATUSES,
        agent_holds_case=mine,
        agent_on_roster=agent.active,
        pass_expires_at=ends.replace(tzinfo=UTC) if ends and ends.tzinfo is None else ends,
        now=now,
    )
    if why == "the case is closed":
        return Closed(410, "Case closed", f"case {case.id} is {case.status}: the case is "
                      "closed, so this link no longer opens it. Thank you")  # fmt: skip
    if why == "the case is no longer the agent's":
        return Closed(403, "Not your case", f"case {case.id} is not yours any more (it was "
                      "passed on, escalated or released): send NEXT for another case")  # fmt: skip
    if why is not None or held is None:
        return Closed(410, "Link expired", f"this link no longer opens case {case.id}: {why}")
    incident = session.get(Incident, case.incident_id) if case.incident_id else None
    return Opened(case, agent, held, incident)


def apply_command(
    session: Session, opened: Opened, verb: Verb, note: str, now: datetime
) -> str | None:
    """ACK, DONE, ESC, PASS or STATUS as if texted, from ``console``: None when applied, else
    the refusal to show. Checked with ``authorize`` and audited like the SMS command."""
    case, agent = opened.case, opened.agent
    if verb is Verb.STATUS and not note:
        return "Choose a status first."
    command = Command(verb, case.id, note)
    checked = authorize(command, agent_id=agent.id, holders={case.id: opened.held.agent_id})
    if isinstance(checked, Rejection):
        reply: str = Refused(checked.reply)
    elif verb is Verb.STATUS:
        reply = set_status(session, agent, checked, now, "console")
    else:
        reply = HANDLERS[verb](session, agent, checked, now)
    audit_command(session, agent, command, reply, "console", now)
    return str(reply) if isinstance(reply, Refused) else None


def send_reply(
    session: Session, settings: Settings, opened: Opened, text: str, now: datetime
) -> str | None:
    """``reply_on_channel`` as the agent holding the case; a sent reply also takes it."""
    actor = Actor.agent(opened.agent.id, opened.agent.name, "console")
    problem = reply_on_channel(session, settings, opened.case, opened.incident, text,
                               actor=actor, now=now)  # fmt: skip
    if problem is None:
        opened.held.acked_at = opened.held.acked_at or now
    return problem


def reply_on_channel(
    session: Session, settings: Settings, case: Case, incident: Incident | None, text: str,
    *, actor: Actor, now: datetime,
) -> str | None:  # fmt: skip
    """Send ``text`` to the customer on the case's channel (an exercise's to its outbox):
    None when it went out, else why not. Sent or failed, it is a line of the conversation
    and a ``case.reply`` audit entry; a sent reply is the first response."""
    if not text:
        return "Write the reply first: the text box is empty."
    ref = incident.ref if incident else None
    senders = customer_senders(settings, incident)
    try:
        result = message_customer(
            session, senders, case, text, key=f"reply:{case.id}:{secrets.token_hex(6)}",
            subject=f"About your case {case.id}" + (f" ({ref})" if ref else ""),
        )  # fmt: skip
    finally:
        senders.close()
    if result.status == "suppressed":
        return f"Not sent: {result.error or 'no way to reach the customer on this channel'}."
    entry = add_entry(session, case.id, "reply", text, author=actor.name, now=now,
                      channel=case.channel, data={"status": result.status})  # fmt: skip
    if result.status == "sent":
        case.first_responded_at = case.first_responded_at or now
    record(session, actor, "case.reply", now=now, incident_id=case.incident_id,
           subject=f"case {case.id}",
           detail={"entry_id": entry.id, "status": result.status})  # fmt: skip
    if result.status != "sent":
        log.warning("case %s: console reply not sent: %s", case.id, result.status)
        return f"Not sent ({result.status}): {result.error or 'the channel refused it'}."
    return None


def shown_lines(session: Session, case_id: int) -> list[Line]:
    """The conversation as the page shows it (a page SMS holds an agent's link: not shown)."""
    return [
        Line(x.at, x.kind, x.author, x.channel, "Page sent to an agent by SMS.")
        if x.kind == "page" else x
        for x in conversation(session, case_id)
    ]  # fmt: skip


async def _form(request: Request) -> dict[str, str] | Response:
    """The posted form, bounded and strict; NUL anywhere is refused."""
    try:
        return await read_clean_form(request, FORM_LIMIT)
    except BadRequest as exc:
        return _message(exc.status, "Not accepted", str(exc))


def _when(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime("%d %b %H:%M")


_WHO = {"incoming": "Customer", "reply": "Reply", "ask": "Question", "answer": "Answer",
        "auto_reply": "Automatic reply", "reminder": "Reminder", "csat_question": "Survey",
        "relay": "Relayed to agent", "status": "Status", "note": "Note",
        "page": "Page"}  # fmt: skip


def _meta(line: Line) -> str:
    who = "" if line.kind == "incoming" else f" by {line.author}"
    via = f" via {line.channel}" if line.channel else ""
    return f"{_when(line.at)} UTC · {_WHO.get(line.kind, line.kind)}{who}{via}"


def _line_json(line: Line) -> dict[str, Any]:
    return {"kind": line.kind, "meta": _meta(line), "body": line.body}


def line_html(line: Line) -> str:
    """One conversation line as a list item (the phone page's and the console's)."""
    return (f'<li class="{escape(line.kind)}"><p class="meta">{escape(_meta(line))}</p>'
            f'<p class="body">{escape(line.body)}</p></li>')  # fmt: skip


def settable_statuses(incident: Incident | None) -> list[str]:
    """The statuses a person may choose (ASK waits on the customer; DONE closes)."""
    try:
        named = load_playbook(incident.playbook_path).statuses if incident else None
    except CrisiscastError:
        named = None
    hidden = {WAITING_STATUS, *CLOSED_STATUSES}
    return [s for s in case_statuses(named) if s not in hidden]


def words_html(session: Session, case: Case) -> str:
    """The customer's own messages, each a quote in the case's language."""
    return "".join(f"<blockquote lang=\"{escape(case.language or 'und')}\">{escape(w)}"
                   "</blockquote>" for w in customer_words(session, case.id))  # fmt: skip


def contact_html(case: Case, address: str | None) -> str:
    """The customer's address as a link that calls or writes to them (``address`` as shown)."""
    reach = escape(address or "no address known")
    if address and case.channel == "sms":
        return f'<a href="tel:{escape(address)}">{reach}</a>'
    if address and case.channel == "email":
        return f'<a href="mailto:{escape(address)}">{reach}</a>'
    return reach


def fact_rows(
    session: Session, case: Case, incident: Incident | None, now: datetime, contact: str
) -> list[tuple[str, str]]:
    """The case's details as (label, HTML) pairs; ``contact`` is the contact's HTML."""
    person = session.get(Contact, case.contact_id) if case.contact_id else None
    where = location_text(person, case.why)
    return [
        ("Severity", f'<span class="sev">{escape(case.severity)}</span>'
                     + (f" ({escape(case.category)})" if case.category else "")),
        ("Why", escape(why_summary(case.why, 500))),
        ("Status", escape(status_line(case, now).removeprefix("Status: "))),
        ("Incident", escape(incident.ref if incident else "none")),
        ("Language", escape(case.language or "not known")),
        ("Where", escape(where or "not known")),
        ("Channel", escape(case.channel)),
        ("Contact", contact),
    ]  # fmt: skip


def _case_html(
    session: Session, token: str, opened: Opened, now: datetime, *,
    note: str | None = None, problem: str | None = None,
) -> str:  # fmt: skip
    case, incident = opened.case, opened.incident
    lines = shown_lines(session, case.id)
    base = f"/c/{quote(token)}"
    words = words_html(session, case)
    alert = f'<div role="alert"><p>{escape(problem)}</p></div>' if problem else ""
    status = f'<p role="status">{escape(note)}</p>' if note else '<p role="status"></p>'
    options = "".join(f'<option value="{escape(s)}"{" selected" if s == case.status else ""}>'
                      f"{escape(s)}</option>" for s in settable_statuses(incident))  # fmt: skip
    facts = fact_rows(session, case, incident, now, contact_html(case, case_contact(session, case)))
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f'<h1>Case {case.id}: <span class="sev">{escape(case.severity)}</span></h1>'
        f"{alert}{status}"
        f"<h2>What the customer said</h2>{words or '<p>No words yet.</p>'}"
        f"<h2>Details</h2><dl>{rows}</dl>"
        f'<h2 id="conv-h">Conversation</h2>'
        f'<ol id="conversation" aria-labelledby="conv-h" aria-live="polite" '
        f'data-since="{base}/since" data-count="{len(lines)}">'
        f"{''.join(line_html(x) for x in lines)}</ol>"
        '<p id="live-status" role="status"></p>'
        f'<h2>Reply to the customer</h2><form method="post" action="{base}/reply">'
        f'<label for="reply-text">Your reply (sent by {escape(case.channel)} to the '
        f"customer)</label>"
        f'<textarea id="reply-text" name="text" maxlength="{MAX_TEXT}" required '
        f'lang="{escape(case.language or "und")}"></textarea>'
        '<button type="submit">Send reply</button></form>'
        "<h2>Actions</h2>"
        f'<form method="post" action="{base}/ack"><button type="submit">'
        "Acknowledge (ACK): I am on it</button></form>"
        f'<form method="post" action="{base}/done">'
        '<label for="done-note">Resolution note (optional)</label>'
        f'<textarea id="done-note" name="note" maxlength="{MAX_TEXT}"></textarea>'
        '<button type="submit" class="done">Resolve (DONE)</button></form>'
        f'<form method="post" action="{base}/status">'
        '<label for="status-choice">Status</label>'
        f'<select id="status-choice" name="status">{options}</select>'
        '<button type="submit">Set status</button></form>'
        f'<form method="post" action="{base}/esc">'
        '<label for="esc-note">Why escalate (optional)</label>'
        f'<textarea id="esc-note" name="note" maxlength="{MAX_TEXT}"></textarea>'
        '<button type="submit" class="esc">Escalate (ESC)</button></form>'
        f'<form method="post" action="{base}/pass"><button type="submit">'
        "Pass it on (PASS)</button></form>"
        f'<script src="{SCRIPT_PATH}" defer></script>'
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _closed_page(closed: Closed) -> HTMLResponse:
    return _message(closed.status, closed.title, _sentence(closed.why))


def _message(status: int, title: str, text: str, back: str | None = None) -> HTMLResponse:
    """A refusal as a page: what happened (announced), and the way back when there is one."""
    link = f'<p><a href="/c/{quote(back)}">Back to the case</a></p>' if back else ""
    body = f'<h1>{escape(title)}</h1><div role="alert"><p>{escape(text)}</p></div>{link}'
    return _page(status, title, body)


def _page(status: int, title: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)} · crisiscast</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)
