"""Intake of one inbound message from any channel: store it, then decide what it is.

The order is the invariant: the message is committed first, in its own transaction, so
whatever happens after (a playbook that no longer loads, a bug in triage) an accepted message
is never lost, and the webhook may answer 2xx. (``receive_each`` first tries storing and
processing in one transaction, which commits both or neither; only when it fails does it fall
back to this order, so the rule holds either way.) A provider that retries sends the same provider
id (Twilio MessageSid, an email's Message-ID): the unique ``(channel, provider_id)`` turns the
retry into a no-op that is neither stored nor answered twice.

Then, in a second transaction: STOP and its equivalents record an opt-out instead of opening a
case; anything else is triaged with the incident's playbook and opens a case (or joins the
sender's open one) with its SLA due times, and gets at most one auto-acknowledgement per case
per window. A message that joins a case waiting on the customer (an agent's ``ASK``) resumes
its SLA clocks (``crisiscast.incidents.cases.customer_wait``) and is handed to the intake's
``on_answer`` hook (the webhook's sends it on to the agent who asked: ``agents.relay``).

Matching: the active incident whose announcement this address was sent (found through the
ledger's unique idempotency key, so it stays an index lookup with a million deliveries), else
the newest active incident. The contact is found by phone (E.164) or lower-case email.

``receive_many`` does all of this for a batch with two commits and a fixed number of
statements (``intake_sql``), in message order: a second message from the same sender in the
same batch joins the case the first one opened. ``receive_each`` is the same for messages from
different people (the webhooks' shared batches): when a batch's transaction fails for any reason
but an unreachable store, it is redone message by message, so only the message that caused it
fails (``MessageRefused`` when the database refused it, the webhook's 400); one whose
processing fails alone is still stored (outcome ``stored``, the webhook's 2xx).

Text a database refuses is repaired per message before any statement: PostgreSQL text holds
no NUL (and psycopg cannot send a lone surrogate), so each is replaced by U+FFFD, and the
repaired fields are named in the case's ``why`` (``repaired``) and in the timeline. Nothing else
of a message is changed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from crisiscast.errors import CrisiscastError, StoreError
from crisiscast.incidents.audience.optout import handle_reply, opt_out_keyword
from crisiscast.incidents.cases import after_close
from crisiscast.incidents.cases import customer_wait as wait
from crisiscast.incidents.cases.opening import case_row, is_more_severe, sla_due
from crisiscast.incidents.cases.sla import resume
from crisiscast.incidents.intake import acknowledge as ack
from crisiscast.incidents.intake import queries as sql
from crisiscast.incidents.intake.queries import IncidentInfo
from crisiscast.incidents.intake.triage import (
    TriageConfig,
    TriageResult,
    config_from_playbook,
    default_config,
    detect_language,
    triage,
)
from crisiscast.incidents.store.database import Store
from crisiscast.playbook import Playbook, load_playbook

log = logging.getLogger(__name__)

# "stored": kept, but its processing failed (logged); the webhook still answers 2xx.
# "csat": a rating recorded on the closed incident's case that asked; "closed": kept on the
# sender's case of a closed incident and answered that it ended (``cases.after_close``).
Outcome = Literal["duplicate", "opted_out", "case", "stored", "csat", "closed"]
AUTO_REPLY = "auto_reply"
OPT_OUT_CHANNELS = frozenset({"sms", "email"})
TRIAGE_CHARS = 8_000  # what triage reads (about 1,300 words): 6.5 ms; 20,000 chars took 24 ms
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as a webhook or poller received it; ``sender`` is already normalised
    (E.164 phone, lower-case email, @handle); ``provider_id`` recognises retries."""

    channel: str  # sms | email | web | social
    provider_id: str
    sender: str
    body: str
    automated: bool = False  # said by its headers to come from an auto-responder
    incident_id: int | None = None  # the web form names its incident; others are matched
    repaired: tuple[str, ...] = ()  # fields whose NULs (or lone surrogates) became U+FFFD

    def storable(self) -> Inbound:
        """This message with text every database accepts; ``repaired`` names what changed."""
        provider_id, sender, body = map(storable_text, (self.provider_id, self.sender, self.body))
        changed = tuple(
            name
            for name, old, new in (("provider_id", self.provider_id, provider_id),
                                   ("sender", self.sender, sender), ("body", self.body, body))
            if new is not old
        )  # fmt: skip
        if not changed:
            return self
        repaired = tuple(dict.fromkeys((*self.repaired, *changed)))
        return replace(self, provider_id=provider_id, sender=sender, body=body, repaired=repaired)


def storable_text(value: str) -> str:
    """``value`` with NUL and lone surrogates (which PostgreSQL or its driver refuse) as U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub("\ufffd", value)
    return value


class MessageRefused(CrisiscastError):
    """The database refused this one message (the rest of its batch is stored): a 400."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A message waiting for intake, with the time it arrived and the reply form it needs."""

    message: Inbound
    now: datetime
    form: ack.Form = "short"


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What became of a message; ``reply`` is the text to send back (None: send nothing)."""

    outcome: Outcome
    message_id: int | None
    incident_ref: str | None
    case_id: int | None = None
    severity: str | None = None
    language: str | None = None
    reply: str | None = None


class PlaybookCache:
    """Playbooks by path, reloaded when the file changes: validating one per message would
    cost more than the rest of intake together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Playbook, TriageConfig]] = {}

    def get(self, path: str) -> tuple[Playbook, TriageConfig]:
        """The playbook at ``path`` and its triage config; PlaybookError/ConfigError if unusable."""
        try:
            mtime = Path(path).stat().st_mtime
        except OSError:
            mtime = -1.0  # load_playbook reports the missing file precisely
        with self._lock:
            entry = self._entries.get(path)
        if entry is not None and entry[0] == mtime:
            return entry[1], entry[2]
        playbook = load_playbook(path)
        config = config_from_playbook(playbook)
        with self._lock:
            self._entries[path] = (mtime, playbook, config)
        return playbook, config


@dataclass(slots=True)
class _Stored:
    pending: Pending
    message_id: int | None  # None: a provider retry of a message already stored
    incident: IncidentInfo | None
    announcement: int | None
    closed: after_close.ClosedMatch | None = None  # matched to a stood-down incident


@dataclass(slots=True)
class _CasePlan:
    """A case this batch opens or adds to; ``row`` is set for a case not inserted yet."""

    case_id: int | None
    severity: str
    opened_at: datetime
    why: dict[str, Any]
    row: dict[str, Any] | None = None
    changes: dict[str, Any] | None = None  # severity raised on a case already stored
    last_reply: datetime | None = None


@dataclass(slots=True)
class _Triaged:
    stored: _Stored
    message_id: int
    playbook: Playbook | None
    result: TriageResult
    plan: _CasePlan | None = None
    reply: str | None = None


@dataclass
class _Batch:
    """The second transaction of ``receive_many``: opt-outs, cases, replies, timeline."""

    intake: Intake
    session: Session
    events: list[dict[str, Any]] = field(default_factory=list)
    answers: list[wait.Answer] = field(default_factory=list)  # ASK answers, for on_answer

    def run(self, stored: list[_Stored]) -> list[IntakeResult]:
        results: list[IntakeResult | _Triaged] = []
        for item in stored:
            if item.message_id is None:
                ref = item.incident.ref if item.incident else None
                results.append(IntakeResult("duplicate", None, ref))
            else:
                results.append(self._opt_out_or_triage(item, item.message_id))
        for item in stored:
            message = item.pending.message
            if message.repaired and item.message_id is not None and item.incident is not None:
                fields = ", ".join(message.repaired)
                self._event(item.incident.id, "inbound_repaired",
                            f"message {item.message_id}: NUL or invalid characters in {fields} "
                            "stored as U+FFFD", {"message": item.message_id,
                                                 "fields": list(message.repaired)},
                            item.pending.now)  # fmt: skip
        triaged = [r for r in results if isinstance(r, _Triaged)]
        self._plan_cases(triaged)
        self._replies(triaged)
        sql.link_messages(self.session, [(t.message_id, _case_id(t)) for t in triaged])
        sql.add_events(self.session, self.events)
        return [r if isinstance(r, IntakeResult) else _result(r) for r in results]

    def _opt_out_or_triage(self, item: _Stored, message_id: int) -> IntakeResult | _Triaged:
        message, now = item.pending.message, item.pending.now
        # Decided on the head of the text: an email can carry megabytes, and triage's time
        # grows with it (measured ~1 s per MB) while every message behind it waits.
        text = message.body[:TRIAGE_CHARS]
        playbook, config = self.intake.playbook_for(item.incident)
        languages = list(config.languages) if playbook else list(_languages(item.incident))
        if message.channel in OPT_OUT_CHANNELS and opt_out_keyword(text, languages):
            handle_reply(self.session, message.channel, message.sender, text, languages,
                         now=now)  # fmt: skip
            default = languages[0] if languages else "en"
            # "หยุด" deserves its confirmation in Thai, whatever the playbook's first language.
            language = detect_language(text, tuple(languages) or (default,), default)
            ref = item.incident.ref if item.incident else None
            if item.incident is not None:
                self._event(item.incident.id, "opt_out", f"message {message_id} opted out", None,
                            now)  # fmt: skip
            log.info("inbound opt-out incident=%s message=%s", ref, message_id)
            reply = ack.opt_out_confirmation(language)
            return IntakeResult("opted_out", message_id, ref, language=language, reply=reply)
        result = triage(text, config)
        if item.closed is not None:  # a reply after the closure: CSAT, or told it ended
            levels = [level.name for level in playbook.severity.levels[:2]] if playbook else []
            done = after_close.answer(self.session, item.closed, message_id=message_id,
                                      text=text, channel=message.channel,
                                      severity=result.severity, pressing=levels,
                                      language=result.language, now=now)  # fmt: skip
            if done is not None:
                log.info("inbound %s incident=%s case=%s", done.outcome, item.closed.ref,
                         done.case_id)  # fmt: skip
                return IntakeResult(done.outcome, message_id, item.closed.ref, done.case_id,
                                    language=done.language, reply=done.reply)  # fmt: skip
        return _Triaged(item, message_id, playbook, result)

    def _plan_cases(self, triaged: list[_Triaged]) -> None:
        keys = {id(t): _key(t) for t in triaged}
        existing = sql.open_cases(self.session, keys.values())
        known = sql.contacts(self.session, (k[2] for k in keys.values() if k not in existing))
        plans: dict[tuple[int | None, str, str], _CasePlan] = {
            key: _CasePlan(case.id, case.severity, case.opened_at, dict(case.why or {}))
            for key, case in existing.items()
        }
        opened_by: dict[int, _Triaged] = {}
        for t in triaged:
            key = keys[id(t)]
            plan = plans.get(key)
            if plan is None:
                plans[key] = t.plan = self._new_case(t, known.get(key[2]))
                opened_by[id(t.plan)] = t
            else:
                t.plan = plan
                self._maybe_raise(t, plan)
        self._resume_answered(triaged, {case.id for case in existing.values()})
        new = [p for p in plans.values() if p.row is not None]
        for plan, case_id in zip(new, sql.insert_cases(self.session, [p.row for p in new if p.row]),
                                 strict=True):  # fmt: skip
            plan.case_id = case_id
        for plan in plans.values():
            if plan.changes is not None and plan.case_id is not None:
                sql.raise_case(self.session, plan.case_id, plan.changes)
        for plan in new:
            self._case_opened(plan, opened_by[id(plan)])

    def _new_case(self, t: _Triaged, contact_id: int | None) -> _CasePlan:
        message, now, result = t.stored.pending.message, t.stored.pending.now, t.result
        playbook = t.playbook
        why = _why(result, t.stored.announcement)
        if message.repaired:
            why["repaired"] = list(message.repaired)
        row = case_row(
            incident_id=t.stored.incident.id if t.stored.incident else None,
            contact_id=contact_id, channel=message.channel, severity=result.severity,
            category=result.category, subcategory=result.subcategory, language=result.language,
            why=why, due=sla_due(playbook.severity, result.severity, now) if playbook else None,
            status=playbook.statuses[0] if playbook else "new", now=now,
        )  # fmt: skip
        return _CasePlan(None, result.severity, now, why, row=row)

    def _maybe_raise(self, t: _Triaged, plan: _CasePlan) -> None:
        """A more severe follow-up raises the case; due times count from its opening."""
        if t.playbook is None:
            return
        ranks = [level.name for level in t.playbook.severity.levels]
        if not is_more_severe(t.result.severity, plan.severity, ranks):
            return
        plan.severity = t.result.severity
        plan.why = {**plan.why, "raised": _why(t.result, t.stored.announcement)}
        due = sla_due(t.playbook.severity, plan.severity, plan.opened_at)
        values = {"severity": plan.severity, "why": plan.why,
                  "first_response_due": due.first_response_due if due else None,
                  "resolution_due": due.resolution_due if due else None}  # fmt: skip
        if plan.row is not None:
            plan.row.update(values)
        else:
            plan.changes = values

    def _resume_answered(self, triaged: list[_Triaged], stored_ids: set[int]) -> None:
        """The customer's first message in this batch on a case waiting for them resumes its
        clocks; a raise in the same batch keeps the time already paused (one read per batch)."""
        first: dict[int, _Triaged] = {}
        for t in triaged:
            if t.plan is not None and t.plan.case_id in stored_ids:
                first.setdefault(t.plan.case_id, t)
        timers = wait.joined_timers(self.session, first) if first else {}
        for case_id, t in first.items():
            plan, timer, now = t.plan, timers.get(case_id), t.stored.pending.now
            if plan is None or timer is None:
                continue
            initial = t.playbook.statuses[0] if t.playbook else "new"
            values = wait.answered_values(timer, now, initial_status=initial)
            if values:
                before, timer = timer.paused_total, resume(timer, now)
                waited = int((timer.paused_total - before).total_seconds())
                if t.stored.incident is not None:
                    text = (
                        f"case {case_id}: customer answered, SLA resumed after {waited // 60} min"
                    )
                    data = {"case_id": case_id, "paused_seconds": waited}
                    self._event(t.stored.incident.id, "case_resumed", text, data, now)
                body = t.stored.pending.message.body
                self.answers.append(wait.Answer(case_id, t.message_id, body, now))
            raised = wait.shift_raised(plan.changes, timer) if plan.changes else {}
            if values or raised:
                plan.changes = {**values, **raised}

    def _case_opened(self, plan: _CasePlan, t: _Triaged) -> None:
        """One timeline line per new case (never the text or the sender: personal data)."""
        incident = t.stored.incident
        if incident is None or plan.case_id is None:
            return
        text = f"case {plan.case_id} opened: {plan.severity} {t.result.category}"
        data = {"case": plan.case_id, "severity": plan.severity,
                "channel": t.stored.pending.message.channel}  # fmt: skip
        self._event(incident.id, "case_opened", text, data, t.stored.pending.now)

    def _replies(self, triaged: list[_Triaged]) -> None:
        """At most one auto-reply per case per window, never to a machine or without a playbook."""
        wanted = [t for t in triaged if t.playbook is not None and t.stored.incident is not None
                  and not t.stored.pending.message.automated]  # fmt: skip
        old = [(t.stored.incident.id, _case_id(t)) for t in wanted
               if t.stored.incident and t.plan and t.plan.row is None]  # fmt: skip
        last = sql.last_auto_replies(self.session, old, AUTO_REPLY)
        for t in wanted:
            plan, incident, pending = t.plan, t.stored.incident, t.stored.pending
            if plan is None or incident is None or t.playbook is None or plan.case_id is None:
                continue
            previous = plan.last_reply or last.get(plan.case_id)
            if not ack.should_auto_reply(previous, pending.now, self.intake.window):
                continue
            local = pending.now.astimezone(self.intake.local_tz).time()
            reply = ack.compose(t.playbook, t.result, case_id=plan.case_id, local_time=local,
                                form=pending.form)  # fmt: skip
            t.reply, plan.last_reply = reply.text, pending.now
            data = {
                "case": plan.case_id,
                "language": reply.language,
                "route": reply.route_need,
                "out_of_hours": reply.out_of_hours,
                "channel": pending.message.channel,
            }
            self._event(incident.id, AUTO_REPLY, f"case {plan.case_id} auto-acknowledged", data,
                        pending.now)  # fmt: skip

    def _event(
        self, incident_id: int, kind: str, message: str, data: dict[str, Any] | None, now: datetime
    ) -> None:
        self.events.append(
            {"incident_id": incident_id, "at": now, "kind": kind, "message": message, "data": data}
        )


def _languages(incident: IncidentInfo | None) -> tuple[str, ...]:
    return incident.languages if incident else ()


def _key(t: _Triaged) -> tuple[int | None, str, str]:
    message = t.stored.pending.message
    return (t.stored.incident.id if t.stored.incident else None, message.channel, message.sender)


def _case_id(t: _Triaged) -> int:
    if t.plan is None or t.plan.case_id is None:  # every triaged message has a case by now
        raise CrisiscastError(f"message {t.message_id} has no case after planning: a bug")
    return t.plan.case_id


def _why(result: TriageResult, announcement: int | None) -> dict[str, Any]:
    why: dict[str, Any] = {
        "why": list(result.why),
        "signals": list(result.signals),
        "decided_by": result.decided_by,
        "unanswered": list(result.unanswered),
    }
    if announcement is not None:
        why["announcement"] = announcement
    return why


def _storable(pending: Pending) -> Pending:
    message = pending.message.storable()
    return pending if message is pending.message else replace(pending, message=message)


def _unreachable(exc: BaseException) -> bool:
    """The store itself failed (down, timed out, locked): no message would fare better alone."""
    return isinstance(exc, StoreError) and isinstance(exc.__cause__, OperationalError
                                                      | InterfaceError)  # fmt: skip


def _result(t: _Triaged) -> IntakeResult:
    ref = t.stored.incident.ref if t.stored.incident else None
    case_id = _case_id(t)
    severity = t.plan.severity if t.plan else t.result.severity
    log.info("inbound case=%s incident=%s channel=%s severity=%s replied=%s", case_id, ref,
             t.stored.pending.message.channel, severity, t.reply is not None)  # fmt: skip
    return IntakeResult("case", t.message_id, ref, case_id, severity, t.result.language, t.reply)


class Intake:
    """Receives messages for one store; thread-safe (sessions are per call)."""

    def __init__(
        self,
        store: Store,
        *,
        local_tz: tzinfo | None = None,
        window: timedelta = ack.DEFAULT_WINDOW,
        playbooks: PlaybookCache | None = None,
        on_answer: wait.AnswerHook | None = None,
    ) -> None:
        self.store = store
        # Given each customer answer that resumed a case waiting on them (an agent's ASK).
        self.on_answer = on_answer
        # Route hours ("07:00-22:00") are read on this clock; the server's own zone by default.
        self.local_tz = local_tz
        self.window = window
        self.playbooks = playbooks or PlaybookCache()

    def receive(self, message: Inbound, *, now: datetime, form: ack.Form = "short") -> IntakeResult:
        """Store ``message`` (committed), then opt out, or triage and open/join a case."""
        return self.receive_many([Pending(message, now, form)])[0]

    def receive_many(self, batch: Sequence[Pending]) -> list[IntakeResult]:
        """``receive`` for several messages, in order, with two commits in all: the first
        stores every message, the second processes them."""
        with self.store.session() as session:
            sql.plan_per_execution(session)
            stored = self._store(session, batch)
        with self.store.session() as session:
            sql.plan_per_execution(session)
            work = _Batch(self, session)
            results = work.run(stored)
        self._answered(work.answers)
        return results

    def receive_each(self, batch: Sequence[Pending]) -> list[IntakeResult | Exception]:
        """``receive_many`` for messages that have nothing to do with each other: each gets its
        result or its own exception. A failed batch transaction is redone message by message
        (a store that cannot be reached fails them all at once: each retry would wait for it).

        The usual case takes one transaction for all of it (one commit: on PostgreSQL each is
        a WAL flush, the larger part of a batch's time); if anything in it fails, nothing of it
        was committed, and the batch is done again the careful way: stored first, processed after.
        """
        try:
            with self.store.session() as session:
                sql.plan_per_execution(session)
                work = _Batch(self, session)
                results: list[IntakeResult | Exception] = list(
                    work.run(self._store(session, batch))
                )
            self._answered(work.answers)
            return results
        except Exception as exc:
            if _unreachable(exc):
                raise
            log.warning("intake: a batch of %d failed (%s), stored first, then processed",
                        len(batch), type(exc).__name__)  # fmt: skip
        try:
            with self.store.session() as session:
                sql.plan_per_execution(session)
                stored: list[_Stored | Exception] = list(self._store(session, batch))
        except Exception as exc:
            if _unreachable(exc):
                raise
            log.warning("intake: a batch of %d failed to store (%s), storing one by one",
                        len(batch), type(exc).__name__)  # fmt: skip
            stored = [self._store_alone(pending) for pending in batch]
        kept = [item for item in stored if isinstance(item, _Stored)]
        try:
            with self.store.session() as session:
                sql.plan_per_execution(session)
                work = _Batch(self, session)
                done = dict(zip(map(id, kept), work.run(kept), strict=True))
            self._answered(work.answers)
        except Exception as exc:
            if _unreachable(exc):
                raise
            log.warning("intake: a batch of %d failed in processing (%s), one by one",
                        len(kept), type(exc).__name__)  # fmt: skip
            done = {id(item): self._process_alone(item) for item in kept}
        return [done[id(item)] if isinstance(item, _Stored) else item for item in stored]

    def _answered(self, answers: Sequence[wait.Answer]) -> None:
        """Hand each committed ASK answer to ``on_answer``; its failure never fails intake
        (the answer is stored, the clocks resumed: the relay is a courtesy on top)."""
        if self.on_answer is None:
            return
        for answer in answers:
            try:
                self.on_answer(answer)
            except Exception:
                log.exception("intake: relaying the answer on case %s failed", answer.case_id)

    def _store_alone(self, pending: Pending) -> _Stored | Exception:
        try:
            with self.store.session() as session:
                sql.plan_per_execution(session)
                return self._store(session, [pending])[0]
        except DBAPIError as exc:  # not unreachable: Store.session made that a StoreError
            log.warning("intake: the database refused a %s message: %s",
                        pending.message.channel, type(exc.orig).__name__)  # fmt: skip
            return MessageRefused(f"the database refused this message ({type(exc.orig).__name__})")
        except Exception as exc:
            return exc

    def _process_alone(self, item: _Stored) -> IntakeResult:
        """Process one stored message; if that fails too, it stays stored (and is logged)."""
        ref = item.incident.ref if item.incident else None
        if item.message_id is None:
            return IntakeResult("duplicate", None, ref)
        try:
            with self.store.session() as session:
                sql.plan_per_execution(session)
                work = _Batch(self, session)
                result = work.run([item])[0]
            self._answered(work.answers)
            return result
        except Exception:
            log.exception("intake: message %s is stored but its processing failed",
                          item.message_id)  # fmt: skip
            return IntakeResult("stored", item.message_id, ref)

    def _store(self, session: Session, batch: Sequence[Pending]) -> list[_Stored]:
        batch = [_storable(p) for p in batch]
        named = sql.incidents_by_id(session, (p.message.incident_id for p in batch
                                              if p.message.incident_id is not None))  # fmt: skip
        matched = sql.match_incidents(session, [(p.message.channel, p.message.sender)
                                                for p in batch])  # fmt: skip
        # Not reached by an active incident: a reply to one that closed belongs to it.
        unreached = {(p.message.channel, p.message.sender) for p, (_, a) in zip(batch, matched,
                     strict=True) if a is None and p.message.incident_id is None}  # fmt: skip
        closed = after_close.closed_matches(session, unreached, batch[0].now) if unreached else {}
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        stored: list[_Stored] = []
        for pending, (incident, announcement) in zip(batch, matched, strict=True):
            message = pending.message
            if message.incident_id is not None:
                incident, announcement = named.get(message.incident_id), None
            ended = closed.get((message.channel, message.sender))
            if ended is not None and message.incident_id is None and announcement is None:
                incident = IncidentInfo(ended.incident_id, ended.playbook_path, ended.languages)
            else:
                ended = None
            stored.append(_Stored(pending, None, incident, announcement, ended))
            rows.setdefault((message.channel, message.provider_id), {
                "incident_id": incident.id if incident else None, "channel": message.channel,
                "provider_id": message.provider_id, "sender": message.sender,
                "body": message.body, "received_at": pending.now,
            })  # fmt: skip
        ids = sql.insert_messages(session, list(rows.values()))
        for item in stored:  # the first of a repeated id in one batch gets it; the rest are retries
            item.message_id = ids.pop((item.pending.message.channel,
                                       item.pending.message.provider_id), None)  # fmt: skip
        return stored

    def playbook_for(self, incident: IncidentInfo | None) -> tuple[Playbook | None, TriageConfig]:
        """The incident's playbook, or the built-in triage when there is none or it broke."""
        if incident is None:
            return None, default_config()
        try:
            return self.playbooks.get(incident.playbook_path)
        except CrisiscastError as exc:
            # The message is already stored; triage it with the built-in rules and say why.
            log.warning("incident=%s playbook %s unusable, built-in triage used, no auto-reply: %s",
                        incident.ref, incident.playbook_path, str(exc).splitlines()[0])  # fmt: skip
            return None, default_config()
