"""``/api/v1/approvals``: the requests waiting for a second person, with the preview the
requester saw; approve (which runs what was asked) or reject.

The decision is committed before the request runs, so two approvers racing cannot run it
twice (the second finds it decided: 409); what running it did is stored in ``result``.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from crisiscast.errors import CrisiscastError
from crisiscast.incidents.people import approvals
from crisiscast.web.api import actions
from crisiscast.web.api.common import (
    ERRORS,
    MAX_ID,
    Context,
    Page,
    Paging,
    body_doc,
    json_body,
    page_of,
    paging,
    permission,
)
from crisiscast.web.api.convert import approval_out
from crisiscast.web.api.models import ApprovalOut, DecisionBody
from crisiscast.web.auth import Principal

ApprovalId = Annotated[int, Path(ge=1, le=MAX_ID)]


def add_routes(router: APIRouter, ctx: Context) -> None:
    """The approval routes; deciding needs ``approval.decide`` and to be someone else."""
    need = ctx.need

    @router.get(
        "/approvals",
        response_model=Page[ApprovalOut],
        responses=ERRORS,
        openapi_extra=permission("approval.decide"),
    )
    def list_approvals(
        principal: Annotated[Principal, Depends(need("approval.decide"))],
        page: Annotated[Paging, Depends(paging)],
        status: Annotated[
            Literal["pending", "approved", "rejected", "cancelled", "all"], Query()
        ] = "pending",
    ) -> Page[ApprovalOut]:
        """Approvals oldest first; by default only those still pending."""
        with ctx.session() as session:
            rows = approvals.listed(
                session,
                status=None if status == "all" else status,
                after_id=page.after,
                limit=page.limit + 1,
            )
            shown, cursor = page_of(rows, page, lambda r: r.id)
            return Page[ApprovalOut](items=[approval_out(r) for r in shown], next=cursor)

    @router.get(
        "/approvals/{approval_id}",
        response_model=ApprovalOut,
        responses=ERRORS,
        openapi_extra=permission("approval.decide"),
    )
    def read_approval(
        approval_id: ApprovalId,
        principal: Annotated[Principal, Depends(need("approval.decide"))],
    ) -> ApprovalOut:
        """One approval with the preview both people see."""
        with ctx.session() as session:
            return approval_out(approvals.get(session, approval_id))

    @router.post(
        "/approvals/{approval_id}/approve",
        response_model=ApprovalOut,
        responses=ERRORS,
        openapi_extra={**body_doc(DecisionBody), **permission("approval.decide")},
    )
    def approve(
        approval_id: ApprovalId,
        principal: Annotated[Principal, Depends(need("approval.decide"))],
        body: Annotated[DecisionBody, Depends(json_body(DecisionBody))],
    ) -> ApprovalOut:
        """Approve and run the request; 403 for its requester or the CLI's token."""
        with ctx.session() as session:
            row = approvals.get(session, approval_id, lock=True)
            approvals.decide(
                session,
                row,
                principal.actor,
                approve=True,
                now=datetime.now(UTC),
                reason=body.reason,
            )
            kind, request = row.kind, dict(row.request)
        try:
            result = actions.run(ctx, kind, request, principal.actor, approval_id)
        except CrisiscastError as exc:  # approved, but it could not run: say why on the row
            result = {"error": str(exc)}
        except HTTPException as exc:
            result = {"error": str(exc.detail)}
        with ctx.session() as session:
            row = approvals.get(session, approval_id)
            approvals.finish(session, row, result)
            return approval_out(row)

    @router.post(
        "/approvals/{approval_id}/reject",
        response_model=ApprovalOut,
        responses=ERRORS,
        openapi_extra={**body_doc(DecisionBody), **permission("approval.decide")},
    )
    def reject(
        approval_id: ApprovalId,
        principal: Annotated[Principal, Depends(need("approval.decide"))],
        body: Annotated[DecisionBody, Depends(json_body(DecisionBody))],
    ) -> ApprovalOut:
        """Refuse the request (its requester withdrawing it: cancelled); nothing runs."""
        with ctx.session() as session:
            row = approvals.get(session, approval_id, lock=True)
            approvals.decide(
                session,
                row,
                principal.actor,
                approve=False,
                now=datetime.now(UTC),
                reason=body.reason,
            )
            return approval_out(row)
