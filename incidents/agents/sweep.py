"""The SLA sweep's steps for one incident, apart from Prefect: the flow only schedules them.

Per incident, in one transaction, in this order:
1. end assignments that must end (agent off, day pass over, no ACK in time);
2. act on breaches as the playbook's ``escalation`` says (re-page, page a backup, tell the
   commander) and remind customers who went quiet; each action is recorded as an
   ``sla_action`` timeline event with its key, so it happens once however often the sweep runs;
3. give waiting pageable cases (urgent by default) to agents and page them;
4. scale: invite standby people when the backlog passes the playbook's threshold, release idle
   temporary agents when it falls.

An incident that was stood down with open cases is still swept (steps 1-3; no scaling: its extra
hands were released): an urgent case does not stop being late because the incident closed.
Actions taken after the closure say so (``after_close`` in the event), so the report can tell
a real late escalation from a misplaced one.

It lives with the agents because every action it takes reaches a person through paging; the
decisions themselves stay pure in ``cases.escalation``, ``agents.assignment`` and
``agents.staffing``. A backup is paged only after the re-page had ``ack_timeout`` to work:
"re-page, then the backup" when the playbook lists both, not both in the same minute.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crisiscast.channels.base import ChannelKind, OutgoingMessage
from crisiscast.incidents.agents import assignment as asg
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents import staffing
from crisiscast.incidents.agents.desk import queued
from crisiscast.incidents.agents.paging import Senders, message_customer, page_agent, reminder_text
from crisiscast.incidents.agents.paging import send_one as _send_one
from crisiscast.incidents.cases.escalation import Action, ActionKind, OpenCase, escalate
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import Agent, Case, Incident, IncidentStatus, TimelineEvent
from crisiscast.playbook import Playbook

ACTION_EVENT = "sla_action"
DEFAULT_ACK_TIMEOUT_MINUTES = 5
DEFAULT_PAGE_RANKS = 1  # page the most severe level; the others wait for NEXT or the web queue


@dataclass
class Sweep:
    """One incident's sweep: where, when, with what rules; ``counts`` is its summary."""

    session: Session
    incident: Incident
    playbook: Playbook
    senders: Senders
    now: datetime
    ack_timeout: timedelta
    page_ranks: int = DEFAULT_PAGE_RANKS
    commander: str | None = None
    counts: Counter[str] = field(default_factory=Counter)

    def open_cases(self) -> list[Case]:
        query = select(Case).where(
            Case.incident_id == self.incident.id,
            Case.resolved_at.is_(None),
            Case.status.not_in(CLOSED_STATUSES),
        )
        return list(self.session.scalars(query.order_by(Case.id)))

    def levels(self) -> dict[int, list[str]]:
        return {self.incident.id: [level.name for level in self.playbook.severity.levels]}

    @property
    def after_close(self) -> bool:
        """Whether the incident was stood down already (its open cases are still swept)."""
        return IncidentStatus(self.incident.status) is not IncidentStatus.ACTIVE

    def record(self, action: Action, status: str) -> None:
        late = " after the incident closed" if self.after_close else ""
        add_event(
            self.session,
            self.incident.id,
            ACTION_EVENT,
            f"case {action.case_id}: {action.kind} after {action.trigger} ({status}){late}",
            {
                "key": action.key,
                "case_id": action.case_id,
                "kind": str(action.kind),
                "trigger": action.trigger,
                "status": status,
                "after_close": self.after_close,
            },
            now=self.now,
        )
        self.counts[str(action.kind)] += 1


def release_due(sweep: Sweep, cases: list[Case]) -> None:
    """End assignments whose agent is off or out of pass, or that were not ACKed in time."""
    rows = ag.open_assignments(sweep.session, case_ids=[c.id for c in cases])
    by_id = {row.id: row for row in rows}
    slots = ag.agent_slots(sweep.session)
    for release in asg.due_releases(ag.holdings(rows), slots, sweep.now, sweep.ack_timeout):
        ag.end_assignment(
            sweep.session, by_id[release.assignment_id], release.reason, now=sweep.now
        )
        sweep.counts[f"released_{release.reason}"] += 1


def _done_keys(sweep: Sweep) -> dict[str, datetime]:
    """Keys of the actions taken so far; a backup page also stands for the re-page it replaced
    (the backup was just paged: re-paging them a minute later would be noise)."""
    query = select(TimelineEvent).where(
        TimelineEvent.incident_id == sweep.incident.id, TimelineEvent.kind == ACTION_EVENT
    )
    done = {str((e.data or {})["key"]): e.at for e in sweep.session.scalars(query)}
    backup = f":{ActionKind.PAGE_BACKUP}"
    for key, at in list(done.items()):
        if key.endswith(backup):
            done.setdefault(key.removesuffix(backup) + f":{ActionKind.REPAGE}", at)
    return done


def _backup_waits(action: Action, done: dict[str, datetime], sweep: Sweep) -> bool:
    """A backup page waits until the holder's re-page for the same breach had its chance."""
    repaged = done.get(f"{action.case_id}:{action.trigger}:{ActionKind.REPAGE}")
    return repaged is not None and sweep.now - repaged < sweep.ack_timeout


def page_backup(sweep: Sweep, case: Case, slots: dict[int, asg.AgentSlot]) -> str:
    """Move the case to the best other agent on duty and page them.

    ``slots`` is read once per sweep and kept current here: re-reading every agent's load per
    breached case made a 1,000-case breach take seconds.
    """
    if not any(s.available(sweep.now) and s.has_room() for s in slots.values()):
        return "no_backup"
    held = ag.holder_of(sweep.session, case.id)
    exclude = set(asg.excluded_agents(ag.history(sweep.session, [case.id])).get(case.id, set()))
    if held is not None:
        exclude.add(held.agent_id)
    [item] = queued([case], sweep.levels())
    routing = sweep.playbook.staffing.routing
    choice = asg.choose_agent(item, slots.values(), sweep.now, routing, exclude)
    if choice is None:
        return "no_backup"
    if held is not None:
        ag.end_assignment(sweep.session, held, asg.ReleaseReason.ESCALATED, now=sweep.now)
        if held.agent_id in slots:
            old = slots[held.agent_id]
            slots[held.agent_id] = dataclasses.replace(old, load=max(old.load - 1, 0))
    backup = ag.get_agent(sweep.session, choice.agent_id)
    ag.assign_case(sweep.session, case, backup, now=sweep.now)
    slots[backup.id] = dataclasses.replace(slots[backup.id], load=slots[backup.id].load + 1)
    return page_agent(
        sweep.session, sweep.senders, case, backup, incident_ref=sweep.incident.ref, now=sweep.now
    ).status


def notify_commander(sweep: Sweep, case: Case, action: Action) -> str:
    """A timeline event the dashboard shows, and an SMS or email when a commander is set."""
    text = (
        f"{sweep.incident.ref}: case {case.id} ({case.severity}) {action.trigger}. "
        "Open the dashboard to reassign or step in."
    )
    add_event(
        sweep.session,
        sweep.incident.id,
        "commander_notified",
        text,
        {"case_id": case.id, "trigger": action.trigger},
        now=sweep.now,
    )
    if not sweep.commander:
        return "recorded"
    kind: ChannelKind = "email" if "@" in sweep.commander else "sms"
    message = OutgoingMessage(
        f"commander:{action.key}",
        sweep.commander,
        "en",
        text,
        subject=f"{sweep.incident.ref} SLA breach" if kind == "email" else None,
    )
    return _send_one(sweep.senders.get(kind), message).status


def apply(sweep: Sweep, action: Action, case: Case, slots: dict[int, asg.AgentSlot]) -> str | None:
    """Carry out one escalation action; None when it must wait for a later sweep."""
    if action.kind is ActionKind.REPAGE and action.agent_id is not None:
        agent = ag.get_agent(sweep.session, action.agent_id)
        return page_agent(
            sweep.session,
            sweep.senders,
            case,
            agent,
            incident_ref=sweep.incident.ref,
            now=sweep.now,
            repage=True,
        ).status
    if action.kind is ActionKind.PAGE_BACKUP:
        status = page_backup(sweep, case, slots)
        return None if status == "no_backup" else status
    if action.kind is ActionKind.NOTIFY_COMMANDER:
        return notify_commander(sweep, case, action)
    text = reminder_text(case.id, case.language)
    return message_customer(
        sweep.session,
        sweep.senders,
        case,
        text,
        key=f"remind:{action.key}",
        subject=f"Your case {case.id}",
    ).status


def escalate_breaches(sweep: Sweep, cases: list[Case]) -> None:
    """Apply the playbook's escalation rules to breached cases, each action once."""
    held = {
        a.case_id: a.agent_id
        for a in ag.open_assignments(sweep.session, case_ids=[c.id for c in cases])
    }
    by_id = {case.id: case for case in cases}
    done = _done_keys(sweep)
    opened = [OpenCase.of(case, held.get(case.id)) for case in cases]
    slots = ag.agent_slots(sweep.session)
    for action in escalate(opened, sweep.playbook.escalation, sweep.now, done=set(done)):
        if action.kind is ActionKind.PAGE_BACKUP and _backup_waits(action, done, sweep):
            sweep.counts["backup_waiting"] += 1
            continue
        status = apply(sweep, action, by_id[action.case_id], slots)
        if status is None:
            sweep.counts["backup_unavailable"] += 1
            continue
        sweep.record(action, status)
        done[action.key] = sweep.now


def assign_waiting(sweep: Sweep) -> None:
    """Give waiting pageable cases to agents (queue order, routing, capacity) and page them."""
    cases = sweep.open_cases()
    held = {a.case_id for a in ag.open_assignments(sweep.session, case_ids=[c.id for c in cases])}
    waiting = [c for c in cases if c.id not in held]
    items = [q for q in queued(waiting, sweep.levels()) if q.rank < sweep.page_ranks]
    exclude = asg.excluded_agents(ag.history(sweep.session, [q.id for q in items]))
    slots = ag.agent_slots(sweep.session).values()
    plan = asg.assign(items, slots, sweep.now, sweep.playbook.staffing.routing, exclude)
    by_id = {case.id: case for case in waiting}
    for choice in plan.choices:
        agent = ag.get_agent(sweep.session, choice.agent_id)
        ag.assign_case(sweep.session, by_id[choice.case_id], agent, now=sweep.now)
        page_agent(
            sweep.session,
            sweep.senders,
            by_id[choice.case_id],
            agent,
            incident_ref=sweep.incident.ref,
            now=sweep.now,
        )
        sweep.counts["assigned"] += 1
    if plan.unassigned:
        sweep.counts["waiting"] += len(plan.unassigned)


def scale(sweep: Sweep) -> None:
    """Invite standby people or release idle temporary agents, as staffing decides."""
    settings = sweep.playbook.staffing.temporary_agents
    if settings is None:
        return
    cases = sweep.open_cases()
    held = {a.case_id for a in ag.open_assignments(sweep.session, case_ids=[c.id for c in cases])}
    items = queued(cases, sweep.levels())
    slots = ag.agent_slots(sweep.session)
    temporary = [slots[a.id] for a in ag.active_temporary(sweep.session)]
    state = ag.standby_state(sweep.session, sweep.incident.id, now=sweep.now)
    decision = staffing.decide(
        items,
        [q for q in items if q.id not in held],
        [s for s in slots.values() if s.available(sweep.now)],
        temporary,
        settings,
        sweep.playbook.staffing.pools,
        sweep.now,
        already_asked=len(state.pending),
        used=state.used,
    )
    if decision.action is staffing.ScaleAction.ACTIVATE:
        invite(sweep, decision, staffing.pass_expiry(sweep.now, settings.pass_hours))
    elif decision.action is staffing.ScaleAction.RELEASE:
        for agent_id in decision.release:
            agent = ag.get_agent(sweep.session, agent_id)
            ag.release_agent(
                sweep.session, agent, now=sweep.now, reason=asg.ReleaseReason.AGENT_OFF
            )
        add_event(
            sweep.session,
            sweep.incident.id,
            "staffing_release",
            f"released {len(decision.release)} temporary agents: {decision.reason}",
            {"agents": list(decision.release)},
            now=sweep.now,
        )
        sweep.counts["temporary_released"] += len(decision.release)


def invite(sweep: Sweep, decision: staffing.ScaleDecision, until: datetime) -> None:
    """Ask the chosen standby people by SMS: reply YES to join until the pass ends."""
    pools = {pool.name: pool for pool in sweep.playbook.staffing.pools}
    text = staffing.invitation(sweep.incident.ref, sweep.incident.title, until)
    asked = []
    for activation in decision.activations:
        people = ag.invite_standby(
            sweep.session,
            sweep.incident,
            pools[activation.pool],
            activation.count,
            now=sweep.now,
            until=until,
        )
        for person in people:
            if person.phone is None:  # invite_standby picks people with a phone
                continue
            key = f"invite:{sweep.incident.id}:{person.id}"
            _send_one(sweep.senders.get("sms"), OutgoingMessage(key, person.phone, "en", text))
            asked.append(person.id)
    if not asked:  # nobody fits or all were asked: say nothing rather than every minute
        sweep.counts["standby_unavailable"] += 1
        return
    add_event(
        sweep.session,
        sweep.incident.id,
        "staffing_scale_up",
        f"invited {len(asked)} standby agents: {decision.reason}",
        {
            "agents": asked,
            "backlog": decision.pressure.backlog,
            "predicted_breaches": decision.pressure.predicted_breaches,
        },
        now=sweep.now,
    )
    sweep.counts["standby_invited"] += len(asked)


def sweep_one(sweep: Sweep) -> dict[str, int]:
    """The four steps for one incident (see the module docstring)."""
    cases = sweep.open_cases()
    release_due(sweep, cases)
    escalate_breaches(sweep, cases)
    assign_waiting(sweep)
    if not sweep.after_close:
        scale(sweep)
    return dict(sweep.counts)


def incidents_to_sweep(session: Session) -> list[int]:
    """Active incidents, and stood-down ones whose open cases the sweep still watches."""
    still_open = (
        select(Case.id)
        .where(
            Case.incident_id == Incident.id,
            Case.resolved_at.is_(None),
            Case.status.not_in(CLOSED_STATUSES),
        )
        .exists()
    )
    query = select(Incident.id).where(or_(Incident.status == IncidentStatus.ACTIVE, still_open))
    return list(session.scalars(query.order_by(Incident.id)))


def nothing_to_sweep(session: Session, now: datetime) -> bool:
    """No incident to sweep and no day pass ended: the CLI says so without starting Prefect."""
    ended = select(Agent.id).where(
        Agent.active.is_(True), Agent.pass_expires_at.is_not(None), Agent.pass_expires_at <= now
    )
    return not incidents_to_sweep(session) and session.scalar(ended.limit(1)) is None
