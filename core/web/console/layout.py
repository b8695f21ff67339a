"""What every console page shares: who may see it, the page shell, forms and their CSRF field.

- Pages need a signed-in console user (``crisiscast_session``) or an API token; anyone else
  is sent to ``/login?next=<this page>``, and a role that may not see a page gets a 403 page
  that says which role may.
- The shell is plain server-rendered HTML: a skip link, the navigation, ``<main>``; one
  stylesheet and one script, both this package's own files (``static/``), so the CSP allows
  nothing inline and nothing from elsewhere. Pages work without script; the script only
  refreshes the parts a page marks as live (``live_attrs``).
- Posted forms are read within ``FORM_LIMIT`` and must carry the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from crisiscast.config import Settings
from crisiscast.errors import AccessError
from crisiscast.incidents.people.roles import PERMISSIONS, allowed
from crisiscast.incidents.store.database import Store
from crisiscast.web.auth import Principal, authenticate, check_csrf
from crisiscast.web.request_checks import BadRequest, read_clean_form

STATIC = Path(__file__).parent / "static"
ASSET_PATH = "/console/_"  # console.css and console.js
FORM_LIMIT = 64 * 1024  # a reply, a note, a playbook's parameters
LIVE_EVERY_MS = 2000  # how often live parts of a page refresh

_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": _CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
# (label, path, the action a role needs to see the link)
NAV = (
    ("Incidents", "/console", "incident.read"),
    ("Cases", "/console/cases", "case.read"),
    ("Launch", "/console/launch", "incident.preview"),
    ("Approvals", "/console/approvals", "approval.decide"),
)


@dataclass(frozen=True)
class ConsoleContext:
    """What console routes need: the settings, the store, and serve.json's token (so the
    CLI's token works on pages too)."""

    settings: Settings
    store: Store
    serve_token: str


class PageRefused(Exception):
    """Raised inside a page handler to answer with ``response`` (a redirect or a 4xx page)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def signed_in(ctx: ConsoleContext, request: Request, action: str) -> Principal:
    """The caller, allowed ``action``; otherwise PageRefused (to sign-in, or a 403 page)."""
    try:
        principal = await run_in_threadpool(authenticate, request, ctx.store, ctx.serve_token)
    except AccessError:
        if "application/json" in request.headers.get("accept", ""):
            # console.js asking for a live part: it sends the person to sign in on a 401.
            raise PageRefused(JSONResponse({"detail": "sign in first"}, status_code=401)) from None
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise PageRefused(
            RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)
        ) from None
    if not allowed(principal.role, action):
        roles = ", ".join(sorted(PERMISSIONS.get(action, ())))
        raise PageRefused(
            message(
                principal,
                403,
                "Not for your role",
                f"Your role ({principal.role}) may not open this page; ask someone with "
                f"one of these roles: {roles}.",
            )
        )
    return principal


async def read_form(request: Request, principal: Principal) -> dict[str, str]:
    """The posted form, bounded, strict, NUL-free, with the session's CSRF token checked."""
    try:
        form = await read_clean_form(request, FORM_LIMIT)
    except BadRequest as exc:
        raise PageRefused(message(principal, exc.status, "Not accepted", str(exc))) from None
    try:
        check_csrf(principal, form.get("csrf_token"))
    except AccessError as exc:
        raise PageRefused(message(principal, 403, "Not accepted", str(exc))) from None
    return form


def csrf_field(principal: Principal) -> str:
    """The hidden field every console form carries (empty for token and CLI callers)."""
    token = principal.csrf_token or ""
    return f'<input type="hidden" name="csrf_token" value="{escape(token)}">'


def live_attrs(url: str) -> str:
    """Attributes that make ``console.js`` poll ``url`` every ``LIVE_EVERY_MS``.

    ``url`` answers JSON ``{"parts": {element id: html}}``: the script replaces each named
    element's content when it changed, so the HTML is built by the server only.
    """
    return f'data-live="{escape(url)}" data-live-every="{LIVE_EVERY_MS}"'


def page(
    principal: Principal | None, title: str, body: str, *, status: int = 200,
    current: str = "",
) -> HTMLResponse:  # fmt: skip
    """A console page: skip link, navigation (only what the role may open), ``<main>``."""
    return HTMLResponse(
        shell(principal, title, body, current=current), status_code=status, headers=HEADERS
    )


def shell(principal: Principal | None, title: str, body: str, *, current: str = "") -> str:
    """The console's HTML around ``body`` (``page`` wraps it in a response)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · crisiscast</title>"
        f'<link rel="stylesheet" href="{ASSET_PATH}/console.css">'
        f'<script src="{ASSET_PATH}/console.js" defer></script></head><body>'
        '<a class="skip" href="#main">Skip to content</a>'
        f"{_header(principal, current)}"
        f'<main id="main" tabindex="-1">{body}</main></body></html>'
    )


def message(principal: Principal | None, status: int, title: str, text: str) -> HTMLResponse:
    """A refusal or a problem as a page: what happened (announced) and what to do."""
    body = f'<h1>{escape(title)}</h1><div role="alert"><p>{escape(text)}</p></div>'
    return page(principal, title, body, status=status)


def table(caption: str, headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A data table; cells are HTML already escaped by the caller."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _header(principal: Principal | None, current: str) -> str:
    if principal is None:
        return '<header class="top"><span class="brand">crisiscast</span></header>'
    here = ' aria-current="page"'
    links = "".join(
        f'<li><a href="{path}"{here if path == current else ""}>{label}</a></li>'
        for label, path, action in NAV
        if allowed(principal.role, action)
    )
    sign_out = (
        '<form method="post" action="/logout" class="signout">'
        f'{csrf_field(principal)}<button type="submit">Sign out</button></form>'
        if principal.via == "session"
        else ""
    )
    return (
        '<header class="top"><span class="brand">crisiscast</span>'
        f'<nav aria-label="Console"><ul>{links}</ul></nav>'
        f'<p id="who">Signed in as <strong>{escape(principal.username)}</strong>, '
        f"role <strong>{escape(principal.role)}</strong>.</p>{sign_out}</header>"
    )
