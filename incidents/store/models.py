"""The incident store's tables as typed SQLAlchemy models.

One row per thing a person would point at: an incident, an announcement (one per channel x
language), a delivery (the ledger: one per incident x announcement x channel x recipient), a
case, an agent, an assignment, an inbound message, a timeline event. Timestamps are aware UTC
(see :mod:`crisiscast.incidents.store.sqltypes`). The schema itself is created by the Alembic
migrations in ``incidents/store/migrations``, never by ``create_all``, so upgrades keep data.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from crisiscast.errors import StoreError
from crisiscast.incidents.store.sqltypes import DateJSON, UTCDateTime

# Named constraints let later migrations alter them by name (SQLite batch mode needs this).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class IncidentStatus(StrEnum):
    ACTIVE = "active"
    STANDING_DOWN = "standing_down"
    CLOSED = "closed"


class AnnouncementStatus(StrEnum):
    PENDING = "pending"
    BROADCASTING = "broadcasting"
    SENT = "sent"
    RECALLED = "recalled"


# ``last_error`` of a row handed to a provider whose outcome is not recorded yet (see ledger.py).
IN_FLIGHT = "in flight: handed to the provider, outcome not recorded yet"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


def _enum(cls: type[StrEnum], name: str) -> Enum:
    """A portable enum column: a short string with a CHECK, the same on SQLite and PostgreSQL."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: DateJSON(),
    }


class Incident(Base):
    """A launched playbook: what happened, with which parameters, and where it stands."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    playbook_id: Mapped[str] = mapped_column(String(200))
    playbook_path: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(DateJSON())
    languages: Mapped[list[str]] = mapped_column(DateJSON())
    status: Mapped[IncidentStatus] = mapped_column(
        _enum(IncidentStatus, "incident_status"), default=IncidentStatus.ACTIVE
    )
    # CAP "Exercise": every channel records to the outbox; nothing leaves the machine.
    exercise: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    stood_down_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    @property
    def ref(self) -> str:
        """The name people use: ``INC-42``."""
        return f"INC-{self.id}"


class Announcement(Base):
    """One rendered message of a playbook announcement, for one channel and one language."""

    __tablename__ = "announcements"
    __table_args__ = (UniqueConstraint("incident_id", "announcement_id", "channel", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    announcement_id: Mapped[str] = mapped_column(String(200))  # the playbook's id
    when: Mapped[str] = mapped_column(String(20))  # launch | update | all_clear
    channel: Mapped[str] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[AnnouncementStatus] = mapped_column(
        _enum(AnnouncementStatus, "announcement_status"), default=AnnouncementStatus.PENDING
    )
    # Who this announcement reaches (``targets.id``; None: nobody named one, the broadcast
    # refuses it). No foreign key: see migration 0007.
    target_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]


class Contact(Base):
    """A person in the directory, reached only when a target names them (a list, a filter,
    an area). ``language`` is what the person or their file said: never rewritten to fit a
    playbook (a playbook without it sends its fallback language)."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_latitude_longitude", "latitude", "longitude"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience: Mapped[str] = mapped_column(String(100), default="all", index=True)
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    language: Mapped[str | None] = mapped_column(String(20))
    opted_out_at: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Administrative area codes (e.g. ``TH-10``), tags and any extra CSV columns.
    area_codes: Mapped[list[str]] = mapped_column(
        DateJSON(), default=list, server_default=text("'[]'")
    )
    tags: Mapped[list[str]] = mapped_column(DateJSON(), default=list, server_default=text("'[]'"))
    fields: Mapped[dict[str, Any]] = mapped_column(
        DateJSON(), default=dict, server_default=text("'{}'")
    )
    region: Mapped[str | None] = mapped_column(String(2))  # the region its phone was read in


class ContactList(Base):
    """A named list of contacts (``flood-zone-a``): what a commander targets by name."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ContactListMember(Base):
    __tablename__ = "contact_list_members"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SavedFilter(Base):
    """A named filter expression over language, tags, fields and areas (``language=th,tag=x``)."""

    __tablename__ = "saved_filters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    expression: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Target(Base):
    """What an announcement was aimed at, as asked (``spec``) and as resolved: the contact ids
    in ``target_members``, written once when it is resolved (none when ``everyone``)."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    spec: Mapped[dict[str, Any]] = mapped_column(DateJSON())
    description: Mapped[str] = mapped_column(Text)
    everyone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    size: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]


class TargetMember(Base):
    """One contact a target reached. No foreign key on ``contact_id``: a deleted contact stays
    counted in what was targeted, and the insert of a million ids stays cheap."""

    __tablename__ = "target_members"

    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class OptOut(Base):
    """A permanent "do not contact" for an address on a channel (STOP and its equivalents)."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("address", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320))  # E.164 phone or lower-case email
    channel: Mapped[str] = mapped_column(String(50))
    keyword: Mapped[str | None] = mapped_column(Text)  # the word or reason that opted them out
    created_at: Mapped[datetime]


class Delivery(Base):
    """The ledger: one row per incident x announcement x channel x recipient.

    ``idempotency_key`` is unique so a retried or resumed broadcast inserts with
    ``ON CONFLICT (idempotency_key) DO NOTHING`` and sends only rows still queued.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_incident_status", "incident_id", "status"),
        # Only rows with a provider id (receipts look them up); outbox rows have none.
        Index(
            "ix_deliveries_provider_id",
            "provider_id",
            sqlite_where=text("provider_id IS NOT NULL"),
            postgresql_where=text("provider_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(50))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    address: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "delivery_status"),
        default=DeliveryStatus.QUEUED,
        server_default=DeliveryStatus.QUEUED.value,
    )
    provider_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutboxMark(Base):
    """Where a broadcast shard began appending to its outbox file, kept until its rows are in
    the ledger: after a crash, the lines past ``offset`` are what the ledger may lack."""

    __tablename__ = "outbox_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(50))
    contact_lo: Mapped[int] = mapped_column(Integer)
    contact_hi: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class BroadcastShard(Base):
    """One shard of a broadcast run on Prefect workers: who holds it, until when, and what it
    did. A lease that has passed means its runner died: another runner takes the shard over."""

    __tablename__ = "broadcast_shards"
    __table_args__ = (Index("ix_broadcast_shards_run_status", "run", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    announcement: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(50))
    contact_lo: Mapped[int | None] = mapped_column(BigInteger)
    contact_hi: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))  # pending | running | done
    owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    claims: Mapped[int] = mapped_column(Integer)
    report: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class Case(Base):
    """A reply that needs a person. ``id`` is the number agents type: ``ACK 42``."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_incident_status", "incident_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(20))  # urgent | high | medium | low
    category: Mapped[str | None] = mapped_column(String(100))
    subcategory: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(50), default="new")  # playbooks may add statuses
    why: Mapped[dict[str, Any] | None] = mapped_column(DateJSON())  # triage's reasons
    opened_at: Mapped[datetime]
    first_response_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    first_responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]  # SLA clock stopped while waiting on the customer
    paused_total_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The customer's answer to the stand-down's satisfaction question (1-5), on the case asked.
    csat_score: Mapped[int | None] = mapped_column(Integer, default=None)
    csat_at: Mapped[datetime | None] = mapped_column(default=None)


class CaseEntry(Base):
    """One line of a case's conversation besides the customer's own messages (those are
    ``inbound_messages``): what we sent them (auto-reply, ``ASK``, a reply, a reminder, the
    CSAT question), what was relayed to an agent, and internal notes. Append-only."""

    __tablename__ = "case_entries"
    __table_args__ = (Index("ix_case_entries_case_at", "case_id", "at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    # note | reply | ask | answer | auto_reply | reminder | csat_question | relay | status
    kind: Mapped[str] = mapped_column(String(30))
    author: Mapped[str] = mapped_column(String(200))  # "agent:3 Noi", "user:1 ana", "crisiscast"
    channel: Mapped[str | None] = mapped_column(String(50))  # None: internal (a note)
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(DateJSON(), default=None)


class InboundMessage(Base):
    """Anything that came in on any channel, stored before the webhook answers 2xx."""

    __tablename__ = "inbound_messages"
    # A provider retrying a webhook sends the same id again: store it once. Intake looks up a
    # sender's open case on every reply (migration 0002).
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index("ix_inbound_messages_sender", "sender"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(50))
    provider_id: Mapped[str | None] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))


class Agent(Base):
    """Someone who works cases; ``temporary`` agents hold a day pass that expires."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # SMS commands come from it
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    skills: Mapped[list[str]] = mapped_column(DateJSON(), default=list)
    languages: Mapped[list[str]] = mapped_column(DateJSON(), default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    temporary: Mapped[bool] = mapped_column(Boolean, default=False)
    pass_expires_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Assignment(Base):
    """Who holds a case, since when, and how it ended (acked, released, escalated)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    assigned_at: Mapped[datetime]
    acked_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class TimelineEvent(Base):
    """An append-only record of what happened in an incident, in order."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_incident_at", "incident_id", "at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(DateJSON())


class UserRole(StrEnum):
    """What a person may do (incidents/people/roles.py holds the matrix)."""

    COMMANDER = "commander"
    COMMS = "comms"
    AGENT = "agent"
    VIEWER = "viewer"


class User(Base):
    """A person who signs in to the console or calls the API. Agents who use the console are
    users linked to their ``agents`` row; agents who only text need no user."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"))
    password_hash: Mapped[str | None] = mapped_column(Text)  # Argon2id; None: API tokens only
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiToken(Base):
    """A user's API token, stored as its SHA-256: the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id, the table its SHA-256 and the CSRF
    token its forms must echo. Revoked at sign-out; expires on its own."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    client: Mapped[str | None] = mapped_column(String(100))  # the address it signed in from
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Approval(Base):
    """A launch, update or recall waiting for a second person (two-person rule). ``request``
    is what will run once approved; ``preview`` is what both people saw (reach per channel and
    language, SMS segments and cost)."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # launch | update | recall
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    request: Mapped[dict[str, Any]] = mapped_column(DateJSON())
    preview: Mapped[dict[str, Any] | None] = mapped_column(DateJSON())
    status: Mapped[ApprovalStatus] = mapped_column(
        _enum(ApprovalStatus, "approval_status"), default=ApprovalStatus.PENDING
    )
    # Who asked: a user, or None for the CLI on this machine (``requester`` names either).
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requester: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(DateJSON(), default=None)


class AuditEvent(Base):
    """Who did what, when, from where, and what changed. Append-only, like the timeline; no
    foreign keys, so the record outlives the user, incident or case it names."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at", "id"),
        Index("ix_audit_events_incident", "incident_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))  # "user:1 ana", "agent:3 Noi", "cli"
    user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(50))  # login, launch, approve, case.status...
    incident_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(String(200))  # "case 42", "INC-3", "user 2"
    source: Mapped[str] = mapped_column(String(100))  # "api 127.0.0.1", "sms", "email", "cli"
    detail: Mapped[dict[str, Any] | None] = mapped_column(DateJSON())


def _refuse_change(mapper: Mapper[Any], connection: Any, target: TimelineEvent) -> None:
    raise StoreError(
        f"timeline event {target.id} of incident INC-{target.incident_id} cannot be changed or "
        "deleted: the timeline is append-only. Record a new event that corrects it instead."
    )


event.listen(TimelineEvent, "before_update", _refuse_change)
event.listen(TimelineEvent, "before_delete", _refuse_change)


def _refuse_audit_change(mapper: Mapper[Any], connection: Any, target: AuditEvent) -> None:
    raise StoreError(
        f"audit event {target.id} cannot be changed or deleted: the audit log is append-only."
    )


event.listen(AuditEvent, "before_update", _refuse_audit_change)
event.listen(AuditEvent, "before_delete", _refuse_audit_change)
