"""The shapes ``/api/v1`` reads and answers, as pydantic models, so its OpenAPI document is
the contract the tests check every response against.

Request bodies are flat (no nested models): ``common.json_body`` reads them after the
caller is known, and ``common.body_doc`` documents them inline. Phone numbers and email
addresses are masked in every answer; the customer's own words are shown (agents need them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crisiscast.errors import CrisiscastError
from crisiscast.incidents.audience.areas import area_from_json
from crisiscast.incidents.audience.directory import TargetSpec

# --- requests ----------------------------------------------------------------------------


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Body(BaseModel):
    """A request body: unknown fields are refused, and no text may hold NUL (PostgreSQL
    refuses it, and no name, path or message needs it)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("a text contains a NUL character (\\u0000): remove it")
        return data


_TARGET_KEYS = {"lists", "filter", "area", "everyone"}


def check_target(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A target as ``TargetSpec`` reads it, checked now: bad shapes are a 422, not a 500."""
    if value is None:
        return None
    unknown = sorted(set(value) - _TARGET_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {unknown}: use lists, filter, area or everyone")
    lists, text, area = value.get("lists"), value.get("filter"), value.get("area")
    if lists is not None and not (
        isinstance(lists, list) and all(isinstance(n, str) for n in lists)
    ):
        raise ValueError('lists is a list of list names, e.g. ["flood-zone-a"]')
    if text is not None and not isinstance(text, str):
        raise ValueError("filter is a text, e.g. 'language=th,tag=elderly'")
    if not isinstance(value.get("everyone", False), bool):
        raise ValueError("everyone is true or false")
    try:
        if area is not None:
            if not isinstance(area, dict):
                raise ValueError("area is an object as `crisiscast preview --polygon` stores it")
            area_from_json(area)
        TargetSpec.from_json(value)
    except CrisiscastError as exc:
        raise ValueError(str(exc)) from None
    return value


class LaunchBody(Body):
    """Launch (or preview) an incident from a playbook for an audience."""

    playbook: str = Field(
        min_length=1, description="Playbook path as the server sees it, or an example's name"
    )
    params: dict[str, str] = Field(default_factory=dict, description="Playbook parameters")
    target: dict[str, Any] | None = Field(
        default=None,
        description="Who it reaches: {lists: [...], filter: 'language=th', area: {...}, "
        "everyone: true}; default: the playbook's audiences' lists",
    )
    audience: str | None = Field(
        default=None, description="A contacts CSV (server path), imported onto its own list"
    )
    default_region: str = Field(default="US", description="Region for numbers without +")
    exercise: bool = Field(default=False, description="CAP Exercise: nothing leaves the machine")
    send: bool = Field(default=True, description="false: stage only (send with broadcast later)")
    sms_price: float = Field(default=0.0083, ge=0, le=100, description="Price of a segment")

    @field_validator("target")
    @classmethod
    def _target(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_target(value)


class UpdateBody(Body):
    """An update: new text per language, or a playbook announcement with new values."""

    texts: dict[str, str] | None = Field(
        default=None, description="language -> text; the incident's fallback language needed"
    )
    announcement: str | None = Field(default=None, description="A playbook announcement id")
    params: dict[str, str] = Field(default_factory=dict)
    target: dict[str, Any] | None = Field(default=None, description="Default: the launch's")
    sms_price: float = Field(default=0.0083, ge=0, le=100)

    @field_validator("target")
    @classmethod
    def _target(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_target(value)


class DecisionBody(Body):
    reason: str | None = Field(default=None, max_length=2000)


class AssignBody(Body):
    agent_id: int = Field(ge=1, le=2**31 - 1)


class StatusBody(Body):
    status: str = Field(min_length=1, max_length=50, description="One of the case's statuses")


class TextBody(Body):
    text: str = Field(min_length=1, max_length=4000)


class AgentBody(Body):
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, description="E.164, e.g. +66812340001")
    email: str | None = Field(default=None, max_length=320)
    skills: list[str] = Field(default_factory=list, max_length=50)
    languages: list[str] = Field(default_factory=list, max_length=50)
    capacity: int = Field(default=5, ge=1, le=1000)
    day_pass_hours: float | None = Field(
        default=None, gt=0, le=24 * 30, description="A temporary agent: hours until released"
    )


class UserBody(Body):
    username: str = Field(min_length=1, max_length=100)
    role: Literal["commander", "comms", "agent", "viewer"]
    display_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=12, max_length=1000)
    agent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class TokenBody(Body):
    label: str = Field(default="api", min_length=1, max_length=100)


# --- answers -----------------------------------------------------------------------------


class IncidentOut(BaseModel):
    ref: str
    id: int
    title: str
    playbook_id: str
    status: str
    exercise: bool
    languages: list[str]
    params: dict[str, Any]
    created_at: datetime
    stood_down_at: datetime | None
    closed_at: datetime | None


class MessageOut(BaseModel):
    """One rendered message: what people will read, and for SMS what it costs."""

    announcement: str
    channel: str
    language: str
    subject: str | None
    text: str
    encoding: str | None = None  # SMS: gsm7 or ucs2
    segments: int | None = None
    recipients: int | None = None
    cost: float | None = None


class ReachOut(BaseModel):
    channel: str
    language: str
    reached: int
    opted_out: int
    no_address: int
    fallback: int


class PreviewOut(BaseModel):
    """What an action will do before it does it; the same preview an approver sees."""

    kind: Literal["launch", "update", "recall"]
    target: str | None
    messages: list[MessageOut]
    reach: list[ReachOut]
    sms_segments: int = Field(description="SMS segments to send in all")
    sms_cost: float = Field(description="At sms_price a segment")
    sms_price: float
    queued: dict[str, int] = Field(default_factory=dict, description="Recall: queued per channel")


class ApprovalOut(BaseModel):
    id: int
    kind: str
    status: str
    incident: str | None
    request: dict[str, Any]
    preview: PreviewOut | None
    requester: str
    requested_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    result: dict[str, Any] | None


class Outcome(BaseModel):
    """What a launch, update, recall or stand-down did, or the approval it waits for."""

    status: Literal["done", "pending_approval"]
    incident: IncidentOut | None
    approval: ApprovalOut | None
    result: dict[str, Any] = Field(default_factory=dict)


class DeliveryRow(BaseModel):
    channel: str
    language: str
    status: str
    count: int


class DeliverySummary(BaseModel):
    incident: str
    rows: list[DeliveryRow]
    totals: dict[str, int] = Field(description="Per status, every channel")


class CaseOut(BaseModel):
    id: int
    incident: str | None
    channel: str
    severity: str
    category: str | None
    language: str | None
    status: str
    sla: str | None = Field(description="on_track, nearing, breached, met or missed")
    agent_id: int | None
    contact: str | None = Field(description="Masked")
    opened_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    resolved_at: datetime | None
    csat_score: int | None


class LineOut(BaseModel):
    at: datetime
    kind: str
    author: str
    channel: str | None
    body: str


class CaseDetail(CaseOut):
    statuses: list[str]
    conversation: list[LineOut]


class ReplyOut(BaseModel):
    case: CaseOut
    delivery_status: str
    error: str | None


class AgentOut(BaseModel):
    id: int
    name: str
    phone: str | None = Field(description="Masked")
    email: str | None = Field(description="Masked")
    skills: list[str]
    languages: list[str]
    capacity: int
    temporary: bool
    pass_expires_at: datetime | None
    active: bool


class ReleaseOut(BaseModel):
    agent: AgentOut
    requeued_cases: list[int]


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    agent_id: int | None
    created_at: datetime
    last_login_at: datetime | None


class TokenOut(BaseModel):
    user_id: int
    label: str
    token: str = Field(description="Shown once: only its hash is kept")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    incident: str | None
    subject: str | None
    source: str
    detail: dict[str, Any] | None
