"""``/api/v1/agents``, ``/api/v1/users`` and ``/api/v1/audit``: the roster, the people who
sign in (commanders only), and the audit log (commanders only).

A new API token is in the answer once and never again: the store keeps its SHA-256 only,
and the audit entry names the token's label, not the token.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy import select

from crisiscast.incidents.agents.assignment import ReleaseReason
from crisiscast.incidents.agents.roster import add_agent, get_agent, release_agent
from crisiscast.incidents.people.audit import events, record
from crisiscast.incidents.people.users import create_user, issue_token
from crisiscast.incidents.store.database import get_incident
from crisiscast.incidents.store.models import Agent, User
from crisiscast.web.api.common import (
    ERRORS,
    MAX_ID,
    Context,
    Page,
    Paging,
    body_doc,
    json_body,
    no_body,
    page_of,
    paging,
    permission,
)
from crisiscast.web.api.convert import agent_out, audit_out, user_out
from crisiscast.web.api.models import (
    AgentBody,
    AgentOut,
    AuditOut,
    ReleaseOut,
    TokenBody,
    TokenOut,
    UserBody,
    UserOut,
)
from crisiscast.web.auth import Principal

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def add_routes(router: APIRouter, ctx: Context) -> None:
    """Agents (``agent.read``/``agent.manage``), users (``user.*``), audit (``audit.read``)."""
    need = ctx.need

    @router.get(
        "/agents",
        response_model=Page[AgentOut],
        responses=ERRORS,
        openapi_extra=permission("agent.read"),
    )
    def list_agents(
        principal: Annotated[Principal, Depends(need("agent.read"))],
        page: Annotated[Paging, Depends(paging)],
        active: Annotated[bool | None, Query(description="Only on (or off) duty")] = None,
    ) -> Page[AgentOut]:
        query = select(Agent).where(Agent.id > page.after)
        if active is not None:
            query = query.where(Agent.active.is_(active))
        with ctx.session() as session:
            rows = session.scalars(query.order_by(Agent.id).limit(page.limit + 1)).all()
            shown, cursor = page_of(rows, page, lambda r: r.id)
            return Page[AgentOut](items=[agent_out(r) for r in shown], next=cursor)

    @router.post(
        "/agents",
        response_model=AgentOut,
        status_code=201,
        responses=ERRORS,
        openapi_extra={**body_doc(AgentBody), **permission("agent.manage")},
    )
    def add(
        principal: Annotated[Principal, Depends(need("agent.manage"))],
        body: Annotated[AgentBody, Depends(json_body(AgentBody))],
    ) -> AgentOut:
        """Add an agent; with ``day_pass_hours`` a temporary one, released when it ends."""
        now = datetime.now(UTC)
        hours = body.day_pass_hours
        expires = now + timedelta(hours=hours) if hours else None
        with ctx.session() as session:
            agent = add_agent(
                session,
                name=body.name,
                phone=body.phone,
                email=body.email,
                skills=body.skills,
                languages=body.languages,
                capacity=body.capacity,
                temporary=expires is not None,
                pass_expires_at=expires,
            )
            record(
                session,
                principal.actor,
                "agent.add",
                now=now,
                subject=f"agent {agent.id}",
                detail={"temporary": expires is not None, "pass_hours": hours},
            )
            return agent_out(agent)

    @router.post(
        "/agents/{agent_id}/release",
        response_model=ReleaseOut,
        responses=ERRORS,
        openapi_extra=permission("agent.manage"),
    )
    def release(
        agent_id: Id,
        principal: Annotated[Principal, Depends(need("agent.manage"))],
        _: Annotated[None, Depends(no_body)],
    ) -> ReleaseOut:
        """Take the agent off duty; their open cases go back to the queue."""
        now = datetime.now(UTC)
        with ctx.session() as session:
            agent = get_agent(session, agent_id)
            cases = release_agent(session, agent, now=now, reason=ReleaseReason.AGENT_OFF)
            record(
                session,
                principal.actor,
                "agent.release",
                now=now,
                subject=f"agent {agent.id}",
                detail={"requeued": cases},
            )
            return ReleaseOut(agent=agent_out(agent), requeued_cases=cases)

    @router.get(
        "/users",
        response_model=Page[UserOut],
        responses=ERRORS,
        openapi_extra=permission("user.read"),
    )
    def list_users(
        principal: Annotated[Principal, Depends(need("user.read"))],
        page: Annotated[Paging, Depends(paging)],
    ) -> Page[UserOut]:
        with ctx.session() as session:
            rows = session.scalars(
                select(User).where(User.id > page.after).order_by(User.id).limit(page.limit + 1)
            ).all()
            shown, cursor = page_of(rows, page, lambda r: r.id)
            return Page[UserOut](items=[user_out(r) for r in shown], next=cursor)

    @router.post(
        "/users",
        response_model=UserOut,
        status_code=201,
        responses=ERRORS,
        openapi_extra={**body_doc(UserBody), **permission("user.manage")},
    )
    def create(
        principal: Annotated[Principal, Depends(need("user.manage"))],
        body: Annotated[UserBody, Depends(json_body(UserBody))],
    ) -> UserOut:
        """Add a user (a password for the console; API tokens with POST .../tokens)."""
        now = datetime.now(UTC)
        with ctx.session() as session:
            if body.agent_id is not None:
                get_agent(session, body.agent_id)
            user = create_user(
                session,
                body.username,
                body.role,
                now=now,
                display_name=body.display_name,
                password=body.password,
                agent_id=body.agent_id,
            )
            record(
                session,
                principal.actor,
                "user.create",
                now=now,
                subject=f"user {user.id}",
                detail={"username": user.username, "role": str(user.role)},
            )
            return user_out(user)

    @router.post(
        "/users/{user_id}/tokens",
        response_model=TokenOut,
        status_code=201,
        responses=ERRORS,
        openapi_extra={**body_doc(TokenBody), **permission("user.manage")},
    )
    def token(
        user_id: Id,
        principal: Annotated[Principal, Depends(need("user.manage"))],
        body: Annotated[TokenBody, Depends(json_body(TokenBody))],
    ) -> TokenOut:
        """A new API token for the user, in this answer only."""
        now = datetime.now(UTC)
        with ctx.session() as session:
            user = session.get(User, user_id)
            if user is None or not user.active:
                raise HTTPException(404, f"user {user_id} does not exist or is deactivated")
            secret = issue_token(session, user, body.label, now=now)
            record(
                session,
                principal.actor,
                "user.token",
                now=now,
                subject=f"user {user.id}",
                detail={"label": body.label},
            )
            return TokenOut(user_id=user.id, label=body.label, token=secret)

    @router.get(
        "/audit",
        response_model=Page[AuditOut],
        responses=ERRORS,
        openapi_extra=permission("audit.read"),
    )
    def audit(
        principal: Annotated[Principal, Depends(need("audit.read"))],
        page: Annotated[Paging, Depends(paging)],
        incident: Annotated[str | None, Query(max_length=20, description="INC-n")] = None,
        action: Annotated[
            str | None, Query(pattern=r"^[a-z_.]+$", max_length=50, description="e.g. launch")
        ] = None,
    ) -> Page[AuditOut]:
        """Who did what, when and from where, in the order it happened."""
        with ctx.session() as session:
            incident_id = get_incident(session, incident).id if incident is not None else None
            rows = events(
                session,
                incident_id=incident_id,
                action=action,
                after_id=page.after,
                limit=page.limit + 1,
            )
            shown, cursor = page_of(rows, page, lambda r: r.id)
            return Page[AuditOut](items=[audit_out(r) for r in shown], next=cursor)
