"""``/api/v1/incidents``: list, read, preview, launch, update, recall, stand down, deliveries.

A launch, update or recall of a playbook with ``approval: required`` (not an exercise) is
not run: it is stored with its preview as an approval and answered 202; a second commander
or comms user runs it by approving (``approvals.py``).
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import func, select

from crisiscast.errors import StoreError
from crisiscast.incidents.people import approvals
from crisiscast.incidents.store.database import get_incident
from crisiscast.incidents.store.models import (
    Announcement,
    Delivery,
    Incident,
    IncidentStatus,
)
from crisiscast.playbook import load_playbook
from crisiscast.web.api import actions
from crisiscast.web.api.common import (
    ERRORS,
    Context,
    Page,
    Paging,
    answered,
    body_doc,
    json_body,
    no_body,
    page_of,
    paging,
    permission,
)
from crisiscast.web.api.convert import approval_out, incident_out
from crisiscast.web.api.models import (
    DeliveryRow,
    DeliverySummary,
    IncidentOut,
    LaunchBody,
    Outcome,
    PreviewOut,
    UpdateBody,
)
from crisiscast.web.api.preview import (
    as_json,
    launch_preview,
    playbook_file,
    recall_preview,
    rolled_back,
    update_preview,
)
from crisiscast.web.auth import Principal

PENDING: dict[int | str, dict[str, Any]] = {
    202: {"model": Outcome, "description": "waiting for a second person's approval"}
}


def add_routes(router: APIRouter, ctx: Context) -> None:
    """The incident routes, each checking its action of the role matrix."""
    need = ctx.need

    @router.get(
        "/incidents",
        response_model=Page[IncidentOut],
        responses=ERRORS,
        openapi_extra=permission("incident.read"),
    )
    def list_incidents(
        principal: Annotated[Principal, Depends(need("incident.read"))],
        page: Annotated[Paging, Depends(paging)],
        status: Annotated[Literal["active", "standing_down", "closed"] | None, Query()] = None,
    ) -> Page[IncidentOut]:
        """Incidents oldest first; ``status`` filters."""
        query = select(Incident).where(Incident.id > page.after)
        if status is not None:
            query = query.where(Incident.status == IncidentStatus(status))
        with ctx.session() as session:
            rows = session.scalars(query.order_by(Incident.id).limit(page.limit + 1)).all()
            shown, cursor = page_of(rows, page, lambda r: r.id)
            return Page[IncidentOut](items=[incident_out(r) for r in shown], next=cursor)

    @router.get(
        "/incidents/{ref}",
        response_model=IncidentOut,
        responses=ERRORS,
        openapi_extra=permission("incident.read"),
    )
    def read_incident(
        ref: str, principal: Annotated[Principal, Depends(need("incident.read"))]
    ) -> IncidentOut:
        with ctx.session() as session:
            return incident_out(get_incident(session, ref))

    @router.get(
        "/incidents/{ref}/deliveries",
        response_model=DeliverySummary,
        responses=ERRORS,
        openapi_extra=permission("incident.read"),
    )
    def deliveries(
        ref: str, principal: Annotated[Principal, Depends(need("incident.read"))]
    ) -> DeliverySummary:
        """Deliveries per channel, language and ledger status."""
        with ctx.session() as session:
            incident = get_incident(session, ref)
            grouped = session.execute(
                select(Delivery.channel, Announcement.language, Delivery.status, func.count())
                .join(Announcement, Announcement.id == Delivery.announcement_id)
                .where(Delivery.incident_id == incident.id)
                .group_by(Delivery.channel, Announcement.language, Delivery.status)
            ).all()
        rows = [
            DeliveryRow(channel=c, language=lang, status=str(s), count=int(n))
            for c, lang, s, n in sorted(grouped, key=lambda g: (g[0], g[1], str(g[2])))
        ]
        totals: dict[str, int] = {}
        for row in rows:
            totals[row.status] = totals.get(row.status, 0) + row.count
        return DeliverySummary(incident=incident.ref, rows=rows, totals=totals)

    @router.post(
        "/incidents/preview",
        response_model=PreviewOut,
        responses=ERRORS,
        openapi_extra={**body_doc(LaunchBody), **permission("incident.preview")},
    )
    def preview_launch(
        principal: Annotated[Principal, Depends(need("incident.preview"))],
        body: Annotated[LaunchBody, Depends(json_body(LaunchBody))],
    ) -> PreviewOut:
        """What a launch would send, to whom, and what its SMS cost: nothing is recorded."""
        with answered(), rolled_back(ctx.store) as session:
            return launch_preview(session, body, datetime.now(UTC))

    @router.post(
        "/incidents",
        status_code=201,
        response_model=Outcome,
        responses={**ERRORS, **PENDING},
        openapi_extra={**body_doc(LaunchBody), **permission("incident.launch")},
    )
    def launch(
        response: Response,
        principal: Annotated[Principal, Depends(need("incident.launch"))],
        body: Annotated[LaunchBody, Depends(json_body(LaunchBody))],
    ) -> Outcome:
        """Open an incident from a playbook and broadcast it (or ask for approval: 202)."""
        now = datetime.now(UTC)
        with answered(), rolled_back(ctx.store) as session:
            preview = launch_preview(session, body, now)
            policy = load_playbook(playbook_file(body.playbook)).approval
        if approvals.needed(policy, exercise=body.exercise):
            with ctx.session() as session:
                row = approvals.request(
                    session,
                    principal.actor,
                    "launch",
                    body.model_dump(mode="json"),
                    as_json(preview),
                    now=now,
                )
                response.status_code = 202
                return Outcome(status="pending_approval", incident=None, approval=approval_out(row))
        with answered():
            result = actions.launch(ctx, body, principal.actor, None)
        return _done(ctx, result)

    @router.post(
        "/incidents/{ref}/updates/preview",
        response_model=PreviewOut,
        responses=ERRORS,
        openapi_extra={**body_doc(UpdateBody), **permission("incident.preview")},
    )
    def preview_update(
        ref: str,
        principal: Annotated[Principal, Depends(need("incident.preview"))],
        body: Annotated[UpdateBody, Depends(json_body(UpdateBody))],
    ) -> PreviewOut:
        """What an update would send, to whom, and what its SMS cost: nothing is recorded."""
        with answered(), rolled_back(ctx.store) as session:
            return update_preview(session, get_incident(session, ref), body, datetime.now(UTC))

    @router.post(
        "/incidents/{ref}/updates",
        response_model=Outcome,
        responses={**ERRORS, **PENDING},
        openapi_extra={**body_doc(UpdateBody), **permission("incident.update")},
    )
    def send_update(
        ref: str,
        response: Response,
        principal: Annotated[Principal, Depends(need("incident.update"))],
        body: Annotated[UpdateBody, Depends(json_body(UpdateBody))],
    ) -> Outcome:
        """Send an update (new text or a playbook announcement), or ask for approval: 202."""
        now = datetime.now(UTC)
        with answered(), rolled_back(ctx.store) as session:
            incident = _open(get_incident(session, ref))
            preview = update_preview(session, incident, body, now)
            policy = load_playbook(incident.playbook_path).approval
            ref, incident_id, exercise = incident.ref, incident.id, incident.exercise
        if approvals.needed(policy, exercise=exercise):
            what = {"ref": ref, **body.model_dump(mode="json")}
            return _ask(ctx, response, principal, "update", what, as_json(preview), incident_id)
        with answered():
            result = actions.update(ctx, ref, body, principal.actor, None)
        return _done(ctx, result)

    @router.post(
        "/incidents/{ref}/recall",
        response_model=Outcome,
        responses={**ERRORS, **PENDING},
        openapi_extra=permission("incident.recall"),
    )
    def recall(
        ref: str,
        response: Response,
        principal: Annotated[Principal, Depends(need("incident.recall"))],
        _: Annotated[None, Depends(no_body)],
    ) -> Outcome:
        """Stop the incident's broadcasts for good (or ask for approval: 202)."""
        with ctx.session() as session:
            incident = get_incident(session, ref)
            preview = recall_preview(session, incident)
            policy = load_playbook(incident.playbook_path).approval
            ref, incident_id, exercise = incident.ref, incident.id, incident.exercise
        if approvals.needed(policy, exercise=exercise):
            return _ask(
                ctx, response, principal, "recall", {"ref": ref}, as_json(preview), incident_id
            )
        return _done(ctx, actions.recall(ctx, ref, principal.actor, None))

    @router.post(
        "/incidents/{ref}/stand-down",
        response_model=Outcome,
        responses=ERRORS,
        openapi_extra=permission("incident.stand_down"),
    )
    def stand_down(
        ref: str,
        principal: Annotated[Principal, Depends(need("incident.stand_down"))],
        _: Annotated[None, Depends(no_body)],
    ) -> Outcome:
        """All-clear everywhere, banner off, temporary agents released, CSAT asked, closed."""
        with answered():
            result = actions.stand_down(ctx, ref, principal.actor)
        return _done(ctx, {**result, "ref": result.get("ref", ref)})


def _open(incident: Incident) -> Incident:
    if IncidentStatus(incident.status) is IncidentStatus.CLOSED:
        raise StoreError(f"{incident.ref} is closed: an update would reach no open incident")
    return incident


def _ask(
    ctx: Context,
    response: Response,
    principal: Principal,
    kind: str,
    what: dict[str, object],
    preview: dict[str, object],
    incident_id: int,
) -> Outcome:
    """Store the request for a second person; answer 202 with the approval."""
    with ctx.session() as session:
        row = approvals.request(
            session,
            principal.actor,
            kind,
            what,
            preview,
            now=datetime.now(UTC),
            incident_id=incident_id,
        )
        response.status_code = 202
        return Outcome(status="pending_approval", incident=None, approval=approval_out(row))


def _done(ctx: Context, result: dict[str, object]) -> Outcome:
    """The outcome of an action that ran, with the incident as it is now."""
    with ctx.session() as session:
        incident = incident_out(get_incident(session, str(result["ref"])))
    return Outcome(status="done", incident=incident, approval=None, result=dict(result))
