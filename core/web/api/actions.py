"""Running what the API was asked to do: a launch, update, recall or stand-down, at once or
after a second person's approval. One place, so the direct route and the approval run the
same code and write the same audit entries.

Flows run in this process's Prefect (``crisiscast serve`` keeps it warm); each call is made
from FastAPI's thread pool, as the route functions are plain ``def``. The audit entry of a
launch is written right after the flow returns, when the incident exists; a recall's is in
the recall's own transaction.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crisiscast.config import Settings
from crisiscast.incidents.broadcast.decisions import update_texts
from crisiscast.incidents.broadcast.delivery import recall as recall_deliveries
from crisiscast.incidents.broadcast.sending import STOP
from crisiscast.incidents.people import approvals
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.store.database import Store, get_incident
from crisiscast.incidents.store.models import TimelineEvent
from crisiscast.web.api.common import Context
from crisiscast.web.api.models import LaunchBody, UpdateBody
from crisiscast.web.api.preview import as_json, launch_preview, playbook_file, rolled_back

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8765/"


def _public_url(ctx: Context) -> str:
    return ctx.settings.public_url or DEFAULT_PUBLIC_URL


def _plain(value: Any) -> dict[str, Any]:
    """A flow's summary as JSON (times and enums as text) for an answer or an approval row."""
    loaded = json.loads(json.dumps(value, default=str))
    return loaded if isinstance(loaded, dict) else {"value": loaded}


def _last_broadcast(ctx: Context, incident_id: int) -> dict[str, Any]:
    with ctx.session() as session:
        data = session.scalars(
            select(TimelineEvent.data)
            .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "broadcast")
            .order_by(TimelineEvent.id.desc())
            .limit(1)
        ).first()
    return _plain(data or {})


def launch_approval(store: Store, body: LaunchBody, actor: Actor) -> int | None:
    """When this launch must wait for a second person: store the request with its preview
    and return its id; None when it may run now. The CLI asks this before it launches, cold
    or warm, so a playbook's ``approval: required`` holds whichever way a launch comes."""
    from crisiscast.playbook import load_playbook

    policy = load_playbook(playbook_file(body.playbook)).approval
    if not approvals.needed(policy, exercise=body.exercise):
        return None
    now = datetime.now(UTC)
    with rolled_back(store) as session:
        preview = as_json(launch_preview(session, body, now))
    with store.session() as session:
        what = body.model_dump(mode="json")
        return approvals.request(session, actor, "launch", what, preview, now=now).id


def launch(ctx: Context, body: LaunchBody, actor: Actor, approval: int | None) -> dict[str, Any]:
    """Open the incident and (unless ``send`` is false) broadcast it; audit ``launch``."""
    from crisiscast.flows.launch import launch_incident

    path = str(Path(playbook_file(body.playbook)).resolve())
    ref = launch_incident(
        path,
        dict(body.params),
        body.exercise,
        ctx.settings.database_url,
        body.audience,
        body.default_region,
        body.send,
        body.target,
    )
    now = datetime.now(UTC)
    with ctx.session() as session:
        incident = get_incident(session, ref)
        record(
            session,
            actor,
            "launch",
            now=now,
            incident_id=incident.id,
            subject=ref,
            detail={
                "playbook": incident.playbook_id,
                "exercise": body.exercise,
                "send": body.send,
                "approval_id": approval,
            },
        )
        incident_id = incident.id
    summary = _last_broadcast(ctx, incident_id) if body.send else {}
    return _sent(ref, incident_id, summary)


def update(
    ctx: Context, ref: str, body: UpdateBody, actor: Actor, approval: int | None
) -> dict[str, Any]:
    """Stage and send one update to its target; audit ``update``."""
    from crisiscast.flows.broadcast import broadcast

    summary = broadcast(
        ref,
        when="update",
        announcement=body.announcement,
        database_url=ctx.settings.database_url,
        public_url=_public_url(ctx),
        target=body.target,
        texts=body.texts,
        params=body.params or None,
    )
    now = datetime.now(UTC)
    with ctx.session() as session:
        incident = get_incident(session, ref)
        record(
            session,
            actor,
            "update",
            now=now,
            incident_id=incident.id,
            subject=ref,
            detail={
                "announcement": body.announcement,
                "languages": sorted(body.texts or {}),
                "approval_id": approval,
            },
        )
    return _sent(ref, incident.id, _plain(summary))


def _sent(ref: str, incident_id: int, summary: Mapping[str, Any]) -> dict[str, Any]:
    """A send's answer: its counts, and what this machine could not write (a full disk: those
    deliveries stay queued for the next broadcast) so the caller is not told all went well."""
    sent = {"ref": ref, "incident_id": incident_id, "counts": summary.get("counts", {})}
    if summary.get("local_errors"):
        sent["local_errors"] = list(summary["local_errors"])
    return sent


def recall(ctx: Context, ref: str, actor: Actor, approval: int | None) -> dict[str, Any]:
    """Stop the incident's broadcasts for good, audited in the same transaction."""
    now = datetime.now(UTC)
    with ctx.session() as session:
        incident = get_incident(session, ref)
        suppressed = recall_deliveries(session, incident.id, now=now)
        record(
            session,
            actor,
            "recall",
            now=now,
            incident_id=incident.id,
            subject=ref,
            detail={"suppressed": suppressed, "approval_id": approval},
        )
        return {"ref": ref, "incident_id": incident.id, "suppressed": suppressed}


def stand_down(
    ctx: Context, ref: str, actor: Actor, hand_over_to: int | None = None
) -> dict[str, Any]:
    """All-clear, banner off, agents released, CSAT asked, closed; audit ``stand_down``.
    ``hand_over_to`` (an agent id) takes the open urgent and high cases (the console asks)."""
    from crisiscast.flows.stand_down import stand_down as stand_down_flow

    with ctx.session() as session:
        ref = get_incident(session, ref).ref  # a clear 404 before a flow runs
    result = _plain(stand_down_flow(ref, ctx.settings.database_url, _public_url(ctx),
                                    hand_over_to=hand_over_to))  # fmt: skip
    now = datetime.now(UTC)
    with ctx.session() as session:
        incident = get_incident(session, ref)
        record(
            session,
            actor,
            "stand_down",
            now=now,
            incident_id=incident.id,
            subject=ref,
            detail={
                "already_closed": bool(result.get("already_closed")),
                "hand_over_to": hand_over_to,
            },
        )
    return result


def run(
    ctx: Context, kind: str, request: Mapping[str, Any], actor: Actor, approval: int
) -> dict[str, Any]:
    """Run an approved request as it was stored."""
    if kind == "launch":
        return launch(ctx, LaunchBody.model_validate(request), actor, approval)
    ref = str(request["ref"])
    if kind == "update":
        body = UpdateBody.model_validate({k: v for k, v in request.items() if k != "ref"})
        return update(ctx, ref, body, actor, approval)
    return recall(ctx, ref, actor, approval)


class WarmRuns:
    """The CLI's commands that ``serve`` is running for it (``crisiscast.web.warm``).

    A Ctrl-C at the CLI asks serve to ``stop``: STOP is this process's, so every broadcast
    serve is running stops at its next batch boundary (each resumable, each recipient once).
    STOP is cleared when the last of them ends, and is never set when none runs: a stop that
    arrives late must not stop the next launch.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if not self._running:
                    STOP.clear()

    def stop(self) -> bool:
        """Stop the running commands at their next batch; False when none runs."""
        with self._lock:
            if self._running:
                STOP.set()
            return bool(self._running)


def waits_for_approval(store: Store, ref: str, action: str) -> bool:
    """Before a warm command's flow runs: an unknown incident raises NotFoundError (a clear 404,
    no flow run); True when ``action`` must wait for a second person, which only an ``update``
    of an incident whose playbook needs approval does. The warm route refuses it then, as the
    CLI's cold path does (``refuse_without_approval``), so no way skips the rule."""
    from crisiscast.playbook import load_playbook

    with store.session() as session:
        incident = get_incident(session, ref)
        if action != "update":
            return False
        policy = load_playbook(incident.playbook_path).approval
        return approvals.needed(policy, exercise=incident.exercise)


_AUDITED = {"launch": "broadcast", "update": "update", "all_clear": "all_clear"}


def warm_broadcast(settings: Settings, incident: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The broadcast flow run here (for the console, and for the CLI through ``cli_broadcast``):
    its summary as JSON."""
    from crisiscast.flows.broadcast import broadcast

    public_url = settings.public_url or DEFAULT_PUBLIC_URL
    summary = broadcast(incident, database_url=settings.database_url, public_url=public_url,
                        **options)  # fmt: skip
    return _plain(summary)


def cli_broadcast(
    settings: Settings, store: Store, incident: str, options: Mapping[str, Any]
) -> dict[str, Any]:
    """``crisiscast broadcast``/``update``/``all-clear`` run here for the CLI: the flow's summary,
    and the audit entry the command writes cold (``Actor.cli``: the token is the shell user's).
    An update's text for "" (``--text 'words'``) is the fallback language's."""
    options = {**options, "texts": _fallback_texts(store, incident, options.get("texts"))}
    summary = warm_broadcast(settings, incident, options)
    when = str(options.get("when", "launch"))
    if when == "update":
        detail = {"announcement": options.get("announcement"),
                  "languages": sorted(options.get("texts") or {})}  # fmt: skip
    else:
        detail = {"counts": summary.get("counts", {})}
    _record_cli(store, incident, _AUDITED[when], detail)
    return summary


def _fallback_texts(
    store: Store, incident: str, texts: Mapping[str, str] | None
) -> dict[str, str] | None:
    """An update's texts with "" read as the fallback language, which must have one: the
    checks (and messages) of the CLI's cold path, made before any flow."""
    if not texts:
        return None
    with store.session() as session:
        row = get_incident(session, incident)
        ref, fallback = row.ref, (row.languages[0] if row.languages else "en")
    return update_texts(texts, fallback, ref)


def _record_cli(store: Store, incident: str, action: str, detail: Mapping[str, Any]) -> None:
    with store.session() as session:
        row = get_incident(session, incident)
        record(session, Actor.cli(), action, now=datetime.now(UTC), incident_id=row.id,
               subject=row.ref, detail=dict(detail))  # fmt: skip


def warm_sweep(settings: Settings, store: Store, commander: str | None) -> dict[str, Any]:
    """``crisiscast sweep`` run here for the CLI: ``done`` per incident, or ``idle`` with no
    flow run when there is nothing to look at (no active incident, no day pass ended)."""
    from crisiscast.flows.sla_sweep import sla_sweep
    from crisiscast.incidents.agents.sweep import nothing_to_sweep

    with store.session() as session:
        if nothing_to_sweep(session, datetime.now(UTC)):
            return {"idle": True, "done": {}}
    return {"idle": False, "done": _plain(sla_sweep(settings.database_url, commander=commander))}


def warm_stand_down(
    settings: Settings, store: Store, incident: str, hand_over_to: int | None
) -> dict[str, Any]:
    """``crisiscast stand-down`` run here for the CLI: what the flow did, as sentences too
    (``lines``), and the audit entry. An incident already closed is answered with ``flow``
    False and no flow run; a wrong agent id is refused before anything is sent."""
    from crisiscast.flows.stand_down import stand_down as stand_down_flow
    from crisiscast.incidents.agents.stand_down import check_hand_over_agent, describe
    from crisiscast.incidents.store.models import IncidentStatus

    with store.session() as session:
        row = get_incident(session, incident)
        ref, closed = row.ref, row.status == IncidentStatus.CLOSED
        if hand_over_to is not None:
            check_hand_over_agent(session, hand_over_to)
    if closed and hand_over_to is None:
        return {"ref": ref, "already_closed": True, "flow": False}
    public_url = settings.public_url or DEFAULT_PUBLIC_URL
    result = _plain(stand_down_flow(incident, settings.database_url, public_url,
                                    hand_over_to=hand_over_to))  # fmt: skip
    if not result.get("already_closed"):
        _record_cli(store, incident, "stand_down", {"hand_over_to": hand_over_to})
    return {**result, "lines": describe(result)}
