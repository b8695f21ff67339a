"""Store rows as the API's answer models (masked where a row holds an address)."""

from __future__ import annotations

from datetime import datetime, timedelta

from crisiscast.channels.masking import mask_address
from crisiscast.incidents.cases.conversation import Line
from crisiscast.incidents.cases.sla import Clock, SlaState, SlaTimer, check, nearing_window
from crisiscast.incidents.store.models import (
    Agent,
    Approval,
    AuditEvent,
    Case,
    Incident,
    User,
)
from crisiscast.web.api.models import (
    AgentOut,
    ApprovalOut,
    AuditOut,
    CaseOut,
    IncidentOut,
    LineOut,
    PreviewOut,
    UserOut,
)

# Worst first: a case's SLA state is its worse clock's.
_SLA_ORDER = (SlaState.BREACHED, SlaState.NEARING, SlaState.MISSED, SlaState.ON_TRACK, SlaState.MET)


def ref_of(incident_id: int | None) -> str | None:
    return None if incident_id is None else f"INC-{incident_id}"


def incident_out(row: Incident) -> IncidentOut:
    return IncidentOut(
        ref=row.ref,
        id=row.id,
        title=row.title,
        playbook_id=row.playbook_id,
        status=str(row.status),
        exercise=row.exercise,
        languages=list(row.languages),
        params={
            k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
            for k, v in row.params.items()
        },
        created_at=row.created_at,
        stood_down_at=row.stood_down_at,
        closed_at=row.closed_at,
    )


def approval_out(row: Approval) -> ApprovalOut:
    return ApprovalOut(
        id=row.id,
        kind=row.kind,
        status=str(row.status),
        incident=ref_of(row.incident_id),
        request=dict(row.request),
        preview=PreviewOut.model_validate(row.preview) if row.preview else None,
        requester=row.requester,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
        result=dict(row.result) if row.result is not None else None,
    )


def sla_state(case: Case, now: datetime) -> SlaState | None:
    """The worse of the case's two clocks at ``now`` (None: no SLA target)."""
    timer = SlaTimer.from_case(case)
    states = []
    for clock in (Clock.FIRST_RESPONSE, Clock.RESOLUTION):
        due = timer.due(clock)
        if due is None:
            continue
        window = nearing_window(max(due - case.opened_at, timedelta(0)))
        state = check(timer, clock, now, nearing_within=window)
        if state is not None:
            states.append(state)
    return min(states, key=_SLA_ORDER.index) if states else None


def case_out(row: Case, *, agent_id: int | None, contact: str | None, now: datetime) -> CaseOut:
    state = sla_state(row, now)
    return CaseOut(
        id=row.id,
        incident=ref_of(row.incident_id),
        channel=row.channel,
        severity=row.severity,
        category=row.category,
        language=row.language,
        status=row.status,
        sla=None if state is None else str(state),
        agent_id=agent_id,
        contact=mask_address(contact) if contact else None,
        opened_at=row.opened_at,
        first_response_due=row.first_response_due,
        resolution_due=row.resolution_due,
        resolved_at=row.resolved_at,
        csat_score=row.csat_score,
    )


def line_out(line: Line) -> LineOut:
    return LineOut(
        at=line.at, kind=line.kind, author=line.author, channel=line.channel, body=line.body
    )


def agent_out(row: Agent) -> AgentOut:
    return AgentOut(
        id=row.id,
        name=row.name,
        phone=mask_address(row.phone) if row.phone else None,
        email=mask_address(row.email) if row.email else None,
        skills=list(row.skills or []),
        languages=list(row.languages or []),
        capacity=row.capacity,
        temporary=row.temporary,
        pass_expires_at=row.pass_expires_at,
        active=row.active,
    )


def user_out(row: User) -> UserOut:
    return UserOut(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=str(row.role),
        active=row.active,
        agent_id=row.agent_id,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def audit_out(row: AuditEvent) -> AuditOut:
    return AuditOut(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        incident=ref_of(row.incident_id),
        subject=row.subject,
        source=row.source,
        detail=dict(row.detail) if row.detail is not None else None,
    )
