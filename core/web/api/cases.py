"""``/api/v1/cases``: list with filters, read with the conversation, assign, set status, note,
and reply to the customer on the case's own channel.

Every change writes its audit entry in its own transaction (``case.assign``, ``case.status``,
``case.note``, ``case.reply``); notes and replies are also lines of the case's conversation.
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crisiscast.errors import PlaybookError, StoreError
from crisiscast.incidents.agents.assignment import ReleaseReason
from crisiscast.incidents.agents.paging import Senders, case_contact, message_customer
from crisiscast.incidents.agents.roster import assign_case, end_assignment, get_agent, holder_of
from crisiscast.incidents.cases.conversation import add_entry, conversation
from crisiscast.incidents.cases.status import case_statuses, set_case_status
from crisiscast.incidents.people.audit import record
from crisiscast.incidents.store.database import get_incident
from crisiscast.incidents.store.models import Assignment, Case, Incident
from crisiscast.playbook import load_playbook
from crisiscast.web.api.common import (
    ERRORS,
    MAX_ID,
    Context,
    Page,
    Paging,
    body_doc,
    json_body,
    paging,
    permission,
)
from crisiscast.web.api.convert import case_out, line_out, sla_state
from crisiscast.web.api.models import (
    AssignBody,
    CaseDetail,
    CaseOut,
    ReplyOut,
    StatusBody,
    TextBody,
)
from crisiscast.web.auth import Principal

CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
SlaFilter = Literal["on_track", "nearing", "breached", "met", "missed"]
WORD = r"^[a-z][a-z0-9_]*$"  # severities and statuses are playbook names
LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
_SCAN = 500  # cases read at a time when a filter (SLA state) is computed, not queried


def _case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"case {case_id} does not exist: GET /api/v1/cases lists them")
    return case


def case_query(
    session: Session,
    *,
    severity: str | None = None,
    status: str | None = None,
    language: str | None = None,
    agent: int | None = None,
    incident: str | None = None,
) -> Select[Case]:
    """The cases matching the list's filters, unordered (the API's list and the console's
    queue); an unknown incident is a NotFoundError that names it."""
    query = select(Case)
    for column, value in (
        (Case.severity, severity),
        (Case.status, status),
        (Case.language, language),
    ):
        if value is not None:
            query = query.where(column == value)
    if agent is not None:
        query = query.where(
            Case.id.in_(
                select(Assignment.case_id).where(
                    Assignment.agent_id == agent, Assignment.released_at.is_(None)
                )
            )
        )
    if incident is not None:
        query = query.where(Case.incident_id == get_incident(session, incident).id)
    return query


def case_outs(session: Session, cases: Sequence[Case], now: datetime) -> list[CaseOut]:
    """The cases as the API answers them: holder, masked contact, SLA state at ``now``."""
    holders = {
        a.case_id: a.agent_id
        for a in session.scalars(
            select(Assignment).where(
                Assignment.case_id.in_([c.id for c in cases]), Assignment.released_at.is_(None)
            )
        )
    }
    return [
        case_out(c, agent_id=holders.get(c.id), contact=case_contact(session, c), now=now)
        for c in cases
    ]


def _statuses(session: Session, case: Case) -> list[str]:
    """The statuses this case may take: its incident's playbook's, then the built-ins."""
    if case.incident_id is None:
        return case_statuses(None)
    incident = session.get_one(Incident, case.incident_id)
    try:
        return case_statuses(load_playbook(incident.playbook_path).statuses)
    except PlaybookError:
        raise StoreError(
            f"{incident.ref}'s playbook cannot be loaded (moved or changed since the launch): "
            "put it back to set custom statuses"
        ) from None


def add_routes(router: APIRouter, ctx: Context) -> None:
    """The case routes: reading needs ``case.read``, every change ``case.work``."""
    need = ctx.need

    @router.get(
        "/cases",
        response_model=Page[CaseOut],
        responses=ERRORS,
        openapi_extra=permission("case.read"),
    )
    def list_cases(
        principal: Annotated[Principal, Depends(need("case.read"))],
        page: Annotated[Paging, Depends(paging)],
        severity: Annotated[str | None, Query(pattern=WORD, max_length=20)] = None,
        status: Annotated[str | None, Query(pattern=WORD, max_length=50)] = None,
        sla: Annotated[SlaFilter | None, Query(description="SLA state at this moment")] = None,
        agent: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Held by")] = None,
        language: Annotated[str | None, Query(pattern=LANGUAGE, max_length=20)] = None,
        incident: Annotated[str | None, Query(max_length=20, description="INC-n")] = None,
    ) -> Page[CaseOut]:
        """Cases oldest first, filtered; ``sla`` is computed now, so pages may be shorter."""
        now = datetime.now(UTC)
        with ctx.session() as session:
            query = case_query(
                session,
                severity=severity,
                status=status,
                language=language,
                agent=agent,
                incident=incident,
            )
            found: list[Case] = []
            after = page.after
            while len(found) <= page.limit:
                batch = session.scalars(
                    query.where(Case.id > after)
                    .order_by(Case.id)
                    .limit(_SCAN if sla else page.limit + 1)
                ).all()
                found += [c for c in batch if sla is None or sla_state(c, now) == sla]
                if not batch or sla is None:
                    break
                after = batch[-1].id
            shown = found[: page.limit]
            more = len(found) > page.limit
            return Page[CaseOut](
                items=case_outs(session, shown, now), next=shown[-1].id if more and shown else None
            )

    @router.get(
        "/cases/{case_id}",
        response_model=CaseDetail,
        responses=ERRORS,
        openapi_extra=permission("case.read"),
    )
    def read_case(
        case_id: CaseId, principal: Annotated[Principal, Depends(need("case.read"))]
    ) -> CaseDetail:
        """One case with its statuses and its whole conversation, oldest first."""
        with ctx.session() as session:
            return _detail(session, _case(session, case_id))

    @router.post(
        "/cases/{case_id}/assign",
        response_model=CaseOut,
        responses=ERRORS,
        openapi_extra={**body_doc(AssignBody), **permission("case.work")},
    )
    def assign(
        case_id: CaseId,
        principal: Annotated[Principal, Depends(need("case.work"))],
        body: Annotated[AssignBody, Depends(json_body(AssignBody))],
    ) -> CaseOut:
        """Give the case to an agent on duty (taking it from whoever holds it)."""
        now = datetime.now(UTC)
        with ctx.session() as session:
            case = _case(session, case_id)
            agent = get_agent(session, body.agent_id)
            if not agent.active:
                raise StoreError(f"agent {agent.id} is off duty: add them again, or pick another")
            held = holder_of(session, case.id)
            previous = held.agent_id if held else None
            if previous != agent.id:
                if held is not None:
                    end_assignment(session, held, ReleaseReason.PASSED, now=now)
                assign_case(session, case, agent, now=now)
                record(
                    session,
                    principal.actor,
                    "case.assign",
                    now=now,
                    incident_id=case.incident_id,
                    subject=f"case {case.id}",
                    detail={"agent_id": agent.id, "from_agent_id": previous},
                )
            return case_outs(session, [case], now)[0]

    @router.post(
        "/cases/{case_id}/status",
        response_model=CaseOut,
        responses=ERRORS,
        openapi_extra={**body_doc(StatusBody), **permission("case.work")},
    )
    def set_status(
        case_id: CaseId,
        principal: Annotated[Principal, Depends(need("case.work"))],
        body: Annotated[StatusBody, Depends(json_body(StatusBody))],
    ) -> CaseOut:
        """Move the case to any status its playbook names (``dispatched``...) or a built-in."""
        now = datetime.now(UTC)
        with ctx.session() as session:
            case = _case(session, case_id)
            set_case_status(
                session,
                case,
                body.status,
                allowed=_statuses(session, case),
                actor=principal.actor,
                now=now,
            )
            return case_outs(session, [case], now)[0]

    @router.post(
        "/cases/{case_id}/notes",
        response_model=CaseDetail,
        status_code=201,
        responses=ERRORS,
        openapi_extra={**body_doc(TextBody), **permission("case.work")},
    )
    def note(
        case_id: CaseId,
        principal: Annotated[Principal, Depends(need("case.work"))],
        body: Annotated[TextBody, Depends(json_body(TextBody))],
    ) -> CaseDetail:
        """An internal note on the case (the customer does not see it)."""
        now = datetime.now(UTC)
        with ctx.session() as session:
            case = _case(session, case_id)
            entry = add_entry(
                session, case.id, "note", body.text, author=principal.actor.name, now=now
            )
            record(
                session,
                principal.actor,
                "case.note",
                now=now,
                incident_id=case.incident_id,
                subject=f"case {case.id}",
                detail={"entry_id": entry.id},
            )
            return _detail(session, case)

    @router.post(
        "/cases/{case_id}/replies",
        response_model=ReplyOut,
        status_code=201,
        responses=ERRORS,
        openapi_extra={**body_doc(TextBody), **permission("case.work")},
    )
    def reply(
        case_id: CaseId,
        principal: Annotated[Principal, Depends(need("case.work"))],
        body: Annotated[TextBody, Depends(json_body(TextBody))],
    ) -> ReplyOut:
        """Send the customer a message on the case's channel (SMS or email); 409 when the
        case has no address on it. An exercise's reply goes to the outbox."""
        now = datetime.now(UTC)
        with ctx.session() as session:
            case = _case(session, case_id)
            incident = session.get(Incident, case.incident_id) if case.incident_id else None
            settings = ctx.settings.offline() if incident and incident.exercise else ctx.settings
            folder = settings.outbox_dir / (incident.ref if incident else "cases")
            senders = Senders(settings, folder)
            try:
                result = message_customer(
                    session,
                    senders,
                    case,
                    body.text,
                    key=f"reply:{case.id}:{secrets.token_hex(6)}",
                    subject=f"About your case {case.id}"
                    + (f" ({incident.ref})" if incident else ""),
                )
            finally:
                senders.close()
            if result.status == "suppressed":
                raise HTTPException(409, f"case {case.id}: not sent ({result.error})")
            entry = add_entry(
                session,
                case.id,
                "reply",
                body.text,
                author=principal.actor.name,
                now=now,
                channel=case.channel,
                data={"status": result.status},
            )
            if result.status == "sent" and case.first_responded_at is None:
                case.first_responded_at = now  # a person answered: the first response is given
            record(
                session,
                principal.actor,
                "case.reply",
                now=now,
                incident_id=case.incident_id,
                subject=f"case {case.id}",
                detail={"entry_id": entry.id, "status": result.status},
            )
            return ReplyOut(
                case=case_outs(session, [case], now)[0],
                delivery_status=result.status,
                error=result.error,
            )


def _detail(session: Session, case: Case) -> CaseDetail:
    now = datetime.now(UTC)
    out = case_outs(session, [case], now)[0]
    return CaseDetail(
        **out.model_dump(),
        statuses=_statuses_or_builtin(session, case),
        conversation=[line_out(x) for x in conversation(session, case.id)],
    )


def _statuses_or_builtin(session: Session, case: Case) -> list[str]:
    """For reading: a playbook that moved still lets the case be read."""
    try:
        return _statuses(session, case)
    except StoreError:
        return case_statuses(None)
