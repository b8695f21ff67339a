"""A customer's answer to an agent's ``ASK``, sent on to the agent by SMS: ``Case 42 answer: ...``.

Intake hands over each message that resumed a case waiting on the customer
(``cases.customer_wait.AnswerHook``); :func:`relay_hook` builds that hook from the settings
(``Intake(store, on_answer=relay_hook(store, settings))``: the webhook and the demo do so).

Who gets it: the agent whose ``ASK`` set the case waiting (the case's latest ``ask`` entry in
its conversation, else its latest ``case_waiting`` timeline event), while they hold the case;
if they have let it go, whoever holds it now (the answer is their work); if nobody does, the
answer waits in the case's conversation for whoever the sweep gives it to next. An exercise's
relay stays in its outbox, like its pages. The SMS carries as much of the answer as fits in
``RELAY_SEGMENTS`` segments (cut with "...": ``INFO 42`` has the rest).

Runs after intake's transaction commits, in three steps: who gets it (a read), the send (no
transaction open: a provider's seconds never hold the store), then the record in its own
transaction: a ``relay`` entry in the case's conversation (the text sent, the agent, the
outcome) and an ``answer_relayed`` (or ``relay_failed``) timeline event, which names the agent
by id, never by number. A relay that cannot be sent never fails intake: the answer is stored
and the clocks resume either way. The webhook runs it on a thread of its own, off the path
that answers the provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.channels.base import DeliveryResult, OutgoingMessage
from crisiscast.channels.sms_segments import CONCATENATED, encoding_for
from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.desk import customer_senders
from crisiscast.incidents.agents.paging import cut, plain, send_one, units
from crisiscast.incidents.cases.conversation import add_entry
from crisiscast.incidents.cases.customer_wait import Answer, AnswerHook
from crisiscast.incidents.store.database import Store, add_event
from crisiscast.incidents.store.models import Agent, Case, CaseEntry, Incident, TimelineEvent

log = logging.getLogger(__name__)

RELAY_SEGMENTS = 3


def relay_text(case_id: int, body: str) -> str:
    """``Case 42 answer: <the customer's words>`` within RELAY_SEGMENTS segments (pure)."""
    prefix = f"Case {case_id} answer: "
    words = plain(body) or "(empty message)"
    encoding = encoding_for(prefix + words)
    room = CONCATENATED[encoding] * RELAY_SEGMENTS - units(prefix, encoding)
    return prefix + cut(words, room, encoding)


def asker(session: Session, case: Case) -> int | None:
    """The agent whose latest ``ASK`` on ``case`` is waiting for this answer."""
    query = (
        select(CaseEntry.data)
        .where(CaseEntry.case_id == case.id, CaseEntry.kind == "ask")
        .order_by(CaseEntry.id.desc())
        .limit(1)
    )
    data = session.scalar(query)
    if isinstance(data, dict) and isinstance(data.get("agent_id"), int):
        return int(data["agent_id"])
    if case.incident_id is None:  # an ASK from before conversations were kept: the timeline
        return None
    events = select(TimelineEvent.data).where(
        TimelineEvent.incident_id == case.incident_id, TimelineEvent.kind == "case_waiting"
    )
    for data in session.scalars(events.order_by(TimelineEvent.id.desc())):
        if isinstance(data, dict) and data.get("case_id") == case.id:
            agent_id = data.get("agent_id")
            return agent_id if isinstance(agent_id, int) else None
    return None


def recipient(session: Session, case: Case) -> Agent | None:
    """Who gets the answer: the asker while they hold the case, else its holder, else nobody."""
    held = ag.holder_of(session, case.id)
    if held is None:
        return None
    asked_by = asker(session, case)
    return session.get(Agent, asked_by if asked_by == held.agent_id else held.agent_id)


def relay_answer(store: Store, settings: Settings, answer: Answer) -> DeliveryResult | None:
    """Send ``answer`` to the agent working the case and record it; None: nobody to tell."""
    with store.session() as session:
        case = session.get(Case, answer.case_id)
        if case is None:
            return None
        incident = session.get(Incident, case.incident_id) if case.incident_id else None
        agent = recipient(session, case)
        if agent is None:
            if incident is not None:
                text = (
                    f"case {case.id}: the customer answered; nobody holds the case, so the "
                    "answer waits for its next agent"
                )
                waiting = {"case_id": case.id, "message_id": answer.message_id}
                add_event(session, incident.id, "answer_waiting", text, waiting, now=answer.at)
            return None
        session.expunge(agent)
        if incident is not None:
            session.expunge(incident)
    text = relay_text(answer.case_id, answer.body)
    key = f"relay:{answer.case_id}:{answer.message_id}"
    result = _send(settings, incident, agent, key, text)
    data: dict[str, object] = {"agent_id": agent.id, "message_id": answer.message_id,
                               "status": result.status}  # fmt: skip
    with store.session() as session:
        add_entry(session, answer.case_id, "relay", text, author="crisiscast", now=answer.at,
                  channel="sms", data={**data, "error": result.error})  # fmt: skip
        if incident is not None:
            kind = "answer_relayed" if result.status == "sent" else "relay_failed"
            why = f" ({result.error})" if result.error else ""
            add_event(session, incident.id, kind, f"case {answer.case_id}: the customer's "
                      f"answer sent to agent {agent.id}: {result.status}{why}",
                      {"case_id": answer.case_id, **data}, now=answer.at)  # fmt: skip
    log.info("relay case=%s agent=%s status=%s", answer.case_id, agent.id, result.status)
    return result


def _send(
    settings: Settings, incident: Incident | None, agent: Agent, key: str, text: str
) -> DeliveryResult:
    """Text the agent (an exercise's outbox only); a channel that cannot be built or fails
    becomes a failed result with its reason, so intake goes on."""
    if agent.phone is None:
        return DeliveryResult.suppressed(key, "agent has no phone: the answer is on the console")
    senders = customer_senders(settings, incident)
    try:
        return send_one(senders.get("sms"), OutgoingMessage(key, agent.phone, "en", text))
    except CrisiscastError as exc:  # e.g. half-configured credentials: recorded, not raised
        return DeliveryResult.failed(key, str(exc), retryable=False)
    finally:
        senders.close()


def relay_hook(
    store: Store, settings: Settings, run: Callable[[Callable[[], object]], object] | None = None
) -> AnswerHook:
    """Intake's ``on_answer``: relay each ASK answer with these settings' channels.

    ``run`` takes the work elsewhere (the webhook: a thread of its own); by default it is
    done at once, so the demo and tests see the relay as soon as intake returns.
    """

    def hook(answer: Answer) -> None:
        if run is None:
            relay_answer(store, settings, answer)
        else:
            run(lambda: relay_answer(store, settings, answer))

    return hook
